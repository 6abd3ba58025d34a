// Imported by the writer thread too, which loads no workspace package: types only from them.
import type { HistoryBatch, SymbolStateRow } from './history-store.js';

/** Numbers per bar: start, open, high, low, close, volume, ticks. */
export const BAR_FIELDS = 7;
/** Numbers per trade: seq, ts, price, size. */
export const TRADE_FIELDS = 4;

/**
 * A {@link HistoryBatch} as a few typed arrays, for the SQLite writer thread: posting one costs a
 * buffer transfer, not a structured clone of thousands of small objects (8,000 trades took 7 to
 * 15 ms of the main thread as objects). Doubles travel as doubles, so nothing is rounded.
 */
export interface PackedBatch {
  /** The symbols the rows name, by index. */
  symbols: string[];
  /** The intervals the bars name, by index. */
  intervals: string[];
  barSymbol: Uint16Array;
  barInterval: Uint8Array;
  /** {@link BAR_FIELDS} numbers per bar. */
  barNumbers: Float64Array;
  tradeSymbol: Uint16Array;
  /** 1: buy, 0: sell. */
  tradeBuy: Uint8Array;
  /** {@link TRADE_FIELDS} numbers per trade. */
  tradeNumbers: Float64Array;
  /** `[row, id]` for the trades whose id is not `{SYMBOL}-{seq}` (a feed's own ids). */
  tradeIds: [number, string][];
  states: SymbolStateRow[];
}

/** Packs a batch; the second value is the buffers to transfer. */
export function packBatch(batch: HistoryBatch): [PackedBatch, ArrayBuffer[]] {
  const [symbols, symbolIndex] = table();
  const [intervals, intervalIndex] = table();
  const nb = batch.bars.length;
  const barSymbol = new Uint16Array(nb);
  const barInterval = new Uint8Array(nb);
  const barNumbers = new Float64Array(nb * BAR_FIELDS);
  for (let r = 0; r < nb; r++) {
    const { symbol, interval, bar } = batch.bars[r]!;
    barSymbol[r] = symbolIndex(symbol);
    barInterval[r] = intervalIndex(interval);
    const o = r * BAR_FIELDS;
    barNumbers[o] = bar.start;
    barNumbers[o + 1] = bar.open;
    barNumbers[o + 2] = bar.high;
    barNumbers[o + 3] = bar.low;
    barNumbers[o + 4] = bar.close;
    barNumbers[o + 5] = bar.volume;
    barNumbers[o + 6] = bar.ticks;
  }
  const nt = batch.trades.length;
  const tradeSymbol = new Uint16Array(nt);
  const tradeBuy = new Uint8Array(nt);
  const tradeNumbers = new Float64Array(nt * TRADE_FIELDS);
  const tradeIds: [number, string][] = [];
  for (let r = 0; r < nt; r++) {
    const { symbol, trade } = batch.trades[r]!;
    tradeSymbol[r] = symbolIndex(symbol);
    tradeBuy[r] = trade.side === 'buy' ? 1 : 0;
    const o = r * TRADE_FIELDS;
    tradeNumbers[o] = trade.seq;
    tradeNumbers[o + 1] = trade.ts;
    tradeNumbers[o + 2] = trade.price;
    tradeNumbers[o + 3] = trade.size;
    if (trade.id !== `${symbol}-${trade.seq}`) tradeIds.push([r, trade.id]);
  }
  const packed: PackedBatch = {
    symbols,
    intervals,
    barSymbol,
    barInterval,
    barNumbers,
    tradeSymbol,
    tradeBuy,
    tradeNumbers,
    tradeIds,
    states: batch.states,
  };
  const buffers = [barSymbol, barInterval, barNumbers, tradeSymbol, tradeBuy, tradeNumbers].map(
    (a) => a.buffer as ArrayBuffer,
  );
  return [packed, buffers];
}

/** A list of names and a function giving a name's index in it, adding it when new. */
function table(): [string[], (name: string) => number] {
  const names: string[] = [];
  const index = new Map<string, number>();
  return [
    names,
    (name) => {
      let k = index.get(name);
      if (k === undefined) {
        k = names.push(name) - 1;
        index.set(name, k);
      }
      return k;
    },
  ];
}
