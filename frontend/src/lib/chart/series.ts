/** One plotted point: `x` is feed time (epoch ms), `y` the last price. */
export interface Point {
  x: number;
  y: number;
}

/** Hard cap on points one series holds, whatever its window: 15 min at 100 ms is 9,000. */
export const MAX_POINTS = 12_000;

/**
 * The last-price line of one symbol over a sliding window, in feed time. Points only ever move
 * forward: a point at or before the newest one is dropped (a quote at the same `ts` replaces its
 * price), so a reconnect or a late backfill can never draw a duplicate or a backwards segment.
 * Plain TypeScript, not reactive: chart.js reads `points` directly and is told to redraw.
 */
export class PriceSeries {
  /** Oldest first, strictly increasing `x`. The array is kept and mutated in place. */
  readonly points: Point[] = [];
  #windowMs: number;
  #backfilling = false;
  /** Counts backfills begun and clears, so a backfill that a clear overtook lands nowhere. */
  #ticket = 0;
  #buffered: Point[] = [];
  #listeners = new Set<() => void>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  /** Newest `x`, or undefined when empty. */
  get lastX(): number | undefined {
    return this.points.at(-1)?.x;
  }

  /** True while a backfill is in flight: live points wait so they land after it. */
  get backfilling(): boolean {
    return this.#backfilling;
  }

  /** Calls `listener` after every change; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds a live point. Returns whether the line changed. */
  push(x: number, y: number): boolean {
    if (this.#backfilling) {
      this.#buffered.push({ x, y });
      return false;
    }
    if (!this.#append(x, y)) return false;
    this.#trim();
    this.#changed();
    return true;
  }

  /**
   * A backfill starts: live points are held back until {@link completeBackfill}. Returns its
   * ticket, for `completeBackfill`.
   */
  beginBackfill(): number {
    this.#backfilling = true;
    return ++this.#ticket;
  }

  /**
   * Merges `history` (oldest first) after what is held, then the live points that arrived
   * meanwhile; anything not newer than the newest point is dropped. With the `ticket` of a
   * backfill begun before the latest {@link clear} or backfill, does nothing.
   */
  completeBackfill(history: readonly Point[], ticket?: number): void {
    if (ticket !== undefined && ticket !== this.#ticket) return;
    this.#backfilling = false;
    const buffered = this.#buffered;
    this.#buffered = [];
    for (const p of history) this.#append(p.x, p.y);
    for (const p of buffered) this.#append(p.x, p.y);
    this.#trim();
    this.#changed();
  }

  /**
   * Drops every point, the held-back live ones and the backfill in flight (its result will be
   * ignored): the line starts over, e.g. when the gateway's run changed under it.
   */
  clear(): void {
    this.points.length = 0;
    this.#buffered = [];
    this.#backfilling = false;
    this.#ticket++;
    this.#changed();
  }

  #append(x: number, y: number): boolean {
    const last = this.points.at(-1);
    if (last && x < last.x) return false;
    if (last && x === last.x) {
      if (last.y === y) return false;
      last.y = y;
      return true;
    }
    this.points.push({ x, y });
    return true;
  }

  /** Drops points older than the window before the newest one, and any beyond {@link MAX_POINTS}. */
  #trim(): void {
    const last = this.points.at(-1);
    if (!last) return;
    const cutoff = last.x - this.#windowMs;
    let drop = 0;
    while (drop < this.points.length && this.points[drop]!.x < cutoff) drop++;
    drop = Math.max(drop, this.points.length - MAX_POINTS);
    if (drop > 0) this.points.splice(0, drop);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
