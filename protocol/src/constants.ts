/** Socket.IO namespace dashboards connect to. */
export const MARKET_NAMESPACE = '/market';
/** Socket.IO namespace feed publishers connect to (token required). */
export const FEED_NAMESPACE = '/feed';

/** Throttle tiers (ms between quotes per symbol) a gateway offers unless configured otherwise. */
export const DEFAULT_THROTTLE_TIERS_MS: readonly number[] = [100, 250, 1000];
/** Tier used when `subscribe` names none, in ms. */
export const DEFAULT_THROTTLE_MS = 250;

/** Default bounds; the gateway's configuration may lower or raise them. */
export const LIMITS = {
  /** Symbols one viewer socket may hold at once. */
  maxSymbolsPerClient: 50,
  /** Longest accepted symbol, in characters. */
  maxSymbolLength: 16,
  /** Entries a `subscribe`/`unsubscribe` request may name before the schema refuses it outright. */
  maxSymbolsPerRequest: 500,
  /** Items in one feed batch (`ticks` or `trades`). */
  maxFeedBatch: 5000,
  /** Seconds of 1-second history points kept per symbol for chart backfill. */
  historySeconds: 900,
  /** Recent trades kept per symbol for tape backfill and recovery. */
  tradeHistory: 1000,
} as const;

/**
 * Per-symbol quote room name. The gateway delivers quotes through subscription-set rooms
 * (`g:{TIER}:{id}`, one frame per set per flush) instead; the baseline peers in bench/ use these.
 */
export function quoteRoom(symbol: string, tierMs: number): string {
  return `q:${symbol}:${tierMs}`;
}

/** Room a socket joins to receive the trades of one symbol. */
export function tradeRoom(symbol: string): string {
  return `t:${symbol}`;
}

/** Every error code an ack, a `connect_error` or a REST error body can carry. */
export const ErrorCode = {
  /** The message does not match the schema (wrong types, missing fields, extra nesting). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** A symbol is not in this gateway's universe; `symbols` lists which. */
  UNKNOWN_SYMBOL: 'UNKNOWN_SYMBOL',
  /** The socket would hold more symbols than the gateway allows. */
  TOO_MANY_SYMBOLS: 'TOO_MANY_SYMBOLS',
  /** `throttleMs` is not one of the gateway's tiers; `tiers` lists them. */
  BAD_THROTTLE: 'BAD_THROTTLE',
  /** Too many messages; retry after `retryAfterMs`. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** Missing, wrong or expired credentials. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The socket's JWT expired mid-session; it is disconnected (reconnect with a fresh token). */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** The request's Origin is not in `ALLOWED_ORIGINS`. */
  FORBIDDEN_ORIGIN: 'FORBIDDEN_ORIGIN',
  /** `MAX_CONNECTIONS` or `MAX_CONNECTIONS_PER_IP` reached; try again later. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** A frame larger than the namespace allows; the sender is disconnected. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** The socket did not read its trades fast enough (`MAX_BUFFERED_BYTES`); it is disconnected. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** A feed price is not a finite positive number. */
  BAD_PRICE: 'BAD_PRICE',
  /** A feed timestamp is not a plausible epoch time in ms. */
  BAD_TIMESTAMP: 'BAD_TIMESTAMP',
  /** REST: no such resource. */
  NOT_FOUND: 'NOT_FOUND',
  /** Something failed on the server; the request may be retried. */
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
