import {
  FRAME_VERSION,
  type Candle,
  type CandleBatch,
  type Quote,
  type Trade,
  type TradeBatch,
} from '@tickdeck/protocol';
import type { CandleRing } from '../market/candle-ring.js';
import { CANDLE_INTERVAL_LIST, type MarketState } from '../market/market-state.js';

/** Candle intervals per symbol: series `s` is symbol `s / N` (rounded down) at interval `s % N`. */
const INTERVALS = CANDLE_INTERVAL_LIST.length;

/**
 * The candle series of symbol index `i` at interval index `k` (in `CANDLE_INTERVAL_LIST`): how a
 * {@link Holding} names a (symbol, interval) pair.
 */
export function candleSeries(i: number, k: number): number {
  return i * INTERVALS + k;
}

/** Where a viewer stands on one candle series: the ring's `closedCount` and `version` it was sent up to. */
export interface CandleCursor {
  closed: number;
  version: number;
}

/**
 * One viewer as the throttler sees it: which group it is in and whether its connection keeps up.
 * The stream layer extends it with whatever it writes to (a socket); the throttler only reads
 * and sets these fields.
 */
export interface Viewer {
  /** The group of viewers owed the same frames (set by {@link Throttler.assign}). */
  group: ViewerGroup<this> | null;
  /** True while its connection is backed up (set by {@link Throttler.setLagging}): frames skip quotes. */
  lagging: boolean;
  /**
   * After quotes were skipped: per symbol index, the seq of the last quote it was sent. Its next
   * frame at each symbol's tier carries the latest quote of every symbol that moved past it.
   */
  owed: Map<number, number> | null;
  /**
   * Its phase, set by the throttler on first use: a slow tier flushed by the fastest tier's timer
   * (1000 ms = every 10th tick) flushes its viewers in `every` phases, one per tick, so that the
   * whole tier's frames are not written in one burst (see {@link Throttler}).
   */
  phase?: number;
  /**
   * Candle series (see {@link candleSeries}) on which it is not where its slot's previous flush
   * left the slot's other viewers (it took them on between two flushes, or it lags): per series,
   * where it stands. Its next frame at the series' tier carries what it is owed from there, and
   * settles it. Null (or absent) when in step on all.
   */
  candleOwed?: Map<number, CandleCursor> | null;
  /**
   * Fired alerts not yet written (comma-joined JSON, see {@link Throttler.queueAlert}): its next
   * frame carries them, exactly once and in order. Null (or absent) when none.
   */
  alerts?: string | null;
}

/** What a viewer is owed: per tier index, the symbols it gets quotes for; the symbols it gets trades for. */
export interface Holding {
  /** Per tier index (as {@link Throttler.tiers}), symbol indices. */
  readonly quotes: readonly (readonly number[])[];
  readonly trades: readonly number[];
  /** Per tier index, the candle series ({@link candleSeries}) it gets bars of; absent: none. */
  readonly candles?: readonly (readonly number[])[];
  /**
   * Candle series that start afresh (a re-subscription): where the ring is now, as the
   * `subscribe` ack's open bar shows it. Other series it held already continue where they were.
   */
  readonly fresh?: readonly number[];
}

/**
 * Viewers owed exactly the same frames: the same symbols at the same tiers and the same trade
 * symbols. Each flush encodes their frame once, and the whole group is written that one encoding.
 */
export interface ViewerGroup<V extends Viewer = Viewer> {
  readonly key: string;
  /** Per tier index, symbol indices, ascending. */
  readonly quotes: readonly (readonly number[])[];
  /** Symbol indices, ascending. */
  readonly trades: readonly number[];
  /** Per tier index, candle series ascending; null when the group holds none (no cost at all then). */
  readonly candles: readonly (readonly number[])[] | null;
  readonly members: Set<V>;
  /** Per tier index: the slot (tier and phase) whose flushes carry this group's quotes. */
  readonly slots: readonly number[];
  /** Members lagging, owed quotes or owed candles: they are written one by one. */
  special: number;
}

/** Where frames go: in the gateway, the viewers' Engine.IO connections. */
export interface FrameOut<V extends Viewer> {
  /**
   * Writes one `frame` payload, already JSON, to each of `viewers`: a group shares one encoding,
   * so this is the place to frame it once for all of them.
   */
  write(viewers: Iterable<V>, count: number, json: string): void;
}

export interface ThrottlerStats {
  /** Frame payloads encoded (one per group with news per flush, plus one per special member). */
  frameEncodings: number;
  /** Frames written to viewers. */
  framesWritten: number;
  /** Quotes delivered: quotes per frame times the viewers it was written to. */
  quotesDelivered: number;
  tradesDelivered: number;
  /** Trade batches sent with `gap: true` (the ring was overrun between two flushes). */
  tradeGaps: number;
  /** Candle bars delivered (closed and open), times the viewers they were written to. */
  candlesDelivered: number;
  /** Candle batches built with `gap: true` (more bars closed between two frames than the ring keeps). */
  candleGaps: number;
  /** Fired alerts queued for viewers' frames. */
  alertsQueued: number;
}

