import {
  CANDLE_INTERVALS,
  isGatewayTradeId,
  type CandleInterval,
  type FeedTick,
  type FeedTrade,
  type History,
  type HistoryPoint,
  type InstrumentSpec,
  type QuoteState,
  type Snapshot,
  type Trade,
} from '@tickdeck/protocol';
import { createHash, randomBytes } from 'node:crypto';
import { CandleRing, type CandleRingExport } from './candle-ring.js';
import { HistoryRing } from './history-ring.js';
import { TradeRing } from './trade-ring.js';

/** Every candle interval, narrowest first: the order of a symbol's candle rings. */
export const CANDLE_INTERVAL_LIST = Object.keys(CANDLE_INTERVALS) as CandleInterval[];

const DAY_MS = 86_400_000;

/** A symbol's quote and day figures: what a restart continues from ({@link MarketState.restoreSymbol}). */
export interface SymbolDayState {
  ts: number;
  last: number;
  bid: number;
  ask: number;
  open: number;
  high: number;
  low: number;
  volume: number;
  /** End of the UTC day the day figures count (epoch ms). */
  dayEnd: number;
}

export interface MarketStateOptions {
  /** Seconds of 1-second history points kept per symbol. */
  historySeconds: number;
  /** Trades kept per symbol. */
  tradeHistory: number;
}

/** Per-symbol scalar fields of a {@link MarketStateExport}, one array entry per exported symbol. */
const EXPORTED_FIELDS = [
  'seqs',
  'tss',
  'lasts',
  'bids',
  'asks',
  'opens',
  'highs',
  'lows',
  'volumes',
  'dayEnds',
  'tradeSeqs',
] as const;
type ExportedField = (typeof EXPORTED_FIELDS)[number];

/**
 * The whole market as plain JSON-safe data, for a cluster node to hand its state to the others
 * ({@link MarketState.exportState} / {@link MarketState.importState}).
 */
export type MarketStateExport = {
  /** The epoch the seqs count in: whoever imports this continues it. */
  epoch: string;
  symbols: string[];
  ticksApplied: number;
  tradesApplied: number;
  lastEventAt: number;
  /** Per symbol: 1-second history points, oldest first. */
  history: HistoryPoint[][];
  /** Per symbol: the trades held, oldest first. */
  trades: Trade[][];
  /**
   * Per symbol: its bars per interval, closed and open, as of `lastEventAt` (bars due by then are
   * closed). Absent from an export of a node that predates it: the importer keeps its own bars.
   */
  candles?: Partial<Record<CandleInterval, CandleRingExport>>[];
} & Record<ExportedField, number[]>;

/** A new epoch id: 12 hex digits, random. */
function newEpoch(): string {
  return randomBytes(6).toString('hex');
}

/**
 * The market as the gateway knows it: per symbol the latest quote, the tick count `seq`,
 * day open/high/low/volume, a ring of 1-second history points and a ring of recent trades.
 * Every seq counts within the market's {@link MarketState.epoch}.
 *
 * Hot fields live in typed arrays indexed by symbol index (struct of arrays), so applying
 * a tick is a handful of stores and never allocates. Input is assumed validated.
 */
export class MarketState {
  readonly instruments: readonly InstrumentSpec[];
  readonly symbols: readonly string[];
  private readonly index = new Map<string, number>();

  private readonly seqs: Float64Array;
  private readonly tss: Float64Array;
  private readonly lasts: Float64Array;
  private readonly bids: Float64Array;
  private readonly asks: Float64Array;
  private readonly opens: Float64Array;
  private readonly highs: Float64Array;
  private readonly lows: Float64Array;
  private readonly volumes: Float64Array;
  /** Epoch ms at which the current UTC day of each symbol ends; a tick at or past it opens a new day. */
  private readonly dayEnds: Float64Array;
  private readonly tradeSeqs: Float64Array;
  /** Feed time of the latest tick or trade of each symbol, 0 before any (the highest, should they come out of order). */
  private readonly lastEventTss: Float64Array;
  private readonly history: HistoryRing[];
  /** Per symbol, per interval (in {@link CANDLE_INTERVAL_LIST} order): its bars. */
  private readonly candles: CandleRing[][];
  private readonly trades: TradeRing[];
  /** Ticks applied across all symbols. */
  ticksApplied = 0;
  /** Trades applied across all symbols. */
  tradesApplied = 0;
  /** Epoch ms of the last tick or trade applied, 0 before any. */
  lastEventAt = 0;
  #epoch = newEpoch();

