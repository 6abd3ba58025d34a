import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ErrorCode, type ErrorBody } from '@tickdeck/protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { FeedHealth } from '../feed/feed-health.js';
import { MarketState } from '../market/market-state.js';
import { ConnectionGate } from '../security/connection-gate.js';
import type { ConnectionLimiter } from '../security/connection-limiter.js';
import { OriginPolicy } from '../security/origin-policy.js';
import { RefusalLog } from '../security/refusal-log.js';
import { AuthError, ViewerAuth } from '../security/viewer-auth.js';
import { SubscriptionService, type StreamViewer } from '../stream/subscription.service.js';
import { Throttler } from '../stream/throttler.js';
import { AddressRate } from './address-rate.js';
import { SseStream, type StreamContext } from './sse-stream.js';
import { readStreamRequest } from './stream-request.js';

/**
 * Headers of every stream. `no-transform` and the type keep compression (and proxies) from
 * buffering it; `X-Accel-Buffering: no` tells nginx the same.
 */
export const SSE_HEADERS: Readonly<OutgoingHttpHeaders> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};
/** How long a cut stream's reader has to take its last event before the connection is dropped (as for sockets). */
const CUT_GRACE_MS = 5000;
/** Longest timer Node accepts; a JWT expiring later is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The HTTP status of a refused subscribe, as REST answers the same codes. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = { [ErrorCode.UNKNOWN_SYMBOL]: 404 };

/**
 * `GET /api/stream`: the socket's market data as Server-Sent Events, for scripts and curl. A
 * stream is a viewer of the throttler like a socket, subscribed through the same
 * SubscriptionService, so it gets the same frames at the same flushes under the same seq rules.
 * Refused before it starts, as a socket is before it connects, with the socket's rules and
 * coded JSON (`{error: {code, message}}`): the Origin allowlist (403), the socket's message rate
 * per address (429), `Authorization: Bearer` when viewer auth is on (401; never a query-string
 * token), a malformed request (400; an unknown symbol 404), the connection caps, counted together
 * with Engine.IO's (429). Past `MAX_BUFFERED_BYTES` queued it is cut with `event: error`
 * `SLOW_CONSUMER` (quotes are skipped from min(64 KiB, max/4), as for a socket); a JWT's expiry
 * ends it with `TOKEN_EXPIRED`; a stopping gateway with `status {server: 'shutdown'}`.
 */
