import { ErrorCode, type ClientToServerEvents, type NodeEvents, type ServerToClientEvents } from '@tickdeck/protocol';
import type { Socket } from 'socket.io';
import { handshakeToken, type ConnectionGate } from './connection-gate.js';
import { TokenBucket } from './rate-limiter.js';
import type { RefusalLog } from './refusal-log.js';
import { AuthError, type ViewerAuth } from './viewer-auth.js';

/** What the viewer session keeps on a `/market` socket's `data`. */
export interface ViewerSessionData {
  /** When the viewer's JWT expires, epoch ms; unset for a static token or no auth. */
  expiresAt?: number;
}

type AnySocket = Socket<ClientToServerEvents, ServerToClientEvents, NodeEvents, ViewerSessionData>;

export interface ViewerSessionLimits {
  messagesPerSecond: number;
  messageBurst: number;
}

/** Events a viewer may send; anything else is answered with BAD_REQUEST. */
const VIEWER_EVENTS = new Set<string>(['subscribe', 'unsubscribe', 'ping', 'alert:set', 'alert:clear', 'alert:list']);
/** Longest timer Node accepts; a JWT expiring later is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A `/market` viewer's session, around its messages: opt-in token/JWT auth as namespace
 * middleware (never connect-then-kick), a token bucket per socket, unknown events, and JWT
 * expiry mid-session. What is decided per connection (Origin, caps, frames, CONNECTs) is the
 * {@link ConnectionGate}'s.
 */
export class ViewerSession {
  constructor(
    private readonly gate: ConnectionGate,
    private readonly auth: ViewerAuth,
    private readonly refusals: RefusalLog,
    private readonly limits: ViewerSessionLimits,
  ) {}

  /** `/market` namespace middleware: the handshake's `auth.token`, when auth is on. */
  authenticate = (socket: AnySocket, next: (err?: Error) => void): void => {
    if (!this.auth.enabled) return next();
    const refuse = (message: string) => this.gate.refuse(socket, next, ErrorCode.UNAUTHORIZED, message);
    if ('token' in socket.handshake.query) {
      return refuse('tokens are accepted in the handshake auth (auth.token), never in the query string');
    }
    this.auth.verify(handshakeToken(socket)).then(
      (grant) => {
        socket.data.expiresAt = grant.expiresAt;
        next();
      },
      (err: unknown) => refuse(err instanceof AuthError ? err.message : 'invalid token'),
    );
  };

  /** For a connected viewer: rate limit, unknown events, token expiry. */
  attach(socket: AnySocket): void {
    const bucket = new TokenBucket(this.limits.messagesPerSecond, this.limits.messageBurst);
    socket.use((packet, next) => {
      const [event] = packet;
      const last: unknown = packet[packet.length - 1];
      const ack = typeof last === 'function' ? (last as (res: unknown) => void) : undefined;
      const retryAfterMs = bucket.take();
      if (retryAfterMs > 0) {
        this.refusals.count(ErrorCode.RATE_LIMITED);
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
        this.refusals.count(ErrorCode.BAD_REQUEST);
        ack?.({
          ok: false,
          error: { code: ErrorCode.BAD_REQUEST, message: `unknown event (expected ${[...VIEWER_EVENTS].join(', ')})` },
        });
        return;
      }
      next();
    });
    const expiresAt = socket.data.expiresAt;
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
    const ip = this.gate.stateOf(socket.conn)?.ip ?? socket.handshake.address;
    this.refusals.refuse(code, ip, `viewer ${socket.id} disconnected: ${message}`);
    socket.emit('status', { notice: { code, message } });
    socket.disconnect(true);
  }
}
