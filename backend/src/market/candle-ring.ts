import { CANDLE_INTERVALS, type Candle, type CandleInterval } from '@tickdeck/protocol';

/** Closed bars kept in memory per symbol and interval (older ones are the HistoryStore's). */
/** Numbers per bar in a {@link CandleRingExport}: start, open, high, low, close, volume, ticks. */
const BAR_FIELDS = 7;

/**
 * A ring's bars as JSON-safe data (a cluster sync): `closed` the closed bars, oldest first, and
 * `open` the open bar or null, each bar as {@link BAR_FIELDS} numbers in a row (start, open,
 * high, low, close, volume, ticks), flat: some 55 bytes of JSON a bar, no keys repeated.
 */
export interface CandleRingExport {
  closed: number[];
  open: number[] | null;
}

export const CANDLE_RING_CAPACITY: Readonly<Record<CandleInterval, number>> = {
  '1s': 900, // 15 minutes
  '5s': 720, // 1 hour
  '1m': 1440, // 1 day
  '5m': 576, // 2 days
  '15m': 672, // 7 days
  '1h': 720, // 30 days
  '1d': 366, // a year
};

/**
 * The bars of one symbol at one interval: the open bar, folded from every tick, and a ring of the
 * closed ones, all in typed arrays, so folding a tick never allocates. A tick at or past the open
 * bar's end closes it and opens the bar of its own interval (a tick exactly on a boundary opens
 * the new bar); intervals without a tick have no bar. A tick older than the open bar (feed time
 * going backwards) folds into the open bar, and one older than the last closed bar's end opens
 * the bar right after it: a closed bar never changes.
 */
export class CandleRing {
  private readonly start: Float64Array;
  private readonly open: Float64Array;
  private readonly high: Float64Array;
  private readonly low: Float64Array;
  private readonly close: Float64Array;
  private readonly volume: Float64Array;
  private readonly ticks: Float64Array;
  /** Slot of the newest closed bar. */
  private head = -1;
  private count = 0;
  /** Bars closed since this ring was made: a cursor for reading each closed bar once. */
  private closedTotal = 0;
  /** Bumped by every change (a tick folded, a bar closed, bars loaded or restored). */
  private changes = 0;
  // The open bar.
  private oStart = -1;
  private oOpen = 0;
  private oHigh = 0;
  private oLow = 0;
  private oClose = 0;
  private oVolume = 0;
  private oTicks = 0;

  constructor(
    readonly widthMs: number,
    readonly capacity: number,
  ) {
    this.start = new Float64Array(capacity);
    this.open = new Float64Array(capacity);
    this.high = new Float64Array(capacity);
    this.low = new Float64Array(capacity);
    this.close = new Float64Array(capacity);
    this.volume = new Float64Array(capacity);
    this.ticks = new Float64Array(capacity);
  }

  static of(interval: CandleInterval): CandleRing {
    return new CandleRing(CANDLE_INTERVALS[interval], CANDLE_RING_CAPACITY[interval]);
  }

  /** Closed bars held. */
  get size(): number {
    return this.count;
  }

  /**
   * Bars closed so far (including those the ring no longer holds): a cursor local to this ring,
   * not part of its state ({@link restore} moves it on by the bars new to it).
   */
  get closedCount(): number {
    return this.closedTotal;
  }

  /**
   * Changes so far: equal to a value read earlier, nothing changed since (neither the open bar
   * nor the closed ones). Cheap to compare at every flush.
   */
  get version(): number {
    return this.changes;
  }

  /** Folds one tick. */
  fold(ts: number, price: number, volume: number): void {
    this.changes++;
    if (this.oStart >= 0 && ts < this.oStart + this.widthMs) {
      if (price > this.oHigh) this.oHigh = price;
      if (price < this.oLow) this.oLow = price;
      this.oClose = price;
      this.oVolume += volume;
      this.oTicks++;
      return;
    }
    this.closeOpen();
    const start = ts - (ts % this.widthMs);
    const after = this.count > 0 ? this.start[this.head]! + this.widthMs : -Infinity;
    this.oStart = start >= after ? start : after;
    this.oOpen = this.oHigh = this.oLow = this.oClose = price;
    this.oVolume = volume;
    this.oTicks = 1;
  }

  /** Loads closed bars (oldest first, after any held), as a restart restores them. */
  load(bars: readonly Candle[]): void {
    this.changes++;
    for (const bar of bars) {
      if (this.count > 0 && bar.start <= this.start[this.head]!) continue;
      this.oStart = bar.start;
      this.oOpen = bar.open;
      this.oHigh = bar.high;
      this.oLow = bar.low;
      this.oClose = bar.close;
      this.oVolume = bar.volume;
      this.oTicks = bar.ticks;
      this.closeOpen();
    }
  }

