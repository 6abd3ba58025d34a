import {
  ErrorCode,
  FEED_TRADE_ID_PATTERN,
  LIMITS,
  MIN_FEED_TS,
  SymbolSchema,
  isGatewayTradeId,
  type FeedAck,
  type FeedRejection,
  type FeedTick,
  type FeedTrade,
} from '@tickdeck/protocol';
import { Secrets } from '../security/secrets.js';
import type { Sequencer } from './sequencer.js';
import { RecentTradeIds } from './recent-trade-ids.js';

/** Why an item is refused: its code and a short message. */
type Refusal = [ErrorCode, string];

const TICK_KEYS = new Set(['symbol', 'ts', 'last', 'bid', 'ask', 'volume']);
const TRADE_KEYS = new Set(['symbol', 'ts', 'price', 'size', 'side', 'id']);

/**
 * Feed-assigned trade ids remembered after acceptance, across symbols: four full batches, as
 * many as a publisher keeps in flight by default (`tickdeck-sim --in-flight 4`), so a trade
 * still on its way through Redis is known until it is in the market's trade ring.
 */
const RECENT_TRADE_IDS = 4 * LIMITS.maxFeedBatch;

export interface FeedServiceOptions {
  /** Index of a known symbol (upper case), -1 for anything else (`UNKNOWN_SYMBOL`). */
  indexOf: (symbol: string) => number;
  /** Feed time (epoch ms) of the latest tick or trade the market holds for symbol `i`, 0 before any. */
  lastEventTs: (i: number) => number;
  /** Whether the market holds a trade of symbol `i` with the feed-assigned id `id`. */
  holdsTradeId: (i: number, id: string) => boolean;
  /** How far ahead of `now()` a feed `ts` may be, ms (`MAX_FEED_CLOCK_SKEW_MS`). */
  clockSkewMs: number;
  /** The secret publishers present; undefined = everyone is refused with `closedMessage`. */
  token: string | undefined;
  /** Why everyone is refused when there is no token, and how to change that. */
  closedMessage?: string;
  /** The gateway's clock, epoch ms; read once per batch. */
  now?: () => number;
}

/** Why a publisher may not connect, or undefined when it may. */
export interface AuthRefusal {
  code: typeof ErrorCode.UNAUTHORIZED;
  message: string;
}

/**
 * The `/feed` namespace's logic, free of Nest and Socket.IO: the token check and the item-by-item
 * validation of `ticks` and `trades` batches in front of the {@link Sequencer}. Validation is plain
 * `typeof` and range checks against the protocol's bounds rather than a zod parse per item: it
 * runs for every tick at hundreds of thousands of ticks per second, and it must say which rule
 * an item broke.
 *
 * Time only moves forward per symbol and kind: a tick older than the last tick accepted for its
 * symbol is refused, and so is a trade older than the last trade. The two kinds are ordered
 * apart because they travel in separate frames (a publisher sends the trades of a span, then its
 * ticks), so they interleave by up to a batch. An event the market holds that is newer than
 * everything accepted here came from elsewhere (another cluster node, the embedded simulator, a
 * resync), and every event of either kind must follow it.
 */
export class FeedService {
  private readonly token: Secrets | undefined;
  private readonly indexOf: (symbol: string) => number;
  private readonly lastEventTs: (i: number) => number;
  private readonly holdsTradeId: (i: number, id: string) => boolean;
  private readonly clockSkewMs: number;
  private readonly now: () => number;
  private readonly closedMessage: string;
  /**
   * Per symbol index, the `ts` of the latest tick and trade accepted here. The market's own
   * record lags in cluster mode (accepted events are applied once Redis delivers them), and
   * within a batch an item must follow the ones accepted before it.
   */
  private tickTs = new Float64Array(0);
  private tradeTs = new Float64Array(0);
  private readonly recentIds = new RecentTradeIds(RECENT_TRADE_IDS);