  constructor(instruments: readonly InstrumentSpec[], options: MarketStateOptions) {
    this.instruments = instruments;
    this.symbols = instruments.map((i) => i.symbol);
    const n = instruments.length;
    this.seqs = new Float64Array(n);
    this.tss = new Float64Array(n);
    this.lasts = new Float64Array(n);
    this.bids = new Float64Array(n);
    this.asks = new Float64Array(n);
    this.opens = new Float64Array(n);
    this.highs = new Float64Array(n);
    this.lows = new Float64Array(n);
    this.volumes = new Float64Array(n);
    this.dayEnds = new Float64Array(n);
    this.tradeSeqs = new Float64Array(n);
    this.lastEventTss = new Float64Array(n);
    this.history = [];
    this.candles = [];
    this.trades = [];
    instruments.forEach((inst, i) => {
      this.index.set(inst.symbol, i);
      // Before the first tick a symbol shows its reference price with seq 0 ("no tick yet").
      const p = inst.startPrice;
      this.lasts[i] = this.bids[i] = this.asks[i] = this.opens[i] = this.highs[i] = this.lows[i] = p;
      this.history.push(new HistoryRing(options.historySeconds));
      this.candles.push(CANDLE_INTERVAL_LIST.map((interval) => CandleRing.of(interval)));
      this.trades.push(new TradeRing(options.tradeHistory));
    });
  }

  get size(): number {
    return this.symbols.length;
  }

  /**
   * The sequence space every seq of this market counts in: new with each market, carried by
   * {@link exportState} and adopted by {@link importState}, so the nodes of a cluster share one.
   */
  get epoch(): string {
    return this.#epoch;
  }

  /**
   * Names the epoch after `seed` (hashed, so it reveals nothing of it), if this market has applied
   * nothing yet: markets that start from nothing and then apply the same events in the same order
   * (a cluster's nodes started together, before anyone holds a state to sync) share an epoch
   * without having to exchange one. Returns whether it did.
   */
  nameEpoch(seed: string): boolean {
    if (this.ticksApplied > 0 || this.tradesApplied > 0) return false;
    this.#epoch = createHash('sha256').update(seed).digest('hex').slice(0, 12);
    return true;
  }

  /** Index of a symbol, or -1 when it is not in this market. */
  indexOf(symbol: string): number {
    return this.index.get(symbol) ?? -1;
  }

  seqAt(i: number): number {
    return this.seqs[i]!;
  }

  /** Last price of symbol `i` (for per-tick readers such as alerts: no allocation). */
  lastAt(i: number): number {
    return this.lasts[i]!;
  }

  /** The day's open of symbol `i`. */
  openAt(i: number): number {
    return this.opens[i]!;
  }

  /** Feed time of symbol `i`'s latest tick. */
  tsAt(i: number): number {
    return this.tss[i]!;
  }

  tradeSeqAt(i: number): number {
    return this.tradeSeqs[i]!;
  }

  /** Feed time (epoch ms) of the latest tick or trade applied to symbol `i`, 0 before any. */
  lastEventTsAt(i: number): number {
    return this.lastEventTss[i]!;
  }

  /** True when symbol `i`'s trade ring holds a trade with the feed-assigned id `id`. */
  holdsTradeId(i: number, id: string): boolean {
    return this.trades[i]!.holdsFeedId(id);
  }

  /** Applies one tick; returns the symbol's index, or -1 (and changes nothing) for an unknown symbol. */
  applyTick(tick: FeedTick): number {
    const i = this.index.get(tick.symbol);
    if (i === undefined) return -1;
    const ts = tick.ts;
    const last = tick.last;
    const volume = tick.volume ?? 0;
    if (ts >= this.dayEnds[i]!) {
      this.opens[i] = this.highs[i] = this.lows[i] = last;
      this.volumes[i] = 0;
      this.dayEnds[i] = ts - (ts % DAY_MS) + DAY_MS;
    } else if (last > this.highs[i]!) {
      this.highs[i] = last;
    } else if (last < this.lows[i]!) {
      this.lows[i] = last;
    }
    this.seqs[i]!++;
    this.tss[i] = ts;
    this.lasts[i] = last;
    this.bids[i] = tick.bid;
    this.asks[i] = tick.ask;
    this.volumes[i]! += volume;
    this.history[i]!.record(ts, last, volume);
    const candles = this.candles[i]!;
    for (let k = 0; k < candles.length; k++) candles[k]!.fold(ts, last, volume);
    if (ts > this.lastEventTss[i]!) this.lastEventTss[i] = ts;
    this.ticksApplied++;
    this.lastEventAt = ts;
    return i;
  }