  /** Closes the open bar when `now` (epoch ms) is at or past its end; true when it did. */
  closeIfDue(now: number): boolean {
    if (this.oStart < 0 || now < this.oStart + this.widthMs) return false;
    this.closeOpen();
    return true;
  }

  /** The open bar (`closed: false`), or null when the last bar has closed (or none opened). */
  openBar(): Candle | null {
    if (this.oStart < 0) return null;
    return {
      start: this.oStart,
      open: this.oOpen,
      high: this.oHigh,
      low: this.oLow,
      close: this.oClose,
      volume: this.oVolume,
      ticks: this.oTicks,
      closed: false,
    };
  }

  /** Every bar held, as JSON-safe data (rare: a cluster sync). */
  export(): CandleRingExport {
    const closed: number[] = [];
    for (let k = this.count - 1; k >= 0; k--) {
      const slot = (this.head - k + this.capacity) % this.capacity;
      closed.push(
        this.start[slot]!,
        this.open[slot]!,
        this.high[slot]!,
        this.low[slot]!,
        this.close[slot]!,
        this.volume[slot]!,
        this.ticks[slot]!,
      );
    }
    const open =
      this.oStart < 0 ? null : [this.oStart, this.oOpen, this.oHigh, this.oLow, this.oClose, this.oVolume, this.oTicks];
    return { closed, open };
  }

  /**
   * Replaces every bar with an {@link export}'s (the newest `capacity` closed ones), exactly.
   * {@link closedCount} moves on by the exported closed bars newer than the newest held before,
   * so a cursor read earlier still reads each bar once: those it had (the same bars, on a node
   * of the same cluster) are not handed out again, the new ones are.
   */
  restore(data: CandleRingExport): void {
    const fields = data.closed;
    const n = Math.floor(fields.length / BAR_FIELDS);
    const newest = this.count > 0 ? this.start[this.head]! : -Infinity;
    let newer = 0;
    for (let b = n - 1; b >= 0 && fields[b * BAR_FIELDS]! > newest; b--) newer++;
    this.head = -1;
    this.count = 0;
    for (let b = Math.max(0, n - this.capacity); b < n; b++) {
      const f = b * BAR_FIELDS;
      const slot = (this.head + 1) % this.capacity;
      this.head = slot;
      this.count++;
      this.start[slot] = fields[f]!;
      this.open[slot] = fields[f + 1]!;
      this.high[slot] = fields[f + 2]!;
      this.low[slot] = fields[f + 3]!;
      this.close[slot] = fields[f + 4]!;
      this.volume[slot] = fields[f + 5]!;
      this.ticks[slot] = fields[f + 6]!;
    }
    this.closedTotal += newer;
    const o = data.open;
    if (o === null || o.length < BAR_FIELDS) {
      this.oStart = -1;
    } else {
      this.oStart = o[0]!;
      this.oOpen = o[1]!;
      this.oHigh = o[2]!;
      this.oLow = o[3]!;
      this.oClose = o[4]!;
      this.oVolume = o[5]!;
      this.oTicks = o[6]!;
    }
    this.changes++;
  }

  /**
   * Closed bars, oldest first: those with `from <= start < to`, at most the `limit` newest of them.
   */
  closed(from = -Infinity, to = Infinity, limit = Infinity): Candle[] {
    const out: Candle[] = [];
    for (let k = 0; k < this.count && out.length < limit; k++) {
      const slot = (this.head - k + this.capacity) % this.capacity;
      const start = this.start[slot]!;
      if (start >= to) continue;
      if (start < from) break;
      out.push(this.bar(slot));
    }
    return out.reverse();
  }

  /**
   * The bars closed after the cursor `after` (a {@link closedCount} read earlier), oldest first,
   * and the cursor to pass next time; null when the ring no longer holds all of them.
   */
  closedAfter(after: number): Candle[] | null {
    const n = this.closedTotal - after;
    if (n <= 0) return [];
    if (n > this.count) return null;
    const out: Candle[] = [];
    for (let k = n - 1; k >= 0; k--) out.push(this.bar((this.head - k + this.capacity) % this.capacity));
    return out;
  }

  private bar(slot: number): Candle {
    return {
      start: this.start[slot]!,
      open: this.open[slot]!,
      high: this.high[slot]!,
      low: this.low[slot]!,
      close: this.close[slot]!,
      volume: this.volume[slot]!,
      ticks: this.ticks[slot]!,
      closed: true,
    };
  }

  private closeOpen(): void {
    if (this.oStart < 0) return;
    this.changes++;
    const slot = (this.head + 1) % this.capacity;
    this.head = slot;
    if (this.count < this.capacity) this.count++;
    this.closedTotal++;
    this.start[slot] = this.oStart;
    this.open[slot] = this.oOpen;
    this.high[slot] = this.oHigh;
    this.low[slot] = this.oLow;
    this.close[slot] = this.oClose;
    this.volume[slot] = this.oVolume;
    this.ticks[slot] = this.oTicks;
    this.oStart = -1;
  }
}
