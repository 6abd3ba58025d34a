import { CANDLE_INTERVALS } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { INTERVAL_MS, INTERVALS } from './intervals';

describe('INTERVAL_MS', () => {
  it("is the protocol's CANDLE_INTERVALS, in its order", () => {
    expect(INTERVAL_MS).toEqual(CANDLE_INTERVALS);
    expect(INTERVALS).toEqual(Object.keys(CANDLE_INTERVALS));
  });
});
