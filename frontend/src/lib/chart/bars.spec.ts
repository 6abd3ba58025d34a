import type { Candle } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { BarStore, supersedes } from './bars';

/** A 1-minute bar at minute `m`; closed unless told otherwise. */
function bar(m: number, fields: Partial<Candle> = {}): Candle {
  return {
    start: m * 60_000,
    open: 100 + m,
    high: 101 + m,
    low: 99 + m,
    close: 100.5 + m,
    volume: 10,
    ticks: 5,
    closed: true,
    ...fields,
  };
}

const starts = (store: BarStore) => store.bars.map((b) => b.start / 60_000);

describe(BarStore.name, () => {
  it('merges a REST page and live bars by start, oldest first, one bar per start', () => {
    const store = new BarStore();
    store.mergeLatest([bar(1), bar(2), bar(3, { closed: false, ticks: 2 })], 500);
    expect(store.hasOlder).toBe(false);
    store.mergeLive([bar(3), bar(4, { closed: false, ticks: 1 })]);
    expect(starts(store)).toEqual([1, 2, 3, 4]);
    expect(store.bars.map((b) => b.closed)).toEqual([true, true, true, false]);
    expect(store.newestClosed).toBe(3 * 60_000);
    expect(store.unsettled()).toBeUndefined();
  });

  it('replaces an open bar with its closed version, and an open one only by one with more ticks', () => {
    const open = bar(5, { closed: false, ticks: 3, high: 110 });
    expect(supersedes(bar(5, { closed: false, ticks: 4 }), open)).toBe(true);
    expect(supersedes(bar(5, { closed: false, ticks: 3 }), open)).toBe(false);
    expect(supersedes(bar(5, { closed: false, ticks: 2 }), open)).toBe(false);
    expect(supersedes(bar(5), open)).toBe(true);
    // Closed is final: no open version, and no other closed one, replaces it.
    expect(supersedes(bar(5, { closed: false, ticks: 99 }), bar(5))).toBe(false);
    expect(supersedes(bar(5, { high: 1 }), bar(5))).toBe(false);

    const store = new BarStore();
    store.mergeLive([open]);
    expect(store.mergeLive([bar(5, { closed: false, ticks: 2, high: 1 })]).changed).toBe(false);
    expect(store.newest).toBe(open);
    const later = bar(5, { closed: false, ticks: 9, high: 120 });
    expect(store.mergeLive([later]).changed).toBe(true);
    expect(store.newest).toBe(later);
    const final = bar(5, { high: 121 });
    store.mergeLive([final]);
    expect(store.newest).toBe(final);
    expect(store.length).toBe(1);
  });

  it('ignores duplicates: the same page or batch twice changes nothing', () => {
    const store = new BarStore();
    const page = [bar(1), bar(2), bar(3, { closed: false })];
    expect(store.mergeLatest(page, 500)).toBe(true);
    expect(store.mergeLatest(page, 500)).toBe(false);
    expect(store.mergeLive([bar(3, { closed: false })]).changed).toBe(false);
    expect(store.mergeLive([bar(1), bar(2), bar(3, { closed: false })])).toEqual({ changed: false, dropped: 1 });
    expect(starts(store)).toEqual([1, 2, 3]);
  });

  it('never takes from live a bar older than the newest closed one', () => {
    const store = new BarStore();
    store.mergeLatest([bar(1), bar(2), bar(3)], 500);
    const merge = store.mergeLive([bar(1, { high: 999 }), bar(2, { closed: false, ticks: 99 }), bar(4)]);
    expect(merge).toEqual({ changed: true, dropped: 2 });
    expect(store.bars.map((b) => b.high)).toEqual([102, 103, 104, 105]);
  });

  it('takes a late REST page whatever the order: the result is the same', () => {
    const live = [bar(3), bar(4, { closed: false, ticks: 7 })];
    const rest = [bar(1), bar(2), bar(3, { closed: false, ticks: 2 }), bar(4, { closed: false, ticks: 3 })];
    const a = new BarStore();
    a.mergeLatest(rest, 500);
    a.mergeLive(live);
    const b = new BarStore();
    b.mergeLive(live);
    b.mergeLatest(rest, 500);
    expect(b.bars).toEqual(a.bars);
    expect(a.bars.map((x) => [x.start / 60_000, x.closed, x.ticks])).toEqual([
      [1, true, 5],
      [2, true, 5],
      [3, true, 5],
      [4, false, 7],
    ]);
  });

  it('sorts an out-of-order page and keeps the later of two versions within it', () => {
    const store = new BarStore();
    store.mergeLatest([bar(3), bar(1), bar(2, { closed: false, ticks: 1 }), bar(2)], 500);
    expect(starts(store)).toEqual([1, 2, 3]);
    expect(store.at(2 * 60_000)?.closed).toBe(true);
    store.mergeOlder([bar(0), bar(-2), bar(-1)], 3);
    expect(starts(store)).toEqual([-2, -1, 0, 1, 2, 3]);
    expect(store.hasOlder).toBe(true);
  });

  it('finds a half-merged bar: one left open behind a newer bar, whose close nobody saw', () => {
    const store = new BarStore();
    // REST saw minute 3 open; the live stream started after it closed and only sends minute 4 on.
    store.mergeLatest([bar(2), bar(3, { closed: false, ticks: 2 })], 500);
    store.mergeLive([bar(4, { closed: false, ticks: 1 })]);
    expect(store.unsettled()).toBe(3 * 60_000);
    // The refetch from there settles it.
    store.mergeSince(3 * 60_000, [bar(3), bar(4, { closed: false, ticks: 4 })], 5000);
    expect(store.unsettled()).toBeUndefined();
    expect(store.at(3 * 60_000)?.ticks).toBe(5);
  });

  it('keeps track of unsettled bars however they arrive', () => {
    const store = new BarStore();
    store.mergeLive([bar(1, { closed: false }), bar(2, { closed: false })]);
    expect(store.unsettled()).toBe(60_000);
    // Its close, however late, settles it.
    store.mergeLive([bar(1)]);
    expect(store.unsettled()).toBeUndefined();
    store.mergeLive([bar(3, { closed: false })]);
    expect(store.unsettled()).toBe(2 * 60_000);
    store.clear();
    expect(store.unsettled()).toBeUndefined();
  });

  it('after a gap refetch that did not reach back far enough, drops what it cannot vouch for', () => {
    const store = new BarStore();
    store.mergeLatest([bar(1), bar(2), bar(3)], 3);
    expect(store.hasOlder).toBe(true);
    // Asked from minute 3 for at most 3 bars, got 10..12: 4..9 are unknown.
    store.mergeSince(3 * 60_000, [bar(10), bar(11), bar(12, { closed: false })], 3);
    expect(starts(store)).toEqual([10, 11, 12]);
    expect(store.hasOlder).toBe(true);

    // A refetch that reached back: everything stays.
    const other = new BarStore();
    other.mergeLatest([bar(1), bar(2), bar(3)], 500);
    other.mergeSince(3 * 60_000, [bar(3), bar(4), bar(5)], 3);
    expect(starts(other)).toEqual([1, 2, 3, 4, 5]);
  });

  it('knows the history ends when a page is short', () => {
    const store = new BarStore();
    store.mergeLatest([bar(5), bar(6)], 2);
    expect(store.hasOlder).toBe(true);
    store.mergeOlder([bar(4)], 2);
    expect(store.hasOlder).toBe(false);
    store.mergeOlder([], 2);
    expect(store.hasOlder).toBe(false);
  });

  it('keeps at most its cap, dropping the oldest, which can be paged in again', () => {
    const store = new BarStore(4);
    store.mergeLatest([bar(1), bar(2), bar(3)], 500);
    expect(store.hasOlder).toBe(false);
    store.mergeLive([bar(4), bar(5), bar(6, { closed: false })]);
    expect(starts(store)).toEqual([3, 4, 5, 6]);
    expect(store.hasOlder).toBe(true);
  });

  it('clears for a new epoch', () => {
    const store = new BarStore();
    store.mergeLatest([bar(1), bar(2)], 500);
    store.clear();
    expect(store.length).toBe(0);
    expect(store.hasOlder).toBe(true);
    expect(store.newestClosed).toBeUndefined();
  });
});