/** One tier, or one phase of a tier flushed every `every`-th tick: the unit that is flushed. */
interface Slot {
  readonly ms: number;
  /** Flushed by the fastest tier's timer every `every`-th tick (0: it has its own timer). */
  readonly every: number;
  /** Flushed at the ticks `n` with `n % every === phase` (0 when every is 0 or 1). */
  readonly phase: number;
  /** Per symbol: the seq this tier's previous flush saw. */
  readonly flushedSeq: Float64Array;
  /** Per symbol: viewers holding it at this tier. */
  readonly holders: Int32Array;
  /** Per symbol: the quote's JSON built by the current flush, or null. Reused across flushes. */
  readonly built: (string | null)[];
  afterFlush: (() => void)[];
  /** Per candle series: groups holding it at this slot. */
  readonly candleHolders: Int32Array;
  /** Candle series with holders here: 0 skips the candles at every flush. */
  candlesHeld: number;
  /** Per candle series: the ring's closedCount and version at this slot's previous flush (or when first held). */
  readonly flushedClosed: Float64Array;
  readonly flushedVersion: Float64Array;
  /** Per candle series: the batch's JSON built by the current flush, or null; and its bar count. */
  readonly builtCandles: (string | null)[];
  readonly builtCandleBars: Int32Array;
  /** Batches in `builtCandles` (0: nothing to clear). */
  candlesBuilt: number;
}

const FRAME_HEAD = `{"v":${FRAME_VERSION}`;

const isSpecial = (viewer: Viewer): boolean =>
  viewer.lagging ||
  viewer.owed !== null ||
  (viewer.candleOwed !== undefined && viewer.candleOwed !== null) ||
  (viewer.alerts !== undefined && viewer.alerts !== null);

/**
 * The conflating throttler, and the one place that decides what each viewer is sent. Each flush
 * writes every viewer at most ONE frame (`{v, quotes?, trades?}`):
 * - quotes: every symbol whose `seq` moved since its tier's previous flush, once, with its latest
 *   state and `conflated` = ticks since that flush. Lossy: a lagging viewer's frames skip them,
 *   and its first frame after it caught up carries the latest state of what moved meanwhile.
 * - trades: pulled by seq (`tradeSeqAt`, `tradesAfter`) from the market's trade ring at every
 *   flush of the fastest tier, every new trade once and in order, never skipped. When more trades
 *   than the ring holds arrived between two flushes, the batch carries what it still has and
 *   `gap: true`.
 * - candles: for viewers that asked for (symbol, interval) pairs, at each flush of the symbol's
 *   tier, per pair the bars that closed since that tier's previous flush (by the ring's
 *   `closedCount` cursor: each once, final, in order, never skipped; `gap: true` if the ring
 *   overwrote some), then the open bar if the ring's `version` moved (its exact state, folded
 *   from every tick). A viewer that took a pair on between two flushes, or lags, has its own
 *   cursor until its next frame settles it ({@link Viewer.candleOwed}); the others share the
 *   slot's, so viewers holding the same pairs share one encoding as for quotes. A group without
 *   candles costs nothing more than before.
 * Every changed quote, trade batch and candle batch is serialised once per flush; a group's frame is
 * concatenated from those pieces, and the group is written that one string. Tiers that are
 * multiples of the fastest are flushed by its timer, so a viewer's quotes and trades share one
 * frame; another tier has its own timer (frames of quotes only).
 *
 * Phases: a tier flushed every `every`-th tick (1000 ms at a 100 ms fastest tier: every 10th)
 * does not flush all its viewers at the same tick. Each viewer gets a phase (round robin), and
 * the tier flushes the viewers of phase `p` at the ticks `n` with `n % every === p`: each still
 * gets one frame per interval, but a tick writes a tenth of the tier's frames, so 20,000 viewers
 * at 1000 ms do not block the loop (and every other viewer's trades) for the whole burst. Each
 * phase is a slot of its own (its own previous-flush seqs, so `conflated` and "moved since" are
 * right for its viewers). Viewers owed the same frames share a group only within a phase.
 * Nothing below stream/ knows the throttler exists.
 */
