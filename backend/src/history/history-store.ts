import type { Candle, CandleInterval, Trade } from '@tickdeck/protocol';
import type { SymbolDayState } from '../market/market-state.js';

/** One closed bar to store. */
export interface BarRow {
  symbol: string;
  interval: CandleInterval;
  bar: Candle;
}

/** A stored bar as both adapters read it: `start, open, high, low, close, volume, ticks`. */
export type BarTuple = [number, number, number, number, number, number, number];

/**
 * Closed bars, oldest first, from rows read newest first (`ORDER BY start DESC LIMIT n`, so the
 * limit keeps the newest): one object per bar, none from the driver.
 */
export function closedBarsOf(newestFirst: readonly BarTuple[]): Candle[] {
  const out: Candle[] = new Array(newestFirst.length);
  for (let k = 0, r = newestFirst.length - 1; r >= 0; k++, r--) {
    const [start, open, high, low, close, volume, ticks] = newestFirst[r]!;
    out[k] = { start, open, high, low, close, volume, ticks, closed: true };
  }
  return out;
}

/** One trade to store. */
export interface TradeRow {
  symbol: string;
  trade: Trade;
}

/** A symbol's quote and day figures at the last write: what a restart continues from. */
export interface SymbolStateRow extends SymbolDayState {
  symbol: string;
}

/** What the recorder writes at once, in one transaction. */
export interface HistoryBatch {
  bars: BarRow[];
  trades: TradeRow[];
  states: SymbolStateRow[];
}

/**
 * What retention deletes, for each of `symbols`: bars of an interval whose `start` is before its
 * cutoff (epoch ms), and trades whose `ts` is before `trades`. An interval without a cutoff keeps
 * everything.
 */
export interface RetentionCutoffs {
  symbols: readonly string[];
  bars: Partial<Record<CandleInterval, number>>;
  trades?: number;
}

/**
 * The port every history adapter implements (SQLite, PostgreSQL). Reads and writes are promises
 * whatever the adapter, so the service does not care whether the driver is synchronous. Every
 * method may reject; the service logs, counts and retries, and never lets ingest or delivery wait.
 */
export interface HistoryStore {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';
  /** Where the history is, for logs (never a password). */
  readonly where: string;
  /**
   * True when several gateways share this store (PostgreSQL): only the node that owns the feed
   * writes. A SQLite file is each node's own.
   */
  readonly shared: boolean;
  /** Writes one batch in one transaction: bars and trades upserted by key, states replaced. */
  write(batch: HistoryBatch): Promise<void>;
  /** Closed bars with `from <= start < to`, the newest `limit` of them, oldest first. */
  bars(symbol: string, interval: CandleInterval, from: number, to: number, limit: number): Promise<Candle[]>;
  /** Trades with `seq < before`, the newest `limit` of them, newest first. */
  trades(symbol: string, before: number, limit: number): Promise<Trade[]>;
  /** Each symbol's last state. */
  states(): Promise<SymbolStateRow[]>;
  /** Deletes what retention no longer keeps; resolves to the rows deleted. */
  prune(cutoffs: RetentionCutoffs): Promise<number>;
  close(): Promise<void>;
}
