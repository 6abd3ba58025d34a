import type { Candle } from '@tickdeck/protocol';

/** Bars one store keeps at most; past it the oldest go (and can be paged in again). */
export const MAX_BARS = 20_000;

/**
 * Whether `next` is a later version of the bar `held` (the same `start`): a closed bar is final and
 * nothing replaces it; an open bar is replaced by its closed version or by an open one folded from
 * more ticks. Equal versions are not later, so merging the same bar twice changes nothing.
 */
export function supersedes(next: Candle, held: Candle): boolean {
  if (held.closed) return false;
  if (next.closed) return true;
  return next.ticks > held.ticks;
}

/** What a live merge did. */
export interface LiveMerge {
  /** The bars changed. */
  changed: boolean;
  /** Bars dropped for starting before the newest closed one (a live bar never goes back). */
  dropped: number;
}

/**
 * The bars of one (symbol, interval) pair, oldest first, one per `start`, strictly increasing.
 * REST pages and live batches merge by `start` and by version ({@link supersedes}): whole bars
 * replace whole bars, never field by field, so no bar is ever half one source and half the other,
 * and the result does not depend on the order pages and batches arrive in. Plain TypeScript: the
 * chart reads {@link bars} and is told to redraw.
 */
export class BarStore {
  /** Oldest first, strictly increasing `start`. Replaced entries are new objects; the array is kept. */
  readonly bars: Candle[] = [];
  /** Whether older bars may exist before the oldest held (unknown until a page says: assume so). */
  hasOlder = true;
  #max: number;
  /** {@link unsettled}, kept up to date by the live path (O(1) per bar) and counted again after any other change. */
  #unsettled: number | undefined;
  #recount = false;

  constructor(max = MAX_BARS) {
    this.#max = max;
  }

  get length(): number {
    return this.bars.length;
  }

  get oldest(): Candle | undefined {
    return this.bars[0];
  }

  get newest(): Candle | undefined {
    return this.bars.at(-1);
  }

  /** `start` of the newest closed bar, if any. */
  get newestClosed(): number | undefined {
    for (let i = this.bars.length - 1; i >= 0; i--) if (this.bars[i]!.closed) return this.bars[i]!.start;
    return undefined;
  }

  /**
   * `start` of the oldest bar that is still open although a newer one exists: a bar whose close
   * was never seen (it closed while nobody listened). Such a bar must be fetched again.
   */
  unsettled(): number | undefined {
    if (this.#recount) {
      this.#recount = false;
      this.#unsettled = undefined;
      for (let i = 0; i < this.bars.length - 1; i++) {
        if (!this.bars[i]!.closed) {
          this.#unsettled = this.bars[i]!.start;
          break;
        }
      }
    }
    return this.#unsettled;
  }

  /** Index of the first bar with `start >= t` (`length` when none). */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.bars.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.bars[mid]!.start < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The bar starting at `start`, if held. */
  at(start: number): Candle | undefined {
    const bar = this.bars[this.lowerBound(start)];
    return bar?.start === start ? bar : undefined;
  }

