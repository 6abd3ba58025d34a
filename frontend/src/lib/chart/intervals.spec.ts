import { CANDLE_INTERVALS, CandleIntervalSchema } from '@tickdeck/protocol';
import * as zodFree from '@tickdeck/protocol/intervals';
import { describe, expect, it } from 'vitest';
import { INTERVAL_MS, INTERVALS } from './intervals';

describe('INTERVAL_MS', () => {
  it("is the protocol's CANDLE_INTERVALS, in its order", () => {
    expect(INTERVAL_MS).toEqual(CANDLE_INTERVALS);
    expect(INTERVALS).toEqual(Object.keys(CANDLE_INTERVALS));
  });

  it("comes from the protocol's zod-free module, the very table its main entry exports and its schema accepts", () => {
    expect(zodFree.CANDLE_INTERVALS).toBe(CANDLE_INTERVALS);
    expect(INTERVAL_MS).toBe(CANDLE_INTERVALS);
    expect(CandleIntervalSchema.options).toEqual(INTERVALS);
  });
});
