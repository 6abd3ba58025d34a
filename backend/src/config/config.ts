import {
  DEFAULT_INSTRUMENTS,
  DEFAULT_THROTTLE_MS,
  DEFAULT_THROTTLE_TIERS_MS,
  LIMITS,
  type InstrumentSpec,
} from '@tickdeck/protocol';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
const FEED_MODES = ['embedded', 'external', 'both'] as const;
/** Where market data comes from: the in-process simulator, `/feed` publishers, or both. */
export type FeedMode = (typeof FEED_MODES)[number];
const KNOWN_SYMBOLS = new Set(DEFAULT_INSTRUMENTS.map((i) => i.symbol));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A comma-separated list, blanks dropped, each item checked by `item`. */
const list = <T>(item: z.ZodType<T, string>) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    )
    .pipe(z.array(item).min(1));

/**
 * Every environment variable the gateway reads, with its default. The README's configuration
 * table documents exactly these.
 */
const EnvSchema = z
  .object({
    PORT: int(0, 65535).default(3000),
    HOST: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('log'),
    FEED: z.enum(FEED_MODES).default('embedded'),
    FEED_TOKEN: z.string().min(8, 'must be at least 8 characters').max(1024).optional(),
    FEED_RATE: z.coerce.number().positive().max(1_000_000).default(300),
    FEED_SEED: int(0, 2 ** 32 - 1).optional(),
    FEED_VOLATILITY: z.coerce.number().positive().max(100).default(1),
    FEED_TRADE_PROBABILITY: z.coerce.number().min(0).max(1).default(0.3),
    SYMBOLS: list(
      z.string().refine((s) => KNOWN_SYMBOLS.has(s), { message: `must be among ${[...KNOWN_SYMBOLS].join(',')}` }),
    ).optional(),
    THROTTLE_TIERS_MS: list(z.coerce.number<string>().int().min(10).max(60_000)).default([
      ...DEFAULT_THROTTLE_TIERS_MS,
    ]),
    DEFAULT_THROTTLE_MS: int(10, 60_000).default(DEFAULT_THROTTLE_MS),
    MAX_SYMBOLS_PER_CLIENT: int(1, 10_000).default(LIMITS.maxSymbolsPerClient),
    HISTORY_SECONDS: int(60, 86_400).default(LIMITS.historySeconds),
    TRADE_HISTORY: int(10, 100_000).default(LIMITS.tradeHistory),
  })
  .superRefine((env, ctx) => {
    if (!env.THROTTLE_TIERS_MS.includes(env.DEFAULT_THROTTLE_MS)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEFAULT_THROTTLE_MS'],
        message: `must be one of THROTTLE_TIERS_MS (${env.THROTTLE_TIERS_MS.join(',')})`,
      });
    }
  });

/** The gateway's configuration, parsed and validated once at start. */
export interface AppConfig {
  port: number;
  /** Interface to listen on; undefined = every interface (Node's default). */
  host: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  feed: {
    /** `embedded`: in-process simulator only; `external`: `/feed` publishers only; `both`. */
    mode: FeedMode;
    /** Shared secret `/feed` publishers present as `auth.token`; undefined = `/feed` refuses everyone. */
    token: string | undefined;
    /** Ticks per second the embedded simulator produces, across all symbols. */
    rate: number;
    seed: number;
    volatility: number;
    /** Share of the simulator's ticks that are trades (0..1). */
    tradeProbability: number;
  };
  /** Symbols this gateway carries (its universe). */
  symbols: string[];
  throttleTiersMs: number[];
  defaultThrottleMs: number;
  maxSymbolsPerClient: number;
  historySeconds: number;
  tradeHistory: number;
}

/** Injection token of the validated {@link AppConfig}. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** The instruments a configuration carries, in the order of the default universe. */
export function instrumentsOf(config: AppConfig): InstrumentSpec[] {
  const wanted = new Set(config.symbols);
  return DEFAULT_INSTRUMENTS.filter((i) => wanted.has(i.symbol));
}

/** Thrown for a bad environment; the message names every offending variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // Empty strings count as unset, as they do in most shells' `VAR= cmd`.
  const raw = Object.fromEntries(Object.keys(EnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = EnvSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? 'environment');
      // A secret is named but never echoed.
      const value = name === 'FEED_TOKEN' ? '<hidden>' : JSON.stringify(raw[name] ?? '');
      return `  ${name}=${value}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const tiers = [...new Set(e.THROTTLE_TIERS_MS)].sort((a, b) => a - b);
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    feed: {
      mode: e.FEED,
      token: e.FEED_TOKEN,
      rate: e.FEED_RATE,
      seed: e.FEED_SEED ?? Date.now() >>> 0,
      volatility: e.FEED_VOLATILITY,
      tradeProbability: e.FEED_TRADE_PROBABILITY,
    },
    symbols: e.SYMBOLS ? [...new Set(e.SYMBOLS)] : DEFAULT_INSTRUMENTS.map((i) => i.symbol),
    throttleTiersMs: tiers,
    defaultThrottleMs: e.DEFAULT_THROTTLE_MS,
    maxSymbolsPerClient: e.MAX_SYMBOLS_PER_CLIENT,
    historySeconds: e.HISTORY_SECONDS,
    tradeHistory: e.TRADE_HISTORY,
  };
}