@Injectable()
export class SseService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SSE');
  private readonly streams = new Set<SseStream>();
  private readonly caps: ConnectionLimiter;
  private readonly rate: AddressRate;
  private readonly context: StreamContext;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
    private readonly throttler: Throttler<StreamViewer>,
    private readonly subscriptions: SubscriptionService,
    private readonly origins: OriginPolicy,
    private readonly auth: ViewerAuth,
    gate: ConnectionGate,
    private readonly refusals: RefusalLog,
    private readonly feedHealth: FeedHealth,
  ) {
    this.caps = gate.caps;
    this.rate = new AddressRate(config.limits.messagesPerSecond, config.limits.messageBurst);
    const max = config.limits.maxBufferedBytes;
    this.context = {
      seqs: {
        get epoch() {
          return market.epoch;
        },
        indexOf: (symbol) => market.indexOf(symbol),
        tradeSeqAt: (i) => market.tradeSeqAt(i),
        hasPendingTrades: (i) => throttler.hasPendingTrades(i),
      },
      lagBytes: Math.min(64 * 1024, Math.floor(max / 4)),
      maxBufferedBytes: max,
      // Both come from inside a throttler write: the throttler's state changes after its flush.
      onLagging: (stream, lagging) =>
        queueMicrotask(() => {
          if (stream.connected) throttler.setLagging(stream, lagging);
        }),
      onOverflow: (stream, bytes) => this.cut(stream, bytes),
      onFinish: (stream) => queueMicrotask(() => this.release(stream)),
    };
    feedHealth.onChange((feed) => {
      const data = JSON.stringify({ feed });
      for (const stream of this.streams) stream.event('status', data);
    });
  }

  /** Streams open now (for metrics and health, which count sockets only so far). */
  get size(): number {
    return this.streams.size;
  }

  onApplicationBootstrap(): void {
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.ping();
    }, this.config.sseHeartbeatMs);
    this.heartbeat.unref();
  }

  /** Ends every stream with `status {server: 'shutdown'}` (EventSource reconnects by itself). */
  beforeApplicationShutdown(): void {
    this.stopping = true;
    clearInterval(this.heartbeat);
    for (const stream of [...this.streams]) stream.finish({ event: 'status', data: { server: 'shutdown' } });
  }

  /** One `GET /api/stream`; `url` is the request's path and query as the client sent them. */
  async open(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const ip = this.caps.addressOf(req);
    const origin = req.headers.origin;
    if (!this.origins.allows(origin)) {
      const message = `origin ${JSON.stringify(origin).slice(0, 200)} is not allowed (ALLOWED_ORIGINS)`;
      this.refusals.refuse(ErrorCode.FORBIDDEN_ORIGIN, ip, `sse: ${message}`);
      return reply(res, 403, { code: ErrorCode.FORBIDDEN_ORIGIN, message });
    }
    const retryAfterMs = this.rate.take(ip);
    if (retryAfterMs > 0) {
      this.refusals.count(ErrorCode.RATE_LIMITED);
      const message = `at most ${this.config.limits.messagesPerSecond} streams opened per second per address (RATE_LIMIT_PER_S)`;
      return reply(
        res,
        429,
        { code: ErrorCode.RATE_LIMITED, message, retryAfterMs },
        {
          'Retry-After': String(Math.ceil(retryAfterMs / 1000)),
        },
      );
    }
    const query = new URL(url, 'http://gateway').searchParams;
    let expiresAt: number | undefined;
    if (this.auth.enabled) {
      const unauthorized = (message: string) => {
        this.refusals.refuse(ErrorCode.UNAUTHORIZED, ip, `sse: ${message}`);
        reply(res, 401, { code: ErrorCode.UNAUTHORIZED, message }, { 'WWW-Authenticate': 'Bearer' });
      };
      // A query string ends up in access logs, proxies' and browsers' histories: never a secret there.
      if (query.has('token')) {
        return unauthorized('tokens are accepted in Authorization: Bearer <token>, never in the query string');
      }
      try {
        expiresAt = (await this.auth.verify(ViewerAuth.bearer(req.headers.authorization))).expiresAt;
      } catch (err) {
        const why = err instanceof AuthError ? err.message : 'invalid token';
        return unauthorized(`${why} (send Authorization: Bearer <token>)`);
      }
      // Gone while its token was checked.
      if (res.destroyed) return;
    }
    if (this.stopping) {
      return reply(res, 503, { code: ErrorCode.INTERNAL, message: 'the gateway is shutting down' });
    }
    const lastEventId = req.headers['last-event-id'];
    const parsed = readStreamRequest(
      query,
      Array.isArray(lastEventId) ? lastEventId[0] : lastEventId,
      this.market.epoch,
    );
    if (!parsed.ok) return reply(res, 400, { code: ErrorCode.BAD_REQUEST, message: parsed.message });
    const refusal = this.caps.check(ip);
    if (refusal) {
      this.refusals.refuse(refusal.code, ip, `sse: ${refusal.message}`);
      return reply(res, 429, refusal);
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, SSE_HEADERS);
      res.end();
      return;
    }

    const stream = new SseStream(res, ip, this.context);
    const ack = this.subscriptions.subscribe(stream, parsed.request.subscribe);
    if (!ack.ok) return reply(res, STATUS_OF[ack.error.code] ?? 400, ack.error);
    // Open from here: counted, and its first events written in this same turn (before any flush).
    this.caps.opened(ip);
    stream.counted = true;
    this.streams.add(stream);
    res.on('close', () => this.closed(stream));
    res.on('error', () => this.closed(stream));
    res.writeHead(200, SSE_HEADERS);
    const previous = parsed.request.previousEpoch;
    if (previous !== undefined) {
      stream.event(
        'epoch',
        JSON.stringify({
          epoch: ack.epoch,
          previous,
          message: 'Last-Event-ID is of another epoch: discard what you hold and start from this snapshot',
        }),
      );
    }
    stream.start(ack, this.feedHealth.state);
    if (expiresAt !== undefined) this.expireAt(stream, expiresAt);
    this.logger.debug(`stream opened from ${ip}: ${ack.snapshots.length} symbols at ${ack.throttleMs} ms`);
  }

  /** Past MAX_BUFFERED_BYTES: the last event says why, and the connection goes after a grace. */
  private cut(stream: SseStream, bytes: number): void {
    const max = this.context.maxBufferedBytes;
    this.refusals.refuse(
      ErrorCode.SLOW_CONSUMER,
      stream.ip,
      `sse stream: ${bytes} bytes queued (MAX_BUFFERED_BYTES=${max}), dropped`,
    );
    stream.finish({
      event: 'error',
      data: {
        code: ErrorCode.SLOW_CONSUMER,
        message: `disconnected: ${bytes} bytes waited for this connection to read them, over the gateway's limit of ${max} (MAX_BUFFERED_BYTES)`,
      },
    });
    const grace = setTimeout(() => stream.destroy(), CUT_GRACE_MS);
    grace.unref();
    stream.timers.push(grace);
  }

  private expireAt(stream: SseStream, expiresAt: number): void {
    const timer = setTimeout(
      () => {
        if (!stream.connected) return;
        if (Date.now() < expiresAt) return this.expireAt(stream, expiresAt);
        const message = 'the token expired: reconnect with a fresh one';
        this.refusals.refuse(ErrorCode.TOKEN_EXPIRED, stream.ip, `sse stream closed: ${message}`);
        stream.finish({ event: 'error', data: { code: ErrorCode.TOKEN_EXPIRED, message } });
      },
      Math.max(0, Math.min(expiresAt - Date.now(), MAX_TIMER_MS)),
    );
    timer.unref();
    stream.timers.push(timer);
  }

  /** Out of the throttler and the set (the stream ended, or its response closed). */
  private release(stream: SseStream): void {
    if (!this.streams.delete(stream)) return;
    this.subscriptions.release(stream);
    this.throttler.forget(stream);
  }

  /** Its response closed (ended and sent, or the client went away): it no longer counts. */
  private closed(stream: SseStream): void {
    stream.finish();
    this.release(stream);
    for (const timer of stream.timers.splice(0)) clearTimeout(timer);
    if (!stream.counted) return;
    stream.counted = false;
    this.caps.closed(stream.ip);
  }
}

/** A refusal before the stream starts: `{error: {code, message, ...}}`, as every HTTP error is. */
function reply(res: ServerResponse, status: number, error: ErrorBody, headers: OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify({ error });
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}
