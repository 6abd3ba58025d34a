import { describe, expect, it } from 'vitest';
import { formatBarTime, formatTick, overhangingLeft, timeTicks } from './time-axis';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const T0 = Date.UTC(2026, 11, 3, 14, 0, 0);

describe(timeTicks.name, () => {
  it('picks the smallest step that leaves the room asked for, on round times', () => {
    // 2 hours on 600 px, 80 px apart: at least 16 min per tick, so 30 min.
    const { step, ticks } = timeTicks(T0 + 7 * M, T0 + 2 * H + 7 * M, 600, 0);
    expect(step).toBe(30 * M);
    expect(ticks).toEqual([T0 + 30 * M, T0 + H, T0 + 90 * M, T0 + 2 * H]);
    expect(timeTicks(T0, T0 + 60_000, 600, 0).step).toBe(10_000);
  });

  it('aligns to the local clock, and day steps to UTC days', () => {
    // Half an hour ahead of UTC (India is +5:30): hour ticks fall on the local hour.
    const { ticks } = timeTicks(T0, T0 + 3 * H, 300, 30 * M);
    expect(ticks.every((t) => (t + 30 * M) % H === 0)).toBe(true);
    const days = timeTicks(T0, T0 + 20 * D, 400, 30 * M);
    expect(days.step).toBe(7 * D);
    expect(days.ticks.every((t) => t % D === 0)).toBe(true);
  });

  it('gives nothing for an empty axis', () => {
    expect(timeTicks(T0, T0, 600, 0).ticks).toEqual([]);
    expect(timeTicks(T0, T0 + H, 0, 0).ticks).toEqual([]);
  });
});

describe(formatTick.name, () => {
  it('labels by step: seconds, minutes, a day at midnight, days in UTC', () => {
    expect(formatTick(T0 + 5000, 5000)).toMatch(/^\d\d:\d\d:05$/);
    expect(formatTick(T0 + 15 * M, 15 * M)).toMatch(/^\d\d:15$/);
    expect(formatTick(T0 + 10 * H, H, 0)).toBe('Dec 4');
    expect(formatTick(Date.UTC(2026, 11, 3), 2 * D)).toBe('Dec 3');
    expect(formatTick(Date.UTC(2027, 0, 1), 91 * D)).toBe('2027');
  });
});

describe(formatBarTime.name, () => {
  it('is as precise as the interval', () => {
    expect(formatBarTime(T0 + 7000, 1000)).toMatch(/^\d\d:\d\d:07$/);
    expect(formatBarTime(T0 + 5 * M, 5 * M)).toMatch(/^Dec \d, \d\d:05$|^Dec \d \d\d:05$/);
    expect(formatBarTime(Date.UTC(2026, 11, 3), D)).toBe('Dec 3, 2026');
  });
});

describe(overhangingLeft.name, () => {
  it('names the ticks whose centred label would reach past the left end', () => {
    // 0..100 on 100 px: 1 px per unit; labels 30 px wide reach 15 px either side.
    const ticks = [5, 15, 16, 40, 90];
    expect(overhangingLeft(ticks, 0, 100, 100, () => 30)).toEqual(new Set([5, 15]));
  });

  it('uses each label its own width', () => {
    expect(overhangingLeft([10, 20], 0, 100, 100, (t) => (t === 10 ? 10 : 50))).toEqual(new Set([20]));
  });

  it('names none on an empty axis', () => {
    expect(overhangingLeft([0], 5, 5, 100, () => 30)).toEqual(new Set());
    expect(overhangingLeft([0], 0, 10, 0, () => 30)).toEqual(new Set());
  });
});
