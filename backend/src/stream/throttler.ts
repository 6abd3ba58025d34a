import { FRAME_VERSION, type Quote, type Trade, type TradeBatch } from '@tickdeck/protocol';
import type { MarketState } from '../market/market-state.js';

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
}

/** What a viewer is owed: per tier index, the symbols it gets quotes for; the symbols it gets trades for. */
export interface Holding {
  /** Per tier index (as {@link Throttler.tiers}), symbol indices. */
  readonly quotes: readonly (readonly number[])[];
  readonly trades: readonly number[];
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
  readonly members: Set<V>;
  /** Per tier index: the slot (tier and phase) whose flushes carry this group's quotes. */
  readonly slots: readonly number[];
  /** Members lagging or owed quotes: they are written one by one. */
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
}

const FRAME_HEAD = `{"v":${FRAME_VERSION}`;

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
 * Every changed quote and every trade batch is serialised once per flush; a group's frame is
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
   * Quotes it was owed for symbols it no longer holds are forgotten.
   */
  assign(viewer: V, holding: Holding | null): void {
    const quotes = this.tiers.map((_, k) => [...new Set(holding?.quotes[k] ?? [])].sort((a, b) => a - b));
    const trades = [...new Set(holding?.trades ?? [])].sort((a, b) => a - b);
    const empty = trades.length === 0 && quotes.every((q) => q.length === 0);
    const phase = this.phaseOf(viewer);
    const slots = this.tiers.map((_, k) => this.slotFor(k, phase));
    // Viewers share a group only where their phases put their quotes in the same slots.
    const phased = quotes.some((q, k) => q.length > 0 && this.slotOf[k]!.length > 1);
    const key = empty
      ? ''
      : `${quotes.map((q) => q.join(',')).join('|')}|t${trades.join(',')}${phased ? `|s${slots.join(',')}` : ''}`;
    const current = viewer.group;
    if (current && current.key === key) return;
    if (current) this.leave(viewer, current);
    if (empty) {
      viewer.owed = null;
      return;
    }
    let group = this.groups.get(key);
    if (!group) {
      group = { key, quotes, trades, members: new Set(), slots, special: 0 };
      this.groups.set(key, group);
      quotes.forEach((symbols, k) => {
        const holders = this.slots[slots[k]!]!.holders;
        for (const i of symbols) holders[i]!++;
      });
      for (const i of trades) this.tradeHolders[i]!++;
    }
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
    if (viewer.lagging || viewer.owed) group.special++;
  }

  /**
   * The viewer's connection is backed up (true) or has caught up (false). While backed up its
   * frames carry trades only; it is then owed the latest quote of each symbol that moved.
   */
  setLagging(viewer: V, lagging: boolean): void {
    if (viewer.lagging === lagging) return;
    const group = viewer.group;
    const wasSpecial = viewer.lagging || viewer.owed !== null;
    viewer.lagging = lagging;
    if (lagging && group) {
      // It was sent every quote up to each tier's previous flush: that is what it holds.
      const owed = (viewer.owed ??= new Map());
      group.quotes.forEach((symbols, k) => {
        const flushed = this.slots[group.slots[k]!]!.flushedSeq;
        for (const i of symbols) if (!owed.has(i)) owed.set(i, flushed[i]!);
      });
      if (owed.size === 0) viewer.owed = null;
    }
    const isSpecial = viewer.lagging || viewer.owed !== null;
    if (group && wasSpecial !== isSpecial) group.special += isSpecial ? 1 : -1;
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
    for (let s = 0; s < due.length; s++) if (due[s]) news += this.buildQuotes(this.slots[s]!);
    if (withTrades) news += this.buildTrades();
    if (news > 0) {
      for (const group of this.groups.values()) this.send(out, group, due);
      for (let s = 0; s < due.length; s++) if (due[s]) this.slots[s]!.built.fill(null);
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
    const stats = this.stats;
    if (group.special === 0) {
      if (quoteCount === 0 && batches === 0) return;
      const members = group.members.size;
      out.write(group.members, members, frameJson(quotes, trades));
      stats.frameEncodings++;
      stats.framesWritten += members;
      stats.quotesDelivered += quoteCount * members;
      stats.tradesDelivered += tradeCount * members;
      return;
    }
    // Lagging or owed members, one by one; the others still share one encoding.
    const normal: V[] = [];
    let tradesOnly: string | null = null;
    for (const viewer of group.members) {
      if (viewer.lagging) {
        if (batches === 0) continue;
        tradesOnly ??= frameJson('', trades);
        out.write([viewer], 1, tradesOnly);
        stats.framesWritten++;
        stats.tradesDelivered += tradeCount;
      } else if (viewer.owed) {
        const [owedQuotes, owedCount] = this.owedQuotes(viewer.owed, group, due);
        if (viewer.owed.size === 0) {
          viewer.owed = null;
          group.special--;
        }
        if (owedCount === 0 && batches === 0) continue;
        out.write([viewer], 1, frameJson(owedQuotes, trades));
        stats.frameEncodings++;
        stats.framesWritten++;
        stats.quotesDelivered += owedCount;
        stats.tradesDelivered += tradeCount;
      } else {
        normal.push(viewer);
      }
    }
    if (tradesOnly !== null) stats.frameEncodings++;
    if (normal.length > 0 && (quoteCount > 0 || batches > 0)) {
      out.write(normal, normal.length, frameJson(quotes, trades));
      stats.frameEncodings++;
      stats.framesWritten += normal.length;
      stats.quotesDelivered += quoteCount * normal.length;
      stats.tradesDelivered += tradeCount * normal.length;
    }
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

  private leave(viewer: V, group: ViewerGroup<V>): void {
    group.members.delete(viewer);
    if (viewer.lagging || viewer.owed) group.special--;
    viewer.group = null;
    if (group.members.size > 0) return;
    this.groups.delete(group.key);
    group.quotes.forEach((symbols, k) => {
      const holders = this.slots[group.slots[k]!]!.holders;
      for (const i of symbols) holders[i]!--;
    });
    for (const i of group.trades) this.tradeHolders[i]!--;
  }
}

/** A frame payload from its pieces: `quotes` and `trades` are comma-joined JSON values, '' for none. */
function frameJson(quotes: string, trades: string): string {
  const q = quotes === '' ? '' : `,"quotes":[${quotes}]`;
  const t = trades === '' ? '' : `,"trades":[${trades}]`;
  return `${FRAME_HEAD}${q}${t}}`;
}
