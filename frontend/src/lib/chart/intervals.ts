import type { CandleInterval } from '@tickdeck/protocol';

/**
 * Width of each candle interval, ms: the protocol's `CANDLE_INTERVALS`, which this must equal
 * (intervals.spec.ts checks). Not imported from the protocol: the module that exports it builds
 * zod schemas from it, which would put zod (about 30 KB gzipped) into the dashboard's bundle.
 */
export const INTERVAL_MS = {
  '1s': 1_000,
  '5s': 5_000,
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
} as const satisfies Record<CandleInterval, number>;

/** Every interval, narrowest first. */
export const INTERVALS = Object.keys(INTERVAL_MS) as CandleInterval[];
