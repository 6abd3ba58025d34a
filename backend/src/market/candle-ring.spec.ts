import { DEFAULT_INSTRUMENTS } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { CandleRing } from './candle-ring.js';
import { CANDLE_INTERVAL_LIST, MarketState } from './market-state.js';

const MIN = 60_000;
const DAY = 86_400_000;
/** 2026-12-01T00:00:00Z */
const D0 = Date.UTC(2026, 11, 1);

describe(CandleRing.name, () => {
  it('folds every tick into the open bar and opens the next one on a tick exactly on the boundary', () => {
    const ring = new CandleRing(MIN, 10);
    ring.fold(D0 + 5, 100, 1);
    ring.fold(D0 + 20_000, 104, 2);
    ring.fold(D0 + 30_000, 98, 3);
    ring.fold(D0 + MIN - 1, 101, 4);
    expect(ring.openBar()).toEqual({
      start: D0,
      open: 100,
      high: 104,
      low: 98,
      close: 101,
      volume: 10,
      ticks: 4,
      closed: false,
    });
    expect(ring.closed()).toEqual([]);
    ring.fold(D0 + MIN, 102, 5); // exactly on the boundary: the next bar
    expect(ring.closed()).toEqual([
      { start: D0, open: 100, high: 104, low: 98, close: 101, volume: 10, ticks: 4, closed: true },
    ]);
    expect(ring.openBar()).toMatchObject({ start: D0 + MIN, open: 102, close: 102, ticks: 1, volume: 5 });
  });

  it('has no bar for an interval without ticks', () => {
    const ring = new CandleRing(MIN, 10);
    ring.fold(D0, 100, 0);
    ring.fold(D0 + 3 * MIN + 7, 110, 0);
    expect(ring.closed().map((c) => c.start)).toEqual([D0]);
    expect(ring.openBar()!.start).toBe(D0 + 3 * MIN);
  });

  it('rolls the 1d bar over at 00:00 UTC', () => {
    const ring = CandleRing.of('1d');
    ring.fold(D0 + DAY - 1, 100, 1); // 23:59:59.999 on Dec 1
    ring.fold(D0 + DAY, 200, 1); // 00:00:00.000 on Dec 2
    expect(ring.closed()).toEqual([
      { start: D0, open: 100, high: 100, low: 100, close: 100, volume: 1, ticks: 1, closed: true },
    ]);
    expect(ring.openBar()!.start).toBe(D0 + DAY);
    expect(new Date(ring.openBar()!.start).toISOString()).toBe('2026-12-02T00:00:00.000Z');
  });

  it('closes the open bar once its interval is over, and never changes a closed bar for a late tick', () => {
    const ring = new CandleRing(MIN, 10);
    ring.fold(D0 + 10, 100, 1);
    expect(ring.closeIfDue(D0 + MIN - 1)).toBe(false);
    expect(ring.closeIfDue(D0 + MIN)).toBe(true);
    expect(ring.openBar()).toBeNull();
    const closed = ring.closed();
    // Feed time going backwards: into the bar after the last closed one, not into the closed one.
    ring.fold(D0 + 20, 90, 1);
    expect(ring.closed()).toEqual(closed);
    expect(ring.openBar()).toMatchObject({ start: D0 + MIN, open: 90, ticks: 1 });
    // Older than the open bar: folds into it.
    ring.fold(D0 + 30, 80, 1);
    expect(ring.openBar()).toMatchObject({ start: D0 + MIN, low: 80, close: 80, ticks: 2 });
  });

  it('hands out each closed bar once through the cursor, and null once the ring lost some', () => {
    const ring = new CandleRing(1000, 3);
    let cursor = ring.closedCount;
    for (let s = 0; s < 3; s++) ring.fold(D0 + s * 1000, 100 + s, 0);
    const first = ring.closedAfter(cursor)!;
    expect(first.map((c) => c.start)).toEqual([D0, D0 + 1000]);
    cursor = ring.closedCount;
    expect(ring.closedAfter(cursor)).toEqual([]);
    for (let s = 3; s < 8; s++) ring.fold(D0 + s * 1000, 100 + s, 0);
    expect(ring.closedAfter(cursor)).toBeNull(); // 5 closed since, the ring holds 3
    expect(ring.closed().map((c) => c.start)).toEqual([D0 + 4000, D0 + 5000, D0 + 6000]);
  });

  it('bumps its version on every change and on nothing else', () => {
    const ring = new CandleRing(1000, 3);
    const v0 = ring.version;
    ring.fold(D0 + 10, 100, 1);
    ring.fold(D0 + 20, 100, 0); // the same price, no volume: still a tick folded
    expect(ring.version).toBe(v0 + 2);
    ring.openBar();
    ring.closed();
    ring.closedAfter(0);
    expect(ring.closeIfDue(D0 + 999)).toBe(false);
    expect(ring.version).toBe(v0 + 2);
    expect(ring.closeIfDue(D0 + 1000)).toBe(true);
    const v1 = ring.version;
    expect(v1).toBeGreaterThan(v0 + 2);
    ring.load([{ start: D0 + 5000, open: 1, high: 1, low: 1, close: 1, volume: 0, ticks: 1, closed: true }]);
    expect(ring.version).toBeGreaterThan(v1);
    const v2 = ring.version;
    ring.restore(ring.export());
    expect(ring.version).toBeGreaterThan(v2);
  });

  it('exports its bars as flat numbers and restores them exactly, its cursor moved on by the new ones only', () => {
    const source = new CandleRing(1000, 4);
    [100, 101.25, 99.5, 102, 103, 98].forEach((p, s) => source.fold(D0 + s * 1000 + 7, p, s + 0.5));
    source.fold(D0 + 5500, 104.75, 2);
    const data = JSON.parse(JSON.stringify(source.export())) as ReturnType<CandleRing['export']>;
    expect(data.closed).toHaveLength(4 * 7);
    expect(data.open).toEqual([D0 + 5000, 98, 104.75, 98, 104.75, 7.5, 2]);

    // A copy that had the first two bars itself (same cluster, counted on its own).
    const copy = new CandleRing(1000, 4);
    [100, 101.25, 99.5].forEach((p, s) => copy.fold(D0 + s * 1000 + 7, p, s + 0.5));
    copy.closeIfDue(D0 + 2000);
    expect(copy.closed().map((c) => c.start - D0)).toEqual([0, 1000]);
    const cursor = copy.closedCount; // 2: D0 and D0 + 1000 handed out
    expect(cursor).toBe(2);
    copy.restore(data);
    expect(copy.closed()).toEqual(source.closed());
    expect(copy.openBar()).toEqual(source.openBar());
    // The four exported bars: D0 + 1000 it had, D0 + 2000 .. 4000 are new to it. (D0 is gone, as at the source.)
    expect(copy.closedAfter(cursor)!.map((c) => c.start - D0)).toEqual([2000, 3000, 4000]);
    // A smaller ring keeps the newest; an export with no open bar leaves none.
    const small = new CandleRing(1000, 2);
    small.restore({ closed: data.closed, open: null });
    expect(small.closed()).toEqual(source.closed().slice(-2));
    expect(small.openBar()).toBeNull();
    // Restoring what it holds hands nothing out again.
    const again = copy.closedCount;
    copy.restore(copy.export());
    expect(copy.closedAfter(again)).toEqual([]);
  });

  it('answers ranges oldest first: from <= start < to, the newest `limit`', () => {
    const ring = new CandleRing(1000, 100);
    for (let s = 0; s < 11; s++) ring.fold(D0 + s * 1000, s, 0);
    const starts = (c: { start: number }[]) => c.map((b) => (b.start - D0) / 1000);
    expect(starts(ring.closed(D0 + 2000, D0 + 6000))).toEqual([2, 3, 4, 5]);
    expect(starts(ring.closed(-Infinity, D0 + 6000, 2))).toEqual([4, 5]);
    expect(starts(ring.closed(D0 + 8000))).toEqual([8, 9]);
  });
});

