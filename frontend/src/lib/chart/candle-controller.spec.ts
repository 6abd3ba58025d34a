import type { Candle } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { barExtents, niceCeil } from './candle-controller';

const bar = (low: number, high: number, close: number, volume: number): Candle => ({
  start: 0,
  open: close,
  high,
  low,
  close,
  volume,
  ticks: 1,
  closed: true,
});

describe(barExtents.name, () => {
  const bars = [bar(9, 12, 10, 5), bar(8, 11, 9, 40), bar(10, 15, 14, 7)];

  it('spans the lows and highs of candles, the closes of a line, and the largest volume', () => {
    expect(barExtents(bars, 'candles')).toEqual({ low: 8, high: 15, volume: 40 });
    expect(barExtents(bars, 'line')).toEqual({ low: 9, high: 14, volume: 40 });
  });

  it('reads only bars[from..to)', () => {
    expect(barExtents(bars, 'candles', 2, 3)).toEqual({ low: 10, high: 15, volume: 7 });
    expect(barExtents(bars, 'candles', 1, 1)).toEqual({ low: Infinity, high: -Infinity, volume: 0 });
  });
});

describe(niceCeil.name, () => {
  it('rounds up to a nice number at least 5 % above', () => {
    expect(niceCeil(95)).toBe(100);
    expect(niceCeil(100)).toBe(120);
    expect(niceCeil(1_400)).toBe(1_500);
    expect(niceCeil(1_430)).toBe(2_000);
    expect(niceCeil(0.021)).toBe(0.025);
    expect(niceCeil(7_600)).toBe(8_000);
    expect(niceCeil(7_600_000)).toBe(8_000_000);
  });

  it('stays put while a volume grows within a step: the axis changes only when it passes one', () => {
    const tops = new Set([1_000, 1_050, 1_100, 1_140].map(niceCeil));
    expect(tops).toEqual(new Set([1_200]));
  });

  it('is 1 for nothing to show', () => {
    expect(niceCeil(0)).toBe(1);
    expect(niceCeil(Number.NaN)).toBe(1);
  });
});
