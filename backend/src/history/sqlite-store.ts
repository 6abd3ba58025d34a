import type { Candle, CandleInterval } from '@tickdeck/protocol';
import type { SymbolDayState } from '../market/market-state.js';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** One closed bar to store. */
export interface BarRow {
  symbol: string;
  interval: CandleInterval;
  bar: Candle;
}

/** A symbol's quote and day figures at the last write: what a restart continues from. */
export interface SymbolStateRow extends SymbolDayState {
  symbol: string;
}

export interface HistoryBatch {
  bars: BarRow[];
  states: SymbolStateRow[];
}

const SCHEMA_VERSION = 1;

/**
 * The history in one SQLite file (`DATA_DIR/tickdeck.db`) through better-sqlite3, in WAL mode:
 * closed bars of every interval and each symbol's last state. Writes come in batches, one
 * transaction each (the recorder's, about once a second); reads are range queries on the bars'
 * primary key. Opening fails with the path in the message when the directory or file is unusable.
 */
export class SqliteHistoryStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly insertBar: Database.Statement;
  private readonly upsertState: Database.Statement;
  private readonly rangeBars: Database.Statement;
  private readonly allStates: Database.Statement;
  private readonly writeTx: (batch: HistoryBatch) => void;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'tickdeck.db');
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`${this.path} has schema version ${version}; this gateway knows up to ${SCHEMA_VERSION}`);
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS bars (
        symbol TEXT NOT NULL, interval TEXT NOT NULL, start INTEGER NOT NULL,
        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
        volume REAL NOT NULL, ticks INTEGER NOT NULL,
        PRIMARY KEY (symbol, interval, start)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS symbol_state (
        symbol TEXT PRIMARY KEY, ts INTEGER NOT NULL, last REAL NOT NULL, bid REAL NOT NULL,
        ask REAL NOT NULL, open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL,
        volume REAL NOT NULL, day_end INTEGER NOT NULL
      );
    `);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.insertBar = this.db.prepare(
      `INSERT OR REPLACE INTO bars VALUES (@symbol, @interval, @start, @open, @high, @low, @close, @volume, @ticks)`,
    );
    this.upsertState = this.db.prepare(
      `INSERT OR REPLACE INTO symbol_state VALUES (@symbol, @ts, @last, @bid, @ask, @open, @high, @low, @volume, @dayEnd)`,
    );
    this.rangeBars = this.db.prepare(
      `SELECT start, open, high, low, close, volume, ticks FROM bars
       WHERE symbol = ? AND interval = ? AND start >= ? AND start < ? ORDER BY start DESC LIMIT ?`,
    );
    this.allStates = this.db.prepare(
      `SELECT symbol, ts, last, bid, ask, open, high, low, volume, day_end AS dayEnd FROM symbol_state`,
    );
    this.writeTx = this.db.transaction((batch: HistoryBatch) => {
      for (const { symbol, interval, bar } of batch.bars) {
        const { start, open, high, low, close, volume, ticks } = bar;
        this.insertBar.run({ symbol, interval, start, open, high, low, close, volume, ticks });
      }
      for (const state of batch.states) this.upsertState.run(state);
    });
  }

  /** Writes one batch in one transaction. */
  write(batch: HistoryBatch): void {
    this.writeTx(batch);
  }

  /** Closed bars with `from <= start < to`, the newest `limit` of them, oldest first. */
  bars(symbol: string, interval: CandleInterval, from: number, to: number, limit: number): Candle[] {
    const rows = this.rangeBars.all(
      symbol,
      interval,
      Number.isFinite(from) ? from : -Number.MAX_SAFE_INTEGER,
      Number.isFinite(to) ? to : Number.MAX_SAFE_INTEGER,
      Number.isFinite(limit) ? limit : -1,
    ) as Omit<Candle, 'closed'>[];
    return rows.reverse().map((r) => ({ ...r, closed: true }));
  }

  states(): SymbolStateRow[] {
    return this.allStates.all() as SymbolStateRow[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
