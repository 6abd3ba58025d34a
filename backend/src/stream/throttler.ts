import { tradeRoom, type Quote, type Trade, type TradeBatch } from '@tickdeck/protocol';
import type { MarketState } from '../market/market-state.js';

/** Where the throttler's output goes: in the gateway, the `/market` namespace's local rooms. */
export interface Broadcaster {
  /** Sockets in the room (0 when none). */
  members(room: string): number;
  /** One broadcast to every member of the room, encoded once. */
  quotes(room: string, quotes: Quote[]): void;
  trades(room: string, batch: TradeBatch): void;
}

/**
 * Sockets that hold the same set of symbols at the same tier. They share a room
 * `g:{TIER}:{id}`, and each flush sends that room ONE frame with every changed symbol of the
 * set, encoded once for all of them.
 */
export interface QuoteGroup {
  readonly room: string;
  readonly tierMs: number;
  /** Symbol indices, ascending. */
  readonly symbols: readonly number[];
  /** Sockets in the group, as counted by {@link Throttler.join} and {@link Throttler.leave}. */
  members: number;
}

export interface ThrottlerStats {
  /** Quote frames broadcast (one per group with news per flush). */
  quoteBroadcasts: number;
  /** Quotes delivered: quotes per frame times group members. */
  quotesDelivered: number;
  tradeBroadcasts: number;
  tradesDelivered: number;
}

interface Tier {
  readonly ms: number;
  /** Per symbol: the seq this tier's previous flush saw. */
  readonly flushedSeq: Float64Array;
  /** Per symbol: sockets holding it at this tier, across groups. */
  readonly holders: Int32Array;
  /** Per symbol: the quote built by the current flush, or null. Reused across flushes. */
  readonly built: (Quote | null)[];
  readonly groups: Map<string, QuoteGroup>;
  afterFlush: (() => void)[];
}

/**
 * The conflating throttler. One timer per tier; at each flush every symbol whose `seq` moved
 * since that tier's previous flush and that somebody holds at that tier gets ONE quote with its
 * latest state and `conflated` = ticks since the previous flush. Each subscription-set group then
 * gets one frame carrying the changed symbols of its set. Trades are never conflated: they queue
 * per symbol and go to room `t:{SYMBOL}` at every flush of the fastest tier, in order.
 */
export class Throttler {
  readonly tiers: readonly number[];
  readonly stats: ThrottlerStats = { quoteBroadcasts: 0, quotesDelivered: 0, tradeBroadcasts: 0, tradesDelivered: 0 };
  private readonly state: Tier[];
  private readonly tradeRooms: string[];
  /** Per symbol: trades applied since the last trade flush (null when none). */
  private readonly pendingTrades: (Trade[] | null)[];
  private nextGroupId = 1;
  private timers: ReturnType<typeof setInterval>[] = [];
  private out: Broadcaster | null = null;

  constructor(
    private readonly market: MarketState,
    tiers: readonly number[],
  ) {
    if (tiers.length === 0) throw new Error('Throttler needs at least one tier');
    this.tiers = [...new Set(tiers)].sort((a, b) => a - b);
    const n = market.size;
    this.state = this.tiers.map((ms) => ({
      ms,
      flushedSeq: new Float64Array(n),
      holders: new Int32Array(n),
      built: new Array<Quote | null>(n).fill(null),
      groups: new Map(),
      afterFlush: [],
    }));
    this.tradeRooms = market.symbols.map((s) => tradeRoom(s));
    this.pendingTrades = market.symbols.map(() => null);
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

  /**
   * Counts one socket into the group of `symbols` (indices) at tier `k` and returns the group,
   * whose room the socket must join.
   */
  join(k: number, symbols: readonly number[]): QuoteGroup {
    const tier = this.state[k]!;
    const sorted = [...symbols].sort((a, b) => a - b);
    const key = sorted.join(',');
    let group = tier.groups.get(key);
    if (!group) {
      group = { room: `g:${tier.ms}:${this.nextGroupId++}`, tierMs: tier.ms, symbols: sorted, members: 0 };
      tier.groups.set(key, group);
    }
    group.members++;
    for (const i of sorted) tier.holders[i]!++;
    return group;
  }

  /** Counts one socket out of a group it joined; an empty group is forgotten. */
  leave(group: QuoteGroup): void {
    const tier = this.state[this.tierIndex(group.tierMs)]!;
    group.members--;
    for (const i of group.symbols) tier.holders[i]!--;
    if (group.members === 0) tier.groups.delete(group.symbols.join(','));
  }

  /** Groups alive at tier `k` (for metrics and tests). */
  groupCount(k: number): number {
    return this.state[k]!.groups.size;
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
    return this.market.seqAt(i) > this.state[k]!.flushedSeq[i]!;
  }

  /** Runs `fn` once, right after tier `k`'s next flush. */
  afterNextFlush(k: number, fn: () => void): void {
    this.state[k]!.afterFlush.push(fn);
  }

  /** Sends the quotes of tier `k` (then, for the fastest tier, the queued trades). */
  flush(k: number): void {
    const out = this.out;
    if (!out) return;
    const market = this.market;
    const tier = this.state[k]!;
    const { flushedSeq, holders, built } = tier;
    let changed = 0;
    for (let i = 0; i < flushedSeq.length; i++) {
      const seq = market.seqAt(i);
      const prev = flushedSeq[i]!;
      if (seq === prev) continue;
      flushedSeq[i] = seq;
      if (holders[i] === 0) continue;
      const quote = market.quoteState(i) as Quote;
      quote.conflated = seq - prev;
      built[i] = quote;
      changed++;
    }
    if (changed > 0) {
      const stats = this.stats;
      for (const group of tier.groups.values()) {
        let frame: Quote[] | null = null;
        for (const i of group.symbols) {
          const quote = built[i];
          if (quote) (frame ??= []).push(quote);
        }
        if (!frame) continue;
        out.quotes(group.room, frame);
        stats.quoteBroadcasts++;
        stats.quotesDelivered += frame.length * group.members;
      }
      built.fill(null);
    }
    // Trades go after the quotes: quotes are sent volatile (skipped while a socket's transport is
    // busy), and a trade frame sent first would leave every trade subscriber's transport busy.
    if (k === 0) this.flushTrades(out);
    const after = tier.afterFlush;
    if (after.length > 0) {
      tier.afterFlush = [];
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
