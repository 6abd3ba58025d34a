// The candle intervals, in a module of their own without zod: the dashboard imports it alone
// (`@tickdeck/protocol/intervals`), so the interval table does not bring the schemas (about 30 KB
// gzipped) into its bundle. The main entry exports it too.

/**
 * Candle intervals, aligned to UTC (epoch ms multiples of the width; `1d` is the UTC day the day
 * figures use). Intervals with no tick have no bar.
 */
export const CANDLE_INTERVALS = {
  '1s': 1_000,
  '5s': 5_000,
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
} as const;

/** A candle interval's name: a key of {@link CANDLE_INTERVALS}. */
export type CandleInterval = keyof typeof CANDLE_INTERVALS;

/** Every candle interval, narrowest first. */
export const CANDLE_INTERVAL_NAMES = Object.keys(CANDLE_INTERVALS) as readonly CandleInterval[];
