import {
  DEFAULT_INSTRUMENTS,
  DEFAULT_THROTTLE_MS,
  DEFAULT_THROTTLE_TIERS_MS,
  LIMITS,
  type CandleInterval,
  type InstrumentSpec,
} from '@tickdeck/protocol';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Log levels, most severe first; `LOG_LEVEL` enables its own and every one before it. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
/** `text`: Nest's coloured lines for a terminal; `json`: one JSON record per line, for a log shipper. */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
const FEED_MODES = ['embedded', 'external', 'both'] as const;
/** Where market data comes from: the in-process simulator, `/feed` publishers, or both. */
export type FeedMode = (typeof FEED_MODES)[number];
const HISTORY_STORES = ['sqlite', 'postgres', 'memory'] as const;
/** Where the history is kept: a SQLite file, a PostgreSQL database, or nowhere. */
export type HistoryStoreKind = (typeof HISTORY_STORES)[number];
/** Days kept per candle interval by default; 0 keeps everything. */
const RETENTION_DEFAULT_DAYS: Readonly<Record<CandleInterval, number>> = {
  '1s': 1,
  '5s': 7,
  '1m': 30,
  '5m': 90,
  '15m': 365,
  '1h': 0,
  '1d': 0,
};
const TRADE_RETENTION_DEFAULT_DAYS = 7;
/** `HISTORY_RETENTION_1S` … `HISTORY_RETENTION_1D`: the variable of each interval's retention. */
const retentionVar = (interval: CandleInterval) =>
  `HISTORY_RETENTION_${interval.toUpperCase()}` as `HISTORY_RETENTION_${Uppercase<CandleInterval>}`;
const days = () => z.coerce.number().min(0).max(36_500);
const RETENTION_ENV = Object.fromEntries([
  ...Object.entries(RETENTION_DEFAULT_DAYS).map(([k, d]) => [retentionVar(k as CandleInterval), days().default(d)]),
  ['HISTORY_RETENTION_TRADES', days().default(TRADE_RETENTION_DEFAULT_DAYS)],
]) as Record<`HISTORY_RETENTION_${Uppercase<CandleInterval> | 'TRADES'}`, z.ZodDefault<z.ZodCoercedNumber>>;
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
    LOG_FORMAT: z.enum(LOG_FORMATS).default('text'),
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
    MAX_ALERTS_PER_VIEWER: int(0, 10_000).default(50),
    MAX_ALERTS: int(0, 10_000_000).default(100_000),
    HISTORY_SECONDS: int(60, 86_400).default(LIMITS.historySeconds),
    TRADE_HISTORY: int(10, 100_000).default(LIMITS.tradeHistory),
    HISTORY_STORE: z.enum(HISTORY_STORES).optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    HISTORY_WRITE_MS: int(100, 60_000).default(1000),
    HISTORY_MAX_PENDING: int(1000, 10_000_000).default(200_000),
    HISTORY_PRUNE_MS: int(1000, 86_400_000).default(60_000),
    ...RETENTION_ENV,
    FEED_STALE_MS: int(100, 3_600_000).default(5000),
    SSE_HEARTBEAT_MS: int(100, 3_600_000).default(15_000),
    ALLOWED_ORIGINS: list(
      z.string().refine(isOrigin, { message: 'origins are scheme://host[:port] with nothing after it' }),
    ).optional(),
    AUTH_TOKENS: list(z.string().min(8, 'tokens must be at least 8 characters').max(1024)).optional(),
    AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').max(4096).optional(),
    TRUST_PROXY: z.enum(['true', 'false', '1', '0']).default('false'),
    MAX_CONNECTIONS: int(1, 1_000_000).default(20_000),
    MAX_CONNECTIONS_PER_IP: int(1, 1_000_000).default(200),
    RATE_LIMIT_PER_S: int(1, 100_000).default(20),
    RATE_LIMIT_BURST: int(1, 100_000).default(40),
    MAX_VIEWER_FRAME_BYTES: int(256, 1 << 20).default(16 * 1024),
    MAX_FEED_FRAME_BYTES: int(1024, 64 << 20).default(2 << 20),
    MAX_BUFFERED_BYTES: int(16 * 1024, 1 << 30).default(1 << 20),
    MAX_FEED_CLOCK_SKEW_MS: int(0, 3_600_000).default(5000),
    MAX_HTTP_CONNECTIONS: int(16, 10_000_000).optional(),
    MAX_HTTP_CONNECTIONS_PER_IP: int(1, 10_000_000).optional(),
    HTTP_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(10_000),
    HTTP_REQUEST_TIMEOUT_MS: int(1000, 3_600_000).default(30_000),
    REFUSAL_LOG_INTERVAL_MS: int(100, 3_600_000).default(10_000),
    DASHBOARD_DIR: z.string().min(1).optional(),
    TLS_CERT: z.string().min(1).optional(),
    TLS_KEY: z.string().min(1).optional(),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL')
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (!env.THROTTLE_TIERS_MS.includes(env.DEFAULT_THROTTLE_MS)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEFAULT_THROTTLE_MS'],
        message: `must be one of THROTTLE_TIERS_MS (${env.THROTTLE_TIERS_MS.join(',')})`,
      });
    }
    if (Boolean(env.TLS_CERT) !== Boolean(env.TLS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.TLS_CERT ? 'TLS_KEY' : 'TLS_CERT'],
        message: 'TLS_CERT and TLS_KEY go together',
      });
    }
    if (env.HTTP_REQUEST_TIMEOUT_MS < env.HTTP_HEADERS_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_REQUEST_TIMEOUT_MS'],
        message: 'must be at least HTTP_HEADERS_TIMEOUT_MS',
      });
    }
    if (env.HISTORY_STORE === 'postgres' && !env.DATABASE_URL) {
      ctx.addIssue({ code: 'custom', path: ['HISTORY_STORE'], message: 'postgres needs DATABASE_URL' });
    }
    if (env.RATE_LIMIT_BURST < env.RATE_LIMIT_PER_S) {
      ctx.addIssue({ code: 'custom', path: ['RATE_LIMIT_BURST'], message: 'must be at least RATE_LIMIT_PER_S' });
    }
  });

