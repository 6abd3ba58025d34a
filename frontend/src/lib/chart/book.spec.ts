import type { Candle, CandleInterval } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { ChartBook, type CandleLoader, type CandleQuery } from './book';

/** A 1-minute bar at minute `m`; closed unless told otherwise. */
function bar(m: number, fields: Partial<Candle> = {}): Candle {
  return {
    start: m * 60_000,
    open: 100,
    high: 101,
    low: 99,
    close: 100.5,
    volume: 10,
    ticks: 5,
    closed: true,
    ...fields,
  };
}
const open = (m: number, ticks = 1) => bar(m, { closed: false, ticks });

interface Call {
  symbol: string;
  interval: CandleInterval;
  query: CandleQuery;
  resolve: (bars: Candle[]) => void;
  reject: (err: Error) => void;
}

/** A REST stand-in whose answers the test gives, in any order. */
function rest() {
  const calls: Call[] = [];
  const load: CandleLoader = (symbol, interval, query) =>
    new Promise((resolve, reject) => calls.push({ symbol, interval, query, resolve, reject }));
  /** Answers call `n` (default: the latest) and lets the book react. */
  const answer = async (bars: Candle[], n = calls.length - 1) => {
    calls[n]!.resolve(bars);
    await settle();
  };
  return { calls, load, answer };
}

const settle = () => new Promise<void>((r) => setTimeout(r, 0));
const minutes = (bars: readonly Candle[]) => bars.map((b) => b.start / 60_000);

