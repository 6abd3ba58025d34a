import { describe, expect, it, vi } from 'vitest';
import { ChartFeed } from './feed';
import type { Point } from './series';

describe(ChartFeed.name, () => {
  it('backfills a chart from the window of history when it opens', async () => {
    const history = vi.fn(async (): Promise<Point[]> => [
      { x: 1000, y: 10 },
      { x: 2000, y: 11 },
    ]);
    const feed = new ChartFeed(history);
    const series = feed.open('AAPL', 300_000);
    expect(history).toHaveBeenCalledWith('AAPL', 300);
    feed.apply([{ symbol: 'AAPL', ts: 2500, last: 12 }]);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    expect(series.points.map((p) => p.y)).toEqual([10, 11, 12]);
  });

  it('plots only symbols with an open chart, and forgets closed ones', async () => {
    const feed = new ChartFeed(async () => []);
    const series = feed.open('AAPL', 60_000);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    feed.apply([
      { symbol: 'AAPL', ts: 1, last: 1 },
      { symbol: 'MSFT', ts: 1, last: 2 },
    ]);
    expect(feed.symbols()).toEqual(['AAPL']);
    expect(series.points).toHaveLength(1);
    feed.close('AAPL');
    expect(feed.get('AAPL')).toBeUndefined();
  });

  it('asks history for the outage only on resync, bounded by the window', async () => {
    const history = vi.fn(async (): Promise<Point[]> => []);
    let now = 100_000;
    const feed = new ChartFeed(history, () => now);
    const series = feed.open('AAPL', 60_000);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    feed.apply([{ symbol: 'AAPL', ts: 90_000, last: 1 }]);

    feed.resync();
    expect(history).toHaveBeenLastCalledWith('AAPL', 11);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    now = 10_000_000;
    feed.resync();
    expect(history).toHaveBeenLastCalledWith('AAPL', 61);
  });

  it('starts every line over on reset, and drops a backfill the reset overtook', async () => {
    const pending: ((points: Point[]) => void)[] = [];
    const history = vi.fn((): Promise<Point[]> => new Promise((r) => pending.push(r)));
    const feed = new ChartFeed(history);
    const series = feed.open('AAPL', 60_000);
    pending.shift()!([{ x: 1000, y: 10 }]);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    feed.resync(); // a backfill of the old run in flight...
    feed.reset(); // ...when the epoch changes
    expect(series.points).toEqual([]);
    expect(history).toHaveBeenLastCalledWith('AAPL', 60);
    feed.apply([{ symbol: 'AAPL', ts: 9000, last: 30 }]);
    const [stale, fresh] = pending.splice(0);
    stale!([{ x: 2000, y: 11 }]);
    expect(series.backfilling).toBe(true);
    fresh!([{ x: 8000, y: 29 }]);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    expect(series.points).toEqual([
      { x: 8000, y: 29 },
      { x: 9000, y: 30 },
    ]);
  });

  it('keeps the live line when history cannot be loaded', async () => {
    const feed = new ChartFeed(async () => {
      throw new Error('HTTP 503');
    });
    const series = feed.open('AAPL', 60_000);
    feed.apply([{ symbol: 'AAPL', ts: 5, last: 1 }]);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    expect(series.points).toEqual([{ x: 5, y: 1 }]);
  });
});
