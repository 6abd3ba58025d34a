import { Inject, Injectable } from '@nestjs/common';
import {
  ErrorCode,
  quoteRoom,
  SubscribeRequestSchema,
  tradeRoom,
  UnsubscribeRequestSchema,
  type ClientToServerEvents,
  type ErrorBody,
  type Quote,
  type ServerToClientEvents,
  type Snapshot,
  type SubscribeAck,
  type TradeBatch,
  type UnsubscribeAck,
} from '@tickdeck/protocol';
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { Throttler } from './throttler.js';

/** One held symbol of one socket. A new object per (re)subscription, so stale deferred joins can tell. */
interface Subscription {
  tierMs: number;
}

/** What the gateway keeps per viewer socket. */
export interface ViewerData {
  subs: Map<string, Subscription>;
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
 * Subscribe and unsubscribe, for the `/market` gateway: validates, moves the socket between
 * rooms, and answers with snapshots. A socket joins a quote room only when the room's next flush
 * cannot repeat what its snapshot already says, so every quote it receives is newer than its
 * snapshot (and every trade newer than the snapshot's `tradeSeq`), each exactly once.
 */
@Injectable()
export class SubscriptionService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
    private readonly throttler: Throttler,
  ) {}

  subscribe(socket: ViewerSocket, payload: unknown): SubscribeAck {
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

    const snapshots: Snapshot[] = [];
    const trades: TradeBatch[] = [];
    const gaps: string[] = [];
    for (const symbol of symbols) {
      const i = this.market.indexOf(symbol);
      const snapshot = this.market.snapshot(i);
      snapshots.push(snapshot);
      this.hold(socket, symbol, i, k, tierMs, snapshot);
      const since = req.since?.[symbol];
      if (since !== undefined) {
        const missed = this.market.tradesAfter(i, since);
        if (missed === null) gaps.push(symbol);
        else if (missed.length > 0) trades.push({ symbol, trades: missed });
      }
    }
    return { ok: true, throttleMs: tierMs, snapshots, trades, gaps };
  }

  unsubscribe(socket: ViewerSocket, payload: unknown): UnsubscribeAck {
    const parsed = UnsubscribeRequestSchema.safeParse(payload);
    if (!parsed.success) return badRequest(parsed.error);
    const symbols = [...new Set(parsed.data.symbols)];
    const unknown = this.rejectUnknown(symbols);
    if (unknown) return unknown;
    const removed: string[] = [];
    for (const symbol of symbols) {
      const sub = socket.data.subs.get(symbol);
      if (!sub) continue;
      socket.data.subs.delete(symbol);
      void socket.leave(quoteRoom(symbol, sub.tierMs));
      void socket.leave(tradeRoom(symbol));
      removed.push(symbol);
    }
    return { ok: true, symbols: removed };
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

  /** Puts the socket in the rooms of one symbol at tier `k`, given the snapshot it was just sent. */
  private hold(socket: ViewerSocket, symbol: string, i: number, k: number, tierMs: number, snapshot: Snapshot): void {
    const subs = socket.data.subs;
    const previous = subs.get(symbol);
    if (previous) void socket.leave(quoteRoom(symbol, previous.tierMs));
    void socket.leave(tradeRoom(symbol));
    const sub: Subscription = { tierMs };
    subs.set(symbol, sub);
    const current = () => socket.connected && subs.get(symbol) === sub;

    // Trades queued for the next flush are at or below the snapshot's tradeSeq: join after it,
    // then send what came after the snapshot in the meantime.
    const qRoom = quoteRoom(symbol, tierMs);
    const tRoom = tradeRoom(symbol);
    if (!this.throttler.hasPendingTrades(i)) {
      void socket.join(tRoom);
    } else {
      this.throttler.afterNextFlush(0, () => {
        if (!current()) return;
        void socket.join(tRoom);
        const missed = this.market.tradesAfter(i, snapshot.tradeSeq);
        if (missed && missed.length > 0) socket.emit('trades', { symbol, trades: missed });
      });
    }
    // Likewise the tier's next flush would repeat the snapshot's seq: join after it.
    if (!this.throttler.isDirty(k, i)) {
      void socket.join(qRoom);
    } else {
      this.throttler.afterNextFlush(k, () => {
        if (!current()) return;
        void socket.join(qRoom);
        const seq = this.market.seqAt(i);
        if (seq > snapshot.seq) {
          const quote = this.market.quoteState(i) as Quote;
          quote.conflated = seq - snapshot.seq;
          socket.emit('quotes', [quote]);
        }
      });
    }
  }
}
