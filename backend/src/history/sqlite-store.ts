import type { Candle, CandleInterval, Trade } from '@tickdeck/protocol';
import type Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  closedBarsOf,
  type BarTuple,
  type HistoryBatch,
  type HistoryStore,
  type RetentionCutoffs,
  type SymbolStateRow,
} from './history-store.js';
import { packBatch } from './sqlite-batch.js';
import { openSqlite, WRITER_READY, type WriterRequest, type WriterResponse } from './sqlite-db.js';

/**
 * The schema, one statement list per version: a file at version N runs the lists after N, in
 * one transaction, and records the new version in `user_version`.
 */
const MIGRATIONS: readonly string[] = [
  // 1: bars and last states.
  `CREATE TABLE IF NOT EXISTS bars (
     symbol TEXT NOT NULL, interval TEXT NOT NULL, start INTEGER NOT NULL,
     open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
     volume REAL NOT NULL, ticks INTEGER NOT NULL,
     PRIMARY KEY (symbol, interval, start)
   ) WITHOUT ROWID;
   CREATE TABLE IF NOT EXISTS symbol_state (
     symbol TEXT PRIMARY KEY, ts INTEGER NOT NULL, last REAL NOT NULL, bid REAL NOT NULL,
     ask REAL NOT NULL, open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL,
     volume REAL NOT NULL, day_end INTEGER NOT NULL
   );`,
  // 2: the tape. A symbol's trade seqs continue across restarts, so (symbol, seq) is a key.
  `CREATE TABLE IF NOT EXISTS trades (
     symbol TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, ts INTEGER NOT NULL,
     price REAL NOT NULL, size REAL NOT NULL, side TEXT NOT NULL,
     PRIMARY KEY (symbol, seq)
   ) WITHOUT ROWID;
   CREATE INDEX IF NOT EXISTS trades_ts ON trades (symbol, ts);`,
];

/** Finite bounds for SQLite (it binds no infinities). */
const lo = (x: number) => (Number.isFinite(x) ? x : -Number.MAX_SAFE_INTEGER);
const hi = (x: number) => (Number.isFinite(x) ? x : Number.MAX_SAFE_INTEGER);

/**
 * The writer thread's module: next to this one once compiled. Under Vitest this module is the
 * TypeScript source, which a worker cannot load, so the compiled writer in `dist` is used (every
 * `npm test` builds first).
 */
