import type { Trade } from '@tickdeck/protocol';

/** Fixed-capacity ring of one symbol's most recent trades, oldest overwritten first. */
export class TradeRing {
  private readonly items: (Trade | undefined)[];
  private head = -1;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<Trade | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(trade: Trade): void {
    this.head = (this.head + 1) % this.capacity;
    this.items[this.head] = trade;
    if (this.count < this.capacity) this.count++;
  }

  /** The newest `n` trades (at most), oldest first. */
  latest(n: number): Trade[] {
    const take = Math.min(n, this.count);
    const out: Trade[] = new Array<Trade>(take);
    for (let k = 0; k < take; k++) {
      out[k] = this.items[(this.head - take + 1 + k + this.capacity) % this.capacity]!;
    }
    return out;
  }

  /**
   * Trades with a seq above `seq`, oldest first; `null` when some of them are no longer held,
   * so a recovering client knows to rely on its snapshot instead.
   */
  after(seq: number): Trade[] | null {
    if (this.count === 0) return seq === 0 ? [] : null;
    const newest = this.items[this.head]!.seq;
    if (seq >= newest) return seq === newest ? [] : null;
    const missing = newest - seq;
    if (missing > this.count) return null;
    return this.latest(missing);
  }
}
