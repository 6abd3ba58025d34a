import { CANDLE_INTERVALS, CANDLE_INTERVAL_NAMES, type CandleInterval } from '@tickdeck/protocol/intervals';

/**
 * Width of each candle interval, ms: the protocol's `CANDLE_INTERVALS`, from its zod-free module
 * (`@tickdeck/protocol/intervals`; the main entry would bring the schemas, about 30 KB gzipped,
 * into the dashboard's bundle).
 */
export const INTERVAL_MS: Readonly<Record<CandleInterval, number>> = CANDLE_INTERVALS;

/** Every interval, narrowest first. */
export const INTERVALS: readonly CandleInterval[] = CANDLE_INTERVAL_NAMES;
