import { z } from 'zod';
import { ErrorCode, FEED_TRADE_ID_PATTERN, LIMITS, MIN_FEED_TS, isGatewayTradeId } from './constants.js';
import { CANDLE_INTERVAL_NAMES, type CandleInterval } from './intervals.js';

/** A ticker as clients may send it: trimmed and upper-cased before use. */
export const SymbolSchema = z
  .string()
  .trim()
  .min(1)
  .max(LIMITS.maxSymbolLength)
  .regex(/^[A-Za-z0-9.-]+$/, 'symbols are letters, digits, "." and "-"')
  .transform((s) => s.toUpperCase());

const SymbolList = z.array(SymbolSchema).min(1).max(LIMITS.maxSymbolsPerRequest);

/**
 * Names the sequence space of a gateway run: `seq`, `tradeSeq` and trade seqs are comparable only
 * within one epoch. Opaque (compare for equality only); a gateway that restarts without the
 * cluster's state starts a new one, every node of a cluster shares the cluster's.
 */
export const EpochSchema = z.string().min(1).max(64);

export const CandleIntervalSchema = z.enum(CANDLE_INTERVAL_NAMES as [CandleInterval, ...CandleInterval[]]);

/** One bar of one symbol at one interval, folded from every tick applied in it. */
export const CandleSchema = z.object({
  /** The bar's open time, epoch ms (a multiple of the interval's width). */
  start: z.number(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  /** Units traded in the bar (the ticks' volumes). */
  volume: z.number(),
  /** Ticks folded into it. */
  ticks: z.number().int().nonnegative(),
  /** False for the open bar: it may still change. */
  closed: z.boolean(),
});
export type Candle = z.infer<typeof CandleSchema>;

/** Client -> server `subscribe` payload. */
export const SubscribeRequestSchema = z
  .strictObject({
    /** Symbols to receive quotes and trades for; re-subscribing a held symbol moves it to the new tier. */
    symbols: SymbolList,
    /** Throttle tier in ms (one of the gateway's tiers); defaults to the gateway's default tier. */
    throttleMs: z.number().int().positive().optional(),
    /** The epoch `since` was counted in (a snapshot's or ack's `epoch`); required with `since`. */
    epoch: EpochSchema.optional(),
    /**
     * Live candles: intervals (at most `LIMITS.maxCandleIntervals`, repeats count once) whose bars
     * every symbol of this request streams in the `frame`s, at its tier. Replaces the intervals of
     * the symbols named (absent or `[]`: none); `unsubscribe` drops them. The ack's `candles`
     * carries the open bars as the starting point.
     */
    candles: z.array(CandleIntervalSchema).max(LIMITS.maxCandleIntervals).optional(),
    /**
     * Trade recovery after a reconnect: per symbol the last trade `seq` the client holds, in
     * `epoch`. The ack then carries the trades after it, or lists the symbol in `gaps` when they
     * are gone or `epoch` is not the gateway's (its seqs count other trades).
     */
    since: z
      .preprocess<unknown, z.ZodRecord<typeof SymbolSchema, z.ZodNumber>, Record<string, number>>(
        (v, ctx) => {
          // zod's record silently drops an own "__proto__" key (JSON.parse makes one): refuse it.
          if (typeof v === 'object' && v !== null && Object.hasOwn(v, '__proto__')) {
            ctx.addIssue({ code: 'custom', message: '"__proto__" is not a symbol' });
          }
          return v;
        },
        z.record(SymbolSchema, z.number().int().nonnegative()),
      )
      .optional(),
  })
  .refine((r) => r.since === undefined || r.epoch !== undefined, {
    message: 'since needs the epoch its seqs belong to',
    path: ['epoch'],
  });
export type SubscribeRequest = z.input<typeof SubscribeRequestSchema>;

/** Client -> server `unsubscribe` payload. */
export const UnsubscribeRequestSchema = z.strictObject({
  symbols: SymbolList,
});
export type UnsubscribeRequest = z.input<typeof UnsubscribeRequestSchema>;

/** Latest state of one symbol, as held by the gateway. Prices are in the instrument's currency. */
export const QuoteStateSchema = z.object({
  symbol: z.string(),
  /** Number of ticks applied to this symbol since the gateway started; only ever increases. 0 = no tick yet. */
  seq: z.number().int().nonnegative(),
  /** Feed time of the latest tick, epoch ms (0 before the first tick). */
  ts: z.number(),
  /** Last traded price. */
  last: z.number(),
  /** Best bid. */
  bid: z.number(),
  /** Best ask. */
  ask: z.number(),
  /** First price of the current UTC day (or since the gateway started, if later). */
  open: z.number(),
  /** Highest `last` of the day. */
  high: z.number(),
  /** Lowest `last` of the day. */
  low: z.number(),
  /** Units (shares, coins) traded during the day. */
  volume: z.number(),
  /** `last - open`. */
  change: z.number(),
  /** `change / open * 100`, in percent. */
  changePct: z.number(),
});
export type QuoteState = z.infer<typeof QuoteStateSchema>;

/** One conflated update, in a {@link ViewerFrame}'s `quotes`. */
export const QuoteSchema = QuoteStateSchema.extend({
  /** Ticks this quote stands for: ticks applied since the previous flush of this tier (>= 1). */
  conflated: z.number().int().positive(),
});
export type Quote = z.infer<typeof QuoteSchema>;

/** State of one symbol at a point in time, from REST or a `subscribe` ack. */
export const SnapshotSchema = QuoteStateSchema.extend({
  /** `seq` of the latest trade of this symbol (0 when none yet); trades with a higher seq are newer. */
  tradeSeq: z.number().int().nonnegative(),
  /**
   * The epoch `seq` and `tradeSeq` count in. Another epoch than the one a client holds means
   * another sequence space: discard what it holds (quotes, trades, chart data) and reload.
   */
  epoch: EpochSchema,
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

/** Buy: the aggressor lifted the ask; sell: the aggressor hit the bid. */
export const TradeSideSchema = z.enum(['buy', 'sell']);
export type TradeSide = z.infer<typeof TradeSideSchema>;

/** One executed trade. */
export const TradeSchema = z.object({
  /** Unique id, `{SYMBOL}-{seq}` unless the feed supplied its own. */
  id: z.string(),
  /** Per-symbol trade sequence number, from 1, gap-free. */
  seq: z.number().int().positive(),
  /** Feed time, epoch ms. */
  ts: z.number(),
  /** Execution price, in the instrument's currency. */
  price: z.number(),
  /** Units traded (shares, coins). */
  size: z.number(),
  side: TradeSideSchema,
});
export type Trade = z.infer<typeof TradeSchema>;

/** New trades of one symbol in order, never conflated: in a {@link ViewerFrame} and a `subscribe` ack. */
export const TradeBatchSchema = z.object({
  symbol: z.string(),
  trades: z.array(TradeSchema),
  /**
   * True when trades came faster than the gateway keeps them (`TRADE_HISTORY` per symbol between
   * two flushes of the fastest tier): some before these were never delivered. Reload the tape
   * from the snapshot or REST. Absent otherwise.
   */
  gap: z.literal(true).optional(),
});
export type TradeBatch = z.infer<typeof TradeBatchSchema>;

/**
 * The bars of one (symbol, interval) pair a viewer holds through `subscribe {candles}`: in a
 * {@link ViewerFrame} and a `subscribe` ack.
 */
export const CandleBatchSchema = z.object({
  symbol: z.string(),
  interval: CandleIntervalSchema,
  /**
   * In a frame: every bar that closed since the viewer's previous frame for this pair (`closed:
   * true`, final, oldest first, each exactly once, never conflated), then the open bar
   * (`closed: false`) when it changed: its exact OHLCV from every tick since it opened, whatever
   * the quotes conflated. In an ack: the open bar, or nothing when none is open.
   */
  bars: z.array(CandleSchema),
  /**
   * True when more bars closed since the viewer's previous frame than the gateway keeps for the
   * interval: some before these were never delivered; reload them from `GET /api/candles`.
   * Absent otherwise.
   */
  gap: z.literal(true).optional(),
});
export type CandleBatch = z.infer<typeof CandleBatchSchema>;

/** An alert's id: chosen by the page, unique among that viewer's alerts. */
export const AlertIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'an alert id is 1 to 64 letters, digits, _ or -');

/** What an alert watches: the last price of every applied tick, not the (conflated) quotes. */
export const AlertConditionSchema = z.discriminatedUnion('kind', [
  /** Fires on the first tick at or above `level` after one below it. */
  z.strictObject({ kind: z.literal('above'), level: z.number().positive().max(LIMITS.maxPrice) }),
  /** Fires on the first tick at or below `level` after one above it. */
  z.strictObject({ kind: z.literal('below'), level: z.number().positive().max(LIMITS.maxPrice) }),
  /** Fires when the last price is `pct` % or more from the day's open, either way, after being within. */
  z.strictObject({ kind: z.literal('move'), pct: z.number().positive().max(100) }),
]);
export type AlertCondition = z.infer<typeof AlertConditionSchema>;

/** An alert: `alert:set` sends these, `alert:list` and the acks return them with their state. */
export const AlertSpecSchema = z
  .strictObject({
    id: AlertIdSchema,
    symbol: SymbolSchema,
    condition: AlertConditionSchema,
    /** Free text shown with it; at most 200 characters. */
    note: z.string().max(200).optional(),
    /** True: re-arms after firing, once the price went back past the level by `hysteresis`. Default false (one-shot). */
    rearm: z.boolean().default(false),
    /**
     * How far back past its level the price must go before a re-arming alert can fire again: in
     * price units for `above`/`below`, in percentage points for `move` (below `pct`). Default 0.
     */
    hysteresis: z.number().nonnegative().max(LIMITS.maxPrice).default(0),
  })
  .refine((a) => a.condition.kind !== 'move' || a.hysteresis < a.condition.pct, {
    message: "a move alert's hysteresis must be below its pct",
    path: ['hysteresis'],
  });
export type AlertSpec = z.output<typeof AlertSpecSchema>;
export type AlertSpecInput = z.input<typeof AlertSpecSchema>;

/** `armed`: its next crossing fires it; `waiting`: the price must go back past its level first. */
export const AlertStateSchema = z.enum(['armed', 'waiting']);
export type AlertState = z.infer<typeof AlertStateSchema>;

/** An alert as the gateway holds it. */
export type HeldAlertInfo = AlertSpec & { state: AlertState; fired: number };

/** Client -> server `alert:set`: sets (or replaces, by id) alerts of this viewer. */
export const AlertSetRequestSchema = z.strictObject({
  alerts: z.array(AlertSpecSchema).min(1).max(LIMITS.maxAlertsPerRequest),
  /**
   * After a reconnect: the last time (epoch ms, the newest frame's quote or fired alert) the page
   * saw. Each alert that was `armed` is checked against the 1-second bars since then; one that would
   * have fired is reported in the ack's `offline`, once, and set afresh from the current price.
   */
  since: z.number().int().nonnegative().optional(),
  /** With `since`: the state each alert was in when the page last heard of it, by id; default armed. */
  states: z.record(AlertIdSchema, AlertStateSchema).optional(),
});
export type AlertSetRequest = z.input<typeof AlertSetRequestSchema>;

/** Client -> server `alert:clear`. */
export const AlertClearRequestSchema = z.strictObject({
  ids: z.array(AlertIdSchema).min(1).max(LIMITS.maxAlertsPerRequest),
});
export type AlertClearRequest = z.input<typeof AlertClearRequestSchema>;

/**
 * An alert that fired, in a viewer's frame (`alerts`) and in an `alert:set` ack (`offline`):
 * exactly once, in order, never conflated.
 */
export const FiredAlertSchema = z.object({
  id: AlertIdSchema,
  symbol: z.string(),
  condition: AlertConditionSchema,
  note: z.string().optional(),
  /** The crossing tick's last price (offline: the level, reached within the bar starting at `ts`). */
  price: z.number(),
  /** The crossing tick's feed time (offline: the 1-second bar's start). */
  ts: z.number(),
  /** The crossing tick's seq in `epoch` (offline: 0, no single tick is known). */
  seq: z.number().int().nonnegative(),
  epoch: EpochSchema,
  /** Its state after firing: `waiting` to re-arm, or absent for a one-shot, now gone. */
  state: AlertStateSchema.optional(),
  /** True when it was found in the bars after a reconnect: it fired while the page was away. */
  offline: z.literal(true).optional(),
});
export type FiredAlert = z.infer<typeof FiredAlertSchema>;

export type AlertSetAck = { ok: true; alerts: HeldAlertInfo[]; offline: FiredAlert[] } | Rejected;
export type AlertClearAck = { ok: true; ids: string[] } | Rejected;
export type AlertListAck = { ok: true; alerts: HeldAlertInfo[] } | Rejected;

/**
 * Version of the {@link ViewerFrame} shape. Raised only for a change an older client would
 * misread; new optional keys (`candles`, fired alerts) are added without raising it, so a
 * client ignores the keys it does not know.
 */
export const FRAME_VERSION = 1;

/**
 * Server -> client `frame` payload: everything one viewer is owed at one flush, in ONE
 * WebSocket message. Keys with nothing to carry are absent; a frame is never empty.
 */
export const ViewerFrameSchema = z.object({
  /** {@link FRAME_VERSION}. */
  v: z.literal(FRAME_VERSION),
  /**
   * The viewer's symbols that moved since the previous flush of their tier (at most one quote
   * per symbol per tier interval, the latest). Absent while the viewer's connection is backed
   * up: quotes are lossy, its first frame after it caught up carries the latest state.
   */
  quotes: z.array(QuoteSchema).optional(),
  /**
   * New trades of the viewer's symbols since the previous flush of the fastest tier, one batch
   * per symbol, each trade exactly once and in order, whatever the viewer's quote tier.
   */
  trades: z.array(TradeBatchSchema).optional(),
  /**
   * The viewer's candle pairs (`subscribe {candles}`) with news since its previous frame at
   * their symbol's tier, one batch per pair: the bars that closed, then the open bar if it
   * changed. Closed bars are never skipped, also while the connection is backed up (the open bar
   * then waits, like quotes).
   */
  candles: z.array(CandleBatchSchema).optional(),
  /**
   * The viewer's alerts (`alert:set`) that fired since its previous frame, each with the tick that
   * crossed: exactly once, in order, never conflated, also while its connection is backed up.
   */
  alerts: z.array(FiredAlertSchema).optional(),
});
export type ViewerFrame = z.infer<typeof ViewerFrameSchema>;

/** One 1-second history point; prices in the instrument's currency. */
export const HistoryPointSchema = z.object({
  /** Start of the second, epoch ms. */
  t: z.number(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  /** Units traded in that second. */
  volume: z.number(),
});
export type HistoryPoint = z.infer<typeof HistoryPointSchema>;

/** `GET /api/history/{symbol}` body. */
export const HistorySchema = z.object({
  symbol: z.string(),
  /** Width of one point, in ms. */
  intervalMs: z.number().int().positive(),
  /** Oldest first; seconds without ticks are absent. */
  points: z.array(HistoryPointSchema),
});
export type History = z.infer<typeof HistorySchema>;

/** `GET /api/candles/{symbol}` body. */
export const CandlesSchema = z.object({
  symbol: z.string(),
  interval: CandleIntervalSchema,
  /** Oldest first; the open bar, when in range, last with `closed: false`. */
  candles: z.array(CandleSchema),
});
export type Candles = z.infer<typeof CandlesSchema>;

/** `GET /api/trades/{symbol}` body. */
export const TradesSchema = z.object({
  symbol: z.string(),
  /** Newest first, each with `seq` below the request's `before`. */
  trades: z.array(TradeSchema),
  /** The `before` of the next (older) page; absent when this page is the oldest. */
  next: z.number().int().positive().optional(),
});
export type Trades = z.infer<typeof TradesSchema>;

/** Feed state as seen by the gateway. */
export type FeedState = 'live' | 'stale';

/** Server -> client `status` payload; each field present only when it is news. */
export interface Status {
  /** `stale`: no tick for `FEED_STALE_MS`; back to `live` on the next tick. */
  feed?: FeedState;
  /** `shutdown`: the gateway is stopping; the socket will be closed (reconnect elsewhere). */
  server?: 'shutdown';
  /** Cluster mode only: `degraded` while Redis is unreachable (this node serves what it holds). */
  cluster?: 'ok' | 'degraded';
  /** A notice for this socket only, e.g. why it is about to be disconnected. */
  notice?: { code: ErrorCode; message: string };
}

/** `ping` ack: lets a client measure the round trip (its own clock before and after). */
export interface PingAck {
  /** Gateway wall clock, epoch ms. */
  serverTime: number;
}

/** A refused request: in an ack's `error`, and as the body of a REST error (`{error}`). */
export const ErrorBodySchema = z.object({
  code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
  /** Human-readable, safe to show. */
  message: z.string(),
  /** The offending symbols, where that is the problem. */
  symbols: z.array(z.string()).optional(),
  /** The tiers on offer, with `BAD_THROTTLE`. */
  tiers: z.array(z.number()).optional(),
  /** With `RATE_LIMITED`: wait at least this long, in ms. */
  retryAfterMs: z.number().optional(),
  /** With `UNKNOWN_ALERT`: the ids not held. */
  ids: z.array(z.string()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export interface Rejected {
  ok: false;
  error: ErrorBody;
}

/** `subscribe` ack. */
export type SubscribeAck =
  | {
      ok: true;
      /** Tier the symbols now stream at, in ms. */
      throttleMs: number;
      /** The gateway's current epoch: what the snapshots, and the quotes and trades that follow, count in. */
      epoch: string;
      /** One per requested symbol, in request order. */
      snapshots: Snapshot[];
      /** With `since`: the missed trades per symbol, in order, exactly once. */
      trades: TradeBatch[];
      /**
       * With `since`: symbols whose missed trades are no longer held (rely on the snapshot), and
       * every symbol of a `since` from another epoch.
       */
      gaps: string[];
      /**
       * With `candles`: one batch per requested (symbol, interval) pair, in request order, its
       * `bars` the open bar (or none): the state the frames' candles continue from.
       */
      candles?: CandleBatch[];
    }
  | Rejected;

/** `unsubscribe` ack. */
export type UnsubscribeAck = { ok: true; symbols: string[] } | Rejected;

/** A feed price: in (0, `LIMITS.maxPrice`], in the instrument's currency. */
const FeedPriceSchema = z.number().positive().max(LIMITS.maxPrice);

/**
 * Feed time, epoch ms, from {@link MIN_FEED_TS} on. The gateway also refuses a `ts` more than
 * `MAX_FEED_CLOCK_SKEW_MS` ahead of its clock, or older than what it holds for the symbol: those
 * depend on the gateway's state, so no schema can check them.
 */
const FeedTsSchema = z.number().min(MIN_FEED_TS);

/**
 * A tick as a feed publishes it. Prices in the instrument's currency. The symbol is matched
 * case-insensitively (`aapl` is `AAPL`).
 */
export const FeedTickSchema = z
  .strictObject({
    symbol: SymbolSchema,
    /** Feed time, epoch ms. */
    ts: FeedTsSchema,
    /** Last traded price. */
    last: FeedPriceSchema,
    /** Best bid, at most `ask`. */
    bid: FeedPriceSchema,
    /** Best ask. */
    ask: FeedPriceSchema,
    /** Units traded since this symbol's previous tick, at most `LIMITS.maxVolume`; default 0. */
    volume: z.number().nonnegative().max(LIMITS.maxVolume).optional(),
  })
  .refine((t) => t.bid <= t.ask, { message: 'bid is above ask', path: ['bid'] });
export type FeedTick = z.output<typeof FeedTickSchema>;

/** A trade as a feed publishes it. The symbol is matched case-insensitively. */
export const FeedTradeSchema = z
  .strictObject({
    symbol: SymbolSchema,
    /** Feed time, epoch ms. */
    ts: FeedTsSchema,
    /** Execution price. */
    price: FeedPriceSchema,
    /** Units traded, in (0, `LIMITS.maxSize`]. */
    size: z.number().positive().max(LIMITS.maxSize),
    side: TradeSideSchema,
    /**
     * Optional feed-assigned id ({@link FEED_TRADE_ID_PATTERN}), unique among the trades the gateway
     * holds for the symbol; the gateway assigns `{SYMBOL}-{seq}` otherwise, so that shape is
     * refused ({@link isGatewayTradeId}).
     */
    id: z.string().regex(FEED_TRADE_ID_PATTERN).optional(),
  })
  .refine((t) => t.id === undefined || !isGatewayTradeId(t.symbol, t.id), {
    message: "ids of the form {SYMBOL}-<digits> are the gateway's own",
    path: ['id'],
  });
export type FeedTrade = z.output<typeof FeedTradeSchema>;

/** One refused item of a feed batch. */
export interface FeedRejection {
  /** The item's position in the batch, or -1 for the batch as a whole (not an array, too long). */
  index: number;
  /** BAD_PRICE, BAD_TIMESTAMP, UNKNOWN_SYMBOL or BAD_REQUEST. */
  code: ErrorCode;
  /** Short and safe to log: names the rule and its bound, never echoes more than a few characters of input. */
  message: string;
}

/** Ack of a feed batch. `accepted + rejectedCount` is the batch's length (when it is an array). */
export interface FeedAck {
  /** Items applied, in batch order. */
  accepted: number;
  /**
   * The first `LIMITS.maxFeedRejections` refused items, in batch order; a batch refused as a whole
   * is one entry with `index` -1.
   */
  rejected: FeedRejection[];
  /**
   * Items refused in all, listed or not: a batch refused as a whole counts every item (1 when it
   * is not an array).
   */
  rejectedCount: number;
}
