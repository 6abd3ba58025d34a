import type { HistoryPoint } from '@tickdeck/protocol';

/**
 * Fixed-capacity ring of 1-second OHLCV points for one symbol, in typed arrays so that
 * recording a tick never allocates.
 */
export class HistoryRing {
  private readonly t: Float64Array;
  private readonly o: Float64Array;
  private readonly h: Float64Array;
  private readonly l: Float64Array;
  private readonly c: Float64Array;
  private readonly v: Float64Array;
  /** Slot of the newest point. */
  private head = -1;
  private count = 0;

  constructor(
    readonly capacity: number,
    readonly intervalMs = 1000,
  ) {
    this.t = new Float64Array(capacity);
    this.o = new Float64Array(capacity);
    this.h = new Float64Array(capacity);
    this.l = new Float64Array(capacity);
    this.c = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Folds one price into the point of its interval; a late tick folds into the newest point. */
  record(ts: number, price: number, volume: number): void {
    const bucket = ts - (ts % this.intervalMs);
    const head = this.head;
    if (head >= 0 && bucket <= this.t[head]!) {
      if (price > this.h[head]!) this.h[head] = price;
      if (price < this.l[head]!) this.l[head] = price;
      this.c[head] = price;
      this.v[head]! += volume;
      return;
    }
    const slot = (head + 1) % this.capacity;
    this.head = slot;
    if (this.count < this.capacity) this.count++;
    this.t[slot] = bucket;
    this.o[slot] = price;
    this.h[slot] = price;
    this.l[slot] = price;
    this.c[slot] = price;
    this.v[slot] = volume;
  }

  /** Points whose interval starts at or after `fromT` (epoch ms), oldest first. */
  since(fromT: number): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    for (let k = this.count - 1; k >= 0; k--) {
      const slot = (this.head - k + this.capacity) % this.capacity;
      const t = this.t[slot]!;
      if (t < fromT) continue;
      out.push({
        t,
        open: this.o[slot]!,
        high: this.h[slot]!,
        low: this.l[slot]!,
        close: this.c[slot]!,
        volume: this.v[slot]!,
      });
    }
    return out;
  }
}