function writerPath(): string {
  const here = fileURLToPath(new URL('./sqlite-writer.js', import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL('../../dist/history/sqlite-writer.js', import.meta.url));
}

/** A request to the writer without its id. */
type Request = WriterRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * The history in one SQLite file (`DATA_DIR/tickdeck.db`) through better-sqlite3, in WAL mode:
 * closed bars of every interval, the tape and each symbol's last state. better-sqlite3 is
 * synchronous, so writes and retention run in a worker thread with a connection of its own
 * (sqlite-writer.ts): a batch of thousands of rows never holds the event loop. Reads are
 * primary-key range queries on the main thread's connection, a fraction of a millisecond, and
 * never wait for a write (WAL). Opening fails with the path in the message when the directory or
 * file is unusable; a writer thread that dies fails its requests and is started again by the next.
 */
export class SqliteHistoryStore implements HistoryStore {
  readonly kind = 'sqlite';
  readonly shared = false;
  private readonly rangeBars: Database.Statement;
  private readonly tradesBefore: Database.Statement;
  private readonly allStates: Database.Statement;
  private writer: Promise<Worker> | null = null;
  private readonly waiting = new Map<number, { resolve: (n: number) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private closed = false;

  private constructor(
    readonly where: string,
    private readonly db: Database.Database,
  ) {
    this.rangeBars = db.prepare(
      `SELECT start, open, high, low, close, volume, ticks FROM bars
       WHERE symbol = ? AND interval = ? AND start >= ? AND start < ? ORDER BY start DESC LIMIT ?`,
    );
    this.rangeBars.raw(true);
    this.tradesBefore = db.prepare(
      `SELECT id, seq, ts, price, size, side FROM trades WHERE symbol = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
    );
    this.allStates = db.prepare(
      `SELECT symbol, ts, last, bid, ask, open, high, low, volume, day_end AS dayEnd FROM symbol_state`,
    );
  }

  /** Opens (creating) `dataDir/tickdeck.db`, migrates it and starts its writer thread. */
  static async open(dataDir: string): Promise<SqliteHistoryStore> {
    mkdirSync(dataDir, { recursive: true });
    const where = join(dataDir, 'tickdeck.db');
    const db = openSqlite(where);
    let store: SqliteHistoryStore;
    try {
      migrate(db, where);
      store = new SqliteHistoryStore(where, db);
    } catch (err) {
      db.close();
      throw err;
    }
    try {
      await store.startWriter();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async write(batch: HistoryBatch): Promise<void> {
    const [packed, transfer] = packBatch(batch);
    await this.request({ op: 'write', batch: packed }, transfer);
  }

  async bars(symbol: string, interval: CandleInterval, from: number, to: number, limit: number): Promise<Candle[]> {
    // Rows as arrays: better-sqlite3 builds no object per row (half the time of a 500-bar page).
    return closedBarsOf(
      this.rangeBars.all(symbol, interval, lo(from), hi(to), Number.isFinite(limit) ? limit : -1) as BarTuple[],
    );
  }

  async trades(symbol: string, before: number, limit: number): Promise<Trade[]> {
    return this.tradesBefore.all(symbol, hi(before), Number.isFinite(limit) ? limit : -1) as Trade[];
  }

  async states(): Promise<SymbolStateRow[]> {
    return this.allStates.all() as SymbolStateRow[];
  }

  /** In the writer thread: one statement per symbol and interval, so no single one holds the file long. */
  async prune(cutoffs: RetentionCutoffs): Promise<number> {
    return this.request({ op: 'prune', cutoffs });
  }

  /** Lets the writer finish what it was given, stops it, then closes the main connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const writer = this.writer;
    if (writer) {
      const worker = await writer.catch(() => null);
      if (worker) {
        await this.send(worker, { op: 'close' }).catch(() => undefined);
        await worker.terminate();
      }
    }
    if (this.db.open) this.db.close();
  }

  private startWriter(): Promise<Worker> {
    const started = new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(writerPath(), { workerData: { path: this.where } });
      let ready = false;
      worker.on('message', (msg: WriterResponse | typeof WRITER_READY) => {
        if (msg === WRITER_READY) {
          ready = true;
          // Idle, the writer keeps no process alive; a request in flight does (see send).
          if (this.waiting.size === 0) worker.unref();
          resolve(worker);
          return;
        }
        const w = this.waiting.get(msg.id);
        if (!w) return;
        this.waiting.delete(msg.id);
        if (this.waiting.size === 0) worker.unref();
        if (msg.ok) w.resolve(msg.result);
        else w.reject(Object.assign(new Error(msg.error.message), msg.error.code ? { code: msg.error.code } : {}));
      });
      const died = (err: Error) => {
        if (this.writer === started) this.writer = null;
        if (!ready) reject(err);
        for (const w of this.waiting.values()) w.reject(err);
        this.waiting.clear();
      };
      worker.on('error', died);
      worker.on('exit', (code) => died(new Error(`the SQLite writer thread exited (code ${code})`)));
    });
    this.writer = started;
    return started;
  }

  private async request(req: Request, transfer: ArrayBuffer[] = []): Promise<number> {
    if (this.closed) throw new Error(`${this.where} is closed`);
    const worker = await (this.writer ?? this.startWriter());
    return this.send(worker, req, transfer);
  }

  private send(worker: Worker, req: Request, transfer: ArrayBuffer[] = []): Promise<number> {
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ ...req, id } as WriterRequest, transfer);
    });
  }
}

/** Brings the file to the schema this gateway knows, in one transaction. */
function migrate(db: Database.Database, where: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`${where} has schema version ${version}; this gateway knows up to ${MIGRATIONS.length}`);
  }
  if (version === MIGRATIONS.length) return;
  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(version)) db.exec(sql);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  })();
}
