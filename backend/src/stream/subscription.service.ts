import { Inject, Injectable } from '@nestjs/common';
import {
  ErrorCode,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CandleBatch,
  type CandleInterval,
  type ClientToServerEvents,
  type ErrorBody,
  type Quote,
  FRAME_VERSION,
  type ServerToClientEvents,
  type Snapshot,
  type SubscribeAck,
  type TradeBatch,
  type UnsubscribeAck,
  type ViewerFrame,
} from '@tickdeck/protocol';
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CANDLE_INTERVAL_LIST, MarketState } from '../market/market-state.js';
import type { ViewerSessionData } from '../security/viewer-session.js';
import { candleSeries, Throttler, type Viewer } from './throttler.js';

/** One held symbol of one subscriber. A new object per (re)subscription, so stale deferred work can tell. */
export interface Subscription {
  readonly tierMs: number;
  /** False until the socket may get quotes for it without repeating its snapshot. */
  ready: boolean;
  /** False until the socket may get its trades without repeating any the snapshot counts. */
  trades: boolean;
  /** Indices in `CANDLE_INTERVAL_LIST` of the intervals whose bars it streams. */
  readonly candles: readonly number[];
}

/** A viewer socket as the throttler sees it. */
export interface SocketViewer extends Viewer {
  readonly socket: ViewerSocket;
}

/** A viewer that is not a socket (an SSE stream): the frame writer hands it each frame's JSON. */
export interface HttpViewer extends Viewer {
  readonly socket?: undefined;
  /** Writes one `frame` payload, already JSON. */
  writeFrame(json: string): void;
}

/** Whoever the throttler writes to: viewer sockets and SSE streams, in the same groups. */
export type StreamViewer = SocketViewer | HttpViewer;

/**
 * What subscriptions are kept on: a viewer socket, or an SSE stream shaped like one (its
 * catch-up frame comes through `emit('frame')`).
 */
export interface Subscriber {
  readonly connected: boolean;
  readonly data: { subs: Map<string, Subscription>; viewer: StreamViewer };
  emit(event: 'frame', frame: ViewerFrame): unknown;
}

/** What the gateway keeps per viewer socket: everything on `socket.data`. */
export interface ViewerData extends ViewerSessionData {
  subs: Map<string, Subscription>;
  /** The socket in the throttler: the group of viewers owed the same frames. */
  viewer: SocketViewer;
}

export type ViewerSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ViewerData>;

/** Most offending symbols an error lists, so a hostile request cannot make a huge reply. */
const MAX_LISTED = 10;

function reject(error: ErrorBody): { ok: false; error: ErrorBody } {
  return { ok: false, error };
}

function badRequest(error: z.ZodError): { ok: false; error: ErrorBody } {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.').slice(0, 64)}: ` : '';
  return reject({ code: ErrorCode.BAD_REQUEST, message: `${where}${issue?.message ?? 'invalid payload'}` });
}

/**
 * Subscribe and unsubscribe, for the `/market` gateway (and the subscribe of an SSE stream, see
 * sse/): validates, answers with snapshots, and tells the throttler what the socket holds, so it lands in the group of viewers owed the same
 * frames. A symbol enters the socket's frames only when the next flush cannot repeat what its
 * snapshot already says, so every quote it receives is newer than its snapshot (and every trade
 * newer than the snapshot's `tradeSeq`), each exactly once. A `since` is honoured only in the
 * market's epoch; from another it is a gap.
 */