describe(ChartBook.name, () => {
  it('loads the newest page when a chart opens, then follows the live bars', async () => {
    const { calls, load, answer } = rest();
    const book = new ChartBook(load, { pageSize: 3 });
    const series = book.open('AAPL', '1m');
    expect(calls.map((c) => [c.symbol, c.interval, c.query])).toEqual([['AAPL', '1m', { limit: 3 }]]);
    let changes = 0;
    series.onChange(() => changes++);
    await answer([bar(1), bar(2), open(3)]);
    expect(minutes(series.store.bars)).toEqual([1, 2, 3]);
    expect(series.store.hasOlder).toBe(true);

    book.applyAck({ epoch: 'e1', candles: [{ symbol: 'AAPL', interval: '1m', bars: [open(3, 4)] }] });
    // The ack came after the page was asked for: what closed in between is fetched.
    expect(calls.at(-1)!.query).toEqual({ from: 2 * 60_000, limit: 5000 });
    await answer([bar(2), open(3, 5)]);
    book.applyBatch({ symbol: 'AAPL', interval: '1m', bars: [bar(3), open(4)] });
    expect(minutes(series.store.bars)).toEqual([1, 2, 3, 4]);
    expect(series.store.bars.map((b) => b.closed)).toEqual([true, true, true, false]);
    expect(changes).toBeGreaterThanOrEqual(3);
    expect(calls).toHaveLength(2);
  });

  it('after a reconnect, fills the gap from the newest closed bar, without a duplicate', async () => {
    const { calls, load, answer } = rest();
    const book = new ChartBook(load);
    book.applyAck({ epoch: 'e1' });
    const series = book.open('AAPL', '1m');
    await answer([bar(1), bar(2), open(3)]);
    book.applyAck({ epoch: 'e1', candles: [{ symbol: 'AAPL', interval: '1m', bars: [open(3, 2)] }] });
    await answer([bar(2), open(3, 3)]);
    book.applyBatch({ symbol: 'AAPL', interval: '1m', bars: [open(3, 9)] });
    expect(calls).toHaveLength(2);

    // Offline for minutes 3..6; the new session's ack shows minute 7 open.
    book.applyAck({ epoch: 'e1', candles: [{ symbol: 'AAPL', interval: '1m', bars: [open(7, 2)] }] });
    expect(calls.at(-1)!.query).toEqual({ from: 2 * 60_000, limit: 5000 });
    book.applyBatch({ symbol: 'AAPL', interval: '1m', bars: [bar(7), open(8)] });
    await answer([bar(2), bar(3), bar(4), bar(5), bar(6), bar(7, { ticks: 5 }), open(8)]);
    expect(minutes(series.store.bars)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(series.store.unsettled()).toBeUndefined();
    expect(calls).toHaveLength(3);
  });

  it('refetches from the newest closed bar before a batch that says bars were lost', async () => {
    const { calls, load, answer } = rest();
    const book = new ChartBook(load);
    book.applyAck({ epoch: 'e1' });
    const series = book.open('AAPL', '1m');
    await answer([bar(1), bar(2), open(3)]);
    book.applyBatch({ symbol: 'AAPL', interval: '1m', bars: [bar(9), open(10)], gap: true });
    expect(calls.at(-1)!.query).toEqual({ from: 2 * 60_000, limit: 5000 });
    await answer([bar(2), bar(3), bar(4), bar(8), bar(9), open(10, 3)]);
    expect(minutes(series.store.bars)).toEqual([1, 2, 3, 4, 8, 9, 10]);
    expect(series.store.newest?.ticks).toBe(3);
  });

  it('refetches a bar left open behind a newer one, once', async () => {
    const { calls, load, answer } = rest();
    const book = new ChartBook(load);
    book.applyAck({ epoch: 'e1' });
    const series = book.open('AAPL', '1m');
    await answer([bar(1), open(2, 3)]);
    // The close of minute 2 was never seen: minute 3 is the live bar now.
    book.applyBatch({ symbol: 'AAPL', interval: '1m', bars: [open(3)] });
    expect(calls.at(-1)!.query).toEqual({ from: 2 * 60_000, limit: 5000 });
    book.applyBatch({ symbol: 'AAPL', interval: '1m', bars: [open(3, 2)] });
    expect(calls).toHaveLength(2);
    await answer([bar(2), open(3, 2)]);
    expect(series.store.unsettled()).toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  it('clears and reloads on a new epoch; an answer from before lands nowhere', async () => {
    const { calls, load, answer } = rest();
    const book = new ChartBook(load);
    book.applyAck({ epoch: 'e1' });
    const series = book.open('AAPL', '1m');
    await answer([bar(1), bar(2), open(3)]);
    book.applyBatch({ symbol: 'AAPL', interval: '1m', bars: [bar(3), open(4)], gap: true });
    const stale = calls.length - 1;

    book.applyAck({ epoch: 'e2', candles: [{ symbol: 'AAPL', interval: '1m', bars: [open(20)] }] });
    expect(book.epoch).toBe('e2');
    expect(minutes(series.store.bars)).toEqual([20]);
    expect(calls.at(-1)!.query).toEqual({ limit: 500 });
    await answer([bar(1), bar(2), bar(3), bar(4)], stale);
    expect(minutes(series.store.bars)).toEqual([20]);
    await answer([bar(18), bar(19), open(20, 4)]);
    expect(minutes(series.store.bars)).toEqual([18, 19, 20]);
    expect(series.store.newest?.ticks).toBe(4);
  });

  it('pages back in time one page at a time, until a short page says the history ends', async () => {
    const { calls, load, answer } = rest();
    const book = new ChartBook(load, { pageSize: 2 });
    const series = book.open('AAPL', '1m');
    book.loadOlder(series);
    expect(calls).toHaveLength(1);
    await answer([bar(10), open(11)]);
    book.loadOlder(series);
    book.loadOlder(series);
    expect(calls.map((c) => c.query)).toEqual([{ limit: 2 }, { to: 10 * 60_000, limit: 2 }]);
    expect(series.loadingOlder).toBe(true);
    await answer([bar(8), bar(9)]);
    book.loadOlder(series);
    expect(calls.at(-1)!.query).toEqual({ to: 8 * 60_000, limit: 2 });
    await answer([bar(7)]);
    expect(series.store.hasOlder).toBe(false);
    book.loadOlder(series);
    expect(calls).toHaveLength(3);
    expect(minutes(series.store.bars)).toEqual([7, 8, 9, 10, 11]);
  });

  it('retries a failed load with a backoff while the chart is open', async () => {
    const { calls, load } = rest();
    const timers: { fn: () => void; ms: number }[] = [];
    const book = new ChartBook(load, { retryMs: 100, setTimer: (fn, ms) => timers.push({ fn, ms }) });
    const series = book.open('AAPL', '1m');
    calls[0]!.reject(new Error('HTTP 503'));
    await settle();
    expect(timers.map((t) => t.ms)).toEqual([100]);
    timers[0]!.fn();
    expect(calls).toHaveLength(2);
    calls[1]!.reject(new Error('HTTP 503'));
    await settle();
    expect(timers.map((t) => t.ms)).toEqual([100, 200]);
    book.release(series);
    timers[1]!.fn();
    expect(calls).toHaveLength(2);
  });

  it('shares a series between charts of one pair, and ignores pairs no chart shows', async () => {
    const { calls, load, answer } = rest();
    const book = new ChartBook(load);
    const a = book.open('AAPL', '1m');
    const b = book.open('AAPL', '1m');
    expect(a).toBe(b);
    expect(calls).toHaveLength(1);
    book.applyBatch({ symbol: 'MSFT', interval: '1m', bars: [open(1)] });
    book.applyBatch({ symbol: 'AAPL', interval: '5m', bars: [open(1)] });
    book.release(a);
    expect(book.get('AAPL', '1m')).toBe(a);
    book.release(b);
    expect(book.get('AAPL', '1m')).toBeUndefined();
    await answer([bar(1)]);
    expect(a.store.length).toBe(0);
  });
});
