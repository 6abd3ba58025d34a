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
  /**
   * Candle intervals one `subscribe` may ask for (`candles`), each for every symbol of the
   * request: a socket holds at most `maxSymbolsPerClient` times this many candle pairs.
   */
  maxCandleIntervals: 4,
  /** Alerts one `alert:set` or `alert:clear` may carry (a viewer holds at most `MAX_ALERTS_PER_VIEWER`). */
  maxAlertsPerRequest: 100,
  /** Items in one feed batch (`ticks` or `trades`). */
  maxFeedBatch: 5000,
  /** Rejections a feed ack lists at most (the first ones, in batch order); `rejectedCount` has them all. */
  maxFeedRejections: 100,
  /** Highest feed price (tick `last`, `bid`, `ask`, trade `price`), in the instrument's currency. */
  maxPrice: 1e9,
  /** Largest feed trade `size`, in units (shares, coins). */
  maxSize: 1e12,
  /** Largest feed tick `volume`, in units (shares, coins). */
  maxVolume: 1e12,
  /** Seconds of 1-second history points kept per symbol for chart backfill. */
  historySeconds: 900,
  /** Recent trades kept per symbol for tape backfill and recovery. */
  tradeHistory: 1000,
} as const;

/** Earliest feed `ts` accepted, epoch ms: 2000-01-01T00:00:00Z. Anything before is a unit mix-up (s vs ms). */
export const MIN_FEED_TS = Date.UTC(2000, 0, 1);

/** What a feed-assigned trade `id` may look like: 1 to 64 letters, digits, ".", "_", ":" or "-". */
export const FEED_TRADE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * True for `{symbol}-{digits}`, the shape of the ids the gateway gives trades that come without
 * one (`AAPL-17`): a feed may not use it for that symbol, so the two never collide.
 */
export function isGatewayTradeId(symbol: string, id: string): boolean {
  const n = symbol.length;
  if (id.length <= n + 1 || id.charCodeAt(n) !== 45 /* - */ || !id.startsWith(symbol)) return false;
  for (let k = n + 1; k < id.length; k++) {
    const c = id.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return true;
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
  /** A feed price is not a number in (0, `LIMITS.maxPrice`], or a tick's bid is above its ask. */
  BAD_PRICE: 'BAD_PRICE',
  /**
   * A feed `ts` is not epoch ms from 2000-01-01, is further ahead of the gateway's clock than it
   * allows, or is older than what the gateway already holds for that symbol.
   */
  BAD_TIMESTAMP: 'BAD_TIMESTAMP',
  /** The viewer would hold more alerts than `MAX_ALERTS_PER_VIEWER`, or the node more than `MAX_ALERTS`. */
  TOO_MANY_ALERTS: 'TOO_MANY_ALERTS',
  /** `alert:clear` named an id this viewer holds no alert under; `ids` lists which. */
  UNKNOWN_ALERT: 'UNKNOWN_ALERT',
  /** REST: no such resource. */
  NOT_FOUND: 'NOT_FOUND',
  /** Something failed on the server; the request may be retried. */
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
