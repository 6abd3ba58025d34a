/**
 * The last `capacity` feed-assigned trade ids a validator let in, per symbol index, oldest
 * forgotten first. It covers the time between a trade's acceptance and its arrival in the
 * market's trade ring: none in one process, a Redis round trip (a few batches) in cluster mode.
 */
export class RecentTradeIds {
  private readonly bySymbol: (Map<string, number> | undefined)[] = [];
  /** FIFO of what was added: symbol index and id per slot. */
  private readonly slotSymbols: Int32Array;
  private readonly slotIds: (string | undefined)[];
  private next = 0;

  constructor(readonly capacity: number) {
    this.slotSymbols = new Int32Array(capacity);
    this.slotIds = new Array<string | undefined>(capacity);
  }

  has(i: number, id: string): boolean {
    return this.bySymbol[i]?.has(id) ?? false;
  }

  add(i: number, id: string): void {
    const slot = this.next;
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
    const old = this.slotIds[slot];
    if (old !== undefined) {
      const ids = this.bySymbol[this.slotSymbols[slot]!]!;
      const n = ids.get(old)!;
      if (n > 1) ids.set(old, n - 1);
      else ids.delete(old);
    }
    this.slotIds[slot] = id;
    this.slotSymbols[slot] = i;
    let ids = this.bySymbol[i];
    if (!ids) this.bySymbol[i] = ids = new Map();
    ids.set(id, (ids.get(id) ?? 0) + 1);
  }
}
