import type { Candle, CandleInterval, Trade } from '@tickdeck/protocol';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryBatch, HistoryStore, RetentionCutoffs, SymbolStateRow } from './history-store.js';

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
 * The history in one SQLite file (`DATA_DIR/tickdeck.db`) through better-sqlite3, in WAL mode:
 * closed bars of every interval, the tape and each symbol's last state. Writes come in batches,
 * one transaction each (the recorder's, about once a second); reads are range queries on primary
 * keys. better-sqlite3 is synchronous: each call runs on the main thread (the bench measures it).
 * Opening fails with the path in the message when the directory or file is unusable.
 */
export class SqliteHistoryStore implements HistoryStore {
  readonly kind = 'sqlite';
  readonly shared = false;
  readonly where: string;
  private readonly db: Database.Database;
  private readonly insertBar: Database.Statement;
  private readonly insertTrade: Database.Statement;
  private readonly upsertState: Database.Statement;
  private readonly rangeBars: Database.Statement;
  private readonly tradesBefore: Database.Statement;
  private readonly allStates: Database.Statement;
  private readonly pruneBars: Database.Statement;
  private readonly pruneTrades: Database.Statement;
  private readonly writeTx: (batch: HistoryBatch) => void;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.where = join(dataDir, 'tickdeck.db');
    this.db = new Database(this.where);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
      this.insertBar = this.db.prepare(
        `INSERT OR REPLACE INTO bars VALUES (@symbol, @interval, @start, @open, @high, @low, @close, @volume, @ticks)`,
      );
      this.insertTrade = this.db.prepare(
        `INSERT OR REPLACE INTO trades VALUES (@symbol, @seq, @id, @ts, @price, @size, @side)`,
      );
      this.upsertState = this.db.prepare(
        `INSERT OR REPLACE INTO symbol_state VALUES (@symbol, @ts, @last, @bid, @ask, @open, @high, @low, @volume, @dayEnd)`,
      );
      this.rangeBars = this.db.prepare(
        `SELECT start, open, high, low, close, volume, ticks FROM bars
         WHERE symbol = ? AND interval = ? AND start >= ? AND start < ? ORDER BY start DESC LIMIT ?`,
      );
      this.tradesBefore = this.db.prepare(
        `SELECT id, seq, ts, price, size, side FROM trades WHERE symbol = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
      );
      this.allStates = this.db.prepare(
        `SELECT symbol, ts, last, bid, ask, open, high, low, volume, day_end AS dayEnd FROM symbol_state`,
      );
      this.pruneBars = this.db.prepare(`DELETE FROM bars WHERE symbol = ? AND interval = ? AND start < ?`);
      this.pruneTrades = this.db.prepare(`DELETE FROM trades WHERE symbol = ? AND ts < ?`);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.writeTx = this.db.transaction((batch: HistoryBatch) => {
      for (const { symbol, interval, bar } of batch.bars) {
        const { start, open, high, low, close, volume, ticks } = bar;
        this.insertBar.run({ symbol, interval, start, open, high, low, close, volume, ticks });
      }
      for (const { symbol, trade } of batch.trades) {
        const { seq, id, ts, price, size, side } = trade;
        this.insertTrade.run({ symbol, seq, id, ts, price, size, side });
      }
      for (const state of batch.states) this.upsertState.run(state);
    });
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(`${this.where} has schema version ${version}; this gateway knows up to ${MIGRATIONS.length}`);
    }
    if (version === MIGRATIONS.length) return;
    this.db.transaction(() => {
      for (const sql of MIGRATIONS.slice(version)) this.db.exec(sql);
      this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    })();
  }

  async write(batch: HistoryBatch): Promise<void> {
    this.writeTx(batch);
  }

  async bars(symbol: string, interval: CandleInterval, from: number, to: number, limit: number): Promise<Candle[]> {
    const rows = this.rangeBars.all(symbol, interval, lo(from), hi(to), Number.isFinite(limit) ? limit : -1) as Omit<
      Candle,
      'closed'
    >[];
    return rows.reverse().map((r) => ({ ...r, closed: true }));
  }

  async trades(symbol: string, before: number, limit: number): Promise<Trade[]> {
    return this.tradesBefore.all(symbol, hi(before), Number.isFinite(limit) ? limit : -1) as Trade[];
  }

  async states(): Promise<SymbolStateRow[]> {
    return this.allStates.all() as SymbolStateRow[];
  }

  /** One statement per symbol and interval (a primary-key range), so no single one holds the file long. */
  async prune(cutoffs: RetentionCutoffs): Promise<number> {
    let n = 0;
    for (const symbol of cutoffs.symbols) {
      for (const [interval, cutoff] of Object.entries(cutoffs.bars)) {
        n += this.pruneBars.run(symbol, interval, cutoff).changes;
      }
      if (cutoffs.trades !== undefined) n += this.pruneTrades.run(symbol, cutoffs.trades).changes;
    }
    return n;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