  constructor(
    private readonly sequencer: Sequencer,
    options: FeedServiceOptions,
  ) {
    this.indexOf = options.indexOf;
    this.lastEventTs = options.lastEventTs;
    this.holdsTradeId = options.holdsTradeId;
    this.clockSkewMs = options.clockSkewMs;
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

  /** Validates and applies a `ticks` batch; every item is judged on its own, in order. */
  ticks(batch: unknown): FeedAck {
    return this.apply(batch, (item, now) => {
      const i = this.checkTick(item, now);
      if (typeof i !== 'number') return i;
      // checkTick refused every field but the tick's own, so the item itself is the tick.
      const tick = item as FeedTick;
      this.sequencer.tick(tick);
      this.tickTs[i] = tick.ts;
      return undefined;
    });
  }

  /** Validates and applies a `trades` batch; every item is judged on its own, in order. */
  trades(batch: unknown): FeedAck {
    return this.apply(batch, (item, now) => {
      const i = this.checkTrade(item, now);
      if (typeof i !== 'number') return i;
      const trade = item as FeedTrade;
      this.sequencer.trade(trade);
      this.tradeTs[i] = trade.ts;
      if (trade.id !== undefined) this.recentIds.add(i, trade.id);
      return undefined;
    });
  }

  private apply(batch: unknown, one: (item: unknown, now: number) => Refusal | undefined): FeedAck {
    if (!Array.isArray(batch)) return refuseBatch(1, 'a batch must be an array');
    if (batch.length > LIMITS.maxFeedBatch) {
      return refuseBatch(batch.length, `batch of ${batch.length} items is over the limit of ${LIMITS.maxFeedBatch}`);
    }
    const now = this.now();
    let accepted = 0;
    let rejectedCount = 0;
    const rejected: FeedRejection[] = [];
    for (let index = 0; index < batch.length; index++) {
      const bad = one(batch[index], now);
      if (!bad) {
        accepted++;
        continue;
      }
      rejectedCount++;
      if (rejected.length < LIMITS.maxFeedRejections) rejected.push({ index, code: bad[0], message: bad[1] });
    }
    return { accepted, rejected, rejectedCount };
  }

  /** The tick's symbol index, or why it is refused. */
  private checkTick(item: unknown, now: number): number | Refusal {
    const shape = checkShape(item, TICK_KEYS);
    if (shape) return shape;
    const t = item as Record<string, unknown>;
    const i = this.checkSymbol(t);
    if (typeof i !== 'number') return i;
    const late = this.checkTs(t, i, now, this.tickTs, 'tick');
    if (late) return late;
    const last = t['last'];
    const bid = t['bid'];
    const ask = t['ask'];
    if (!isPrice(last)) return badPrice('last', last);
    if (!isPrice(bid)) return badPrice('bid', bid);
    if (!isPrice(ask)) return badPrice('ask', ask);
    if (bid > ask) return [ErrorCode.BAD_PRICE, `bid ${bid} is above ask ${ask}`];
    const volume = t['volume'];
    if (volume !== undefined && !(typeof volume === 'number' && volume >= 0 && volume <= LIMITS.maxVolume)) {
      return [ErrorCode.BAD_REQUEST, `volume must be a number in [0, ${LIMITS.maxVolume}], got ${show(volume)}`];
    }
    return i;
  }

  /** The trade's symbol index, or why it is refused. */
  private checkTrade(item: unknown, now: number): number | Refusal {
    const shape = checkShape(item, TRADE_KEYS);
    if (shape) return shape;
    const t = item as Record<string, unknown>;
    const i = this.checkSymbol(t);
    if (typeof i !== 'number') return i;
    const late = this.checkTs(t, i, now, this.tradeTs, 'trade');
    if (late) return late;
    const price = t['price'];
    if (!isPrice(price)) return badPrice('price', price);
    const size = t['size'];
    if (!(typeof size === 'number' && size > 0 && size <= LIMITS.maxSize)) {
      return [ErrorCode.BAD_REQUEST, `size must be a number in (0, ${LIMITS.maxSize}], got ${show(size)}`];
    }
    const side = t['side'];
    if (side !== 'buy' && side !== 'sell') return [ErrorCode.BAD_REQUEST, `side must be "buy" or "sell"`];
    const id = t['id'];
    if (id === undefined) return i;
    if (typeof id !== 'string' || id.length > 64 || !FEED_TRADE_ID_PATTERN.test(id)) {
      return [ErrorCode.BAD_REQUEST, 'id must be 1 to 64 letters, digits, ".", "_", ":" or "-"'];
    }
    const symbol = t['symbol'] as string;
    if (isGatewayTradeId(symbol, id)) {
      return [ErrorCode.BAD_REQUEST, `ids of the form ${symbol}-<digits> are the gateway's own; send another id`];
    }
    if (this.holdsTradeId(i, id) || this.recentIds.has(i, id)) {
      return [ErrorCode.BAD_REQUEST, `duplicate trade id: ${symbol} already has a trade ${id}`];
    }
    return i;
  }

  /**
   * The symbol's index, matched case-insensitively like REST's: a symbol that is not exactly a
   * known one is normalised the way {@link SymbolSchema} does it and written back to the item,
   * so the market and the trades carry the canonical name.
   */
  private checkSymbol(t: Record<string, unknown>): number | Refusal {
    const symbol = t['symbol'];
    if (typeof symbol !== 'string') return [ErrorCode.BAD_REQUEST, 'symbol must be a string'];
    let i = this.indexOf(symbol);
    if (i < 0) {
      // Only off the fast path: a symbol sent exactly as the gateway spells it never gets here.
      const canonical = SymbolSchema.safeParse(symbol).data;
      if (canonical !== undefined) i = this.indexOf(canonical);
      if (i < 0) return [ErrorCode.UNKNOWN_SYMBOL, `unknown symbol: ${echo(symbol, LIMITS.maxSymbolLength)}`];
      t['symbol'] = canonical;
    }
    if (i >= this.tickTs.length) this.grow(i);
    return i;
  }

  /**
   * `ts` must be epoch ms from 2000-01-01, at most `clockSkewMs` ahead of `now`, and not older
   * than what this symbol already has (see the class comment); `accepted` holds this kind's.
   */
  private checkTs(
    t: Record<string, unknown>,
    i: number,
    now: number,
    accepted: Float64Array,
    kind: 'tick' | 'trade',
  ): Refusal | undefined {
    const ts = t['ts'];
    if (typeof ts !== 'number' || !(ts >= MIN_FEED_TS)) {
      return [ErrorCode.BAD_TIMESTAMP, `ts must be epoch ms from 2000-01-01 (${MIN_FEED_TS}) on, got ${show(ts)}`];
    }
    if (ts > now + this.clockSkewMs) {
      return [
        ErrorCode.BAD_TIMESTAMP,
        `ts ${ts} is more than ${this.clockSkewMs} ms ahead of the gateway clock (${now}; MAX_FEED_CLOCK_SKEW_MS)`,
      ];
    }
    const symbol = t['symbol'] as string;
    const held = this.lastEventTs(i);
    if (held > this.tickTs[i]! && held > this.tradeTs[i]! && ts < held) {
      return [ErrorCode.BAD_TIMESTAMP, `ts ${ts} is older than ${symbol}'s last event at ${stamp(held)}`];
    }
    const own = accepted[i]!;
    if (ts < own) return [ErrorCode.BAD_TIMESTAMP, `ts ${ts} is older than ${symbol}'s last ${kind} at ${stamp(own)}`];
    return undefined;
  }

  private grow(i: number): void {
    const n = Math.max(i + 1, 2 * this.tickTs.length, 32);
    const ticks = new Float64Array(n);
    ticks.set(this.tickTs);
    this.tickTs = ticks;
    const trades = new Float64Array(n);
    trades.set(this.tradeTs);
    this.tradeTs = trades;
  }
}

function refuseBatch(rejectedCount: number, message: string): FeedAck {
  return { accepted: 0, rejected: [{ index: -1, code: ErrorCode.BAD_REQUEST, message }], rejectedCount };
}

function isPrice(x: unknown): x is number {
  // NaN fails both comparisons.
  return typeof x === 'number' && x > 0 && x <= LIMITS.maxPrice;
}

function badPrice(field: string, x: unknown): Refusal {
  return [ErrorCode.BAD_PRICE, `${field} must be a number in (0, ${LIMITS.maxPrice}], got ${show(x)}`];
}

function checkShape(item: unknown, keys: ReadonlySet<string>): Refusal | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return [ErrorCode.BAD_REQUEST, 'an item must be an object'];
  }
  for (const key in item) {
    if (!keys.has(key)) return [ErrorCode.BAD_REQUEST, `unexpected field: ${echo(key, 32)}`];
  }
  return undefined;
}

/** A short, safe rendering of a bad value for an error message (never the whole item). */
function show(x: unknown): string {
  if (typeof x === 'number') return String(x);
  if (x === undefined) return 'nothing';
  return typeof x;
}

/**
 * A string from the item, for a message: at most `max` characters, and only when they are
 * letters, digits, ".", "_", ":" or "-" (never markup, quotes or control characters).
 */
function echo(s: string, max: number): string {
  const head = s.slice(0, max);
  if (!/^[A-Za-z0-9._:-]+$/.test(head)) return `(${s.length} characters, not shown)`;
  return s.length > max ? `${head}...` : head;
}

/** Epoch ms with its UTC reading, for messages: `1764633600000 (2025-12-02T00:00:00.000Z)`. */
function stamp(ts: number): string {
  return `${ts} (${new Date(ts).toISOString()})`;
}
