import { ErrorCode, LIMITS, type FeedAck, type FeedTick, type FeedTrade } from '@tickdeck/protocol';
import { Secrets } from '../security/secrets.js';
import type { Ingest } from './ingest.js';

type Rejection = FeedAck['rejected'][number];

/** Earliest feed time accepted: 2000-01-01T00:00:00Z. Anything before is a unit mix-up (s vs ms). */
export const MIN_FEED_TS = Date.UTC(2000, 0, 1);
/** How far ahead of the gateway's clock a feed time may be, in ms. */
export const MAX_FEED_CLOCK_SKEW_MS = 24 * 3_600_000;

const TICK_KEYS = new Set(['symbol', 'ts', 'last', 'bid', 'ask', 'volume']);
const TRADE_KEYS = new Set(['symbol', 'ts', 'price', 'size', 'side', 'id']);

export interface FeedServiceOptions {
  /** Known symbols; anything else is `UNKNOWN_SYMBOL`. */
  isKnown: (symbol: string) => boolean;
  /** The secret publishers present; undefined = everyone is refused with `closedMessage`. */
  token: string | undefined;
  /** Why everyone is refused when there is no token, and how to change that. */
  closedMessage?: string;
  /** Clock for the timestamp plausibility check, epoch ms. */
  now?: () => number;
}

/** Why a publisher may not connect, or undefined when it may. */
export interface AuthRefusal {
  code: typeof ErrorCode.UNAUTHORIZED;
  message: string;
}

/**
 * The `/feed` namespace's logic, free of Nest and Socket.IO: the token check and the item-by-item
 * validation of `ticks` and `trades` batches in front of {@link Ingest}. Validation is plain
 * `typeof` and range checks rather than a zod parse per item: it runs for every tick at
 * hundreds of thousands of ticks per second, and it must say which rule an item broke.
 */
export class FeedService {
  private readonly token: Secrets | undefined;
  private readonly isKnown: (symbol: string) => boolean;
  private readonly now: () => number;
  private readonly closedMessage: string;

  constructor(
    private readonly ingest: Ingest,
    options: FeedServiceOptions,
  ) {
    this.isKnown = options.isKnown;
    this.now = options.now ?? Date.now;
    this.token = options.token === undefined ? undefined : new Secrets([options.token]);
    this.closedMessage =
      options.closedMessage ??
      'feed ingest is disabled on this gateway: start it with FEED_TOKEN=<secret> to enable /feed';
  }

  /** Decides whether a publisher presenting `token` (the handshake's `auth.token`) may connect. */
  authorize(token: unknown): AuthRefusal | undefined {
    if (!this.token) {
      return { code: ErrorCode.UNAUTHORIZED, message: this.closedMessage };
    }
    if (typeof token !== 'string' || token === '') {
      return { code: ErrorCode.UNAUTHORIZED, message: 'missing feed token: send it as auth.token' };
    }
    if (!this.token.matches(token)) {
      return { code: ErrorCode.UNAUTHORIZED, message: 'wrong feed token' };
    }
    return undefined;
  }

  /** Validates and applies a `ticks` batch; every item is judged on its own. */
  ticks(batch: unknown): FeedAck {
    return this.apply(batch, (item, maxTs) => {
      const bad = this.checkTick(item, maxTs);
      if (bad) return bad;
      // checkTick refused every field but the tick's own, so the item itself is the tick.
      this.ingest.tick(item as FeedTick);
      return undefined;
    });
  }

  /** Validates and applies a `trades` batch; every item is judged on its own. */
  trades(batch: unknown): FeedAck {
    return this.apply(batch, (item, maxTs) => {
      const bad = this.checkTrade(item, maxTs);
      if (bad) return bad;
      this.ingest.trade(item as FeedTrade);
      return undefined;
    });
  }

  private apply(batch: unknown, one: (item: unknown, maxTs: number) => [ErrorCode, string] | undefined): FeedAck {
    if (!Array.isArray(batch)) {
      return {
        accepted: 0,
        rejected: [{ index: -1, code: ErrorCode.BAD_REQUEST, message: 'a batch must be an array' }],
      };
    }
    if (batch.length > LIMITS.maxFeedBatch) {
      const message = `batch of ${batch.length} items is over the limit of ${LIMITS.maxFeedBatch}`;
      return { accepted: 0, rejected: batch.map((_, index) => ({ index, code: ErrorCode.BAD_REQUEST, message })) };
    }
    const maxTs = this.now() + MAX_FEED_CLOCK_SKEW_MS;
    let accepted = 0;
    const rejected: Rejection[] = [];
    for (let index = 0; index < batch.length; index++) {
      const bad = one(batch[index], maxTs);
      if (bad) rejected.push({ index, code: bad[0], message: bad[1] });
      else accepted++;
    }
    return { accepted, rejected };
  }

