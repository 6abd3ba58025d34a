import type { IncomingMessage } from 'node:http';
import { Logger } from '@nestjs/common';
import { ErrorCode, type ClientToServerEvents, type ServerToClientEvents } from '@tickdeck/protocol';
import type { Socket } from 'socket.io';
import type { ConnectionLimiter } from './connection-limiter.js';
import type { OriginPolicy } from './origin-policy.js';
import { TokenBucket } from './rate-limiter.js';
import { AuthError, type ViewerAuth } from './viewer-auth.js';

/** An Engine.IO connection, as Socket.IO exposes it. */
type EngineConn = Socket['conn'];
type AnySocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface ViewerGuardLimits {
  viewerFrameBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
}

/** Events a viewer may send; anything else is answered with BAD_REQUEST. */
const VIEWER_EVENTS = new Set<string>(['subscribe', 'unsubscribe', 'ping']);
/** Longest timer Node accepts; a JWT expiring later is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Connections whose publisher passed `/feed`'s token check: they may send feed-sized frames. */
const feedConns = new WeakSet<object>();

/** Marks a connection as an authenticated feed publisher's (larger frames allowed). */
export function markFeedPublisher(conn: object): void {
  feedConns.add(conn);
}

/**
 * Everything decided about a viewer before and around its messages, kept out of the gateway:
 * Origin and connection caps in Engine.IO's `allowRequest` (before any session exists), the
 * frame-size bound per connection, opt-in token/JWT auth as `/market` middleware (never
 * connect-then-kick), a token bucket per socket, unknown events, and JWT expiry mid-session.
 */
export class ViewerGuard {
  private readonly logger = new Logger(ViewerGuard.name);
  /** Refusals and disconnects by code, for /metrics. */
  readonly refusals = new Map<string, number>();
  /** `/market`'s local sockets, to find the viewer on a connection being closed. */
  private viewers: ReadonlyMap<string, AnySocket> = new Map();
  // One listener of each kind shared by every connection (Engine.IO calls it with `this` = the
  // connection): an idle connection costs no closure of its own.
  private readonly onClose: (this: EngineConn) => void;
  private readonly onPacket: (this: EngineConn, packet: { type: string; data?: unknown }) => void;

  constructor(
    private readonly origins: OriginPolicy,
    private readonly connections: ConnectionLimiter,
    private readonly auth: ViewerAuth,
    private readonly limits: ViewerGuardLimits,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' `this` is the connection
    const guard = this;
    this.onClose = function () {
      guard.connections.closed(guard.connections.addressOf(this.request));
    };
    this.onPacket = function (packet) {
      guard.checkFrame(this, packet);
    };
  }

  /** Where the viewers are: `/market`'s local sockets. */
  bindViewers(sockets: ReadonlyMap<string, AnySocket>): void {
    this.viewers = sockets;
  }

  private count(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  /** For CORS: whether a cross-origin browser request may read responses. */
  allowsOrigin(origin: string | undefined): boolean {
    return this.origins.allows(origin);
  }

  /** Engine.IO `allowRequest`: runs for every handshake, polling or websocket, before a session. */
  allowRequest = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const origin = req.headers.origin;
    if (!this.origins.allows(origin)) {
      this.count(ErrorCode.FORBIDDEN_ORIGIN);
      this.logger.warn(`refused a handshake from origin ${JSON.stringify(origin).slice(0, 200)}`);
      return callback(`${ErrorCode.FORBIDDEN_ORIGIN}: origin not allowed (ALLOWED_ORIGINS)`, false);
    }
    const refusal = this.connections.check(this.connections.addressOf(req));
    if (refusal) {
      this.count(refusal.code);
      return callback(`${refusal.code}: ${refusal.message}`, false);
    }
    callback(null, true);
  };

  /** For every Engine.IO connection: counts it against the caps, and bounds viewers' frames. */
  watch(conn: EngineConn): void {
    this.connections.opened(this.connections.addressOf(conn.request));
    conn.on('close', this.onClose);
    // 'packet' fires before Socket.IO decodes the frame, so an oversized one is never parsed.
    conn.on('packet', this.onPacket);
  }