describe('MarketState candles', () => {
  it('keeps a bar per interval, exact under conflation: a spike no quote carried is the high', () => {
    const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 10 });
    const i = market.indexOf('AAPL');
    // 9 ticks within one 250 ms window, a spike in the middle; a quote at the window's end
    // carries only the last state.
    const prices = [100, 100.5, 101, 100.8, 180, 100.9, 100.7, 100.6, 100.4];
    prices.forEach((last, n) =>
      market.applyTick({ symbol: 'AAPL', ts: D0 + 10 + n * 25, last, bid: last, ask: last, volume: 1 }),
    );
    expect(market.quoteState(i).last).toBe(100.4);
    for (const interval of CANDLE_INTERVAL_LIST) {
      expect(market.candleRing(i, interval).openBar(), interval).toEqual({
        start: D0,
        open: 100,
        high: 180,
        low: 100,
        close: 100.4,
        volume: 9,
        ticks: 9,
        closed: false,
      });
    }
    expect(market.candleRing(market.indexOf('MSFT'), '1m').openBar()).toBeNull();
  });
});

describe('MarketState candle closing', () => {
  it("closes a symbol's bar when the feed's clock passes its end, without a tick of its own", () => {
    const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 10 });
    const tick = (symbol: string, ts: number, last: number) =>
      market.applyTick({ symbol, ts, last, bid: last, ask: last, volume: 1 });
    tick('AAPL', D0 + 1000, 100);
    tick('MSFT', D0 + MIN - 1, 400);
    const aapl = market.indexOf('AAPL');
    expect(market.candleRing(aapl, '1m').openBar()).toMatchObject({ start: D0, closed: false });
    tick('MSFT', D0 + MIN, 401); // the feed's clock reaches 00:01
    expect(market.candleRing(aapl, '1m').openBar()).toBeNull();
    expect(market.candleRing(aapl, '1m').closed()).toEqual([
      { start: D0, open: 100, high: 100, low: 100, close: 100, volume: 1, ticks: 1, closed: true },
    ]);
  });
});