export class Throttler<V extends Viewer = Viewer> {
  readonly tiers: readonly number[];
  readonly stats: ThrottlerStats = {
    frameEncodings: 0,
    framesWritten: 0,
    quotesDelivered: 0,
    tradesDelivered: 0,
    tradeGaps: 0,
    candlesDelivered: 0,
    candleGaps: 0,
    alertsQueued: 0,
  };
  /** Per tier index and phase: the slot index. */
  private readonly slotOf: number[][];
  private readonly slots: Slot[];
  /** Phases are handed out modulo this (the lcm of the phased tiers' `every`). */
  private readonly phaseCycle: number;
  private nextPhase = 0;
  /** Per symbol: the trade seq the previous trade flush sent up to. */
  private readonly flushedTradeSeq: Float64Array;
  /** Per symbol: viewers getting its trades. */
  private readonly tradeHolders: Int32Array;
  /** Per symbol: the trade batch's JSON built by the current flush, or null. */
  private readonly builtTrades: (string | null)[];
  /** Per symbol: how many trades `builtTrades` holds. */
  private readonly builtTradeCount: Int32Array;
  private readonly groups = new Map<string, ViewerGroup<V>>();
  /** Viewers in no group (holding no symbol) with fired alerts to write at the next flush. */
  private readonly alertedAlone = new Set<V>();
  /** Scratch: tiers due at the current flush. */
  private readonly due: boolean[];
  private ticks = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private out: FrameOut<V> | null = null;

  constructor(
    private readonly market: MarketState,
    tiers: readonly number[],
  ) {
    if (tiers.length === 0) throw new Error('Throttler needs at least one tier');
    this.tiers = [...new Set(tiers)].sort((a, b) => a - b);
    const n = market.size;
    const fastest = this.tiers[0]!;
    this.slots = [];
    this.slotOf = this.tiers.map((ms, k) => {
      const every = k === 0 ? 1 : ms % fastest === 0 ? ms / fastest : 0;
      return Array.from({ length: Math.max(every, 1) }, (_, phase) => {
        this.slots.push({
          ms,
          every,
          phase,
          flushedSeq: new Float64Array(n),
          holders: new Int32Array(n),
          built: new Array<string | null>(n).fill(null),
          afterFlush: [],
          candleHolders: new Int32Array(n * INTERVALS),
          candlesHeld: 0,
          flushedClosed: new Float64Array(n * INTERVALS),
          flushedVersion: new Float64Array(n * INTERVALS),
          builtCandles: new Array<string | null>(n * INTERVALS).fill(null),
          builtCandleBars: new Int32Array(n * INTERVALS),
          candlesBuilt: 0,
        });
        return this.slots.length - 1;
      });
    });
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    this.phaseCycle = this.slotOf.reduce((l, phases) => (l * phases.length) / gcd(l, phases.length), 1);
    this.due = this.slots.map(() => false);
    this.flushedTradeSeq = new Float64Array(n);
    for (let i = 0; i < n; i++) this.flushedTradeSeq[i] = market.tradeSeqAt(i);
    this.tradeHolders = new Int32Array(n);
    this.builtTrades = new Array<string | null>(n).fill(null);
    this.builtTradeCount = new Int32Array(n);
  }

  /** Index of a tier given in ms, or -1 when it is not offered. */
  tierIndex(ms: number): number {
    return this.tiers.indexOf(ms);
  }

