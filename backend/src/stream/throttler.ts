import { quoteRoom, tradeRoom, type Quote, type Trade, type TradeBatch } from '@tickdeck/protocol';
import type { MarketState } from '../market/market-state.js';

/** Where the throttler's output goes: in the gateway, the `/market` namespace's rooms. */
export interface Broadcaster {
  /** Sockets in the room (0 when none). */
  members(room: string): number;
  /** One broadcast to every member of the room, encoded once. */
  quotes(room: string, quotes: Quote[]): void;
  trades(room: string, batch: TradeBatch): void;
}

export interface ThrottlerStats {
  /** Quote broadcasts made (one per symbol per tier per flush with members). */
  quoteBroadcasts: number;
  /** Quotes delivered: broadcasts times room members. */
  quotesDelivered: number;
  tradeBroadcasts: number;
  tradesDelivered: number;
}

/**
 * The conflating throttler. One timer per tier; at each flush every symbol whose `seq` moved
 * since that tier's previous flush and whose room `q:{SYMBOL}:{TIER}` has members gets ONE quote
 * with its latest state, broadcast to the room. Trades are never conflated: they queue per symbol
 * and go to `t:{SYMBOL}` at every flush of the fastest tier, in order.
 */
export class Throttler {
  readonly tiers: readonly number[];
  readonly stats: ThrottlerStats = { quoteBroadcasts: 0, quotesDelivered: 0, tradeBroadcasts: 0, tradesDelivered: 0 };
  /** Per tier, per symbol: the seq the tier's previous flush saw. */
  private readonly flushedSeq: Float64Array[];
  /** Per tier, per symbol: the room name, built once. */
  private readonly rooms: string[][];
  private readonly tradeRooms: string[];
  /** Per symbol: trades applied since the last trade flush (null when none). */
  private readonly pendingTrades: (Trade[] | null)[];
  private readonly afterFlush: (() => void)[][];
  private readonly fastest: number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private out: Broadcaster | null = null;

  constructor(
    private readonly market: MarketState,
    tiers: readonly number[],
  ) {
    if (tiers.length === 0) throw new Error('Throttler needs at least one tier');
    this.tiers = [...tiers].sort((a, b) => a - b);
    this.fastest = 0;
    const symbols = market.symbols;
    this.flushedSeq = this.tiers.map(() => new Float64Array(symbols.length));
    this.rooms = this.tiers.map((t) => symbols.map((s) => quoteRoom(s, t)));
    this.tradeRooms = symbols.map((s) => tradeRoom(s));
    this.pendingTrades = symbols.map(() => null);
    this.afterFlush = this.tiers.map(() => []);
  }

  /** Index of a tier given in ms, or -1 when it is not offered. */
  tierIndex(ms: number): number {
    return this.tiers.indexOf(ms);
  }

  /** Starts one timer per tier, sending to `out`. */
  start(out: Broadcaster): void {
    this.stop();
    this.out = out;
    this.timers = this.tiers.map((ms, k) => setInterval(() => this.flush(k), ms));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Queues a trade for the next flush of the fastest tier. */
  tradeApplied(i: number, trade: Trade): void {
    const q = this.pendingTrades[i];
    if (q) q.push(trade);
    else this.pendingTrades[i] = [trade];
  }

  /** Whether trades of symbol `i` wait for the next flush. */
  hasPendingTrades(i: number): boolean {
    return this.pendingTrades[i] !== null;
  }

  /** Whether symbol `i` has moved since tier `k`'s previous flush (its next flush will send it). */
  isDirty(k: number, i: number): boolean {
    return this.market.seqAt(i) > this.flushedSeq[k]![i]!;
  }

  /** Runs `fn` once, right after tier `k`'s next flush. */
  afterNextFlush(k: number, fn: () => void): void {
    this.afterFlush[k]!.push(fn);
  }

  /** Sends the quotes of tier `k` (and, for the fastest tier, the queued trades). */
  flush(k: number): void {
    const out = this.out;
    if (!out) return;
    if (k === this.fastest) this.flushTrades(out);
    const market = this.market;
    const flushed = this.flushedSeq[k]!;
    const rooms = this.rooms[k]!;
    const stats = this.stats;
    for (let i = 0; i < flushed.length; i++) {
      const seq = market.seqAt(i);
      const prev = flushed[i]!;
      if (seq === prev) continue;
      flushed[i] = seq;
      const room = rooms[i]!;
      const members = out.members(room);
      if (members === 0) continue;
      const quote = market.quoteState(i) as Quote;
      quote.conflated = seq - prev;
      out.quotes(room, [quote]);
      stats.quoteBroadcasts++;
      stats.quotesDelivered += members;
    }
    const after = this.afterFlush[k]!;
    if (after.length > 0) {
      this.afterFlush[k] = [];
      for (const fn of after) fn();
    }
  }

  private flushTrades(out: Broadcaster): void {
    const pending = this.pendingTrades;
    for (let i = 0; i < pending.length; i++) {
      const trades = pending[i];
      if (!trades) continue;
      pending[i] = null;
      const room = this.tradeRooms[i]!;
      const members = out.members(room);
      if (members === 0) continue;
      out.trades(room, { symbol: this.market.symbols[i]!, trades });
      this.stats.tradeBroadcasts++;
      this.stats.tradesDelivered += members * trades.length;
    }
  }
}
