import { Inject, Injectable } from '@nestjs/common';
import {
  ErrorCode,
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
import type { ViewerSessionData } from '../security/viewer-session.js';
import { Throttler, type QuoteGroup } from './throttler.js';

/** One held symbol of one socket. A new object per (re)subscription, so stale deferred work can tell. */
interface Subscription {
  readonly tierMs: number;
  /** False until the socket may get quotes for it without repeating its snapshot. */
  ready: boolean;
}

/** What the gateway keeps per viewer socket: everything on `socket.data`. */
export interface ViewerData extends ViewerSessionData {
  subs: Map<string, Subscription>;
  /** Per tier (ms), the subscription-set group the socket receives its quotes through. */
  groups: Map<number, QuoteGroup>;
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
 * Subscribe and unsubscribe, for the `/market` gateway: validates, answers with snapshots, and
 * moves the socket between rooms: per tier the subscription-set group room `g:{TIER}:{id}` its
 * quotes come through, and per symbol the trade room `t:{SYMBOL}`. A socket enters a room only
 * when the room's next flush cannot repeat what its snapshot already says, so every quote it
 * receives is newer than its snapshot (and every trade newer than the snapshot's `tradeSeq`),
 * each exactly once. A `since` is honoured only in the market's epoch; from another it is a gap.
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
    const held: [string, Subscription, Snapshot][] = [];
    const moved = new Set<number>();
    // Seqs of another epoch count other trades: what came after them cannot be told, only a gap.
    const sameEpoch = req.epoch === this.market.epoch;
    let dirty = false;
    for (const symbol of symbols) {
      const i = this.market.indexOf(symbol);
      const snapshot = this.market.snapshot(i);
      snapshots.push(snapshot);
      const previous = subs.get(symbol);
      if (previous && previous.tierMs !== tierMs) moved.add(previous.tierMs);
      const sub: Subscription = { tierMs, ready: false };
      subs.set(symbol, sub);
      this.joinTrades(socket, symbol, i, sub, snapshot.tradeSeq);
      held.push([symbol, sub, snapshot]);
      dirty ||= this.throttler.isDirty(k, i);
      const since = req.since?.[symbol];
      if (since !== undefined) {
        const missed = sameEpoch ? this.market.tradesAfter(i, since) : null;
        if (missed === null) gaps.push(symbol);
        else if (missed.length > 0) trades.push({ symbol, trades: missed });
      }
    }
    for (const tier of moved) this.sync(socket, tier);
    if (!dirty) {
      for (const [, sub] of held) sub.ready = true;
      this.sync(socket, tierMs);
    } else {
      // The tier's next flush would repeat what the snapshots say: receive these symbols from the
      // flush after it, and get right after it only what moved past each snapshot.
      this.sync(socket, tierMs);
      this.throttler.afterNextFlush(k, () => this.ready(socket, tierMs, held));
    }
    return { ok: true, throttleMs: tierMs, epoch: this.market.epoch, snapshots, trades, gaps };
  }

  unsubscribe(socket: ViewerSocket, payload: unknown): UnsubscribeAck {
    const parsed = UnsubscribeRequestSchema.safeParse(payload);
    if (!parsed.success) return badRequest(parsed.error);
    const symbols = [...new Set(parsed.data.symbols)];
    const unknown = this.rejectUnknown(symbols);
    if (unknown) return unknown;
    const removed: string[] = [];
    const tiers = new Set<number>();
    for (const symbol of symbols) {
      const sub = socket.data.subs.get(symbol);
      if (!sub) continue;
      socket.data.subs.delete(symbol);
      void socket.leave(tradeRoom(symbol));
      tiers.add(sub.tierMs);
      removed.push(symbol);
    }
    for (const tier of tiers) this.sync(socket, tier);
    return { ok: true, symbols: removed };
  }

  /** Forgets a disconnected socket's groups (Socket.IO empties its rooms by itself). */
  release(socket: ViewerSocket): void {
    for (const group of socket.data.groups.values()) this.throttler.leave(group);
    socket.data.groups.clear();
    socket.data.subs.clear();
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
   * Trades queued for the next flush are at or below the snapshot's tradeSeq: join the trade room
   * after that flush, then send what came after the snapshot in the meantime.
   */
  private joinTrades(socket: ViewerSocket, symbol: string, i: number, sub: Subscription, tradeSeq: number): void {
    const room = tradeRoom(symbol);
    void socket.leave(room);
    if (!this.throttler.hasPendingTrades(i)) {
      void socket.join(room);
      return;
    }
    this.throttler.afterNextFlush(0, () => {
      if (!socket.connected || socket.data.subs.get(symbol) !== sub) return;
      void socket.join(room);
      const missed = this.market.tradesAfter(i, tradeSeq);
      if (missed && missed.length > 0) socket.emit('trades', { symbol, trades: missed });
    });
  }

  /** After a deferring flush: the held symbols become ready, with a catch-up quote where they moved. */
  private ready(socket: ViewerSocket, tierMs: number, held: [string, Subscription, Snapshot][]): void {
    if (!socket.connected) return;
    const catchUp: Quote[] = [];
    for (const [symbol, sub, snapshot] of held) {
      if (socket.data.subs.get(symbol) !== sub) continue;
      sub.ready = true;
      const i = this.market.indexOf(symbol);
      const seq = this.market.seqAt(i);
      if (seq > snapshot.seq) {
        const quote = this.market.quoteState(i) as Quote;
        quote.conflated = seq - snapshot.seq;
        catchUp.push(quote);
      }
    }
    this.sync(socket, tierMs);
    if (catchUp.length > 0) socket.emit('quotes', catchUp);
  }

  /** Moves the socket into the group of the ready symbols it holds at `tierMs`, if that changed. */
  private sync(socket: ViewerSocket, tierMs: number): void {
    const wanted: number[] = [];
    for (const [symbol, sub] of socket.data.subs) {
      if (sub.tierMs === tierMs && sub.ready) wanted.push(this.market.indexOf(symbol));
    }
    wanted.sort((a, b) => a - b);
    const groups = socket.data.groups;
    const current = groups.get(tierMs);
    if (current && current.symbols.length === wanted.length && current.symbols.every((i, n) => i === wanted[n])) return;
    if (current) {
      this.throttler.leave(current);
      void socket.leave(current.room);
      groups.delete(tierMs);
    }
    if (wanted.length > 0) {
      const group = this.throttler.join(this.throttler.tierIndex(tierMs), wanted);
      void socket.join(group.room);
      groups.set(tierMs, group);
    }
  }
}