  /** Starts the timers (the fastest tier's, and one per tier that is not a multiple of it), writing to `out`. */
  start(out: FrameOut<V>): void {
    this.stop();
    this.out = out;
    this.ticks = 0;
    this.timers = [setInterval(() => this.tick(), this.tiers[0])];
    this.slots.forEach((slot, s) => {
      if (slot.every === 0) this.timers.push(setInterval(() => this.flushSlot(s), slot.ms));
    });
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
   * Puts `viewer` in the group of viewers holding exactly `holding` (none: out of every group).
   * Quotes it was owed for symbols it no longer holds are forgotten. Candle series it takes on (or
   * that are `fresh`) start where their ring is now; those it keeps continue where it was.
   */
  assign(viewer: V, holding: Holding | null): void {
    const quotes = this.tiers.map((_, k) => [...new Set(holding?.quotes[k] ?? [])].sort((a, b) => a - b));
    const trades = [...new Set(holding?.trades ?? [])].sort((a, b) => a - b);
    const asked = holding?.candles;
    const candles =
      asked !== undefined && asked.some((c) => c.length > 0)
        ? this.tiers.map((_, k) => [...new Set(asked[k] ?? [])].sort((a, b) => a - b))
        : null;
    const empty = trades.length === 0 && quotes.every((q) => q.length === 0) && candles === null;
    const phase = this.phaseOf(viewer);
    const slots = this.tiers.map((_, k) => this.slotFor(k, phase));
    // Viewers share a group only where their phases put their quotes (and candles) in the same slots.
    const inPhases = (lists: readonly (readonly number[])[]) =>
      lists.some((l, k) => l.length > 0 && this.slotOf[k]!.length > 1);
    const phased = inPhases(quotes) || (candles !== null && inPhases(candles));
    const key = empty
      ? ''
      : `${quotes.map((q) => q.join(',')).join('|')}|t${trades.join(',')}${
          candles === null ? '' : `|c${candles.map((c) => c.join(',')).join('|')}`
        }${phased ? `|s${slots.join(',')}` : ''}`;
    const fresh = holding?.fresh ?? [];
    const current = viewer.group;
    if (current && current.key === key && fresh.length === 0) return;
    // Where it stands on each candle series it will hold, read before it leaves its groups.
    const standing = candles === null ? null : this.candleStanding(viewer, current, candles, slots, fresh);
    const wasSpecial = isSpecial(viewer);
    let group: ViewerGroup<V>;
    if (current && current.key === key) {
      group = current;
    } else {
      if (current) this.leave(viewer, current);
      if (empty) {
        viewer.owed = null;
        viewer.candleOwed = null;
        return;
      }
      group = this.groups.get(key) ?? this.newGroup(key, quotes, trades, candles, slots);
      group.members.add(viewer);
      viewer.group = group;
      if (viewer.lagging) {
        // A symbol taken on while lagging: ready means the viewer holds its tier's last flushed state.
        const owed = (viewer.owed ??= new Map());
        quotes.forEach((symbols, k) => {
          const flushed = this.slots[slots[k]!]!.flushedSeq;
          for (const i of symbols) if (!owed.has(i)) owed.set(i, flushed[i]!);
        });
      }
      if (viewer.owed) {
        const held = new Set(quotes.flat());
        for (const i of viewer.owed.keys()) if (!held.has(i)) viewer.owed.delete(i);
        if (viewer.owed.size === 0) viewer.owed = null;
      }
    }
    viewer.candleOwed = standing === null ? null : this.candleOwedIn(viewer, group, standing);
    const special = isSpecial(viewer);
    if (group !== current) {
      if (special) group.special++;
    } else if (special !== wasSpecial) {
      group.special += special ? 1 : -1;
    }
  }

  /**
   * The viewer's connection is backed up (true) or has caught up (false). While backed up its
   * frames carry trades and closed candles only; it is then owed the latest quote of each symbol
   * that moved, and the open bar of each candle pair that changed.
   */
  setLagging(viewer: V, lagging: boolean): void {
    if (viewer.lagging === lagging) return;
    const group = viewer.group;
    const wasSpecial = isSpecial(viewer);
    viewer.lagging = lagging;
    if (lagging && group) {
      // It was sent every quote up to each tier's previous flush: that is what it holds.
      const owed = (viewer.owed ??= new Map());
      group.quotes.forEach((symbols, k) => {
        const flushed = this.slots[group.slots[k]!]!.flushedSeq;
        for (const i of symbols) if (!owed.has(i)) owed.set(i, flushed[i]!);
      });
      if (owed.size === 0) viewer.owed = null;
      // The same for its candles: from now on it has its own cursor on every pair.
      group.candles?.forEach((series, k) => {
        const slot = this.slots[group.slots[k]!]!;
        for (const c of series) {
          const candleOwed = (viewer.candleOwed ??= new Map());
          if (!candleOwed.has(c))
            candleOwed.set(c, { closed: slot.flushedClosed[c]!, version: slot.flushedVersion[c]! });
        }
      });
    }
    const special = isSpecial(viewer);
    if (group && wasSpecial !== special) group.special += special ? 1 : -1;
  }

  /**
   * Per candle series of `candles`: where the viewer stands. One it kept at the same tier (and
   * not `fresh`) continues, from its own cursor or its slot's previous flush; any other starts
   * where the ring is now.
   */
  private candleStanding(
    viewer: V,
    current: ViewerGroup<V> | null,
    candles: readonly (readonly number[])[],
    slots: readonly number[],
    fresh: readonly number[],
  ): Map<number, CandleCursor> {
    const restart = new Set(fresh);
    const standing = new Map<number, CandleCursor>();
    candles.forEach((series, k) => {
      const held = current?.candles?.[k];
      const slot = this.slots[slots[k]!]!;
      for (const c of series) {
        if (!restart.has(c) && held !== undefined && held.includes(c)) {
          standing.set(
            c,
            viewer.candleOwed?.get(c) ?? { closed: slot.flushedClosed[c]!, version: slot.flushedVersion[c]! },
          );
        } else {
          const ring = this.ring(c);
          standing.set(c, { closed: ring.closedCount, version: ring.version });
        }
      }
    });
    return standing;
  }

  /** What of `standing` the viewer must keep as its own cursors in `group`: all while it lags, else where it is not in step with its slot. */
  private candleOwedIn(
    viewer: V,
    group: ViewerGroup<V>,
    standing: Map<number, CandleCursor>,
  ): Map<number, CandleCursor> | null {
    let owed: Map<number, CandleCursor> | null = null;
    group.candles?.forEach((series, k) => {
      const slot = this.slots[group.slots[k]!]!;
      for (const c of series) {
        const at = standing.get(c)!;
        if (!viewer.lagging && at.closed === slot.flushedClosed[c] && at.version === slot.flushedVersion[c]) continue;
        (owed ??= new Map()).set(c, at);
      }
    });
    return owed;
  }

  private newGroup(
    key: string,
    quotes: number[][],
    trades: number[],
    candles: number[][] | null,
    slots: number[],
  ): ViewerGroup<V> {
    const group: ViewerGroup<V> = { key, quotes, trades, candles, members: new Set(), slots, special: 0 };
    this.groups.set(key, group);
    quotes.forEach((symbols, k) => {
      const holders = this.slots[slots[k]!]!.holders;
      for (const i of symbols) holders[i]!++;
    });
    for (const i of trades) this.tradeHolders[i]!++;
    candles?.forEach((series, k) => {
      const slot = this.slots[slots[k]!]!;
      for (const c of series) {
        if (slot.candleHolders[c]!++ > 0) continue;
        // Nobody here held it: for its first holders, the slot's previous flush is now.
        slot.candlesHeld++;
        const ring = this.ring(c);
        slot.flushedClosed[c] = ring.closedCount;
        slot.flushedVersion[c] = ring.version;
      }
    });
    return group;
  }

  /** The ring of candle series `c`, its bars due by the feed's clock closed. */
  private ring(c: number): CandleRing {
    return this.market.candleRingAt((c / INTERVALS) | 0, c % INTERVALS);
  }

  /** Viewer groups alive (for metrics and tests). */
  groupCount(): number {
    return this.groups.size;
  }

  /** Whether trades of symbol `i` wait for the next flush. */
  hasPendingTrades(i: number): boolean {
    return this.market.tradeSeqAt(i) !== this.flushedTradeSeq[i];
  }

  /** The viewer's phase, handed out round robin on first use. */
  phaseOf(viewer: V): number {
    return (viewer.phase ??= this.nextPhase++ % this.phaseCycle);
  }

  /**
   * Whether symbol `i` has moved since the previous flush of tier `k` for `viewer`'s phase (the
   * next one will send it).
   */
  isDirty(k: number, i: number, viewer: V): boolean {
    return this.market.seqAt(i) > this.slots[this.slotFor(k, this.phaseOf(viewer))]!.flushedSeq[i]!;
  }

  /** Runs `fn` once, right after the next flush of tier `k` for `viewer`'s phase. */
  afterNextFlush(k: number, viewer: V, fn: () => void): void {
    this.slots[this.slotFor(k, this.phaseOf(viewer))]!.afterFlush.push(fn);
  }

  private slotFor(k: number, phase: number): number {
    const phases = this.slotOf[k]!;
    return phases[phase % phases.length]!;
  }

  /** One tick of the fastest tier's timer: it, every multiple tier due now, and the trades. */
  tick(): void {
    const n = ++this.ticks;
    const due = this.due;
    this.slots.forEach((slot, s) => (due[s] = slot.every > 0 && n % slot.every === slot.phase));
    this.run(due, true);
  }

  /** Flushes tier `k` alone, every phase of it (with the trades when it is the fastest). */
  flush(k: number): void {
    const due = this.due;
    due.fill(false);
    for (const s of this.slotOf[k]!) due[s] = true;
    this.run(due, k === 0);
  }

  /** Flushes one slot alone (a tier on its own timer). */
  private flushSlot(s: number): void {
    const due = this.due;
    for (let j = 0; j < due.length; j++) due[j] = j === s;
    this.run(due, s === 0);
  }

  /** `due`: per slot. */
  private run(due: readonly boolean[], withTrades: boolean): void {
    const out = this.out;
    if (!out) return;
    let news = 0;
    for (let s = 0; s < due.length; s++) {
      if (!due[s]) continue;
      const slot = this.slots[s]!;
      news += this.buildQuotes(slot);
      if (slot.candlesHeld > 0) news += this.buildCandles(slot);
    }
    if (withTrades) news += this.buildTrades();
    if (this.alertedAlone.size > 0) this.sendAlone(out);
    if (news > 0) {
      for (const group of this.groups.values()) this.send(out, group, due);
      for (let s = 0; s < due.length; s++) {
        if (!due[s]) continue;
        const slot = this.slots[s]!;
        slot.built.fill(null);
        if (slot.candlesBuilt > 0) {
          slot.builtCandles.fill(null);
          slot.candlesBuilt = 0;
        }
      }
      if (withTrades) this.builtTrades.fill(null);
    } else {
      // Nothing moved, but a viewer that just caught up may still be owed quotes.
      for (const group of this.groups.values()) if (group.special > 0) this.send(out, group, due);
    }
    for (let s = 0; s < due.length; s++) {
      if (!due[s]) continue;
      const slot = this.slots[s]!;
      const after = slot.afterFlush;
      if (after.length === 0) continue;
      slot.afterFlush = [];
      for (const fn of after) fn();
    }
  }

  /** Serialises, once, the quote of every symbol of `tier` that moved and that somebody holds there. */
  private buildQuotes(slot: Slot): number {
    const market = this.market;
    const { flushedSeq, holders, built } = slot;
    let changed = 0;
    for (let i = 0; i < flushedSeq.length; i++) {
      const seq = market.seqAt(i);
      const prev = flushedSeq[i]!;
      if (seq === prev) continue;
      flushedSeq[i] = seq;
      if (holders[i] === 0) continue;
      const quote = market.quoteState(i) as Quote;
      // A lower seq: the market adopted another node's state; the quote stands for one tick.
      quote.conflated = seq > prev ? seq - prev : 1;
      built[i] = JSON.stringify(quote);
      changed++;
    }
    return changed;
  }

  /** Serialises, once, each symbol's new trades since the previous trade flush. */
  private buildTrades(): number {
    const market = this.market;
    const flushed = this.flushedTradeSeq;
    let batches = 0;
    for (let i = 0; i < flushed.length; i++) {
      const seq = market.tradeSeqAt(i);
      const prev = flushed[i]!;
      if (seq === prev) continue;
      flushed[i] = seq;
      // A lower seq: the market adopted another node's state; nothing of this run is owed.
      if (seq < prev || this.tradeHolders[i] === 0) continue;
      let trades: Trade[] | null = market.tradesAfter(i, prev);
      const batch: TradeBatch = { symbol: market.symbols[i]!, trades: trades ?? [] };
      if (trades === null) {
        trades = market.recentTrades(i, seq - prev);
        batch.trades = trades;
        batch.gap = true;
        this.stats.tradeGaps++;
      }
      this.builtTrades[i] = JSON.stringify(batch);
      this.builtTradeCount[i] = trades.length;
      batches++;
    }
    return batches;
  }

  /**
   * Serialises, once, the candle batch of every series held at `slot` whose ring changed since
   * the slot's previous flush: the bars closed since, then the open bar.
   */
  private buildCandles(slot: Slot): number {
    const { candleHolders, flushedClosed, flushedVersion, builtCandles, builtCandleBars } = slot;
    let built = 0;
    for (let c = 0; c < candleHolders.length; c++) {
      if (candleHolders[c] === 0) continue;
      const ring = this.ring(c);
      const version = ring.version;
      if (version === flushedVersion[c]) continue;
      const from = flushedClosed[c]!;
      flushedClosed[c] = ring.closedCount;
      flushedVersion[c] = version;
      const batch = this.candleBatch(c, ring, from, true);
      if (batch === null) continue;
      builtCandles[c] = JSON.stringify(batch);
      builtCandleBars[c] = batch.bars.length;
      built++;
    }
    slot.candlesBuilt = built;
    return built;
  }

  /**
   * Series `c`'s bars after the cursor `closed` (all the ring holds and `gap` when it lost some),
   * then, with `withOpen`, the open bar; null when that is nothing.
   */
  private candleBatch(c: number, ring: CandleRing, closed: number, withOpen: boolean): CandleBatch | null {
    const batch: CandleBatch = {
      symbol: this.market.symbols[(c / INTERVALS) | 0]!,
      interval: CANDLE_INTERVAL_LIST[c % INTERVALS]!,
      bars: [],
    };
    let bars: Candle[] | null = ring.closedAfter(closed);
    if (bars === null) {
      bars = ring.closed();
      batch.gap = true;
      this.stats.candleGaps++;
    }
    if (withOpen) {
      const open = ring.openBar();
      if (open !== null) bars.push(open);
    }
    if (bars.length === 0) return null;
    batch.bars = bars;
    return batch;
  }

  private send(out: FrameOut<V>, group: ViewerGroup<V>, due: readonly boolean[]): void {
    let quotes = '';
    let quoteCount = 0;
    for (let k = 0; k < group.slots.length; k++) {
      const s = group.slots[k]!;
      if (!due[s]) continue;
      const built = this.slots[s]!.built;
      for (const i of group.quotes[k]!) {
        const json = built[i];
        if (json === null || json === undefined) continue;
        quotes = quoteCount === 0 ? json : `${quotes},${json}`;
        quoteCount++;
      }
    }
    let trades = '';
    let tradeCount = 0;
    let batches = 0;
    for (const i of group.trades) {
      const json = this.builtTrades[i];
      if (json === null || json === undefined) continue;
      trades = batches === 0 ? json : `${trades},${json}`;
      batches++;
      tradeCount += this.builtTradeCount[i]!;
    }
    let candles = '';
    let candleBars = 0;
    const groupCandles = group.candles;
    if (groupCandles !== null) {
      for (let k = 0; k < group.slots.length; k++) {
        const s = group.slots[k]!;
        if (!due[s]) continue;
        const slot = this.slots[s]!;
        for (const c of groupCandles[k]!) {
          const json = slot.builtCandles[c];
          if (json === null || json === undefined) continue;
          candles = candles === '' ? json : `${candles},${json}`;
          candleBars += slot.builtCandleBars[c]!;
        }
      }
    }
    const stats = this.stats;
    if (group.special === 0) {
      if (quoteCount === 0 && batches === 0 && candles === '') return;
      const members = group.members.size;
      out.write(group.members, members, frameJson(quotes, trades, candles));
      stats.frameEncodings++;
      stats.framesWritten += members;
      stats.quotesDelivered += quoteCount * members;
      stats.tradesDelivered += tradeCount * members;
      stats.candlesDelivered += candleBars * members;
      return;
    }
    // Lagging or owed members, one by one; the others still share one encoding.
    const normal: V[] = [];
    let tradesOnly: string | null = null;
    for (const viewer of group.members) {
      const candleOwed = viewer.candleOwed ?? null;
      const alerts = viewer.alerts ?? null;
      if (viewer.lagging && candleOwed === null) {
        if (alerts !== null) {
          viewer.alerts = null;
          out.write([viewer], 1, frameJson('', trades, '', alerts));
          stats.frameEncodings++;
        } else {
          if (batches === 0) continue;
          tradesOnly ??= frameJson('', trades, '');
          out.write([viewer], 1, tradesOnly);
        }
        stats.framesWritten++;
        stats.tradesDelivered += tradeCount;
      } else if (viewer.lagging || viewer.owed || candleOwed !== null) {
        // Lagging: no quotes, its closed bars from its own cursors. Owed: its own pieces.
        const [ownQuotes, ownCount] = viewer.lagging
          ? ['', 0]
          : viewer.owed
            ? this.owedQuotes(viewer.owed, group, due)
            : [quotes, quoteCount];
        const [ownCandles, ownBars] =
          candleOwed === null ? [candles, candleBars] : this.owedCandles(viewer, candleOwed, group, due);
        if (viewer.owed?.size === 0) viewer.owed = null;
        if (candleOwed?.size === 0) viewer.candleOwed = null;
        viewer.alerts = null;
        if (!isSpecial(viewer)) group.special--;
        if (ownCount === 0 && batches === 0 && ownCandles === '' && alerts === null) continue;
        out.write([viewer], 1, frameJson(ownQuotes, trades, ownCandles, alerts ?? ''));
        stats.frameEncodings++;
        stats.framesWritten++;
        stats.quotesDelivered += ownCount;
        stats.tradesDelivered += tradeCount;
        stats.candlesDelivered += ownBars;
      } else if (alerts !== null) {
        // In step but for its fired alerts: the group's frame with them.
        viewer.alerts = null;
        group.special--;
        out.write([viewer], 1, frameJson(quotes, trades, candles, alerts));
        stats.frameEncodings++;
        stats.framesWritten++;
        stats.quotesDelivered += quoteCount;
        stats.tradesDelivered += tradeCount;
        stats.candlesDelivered += candleBars;
      } else {
        normal.push(viewer);
      }
    }
    if (tradesOnly !== null) stats.frameEncodings++;
    if (normal.length > 0 && (quoteCount > 0 || batches > 0 || candles !== '')) {
      out.write(normal, normal.length, frameJson(quotes, trades, candles));
      stats.frameEncodings++;
      stats.framesWritten += normal.length;
      stats.quotesDelivered += quoteCount * normal.length;
      stats.tradesDelivered += tradeCount * normal.length;
      stats.candlesDelivered += candleBars * normal.length;
    }
  }

  /**
   * The candles of a viewer with cursors of its own, at the tiers due now: per series it has a
   * cursor on, what came after it (closed bars only while it lags: its open bars wait, as quotes
   * do), this flush's piece for the others. Settles what it sends in `owed`: a viewer that does
   * not lag is in step with its slot again once sent.
   */
  private owedCandles(
    viewer: V,
    owed: Map<number, CandleCursor>,
    group: ViewerGroup<V>,
    due: readonly boolean[],
  ): [string, number] {
    let json = '';
    let bars = 0;
    const candles = group.candles!;
    for (let k = 0; k < group.slots.length; k++) {
      const s = group.slots[k]!;
      if (!due[s]) continue;
      const slot = this.slots[s]!;
      for (const c of candles[k]!) {
        const at = owed.get(c);
        let piece: string | null = null;
        let count = 0;
        if (at === undefined) {
          piece = slot.builtCandles[c] ?? null;
          count = slot.builtCandleBars[c]!;
        } else {
          const ring = this.ring(c);
          if (ring.version !== at.version) {
            const batch = this.candleBatch(c, ring, at.closed, !viewer.lagging);
            if (batch !== null) {
              piece = JSON.stringify(batch);
              count = batch.bars.length;
            }
          }
          if (viewer.lagging) at.closed = ring.closedCount;
          else owed.delete(c);
        }
        if (piece === null) continue;
        json = json === '' ? piece : `${json},${piece}`;
        bars += count;
      }
    }
    return [json, bars];
  }

  /**
   * The quotes of a viewer that caught up, at the tiers due now: the latest state of each symbol
   * that moved past the last quote it was sent (`conflated` counts from there), this flush's
   * piece for the others. Settles what it sends in `owed`.
   */
  private owedQuotes(owed: Map<number, number>, group: ViewerGroup<V>, due: readonly boolean[]): [string, number] {
    const market = this.market;
    let quotes = '';
    let count = 0;
    for (let k = 0; k < group.slots.length; k++) {
      const s = group.slots[k]!;
      if (!due[s]) continue;
      const built = this.slots[s]!.built;
      for (const i of group.quotes[k]!) {
        let json = built[i] ?? null;
        const from = owed.get(i);
        if (from !== undefined) {
          owed.delete(i);
          const seq = market.seqAt(i);
          if (seq > from) {
            const quote = market.quoteState(i) as Quote;
            quote.conflated = seq - from;
            json = JSON.stringify(quote);
          }
        }
        if (json === null) continue;
        quotes = count === 0 ? json : `${quotes},${json}`;
        count++;
      }
    }
    return [quotes, count];
  }

  /**
   * A fired alert (its JSON) for `viewer`'s next frame: written at the next flush that visits its
   * group, or, when it holds no symbol, at the next flush of any tier; in order, exactly once.
   */
  queueAlert(viewer: V, json: string): void {
    const was = isSpecial(viewer);
    viewer.alerts = viewer.alerts ? `${viewer.alerts},${json}` : json;
    this.stats.alertsQueued++;
    if (viewer.group) {
      if (!was) viewer.group.special++;
    } else {
      this.alertedAlone.add(viewer);
    }
  }

  /** Forgets a viewer that went away, and its unsent alerts. */
  forget(viewer: V): void {
    this.alertedAlone.delete(viewer);
    // In a group its alerts count in the group's specials: leaving the group settles them.
    if (viewer.group === null) viewer.alerts = null;
  }

  /** The alerts of viewers in no group, each in a frame of its own. */
  private sendAlone(out: FrameOut<V>): void {
    for (const viewer of this.alertedAlone) {
      // One that joined a group meanwhile gets them with the group's frame.
      if (viewer.group === null && viewer.alerts) {
        out.write([viewer], 1, frameJson('', '', '', viewer.alerts));
        this.stats.frameEncodings++;
        this.stats.framesWritten++;
        viewer.alerts = null;
      }
    }
    this.alertedAlone.clear();
  }

  private leave(viewer: V, group: ViewerGroup<V>): void {
    group.members.delete(viewer);
    if (isSpecial(viewer)) group.special--;
    viewer.group = null;
    if (group.members.size > 0) return;
    this.groups.delete(group.key);
    group.quotes.forEach((symbols, k) => {
      const holders = this.slots[group.slots[k]!]!.holders;
      for (const i of symbols) holders[i]!--;
    });
    for (const i of group.trades) this.tradeHolders[i]!--;
    group.candles?.forEach((series, k) => {
      const slot = this.slots[group.slots[k]!]!;
      for (const c of series) if (--slot.candleHolders[c]! === 0) slot.candlesHeld--;
    });
  }
}

/** A frame payload from its pieces: each a comma-joined list of JSON values, '' for none. */
function frameJson(quotes: string, trades: string, candles: string, alerts = ''): string {
  const q = quotes === '' ? '' : `,"quotes":[${quotes}]`;
  const t = trades === '' ? '' : `,"trades":[${trades}]`;
  const c = candles === '' ? '' : `,"candles":[${candles}]`;
  const a = alerts === '' ? '' : `,"alerts":[${alerts}]`;
  return `${FRAME_HEAD}${q}${t}${c}${a}}`;
}