  /**
   * The bars of symbol `i` at `interval`, its open bar closed first when the feed's clock (the
   * latest event's time, any symbol) has passed its end: a bar closes with its interval, not
   * only at the symbol's next tick, and a replayed feed's bars close on its own clock.
   */
  candleRing(i: number, interval: CandleInterval): CandleRing {
    return this.candleRingAt(i, CANDLE_INTERVAL_LIST.indexOf(interval));
  }

  /** {@link candleRing} by the interval's index `k` in {@link CANDLE_INTERVAL_LIST} (for every flush). */
  candleRingAt(i: number, k: number): CandleRing {
    const ring = this.candles[i]![k]!;
    ring.closeIfDue(this.lastEventAt);
    return ring;
  }

  /**
   * Continues a symbol from a previous run's last state: price, bid, ask and the day's figures
   * (those only within the same UTC day, `dayEnd`), with `seq` still 0 in this new epoch.
   */
  restoreSymbol(i: number, s: SymbolDayState): void {
    this.tss[i] = s.ts;
    this.lasts[i] = s.last;
    this.bids[i] = s.bid;
    this.asks[i] = s.ask;
    this.opens[i] = s.open;
    this.highs[i] = s.high;
    this.lows[i] = s.low;
    this.volumes[i] = s.volume;
    this.dayEnds[i] = s.dayEnd;
  }

  /**
   * Puts a previous run's newest trades (oldest first) back into symbol `i`'s ring, before any
   * trade of this run. Its trade seq continues from the newest of them, so trade ids and seqs
   * stay unique across restarts (the epoch is new all the same).
   */
  restoreTrades(i: number, trades: readonly Trade[]): void {
    if (trades.length === 0 || this.tradeSeqs[i]! > 0) return;
    const symbol = this.symbols[i]!;
    const ring = this.trades[i]!;
    for (const t of trades.slice(-ring.capacity)) ring.push(t, !isGatewayTradeId(symbol, t.id));
    this.tradeSeqs[i] = trades[trades.length - 1]!.seq;
  }

  /** Day-end (epoch ms) of symbol `i`'s day figures, for storing them with its state. */
  dayEndAt(i: number): number {
    return this.dayEnds[i]!;
  }

  /** Applies one trade: numbers it in its symbol's sequence and keeps it in the ring. */
  applyTrade(input: FeedTrade): { index: number; trade: Trade } | null {
    const i = this.index.get(input.symbol);
    if (i === undefined) return null;
    const seq = ++this.tradeSeqs[i]!;
    const trade: Trade = {
      id: input.id ?? `${input.symbol}-${seq}`,
      seq,
      ts: input.ts,
      price: input.price,
      size: input.size,
      side: input.side,
    };
    this.trades[i]!.push(trade, input.id !== undefined);
    if (input.ts > this.lastEventTss[i]!) this.lastEventTss[i] = input.ts;
    this.tradesApplied++;
    this.lastEventAt = input.ts;
    return { index: i, trade };
  }

  /** Current state of symbol `i` as a new object (for quotes and snapshots; not per tick). */
  quoteState(i: number): QuoteState {
    const last = this.lasts[i]!;
    const open = this.opens[i]!;
    const change = last - open;
    return {
      symbol: this.symbols[i]!,
      seq: this.seqs[i]!,
      ts: this.tss[i]!,
      last,
      bid: this.bids[i]!,
      ask: this.asks[i]!,
      open,
      high: this.highs[i]!,
      low: this.lows[i]!,
      volume: this.volumes[i]!,
      change: round8(change),
      changePct: open > 0 ? Math.round((change / open) * 1e6) / 1e4 : 0,
    };
  }

  snapshot(i: number): Snapshot {
    const s = this.quoteState(i) as Snapshot;
    s.tradeSeq = this.tradeSeqs[i]!;
    s.epoch = this.#epoch;
    return s;
  }