@Injectable()
export class SubscriptionService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
    private readonly throttler: Throttler<StreamViewer>,
  ) {}

  /** Viewer sockets by socket object, for who only holds the socket (the slow-consumer guard). */
  private readonly viewers = new WeakMap<object, SocketViewer>();

  /** Sets up a connected socket's state. */
  attach(socket: ViewerSocket): void {
    socket.data.subs = new Map();
    socket.data.viewer = { socket, group: null, lagging: false, owed: null, candleOwed: null, alerts: null };
    this.viewers.set(socket, socket.data.viewer);
  }

  /** The viewer of a `/market` socket; undefined for any other socket. */
  viewerOf(socket: object): SocketViewer | undefined {
    return this.viewers.get(socket);
  }

  subscribe(socket: Subscriber, payload: unknown): SubscribeAck {
    const parsed = SubscribeRequestSchema.safeParse(payload);
    if (!parsed.success) return badRequest(parsed.error);
    const req = parsed.data;
    const symbols = [...new Set(req.symbols)];
    const unknown = this.rejectUnknown(symbols);
    if (unknown) return unknown;
    const tierMs = req.throttleMs ?? this.config.defaultThrottleMs;
    const k = this.throttler.tierIndex(tierMs);
    if (k < 0) {
      return reject({
        code: ErrorCode.BAD_THROTTLE,
        message: `throttleMs must be one of ${this.throttler.tiers.join(', ')}`,
        tiers: [...this.throttler.tiers],
      });
    }
    const subs = socket.data.subs;
    const added = symbols.filter((s) => !subs.has(s)).length;
    const max = this.config.maxSymbolsPerClient;
    if (subs.size + added > max) {
      return reject({
        code: ErrorCode.TOO_MANY_SYMBOLS,
        message: `at most ${max} symbols per connection (holding ${subs.size}, asked for ${added} more)`,
      });
    }

    const intervals = [...new Set<CandleInterval>(req.candles ?? [])];
    const candleIndices = intervals.map((interval) => CANDLE_INTERVAL_LIST.indexOf(interval));
    const snapshots: Snapshot[] = [];
    const trades: TradeBatch[] = [];
    const candles: CandleBatch[] = [];
    const fresh: number[] = [];
    const gaps: string[] = [];
    const held: [string, Subscription, Snapshot][] = [];
    // Seqs of another epoch count other trades: what came after them cannot be told, only a gap.
    const sameEpoch = req.epoch === this.market.epoch;
    let dirty = false;
    let deferTrades = false;
    for (const symbol of symbols) {
      const i = this.market.indexOf(symbol);
      const snapshot = this.market.snapshot(i);
      snapshots.push(snapshot);
      // Trades queued for the next flush are at or below the snapshot's tradeSeq: when there are
      // some, the symbol's trades come from the flush after it (what came after the snapshot
      // meanwhile, right after it).
      const sub: Subscription = {
        tierMs,
        ready: false,
        trades: !this.throttler.hasPendingTrades(i),
        candles: candleIndices,
      };
      // The open bars now: where the frames' candles continue from (the throttler reads the same
      // rings in this same turn, when `sync` below hands it the fresh series).
      intervals.forEach((interval, n) => {
        const open = this.market.candleRingAt(i, candleIndices[n]!).openBar();
        candles.push({ symbol, interval, bars: open === null ? [] : [open] });
        fresh.push(candleSeries(i, candleIndices[n]!));
      });
      subs.set(symbol, sub);
      held.push([symbol, sub, snapshot]);
      deferTrades ||= !sub.trades;
      dirty ||= this.throttler.isDirty(k, i, socket.data.viewer);
      const since = req.since?.[symbol];
      if (since !== undefined) {
        const missed = sameEpoch ? this.market.tradesAfter(i, since) : null;
        if (missed === null) gaps.push(symbol);
        else if (missed.length > 0) trades.push({ symbol, trades: missed });
      }
    }
    if (!dirty) for (const [, sub] of held) sub.ready = true;
    // Else the tier's next flush would repeat what the snapshots say: quotes come from the flush
    // after it, and right after it only what moved past each snapshot. One catch-up frame per
    // deferring flush: the fastest tier's settles the trades (and the quotes at that tier).
    // Only the fastest flush settles trades: it alone takes them off the queue (a slower tier on its
    // own timer may flush first, and would let the queued ones through twice).
    if (deferTrades || (dirty && k === 0))
      this.throttler.afterNextFlush(0, socket.data.viewer, () => this.catchUp(socket, held, k === 0, true));
    if (dirty && k !== 0)
      this.throttler.afterNextFlush(k, socket.data.viewer, () => this.catchUp(socket, held, true, false));
    this.sync(socket, fresh);
    const ack: SubscribeAck = { ok: true, throttleMs: tierMs, epoch: this.market.epoch, snapshots, trades, gaps };
    if (req.candles !== undefined) ack.candles = candles;
    return ack;
  }

  unsubscribe(socket: ViewerSocket, payload: unknown): UnsubscribeAck {
    const parsed = UnsubscribeRequestSchema.safeParse(payload);
    if (!parsed.success) return badRequest(parsed.error);
    const symbols = [...new Set(parsed.data.symbols)];
    const unknown = this.rejectUnknown(symbols);
    if (unknown) return unknown;
    const removed: string[] = [];
    for (const symbol of symbols) {
      if (!socket.data.subs.delete(symbol)) continue;
      removed.push(symbol);
    }
    if (removed.length > 0) this.sync(socket);
    return { ok: true, symbols: removed };
  }

  /** Takes a disconnected socket (or a closed stream) out of the throttler. */
  release(socket: Subscriber): void {
    socket.data.subs.clear();
    this.throttler.assign(socket.data.viewer, null);
  }

  private rejectUnknown(symbols: string[]): { ok: false; error: ErrorBody } | null {
    const unknown = symbols.filter((s) => this.market.indexOf(s) < 0).slice(0, MAX_LISTED);
    if (unknown.length === 0) return null;
    return reject({
      code: ErrorCode.UNKNOWN_SYMBOL,
      message: `unknown symbol${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      symbols: unknown,
    });
  }

  /**
   * After a deferring flush: the held symbols' trades (with `trades`, after the fastest tier's
   * flush) and quotes (with `quotes`, after their tier's) enter the socket's frames, and it is
   * sent, in one frame, what came after each snapshot meanwhile.
   */
  private catchUp(
    socket: Subscriber,
    held: [string, Subscription, Snapshot][],
    quotes: boolean,
    trades: boolean,
  ): void {
    if (!socket.connected) return;
    const caughtUp: Quote[] = [];
    const batches: TradeBatch[] = [];
    for (const [symbol, sub, snapshot] of held) {
      if (socket.data.subs.get(symbol) !== sub) continue;
      const i = this.market.indexOf(symbol);
      if (trades && !sub.trades) {
        sub.trades = true;
        const missed = this.market.tradesAfter(i, snapshot.tradeSeq);
        if (missed && missed.length > 0) batches.push({ symbol, trades: missed });
      }
      if (quotes && !sub.ready) {
        sub.ready = true;
        const seq = this.market.seqAt(i);
        if (seq > snapshot.seq) {
          const quote = this.market.quoteState(i) as Quote;
          quote.conflated = seq - snapshot.seq;
          caughtUp.push(quote);
        }
      }
    }
    this.sync(socket);
    if (caughtUp.length === 0 && batches.length === 0) return;
    // Keys in the documented order (v, quotes, trades), as the throttler's frames have them.
    const frame: ViewerFrame = { v: FRAME_VERSION };
    if (caughtUp.length > 0) frame.quotes = caughtUp;
    if (batches.length > 0) frame.trades = batches;
    socket.emit('frame', frame);
  }

  /**
   * Puts the socket in the throttler group of what it holds and may be sent now; `fresh`: the
   * candle series that start afresh (those of a subscribe's symbols).
   */
  private sync(socket: Subscriber, fresh: readonly number[] = []): void {
    const quotes: number[][] = this.throttler.tiers.map(() => []);
    const trades: number[] = [];
    let candles: number[][] | undefined;
    for (const [symbol, sub] of socket.data.subs) {
      const i = this.market.indexOf(symbol);
      const k = this.throttler.tierIndex(sub.tierMs);
      if (sub.ready) quotes[k]!.push(i);
      if (sub.trades) trades.push(i);
      // Candles need no readiness: their cursors start where the ack's open bars are.
      if (sub.candles.length > 0) {
        candles ??= this.throttler.tiers.map(() => []);
        for (const j of sub.candles) candles[k]!.push(candleSeries(i, j));
      }
    }
    this.throttler.assign(
      socket.data.viewer,
      candles === undefined ? { quotes, trades } : { quotes, trades, candles, fresh },
    );
  }
}