  private checkTick(item: unknown, maxTs: number): [ErrorCode, string] | undefined {
    const shape = checkShape(item, TICK_KEYS);
    if (shape) return shape;
    const t = item as Record<string, unknown>;
    const common = this.checkSymbolAndTs(t, maxTs);
    if (common) return common;
    const last = t['last'];
    const bid = t['bid'];
    const ask = t['ask'];
    if (!isPrice(last)) return [ErrorCode.BAD_PRICE, `last must be a finite number > 0, got ${show(last)}`];
    if (!isPrice(bid)) return [ErrorCode.BAD_PRICE, `bid must be a finite number > 0, got ${show(bid)}`];
    if (!isPrice(ask)) return [ErrorCode.BAD_PRICE, `ask must be a finite number > 0, got ${show(ask)}`];
    if (bid > ask) return [ErrorCode.BAD_PRICE, `bid ${bid} is above ask ${ask}`];
    const volume = t['volume'];
    if (volume !== undefined && !(typeof volume === 'number' && volume >= 0 && volume < Infinity)) {
      return [ErrorCode.BAD_REQUEST, `volume must be a finite number >= 0, got ${show(volume)}`];
    }
    return undefined;
  }

  private checkTrade(item: unknown, maxTs: number): [ErrorCode, string] | undefined {
    const shape = checkShape(item, TRADE_KEYS);
    if (shape) return shape;
    const t = item as Record<string, unknown>;
    const common = this.checkSymbolAndTs(t, maxTs);
    if (common) return common;
    const price = t['price'];
    if (!isPrice(price)) return [ErrorCode.BAD_PRICE, `price must be a finite number > 0, got ${show(price)}`];
    const size = t['size'];
    if (!isPrice(size)) return [ErrorCode.BAD_REQUEST, `size must be a finite number > 0, got ${show(size)}`];
    const side = t['side'];
    if (side !== 'buy' && side !== 'sell') return [ErrorCode.BAD_REQUEST, `side must be "buy" or "sell"`];
    const id = t['id'];
    if (id !== undefined && !(typeof id === 'string' && id.length >= 1 && id.length <= 64)) {
      return [ErrorCode.BAD_REQUEST, 'id must be a string of 1 to 64 characters'];
    }
    return undefined;
  }

  /** `maxTs`: the latest plausible feed time, read from the clock once per batch. */
  private checkSymbolAndTs(t: Record<string, unknown>, maxTs: number): [ErrorCode, string] | undefined {
    const symbol = t['symbol'];
    if (typeof symbol !== 'string') return [ErrorCode.BAD_REQUEST, 'symbol must be a string'];
    if (!this.isKnown(symbol))
      return [ErrorCode.UNKNOWN_SYMBOL, `unknown symbol: ${symbol.slice(0, LIMITS.maxSymbolLength)}`];
    const ts = t['ts'];
    if (typeof ts !== 'number' || !(ts >= MIN_FEED_TS) || !(ts <= maxTs)) {
      return [ErrorCode.BAD_TIMESTAMP, `ts must be epoch ms between 2000-01-01 and a day from now, got ${show(ts)}`];
    }
    return undefined;
  }
}

function isPrice(x: unknown): x is number {
  // NaN fails both comparisons.
  return typeof x === 'number' && x > 0 && x < Infinity;
}

function checkShape(item: unknown, keys: ReadonlySet<string>): [ErrorCode, string] | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return [ErrorCode.BAD_REQUEST, 'an item must be an object'];
  }
  for (const key in item) {
    if (!keys.has(key)) return [ErrorCode.BAD_REQUEST, `unexpected field: ${key.slice(0, 32)}`];
  }
  return undefined;
}

/** A short, safe rendering of a bad value for an error message (never the whole item). */
function show(x: unknown): string {
  if (typeof x === 'number') return String(x);
  if (x === undefined) return 'nothing';
  return typeof x;
}
