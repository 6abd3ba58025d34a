import { tradeRoom, type Quote, type TradeBatch } from '@tickdeck/protocol';
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
  /** Trade batches sent with `gap: true` (the ring was overrun between two flushes). */
  tradeGaps: number;
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
 * gets one frame carrying the changed symbols of its set. Trades are never conflated: the
 * throttler pulls them the way it pulls quotes, by seq (`tradeSeqAt`, `tradesAfter`) from the
 * market's trade ring at every flush of the fastest tier, and sends them to room `t:{SYMBOL}` in
 * order. Nothing below stream/ knows the throttler exists. When more trades than the ring holds
 * arrived between two flushes, the batch carries what the ring still has and `gap: true`.
 */
export class Throttler {
  readonly tiers: readonly number[];
  readonly stats: ThrottlerStats = {
    quoteBroadcasts: 0,
    quotesDelivered: 0,
    tradeBroadcasts: 0,
    tradesDelivered: 0,
    tradeGaps: 0,
  };
  private readonly state: Tier[];
  private readonly tradeRooms: string[];
  /** Per symbol: the trade seq the previous trade flush sent up to. */
  private readonly flushedTradeSeq: Float64Array;
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
    this.flushedTradeSeq = new Float64Array(n);
    for (let i = 0; i < n; i++) this.flushedTradeSeq[i] = market.tradeSeqAt(i);
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

  /** Nest lifecycle (the class imports no Nest): no flush while the gateway shuts down. */
  beforeApplicationShutdown(): void {
    this.stop();
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

  /** Whether trades of symbol `i` wait for the next flush. */
  hasPendingTrades(i: number): boolean {
    return this.market.tradeSeqAt(i) !== this.flushedTradeSeq[i];
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
    const market = this.market;
    const flushed = this.flushedTradeSeq;
    for (let i = 0; i < flushed.length; i++) {
      const seq = market.tradeSeqAt(i);
      const prev = flushed[i]!;
      if (seq === prev) continue;
      flushed[i] = seq;
      // A lower seq: the market adopted another node's state; nothing of this run is owed.
      if (seq < prev) continue;
      const room = this.tradeRooms[i]!;
      const members = out.members(room);
      if (members === 0) continue;
      let trades = market.tradesAfter(i, prev);
      const gap = trades === null;
      if (gap) {
        trades = market.recentTrades(i, seq - prev);
        this.stats.tradeGaps++;
      }
      const batch: TradeBatch = { symbol: market.symbols[i]!, trades: trades! };
      if (gap) batch.gap = true;
      out.trades(room, batch);
      this.stats.tradeBroadcasts++;
      this.stats.tradesDelivered += members * trades!.length;
    }
  }
}