  /** 1-second points of symbol `i` from `fromT` (epoch ms) on. */
  historySince(i: number, fromT: number): History {
    return { symbol: this.symbols[i]!, intervalMs: 1000, points: this.history[i]!.since(fromT) };
  }

  /** The newest `n` trades of symbol `i`, oldest first. */
  recentTrades(i: number, n: number): Trade[] {
    return this.trades[i]!.latest(n);
  }

  /** Trades of symbol `i` after trade seq `seq`, or null when some are no longer held. */
  tradesAfter(i: number, seq: number): Trade[] | null {
    return this.trades[i]!.after(seq);
  }

  /** Everything this market holds, as JSON-safe data (rare: a cluster resync, not per tick). */
  exportState(): MarketStateExport {
    const out = {
      epoch: this.#epoch,
      symbols: [...this.symbols],
      ticksApplied: this.ticksApplied,
      tradesApplied: this.tradesApplied,
      lastEventAt: this.lastEventAt,
      history: this.history.map((h) => h.since(-Infinity)),
      trades: this.trades.map((t) => t.latest(t.capacity)),
      candles: this.candles.map((_, i) =>
        Object.fromEntries(CANDLE_INTERVAL_LIST.map((interval, k) => [interval, this.candleRingAt(i, k).export()])),
      ),
    } as MarketStateExport;
    for (const f of EXPORTED_FIELDS) out[f] = Array.from(this[f]);
    return out;
  }

  /**
   * Replaces the state of every symbol the export carries (others keep theirs), exactly, and takes
   * its epoch, so two markets that import the same export agree. Returns the symbols whose viewers
   * must start afresh, so the caller can reset them: those whose `seq` or trade seq went down (this
   * market had applied ticks or trades the exporter had not; a viewer drops what is not above the
   * seq it holds), and, when the export is of another epoch, every symbol this market had moved
   * (what its viewers hold counts in an epoch that is gone).
   */
  importState(s: MarketStateExport): string[] {
    const lowered: string[] = [];
    const otherEpoch = s.epoch !== this.#epoch;
    this.#epoch = s.epoch;
    s.symbols.forEach((symbol, k) => {
      const i = this.index.get(symbol);
      if (i === undefined) return;
      const moved = this.seqs[i]! > 0 || this.tradeSeqs[i]! > 0;
      if ((otherEpoch && moved) || s.seqs[k]! < this.seqs[i]! || s.tradeSeqs[k]! < this.tradeSeqs[i]!) {
        lowered.push(symbol);
      }
      for (const f of EXPORTED_FIELDS) this[f][i] = s[f][k]!;
      const history = new HistoryRing(this.history[i]!.capacity, this.history[i]!.intervalMs);
      // open, high, low, close in that order fold back into exactly the exported point.
      for (const p of s.history[k] ?? []) {
        history.record(p.t, p.open, 0);
        history.record(p.t, p.high, 0);
        history.record(p.t, p.low, 0);
        history.record(p.t, p.close, p.volume);
      }
      this.history[i] = history;
      const trades = new TradeRing(this.trades[i]!.capacity);
      let lastEventTs = s.tss[k]!;
      for (const t of s.trades[k] ?? []) {
        // The export does not say which ids came from the feed; a feed may not use the gateway's shape.
        trades.push(t, t.id !== `${symbol}-${t.seq}`);
        if (t.ts > lastEventTs) lastEventTs = t.ts;
      }
      this.trades[i] = trades;
      // In place: readers' cursors (closedCount) stay valid, see CandleRing.restore.
      const bars = s.candles?.[k];
      if (bars) {
        CANDLE_INTERVAL_LIST.forEach((interval, j) => {
          const ring = bars[interval];
          if (ring) this.candles[i]![j]!.restore(ring);
        });
      }
      // Derived, not exported, so a cluster sync keeps its shape: the latest tick and the trades held tell it.
      this.lastEventTss[i] = lastEventTs;
    });
    this.ticksApplied = s.ticksApplied;
    this.tradesApplied = s.tradesApplied;
    this.lastEventAt = s.lastEventAt;
    return lowered;
  }
}

/** Removes float noise from a difference of two prices (e.g. 0.30000000000000004). */
function round8(x: number): number {
  return Math.round(x * 1e8) / 1e8;
}
