import { describe, expect, it, vi } from 'vitest';
import { MAX_POINTS, PriceSeries } from './series';

const xs = (s: PriceSeries) => s.points.map((p) => p.x);

describe(PriceSeries.name, () => {
  it('appends points in time order and drops any not newer than the last', () => {
    const s = new PriceSeries(60_000);
    expect(s.push(1000, 10)).toBe(true);
    expect(s.push(2000, 11)).toBe(true);
    expect(s.push(1500, 99)).toBe(false);
    expect(s.push(2000, 12)).toBe(true);
    expect(s.push(2000, 12)).toBe(false);
    expect(s.points).toEqual([
      { x: 1000, y: 10 },
      { x: 2000, y: 12 },
    ]);
  });

  it('trims what falls out of the window behind the newest point', () => {
    const s = new PriceSeries(10_000);
    for (let t = 0; t <= 20_000; t += 1000) s.push(t, t / 1000);
    expect(xs(s)).toEqual([10_000, 11_000, 12_000, 13_000, 14_000, 15_000, 16_000, 17_000, 18_000, 19_000, 20_000]);
    const short = new PriceSeries(3000);
    for (let t = 0; t <= 20_000; t += 1000) short.push(t, t / 1000);
    expect(xs(short)).toEqual([17_000, 18_000, 19_000, 20_000]);
  });

  it('holds at most MAX_POINTS however dense the window', () => {
    const s = new PriceSeries(3_600_000);
    for (let t = 1; t <= MAX_POINTS + 500; t++) s.push(t, 1);
    expect(s.points).toHaveLength(MAX_POINTS);
    expect(s.points[0]!.x).toBe(501);
  });

  it('holds live points back during a backfill and merges both in order', () => {
    const s = new PriceSeries(60_000);
    s.push(1000, 1);
    s.beginBackfill();
    expect(s.push(9000, 9)).toBe(false);
    expect(s.push(9500, 9.5)).toBe(false);
    s.completeBackfill([
      { x: 500, y: 0 },
      { x: 3000, y: 3 },
      { x: 9000, y: 8 },
    ]);
    expect(s.points).toEqual([
      { x: 1000, y: 1 },
      { x: 3000, y: 3 },
      { x: 9000, y: 9 },
      { x: 9500, y: 9.5 },
    ]);
  });

  it('tells its listeners about every change', () => {
    const s = new PriceSeries(60_000);
    const listener = vi.fn();
    const stop = s.onChange(listener);
    s.push(1, 1);
    s.push(0, 1);
    s.push(2, 2);
    expect(listener).toHaveBeenCalledTimes(2);
    stop();
    s.push(3, 3);
    expect(listener).toHaveBeenCalledTimes(2);
  });
});