  private checkFrame(conn: EngineConn, packet: { type: string; data?: unknown }): void {
    if (packet.type !== 'message' || feedConns.has(conn)) return;
    const max = this.limits.viewerFrameBytes;
    // Binary attachments are bounded the same way (and in number by socket.io-parser).
    const data = packet.data as string | ArrayBufferLike | ArrayBufferView | undefined;
    const size =
      typeof data === 'string'
        ? data.length * 3 > max
          ? Buffer.byteLength(data)
          : data.length
        : (data?.byteLength ?? 0);
    if (size > max) {
      this.closeConn(conn, ErrorCode.FRAME_TOO_LARGE, `frame of ${size} bytes, over ${max} (MAX_VIEWER_FRAME_BYTES)`);
    }
  }

  /** `/market` namespace middleware: the handshake's `auth.token`, when auth is on. */
  authenticate = (socket: AnySocket, next: (err?: Error) => void): void => {
    if (!this.auth.enabled) return next();
    const refuse = (message: string) => {
      this.count(ErrorCode.UNAUTHORIZED);
      this.logger.warn(`refused a viewer from ${socket.handshake.address}: ${message}`);
      const err = new Error(message) as Error & { data?: unknown };
      err.data = { code: ErrorCode.UNAUTHORIZED, message };
      next(err);
    };
    if ('token' in socket.handshake.query) {
      return refuse('tokens are accepted in the handshake auth (auth.token), never in the query string');
    }
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    this.auth.verify(token).then(
      (grant) => {
        (socket.data as { expiresAt?: number }).expiresAt = grant.expiresAt;
        next();
      },
      (err: unknown) => refuse(err instanceof AuthError ? err.message : 'invalid token'),
    );
  };

  /** For a connected viewer: rate limit, unknown events, frame notices, token expiry. */
  attach(socket: AnySocket): void {
    const bucket = new TokenBucket(this.limits.messagesPerSecond, this.limits.messageBurst);
    socket.use((packet, next) => {
      const [event] = packet;
      const last: unknown = packet[packet.length - 1];
      const ack = typeof last === 'function' ? (last as (res: unknown) => void) : undefined;
      const retryAfterMs = bucket.take();
      if (retryAfterMs > 0) {
        this.count(ErrorCode.RATE_LIMITED);
        if (bucket.refused > this.limits.messageBurst) {
          this.disconnect(
            socket,
            ErrorCode.RATE_LIMITED,
            `more than ${this.limits.messageBurst} messages over the rate limit in one second`,
          );
          return;
        }
        ack?.({
          ok: false,
          error: {
            code: ErrorCode.RATE_LIMITED,
            message: `at most ${this.limits.messagesPerSecond} messages per second`,
            retryAfterMs,
          },
        });
        return;
      }
      if (typeof event !== 'string' || !VIEWER_EVENTS.has(event)) {
        this.count(ErrorCode.BAD_REQUEST);
        ack?.({
          ok: false,
          error: { code: ErrorCode.BAD_REQUEST, message: `unknown event (expected ${[...VIEWER_EVENTS].join(', ')})` },
        });
        return;
      }
      next();
    });
    const expiresAt = (socket.data as { expiresAt?: number }).expiresAt;
    if (expiresAt !== undefined) this.expireAt(socket, expiresAt);
  }

  private expireAt(socket: AnySocket, expiresAt: number): void {
    const wait = expiresAt - Date.now();
    const timer = setTimeout(
      () => {
        if (!socket.connected) return;
        if (Date.now() < expiresAt) return this.expireAt(socket, expiresAt);
        this.disconnect(socket, ErrorCode.TOKEN_EXPIRED, 'the token expired: reconnect with a fresh one');
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    timer.unref();
    socket.once('disconnect', () => clearTimeout(timer));
  }

  /** Tells the socket why, then closes its connection (the notice is flushed first). */
  disconnect(socket: AnySocket, code: ErrorCode, message: string): void {
    if (!socket.connected) return;
    this.count(code);
    this.logger.warn(`disconnecting viewer ${socket.id} (${socket.handshake.address}): ${code}: ${message}`);
    socket.emit('status', { notice: { code, message } });
    socket.disconnect(true);
  }

  private closeConn(conn: EngineConn, code: ErrorCode, message: string): void {
    // A scan, but only for a connection being thrown out (each costs its sender a new handshake).
    for (const socket of this.viewers.values()) {
      if (socket.conn === conn && socket.connected) return this.disconnect(socket, code, message);
    }
    this.count(code);
    this.logger.warn(`closing a connection (${conn.remoteAddress}): ${code}: ${message}`);
    conn.close();
  }
}
