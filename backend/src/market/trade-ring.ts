import type { Trade } from '@tickdeck/protocol';

/**
 * Fixed-capacity ring of one symbol's most recent trades, oldest overwritten first. It also
 * counts the feed-assigned ids it holds, so "is this id taken?" is a map lookup, not a scan.
 */
export class TradeRing {
  private readonly items: (Trade | undefined)[];
  /** Per slot: 1 when its trade's id came from the feed (and is counted in `feedIds`). */
  private readonly feedIdSlots: Uint8Array;
  /** Feed-assigned ids held, with how many trades carry each (more than 1 only if let in unchecked). */
  private readonly feedIds = new Map<string, number>();
  private head = -1;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<Trade | undefined>(capacity);
    this.feedIdSlots = new Uint8Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Keeps `trade`; `feedId`: its id came from the feed rather than from the gateway's `{SYMBOL}-{seq}`. */
  push(trade: Trade, feedId = false): void {
    this.head = (this.head + 1) % this.capacity;
    if (this.feedIdSlots[this.head] === 1) this.forget(this.items[this.head]!.id);
    this.items[this.head] = trade;
    this.feedIdSlots[this.head] = feedId ? 1 : 0;
    if (feedId) this.feedIds.set(trade.id, (this.feedIds.get(trade.id) ?? 0) + 1);
    if (this.count < this.capacity) this.count++;
  }

  /** True when a trade held here carries the feed-assigned id `id`. */
  holdsFeedId(id: string): boolean {
    return this.feedIds.has(id);
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

  private forget(id: string): void {
    const n = this.feedIds.get(id) ?? 0;
    if (n > 1) this.feedIds.set(id, n - 1);
    else this.feedIds.delete(id);
  }
}