/** Variables whose values are secrets: named in errors, never echoed. */
const SECRETS = new Set(['FEED_TOKEN', 'AUTH_TOKENS', 'AUTH_JWT_SECRET', 'REDIS_URL', 'DATABASE_URL']);

function isOrigin(s: string): boolean {
  try {
    return new URL(s).origin === s;
  } catch {
    return false;
  }
}

/** The gateway's configuration, parsed and validated once at start. */
export interface AppConfig {
  port: number;
  /** Interface to listen on; undefined = every interface (Node's default). */
  host: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** How log lines are written: `text` (default) or `json` (level, timestamp, context, message, fields). */
  logFormat: LogFormat;
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
  alerts: {
    /** Price alerts one viewer socket may hold. */
    perViewer: number;
    /** Price alerts this node holds for all its viewers. */
    total: number;
  };
  historySeconds: number;
  tradeHistory: number;
  history: {
    /**
     * `sqlite`: bars, trades and last prices kept in `dataDir/tickdeck.db`; `postgres`: in the
     * database at `databaseUrl`; `memory`: nothing kept. Default: postgres with DATABASE_URL, else sqlite.
     */
    store: HistoryStoreKind;
    dataDir: string;
    /** Set = PostgreSQL (a secret: it may carry a password). */
    databaseUrl: string | undefined;
    /** How often closed bars, trades and last prices are written (ms): what a crash can lose. */
    writeMs: number;
    /** Rows waiting for a failing store at most; past it the oldest are dropped, counted. */
    maxPending: number;
    /** How often retention runs (ms). */
    pruneMs: number;
    /** Days kept per interval and for trades; 0 = everything. */
    retentionDays: Record<CandleInterval, number> & { trades: number };
  };
  /** No tick for this long (ms) -> viewers are told `status {feed: 'stale'}`. */
  feedStaleMs: number;
  /** How often an SSE stream (`GET /api/stream`) gets a `: ping` comment, ms. */
  sseHeartbeatMs: number;
  security: {
    /** Exact origins browsers may connect from; undefined = the gateway's own origins + Vite's dev server. */
    allowedOrigins: string[] | undefined;
    /** Static viewer tokens (`auth.token` / `Authorization: Bearer`); undefined = none. */
    authTokens: string[] | undefined;
    /** HS256 secret for viewer JWTs with `exp`; undefined = no JWT auth. */
    jwtSecret: string | undefined;
    /** Take the client address from `X-Forwarded-For` (behind nginx) for per-IP limits. */
    trustProxy: boolean;
  };
  limits: {
    maxConnections: number;
    maxConnectionsPerIp: number;
    /** Token bucket per socket: refill per second and capacity. */
    messagesPerSecond: number;
    messageBurst: number;
    /** Largest frame accepted from a `/market` viewer, bytes. */
    viewerFrameBytes: number;
    /** Largest frame accepted from a `/feed` publisher, bytes (also Engine.IO's maxHttpBufferSize). */
    feedFrameBytes: number;
    /** Bytes queued for one connection beyond which it is disconnected as a slow consumer. */
    maxBufferedBytes: number;
    /** How far ahead of the gateway's clock a feed event's `ts` may be, ms. */
    maxFeedClockSkewMs: number;
  };
  http: {
    /**
     * Concurrent HTTP connections (TCP, websockets included) in all; undefined = derived at start
     * from the process's descriptor limit.
     */
    maxConnections: number | undefined;
    /** Concurrent HTTP connections per client address (ignored with TRUST_PROXY: the proxy's job). */
    maxConnectionsPerIp: number;
    /** Time a client has to send its request headers, ms. */
    headersTimeoutMs: number;
    /** Time a client has to send its whole request, ms. */
    requestTimeoutMs: number;
  };
  /** Refusals are logged once per address and reason per this many ms, with their count. */
  refusalLogIntervalMs: number;
  /** The dashboard build served at `/`; undefined = the repository's `frontend/dist`. */
  dashboardDir: string | undefined;
  /** PEM contents; set = the same port serves https and wss. */
  tls: { cert: Buffer; key: Buffer } | undefined;
  /** Set = cluster mode (Redis feed bus + Socket.IO Redis adapter). */
  redisUrl: string | undefined;
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
      const value = SECRETS.has(name) ? '<hidden>' : JSON.stringify(raw[name] ?? '');
      return `  ${name}=${value}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const tiers = [...new Set(e.THROTTLE_TIERS_MS)].sort((a, b) => a - b);
  const readPem = (name: 'TLS_CERT' | 'TLS_KEY', path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  ${name}=${JSON.stringify(path)}: ${(err as Error).message}`);
    }
  };
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
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
    alerts: { perViewer: e.MAX_ALERTS_PER_VIEWER, total: e.MAX_ALERTS },
    historySeconds: e.HISTORY_SECONDS,
    tradeHistory: e.TRADE_HISTORY,
    history: {
      store: e.HISTORY_STORE ?? (e.DATABASE_URL ? 'postgres' : 'sqlite'),
      dataDir: e.DATA_DIR,
      databaseUrl: e.DATABASE_URL,
      writeMs: e.HISTORY_WRITE_MS,
      maxPending: e.HISTORY_MAX_PENDING,
      pruneMs: e.HISTORY_PRUNE_MS,
      retentionDays: {
        ...(Object.fromEntries(
          (Object.keys(RETENTION_DEFAULT_DAYS) as CandleInterval[]).map((k) => [k, e[retentionVar(k)]]),
        ) as Record<CandleInterval, number>),
        trades: e.HISTORY_RETENTION_TRADES,
      },
    },
    feedStaleMs: e.FEED_STALE_MS,
    sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    security: {
      allowedOrigins: e.ALLOWED_ORIGINS,
      authTokens: e.AUTH_TOKENS,
      jwtSecret: e.AUTH_JWT_SECRET,
      trustProxy: e.TRUST_PROXY === 'true' || e.TRUST_PROXY === '1',
    },
    limits: {
      maxConnections: e.MAX_CONNECTIONS,
      maxConnectionsPerIp: e.MAX_CONNECTIONS_PER_IP,
      messagesPerSecond: e.RATE_LIMIT_PER_S,
      messageBurst: e.RATE_LIMIT_BURST,
      viewerFrameBytes: e.MAX_VIEWER_FRAME_BYTES,
      feedFrameBytes: e.MAX_FEED_FRAME_BYTES,
      maxBufferedBytes: e.MAX_BUFFERED_BYTES,
      maxFeedClockSkewMs: e.MAX_FEED_CLOCK_SKEW_MS,
    },
    http: {
      maxConnections: e.MAX_HTTP_CONNECTIONS,
      // A polling client holds up to two requests, a websocket one connection: room for both.
      maxConnectionsPerIp: e.MAX_HTTP_CONNECTIONS_PER_IP ?? 2 * e.MAX_CONNECTIONS_PER_IP + 16,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    },
    refusalLogIntervalMs: e.REFUSAL_LOG_INTERVAL_MS,
    dashboardDir: e.DASHBOARD_DIR,
    tls:
      e.TLS_CERT && e.TLS_KEY
        ? { cert: readPem('TLS_CERT', e.TLS_CERT), key: readPem('TLS_KEY', e.TLS_KEY) }
        : undefined,
    redisUrl: e.REDIS_URL,
  };
}