  /**
   * Live bars (a frame's batch or an ack's open bar, oldest first). Bars that start before the
   * newest closed bar held are dropped: the live stream only ever moves forward, and what lies
   * behind it comes from REST.
   */
  mergeLive(bars: readonly Candle[]): LiveMerge {
    const floor = this.newestClosed;
    let dropped = 0;
    const fresh: Candle[] = [];
    for (const bar of bars) {
      if (floor !== undefined && bar.start < floor) dropped++;
      else fresh.push(bar);
    }
    return { changed: this.#merge(fresh), dropped };
  }

  /** The newest page (no `from`/`to`), `limit` long at most: whether older bars exist follows from its length. */
  mergeLatest(page: readonly Candle[], limit: number): boolean {
    const changed = this.#merge(page);
    if (page.length < limit) this.hasOlder = false;
    return changed;
  }

  /**
   * A page asked for with `to` = the oldest start held: bars before it. A page shorter than
   * `limit` is the start of the history.
   */
  mergeOlder(page: readonly Candle[], limit: number): boolean {
    const changed = this.#merge(page);
    this.hasOlder = page.length >= limit;
    return changed;
  }

  /**
   * A page asked for with `from` (every bar from `from` on, the newest `limit`): a refetch after
   * a gap. When it is full and starts after `from`, bars between `from` and its first one were
   * left out: the ones held before it are dropped (they could hide that hole) and become older
   * bars to page in again.
   */
  mergeSince(from: number, page: readonly Candle[], limit: number): boolean {
    const first = page[0];
    let changed = false;
    if (first && page.length >= limit && first.start > from) {
      const cut = this.lowerBound(first.start);
      if (cut > 0) {
        this.bars.splice(0, cut);
        this.hasOlder = true;
        this.#recount = true;
        changed = true;
      }
    }
    return this.#merge(page) || changed;
  }

  /** Drops every bar: a new epoch, or a reload. */
  clear(): void {
    this.bars.length = 0;
    this.hasOlder = true;
    this.#unsettled = undefined;
    this.#recount = false;
  }

  /** Merges sorted `incoming` by start and version; returns whether anything changed. */
  #merge(incoming: readonly Candle[]): boolean {
    if (incoming.length === 0) return false;
    const sorted = isSorted(incoming) ? incoming : [...incoming].sort((a, b) => a.start - b.start);
    const bars = this.bars;
    let changed = false;
    const last = bars.at(-1);
    const first = sorted[0]!;
    if (!last || first.start > last.start) {
      // The common case: live bars after everything held. An open bar they go past is unsettled.
      if (last && !last.closed) this.#unsettled = Math.min(this.#unsettled ?? last.start, last.start);
      let prev = last?.start ?? -Infinity;
      for (const bar of sorted) {
        if (bar.start === prev) {
          if (supersedes(bar, bars.at(-1)!)) bars[bars.length - 1] = bar;
        } else {
          const before = bars.at(-1);
          if (before && !before.closed && before.start > (last?.start ?? -Infinity)) this.#recount = true;
          bars.push(bar);
        }
        prev = bar.start;
      }
      changed = true;
    } else if (sorted.length === 1 && first.start === last.start) {
      // The live bar again.
      if (supersedes(first, last)) {
        bars[bars.length - 1] = first;
        changed = true;
      }
    } else {
      const merged: Candle[] = [];
      let i = 0;
      let j = 0;
      while (i < bars.length || j < sorted.length) {
        const held = bars[i];
        const next = sorted[j];
        if (next === undefined || (held !== undefined && held.start < next.start)) {
          merged.push(held!);
          i++;
        } else if (held === undefined || next.start < held.start) {
          // Two versions of one bar in `incoming` itself: keep the later.
          const prev = merged.at(-1);
          if (prev?.start === next.start) {
            if (supersedes(next, prev)) merged[merged.length - 1] = next;
          } else merged.push(next);
          changed = true;
          j++;
        } else {
          if (supersedes(next, held)) {
            merged.push(next);
            changed = true;
          } else merged.push(held);
          i++;
          j++;
          // Further versions of the same start in `incoming`.
          while (sorted[j]?.start === next.start) {
            if (supersedes(sorted[j]!, merged.at(-1)!)) {
              merged[merged.length - 1] = sorted[j]!;
              changed = true;
            }
            j++;
          }
        }
      }
      if (changed) {
        bars.length = 0;
        for (const bar of merged) bars.push(bar);
        this.#recount = true;
      }
    }
    if (bars.length > this.#max) {
      bars.splice(0, bars.length - this.#max);
      this.hasOlder = true;
      this.#recount = true;
    }
    return changed;
  }
}

function isSorted(bars: readonly Candle[]): boolean {
  for (let i = 1; i < bars.length; i++) if (bars[i]!.start < bars[i - 1]!.start) return false;
  return true;
}
