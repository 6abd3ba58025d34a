import { ServerResponse, type IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { ErrorCode } from '@tickdeck/protocol';
import type { Namespace, Socket } from 'socket.io';
import type { ConnectionLimiter } from './connection-limiter.js';
import { dropConnection } from './engine-conn.js';
import type { OriginPolicy } from './origin-policy.js';
import type { RefusalLog } from './refusal-log.js';

/** An Engine.IO connection, as Socket.IO exposes it. */
export type EngineConn = Socket['conn'];
type AnySocket = Socket;
type Next = (err?: Error) => void;

/**
 * Refused CONNECTs (unknown namespace, bad token, caps) one connection may collect; the one that
 * reaches this closes the connection. A client library retries a refused socket by hand, rarely.
 */
export const MAX_REFUSED_CONNECTS = 5;

/** What the gate knows of one Engine.IO connection. */
export interface ConnState {
  readonly conn: EngineConn;
  /** The client's address (per TRUST_PROXY), what the caps count by. */
  readonly ip: string;
  /** Namespaces with a CONNECT in progress or a socket connected: one socket per namespace. */
  readonly nsps: string[];
  /** Sockets connected over this connection. */
  readonly sockets: AnySocket[];
  /** Refused CONNECTs so far. */
  refused: number;
  /** Connections this one counts as against the caps: max(1, sockets). */
  weight: number;
  /** An authenticated `/feed` publisher: frames up to MAX_FEED_FRAME_BYTES. */
  feed: boolean;
}

export interface ConnectionGateLimits {
  /** Largest frame accepted on a connection that is not a feed publisher's. */
  viewerFrameBytes: number;
}

/** A coded refusal for a namespace middleware's `next`: the client's `connect_error` carries `data`. */
export function refusalError(code: ErrorCode, message: string): Error {
  const err = new Error(message) as Error & { data?: unknown };
  err.data = { code, message };
  return err;
}

/** The token a client sent in its handshake's `auth` (`io(url, {auth: {token}})`), if any. */
export function handshakeToken(socket: { handshake: { auth: unknown } }): unknown {
  const auth = socket.handshake.auth;
  return typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
}

/** The namespace a raw Socket.IO packet is for (`0/market,{...}` -> `/market`, `0{...}` -> `/`). */
export function packetNamespace(data: string): string {
  if (data.charCodeAt(1) !== 47 /* '/' */) return '/';
  const comma = data.indexOf(',', 1);
  return comma < 0 ? data.slice(1) : data.slice(1, comma);
}

/**
 * Everything decided about a connection before and around its sockets, for every namespace:
 * - every Engine.IO HTTP request and upgrade (`engine.use`): the Origin allowlist, JSONP polling
 *   refused, `nosniff` on polling responses;
 * - each new session (`allowRequest`): the connection caps;
 * - each incoming frame (`packet`, before Socket.IO decodes it): the frame bound, and CONNECT
 *   packets: one socket per namespace (a second CONNECT to a namespace drops the connection),
 *   unknown namespaces and refusals counted (the {@link MAX_REFUSED_CONNECTS}th closes it);
 * - each socket (namespace middleware): a socket beyond the connection's first counts against
 *   the caps like a connection of its own.
 * It keeps one {@link ConnState} per connection, which the slow-consumer sweep walks.
 */
export class ConnectionGate {
  private readonly conns = new Map<EngineConn, ConnState>();
  /** Namespaces the gate fronts; a CONNECT to any other is refused by Socket.IO (counted here). */
  private readonly served = new Set<string>();
  // One listener of each kind shared by every connection and socket (Engine.IO and Socket.IO call
  // them with `this` = the emitter): an idle connection costs no closure of its own.
  private readonly onClose: (this: EngineConn) => void;
  private readonly onPacket: (this: EngineConn, packet: { type: string; data?: unknown }) => void;
  private readonly onSocketGone: (this: AnySocket) => void;

  constructor(
    private readonly origins: OriginPolicy,
    private readonly limiter: ConnectionLimiter,
    private readonly refusals: RefusalLog,
    private readonly limits: ConnectionGateLimits,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' `this` is the emitter
    const gate = this;
    this.onClose = function () {
      gate.closed(this);
    };
    this.onPacket = function (packet) {
      gate.inspect(this, packet);
    };
    this.onSocketGone = function () {
      gate.socketGone(this);
    };
  }

  /** Connections open now, with their sockets (a live view). */
  connections(): IterableIterator<ConnState> {
    return this.conns.values();
  }

  /**
   * The caps Engine.IO connections count against (`MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_IP`),
   * for connections that are not Engine.IO's (SSE streams) to count in the same totals.
   */
  get caps(): ConnectionLimiter {
    return this.limiter;
  }

  get size(): number {
    return this.conns.size;
  }

  /** For CORS: whether a cross-origin browser request may read responses. */
  allowsOrigin(origin: string | undefined): boolean {
    return this.origins.allows(origin);
  }

  /**
   * Engine.IO middleware: runs for every HTTP request (handshake, polling GET and POST) and every
   * websocket upgrade, new session or not, before Engine.IO looks at it.
   */
  httpMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void): void => {
    const origin = req.headers.origin;
    if (!this.origins.allows(origin)) {
      return this.refuseHttp(
        req,
        res,
        next,
        ErrorCode.FORBIDDEN_ORIGIN,
        `origin ${JSON.stringify(origin).slice(0, 200)} is not allowed (ALLOWED_ORIGINS)`,
      );
    }
    const q = req.url?.indexOf('?') ?? -1;
    if (q >= 0 && parseQuery(req.url!.slice(q + 1)).j !== undefined) {
      // JSONP answers through a <script> tag, which sends no Origin: nothing could check it.
      return this.refuseHttp(req, res, next, ErrorCode.BAD_REQUEST, 'JSONP polling is not served');
    }
    // Polling bodies are text/plain that a browser must never sniff into script or HTML.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  };

  /** Engine.IO `allowRequest`: runs for every new session, polling or websocket. */
  allowRequest = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const ip = this.limiter.addressOf(req);
    const refusal = this.limiter.check(ip);
    if (refusal) {
      this.refusals.refuse(refusal.code, ip, refusal.message);
      return callback(`${refusal.code}: ${refusal.message}`, false);
    }
    callback(null, true);
  };

  /** For every Engine.IO connection, from its handshake on. */
  watch(conn: EngineConn): void {
    const ip = this.limiter.addressOf(conn.request);
    this.conns.set(conn, { conn, ip, nsps: [], sockets: [], refused: 0, weight: 1, feed: false });
    this.limiter.opened(ip);
    conn.on('close', this.onClose);
    // 'packet' fires before Socket.IO decodes the frame, so an oversized one is never parsed.
    conn.on('packet', this.onPacket);
  }

  /** Puts the gate in front of a namespace; `open: false` refuses every socket there. */
  serve(nsp: Namespace, open = true): void {
    this.served.add(nsp.name);
    nsp.use(open ? this.admit : this.refuseAll);
    nsp.on('connection', (socket: AnySocket) => this.attach(socket));
  }

  /** The connection may carry feed-sized frames (its publisher passed `/feed`'s token check). */
  allowFeedFrames(conn: EngineConn): void {
    const state = this.conns.get(conn);
    if (state) state.feed = true;
  }

  /** The connection's state, while it is open. */
  stateOf(conn: object): ConnState | undefined {
    return this.conns.get(conn as EngineConn);
  }

  /**
   * Refuses a socket from a namespace middleware: coded `connect_error`, a bounded log line, and
   * the connection closed once it has collected {@link MAX_REFUSED_CONNECTS} refusals.
   */
  refuse(socket: AnySocket, next: Next, code: ErrorCode, message: string): void {
    const state = this.conns.get(socket.conn);
    this.refusals.refuse(code, state?.ip ?? socket.handshake.address, `${socket.nsp.name}: ${message}`);
    next(refusalError(code, message));
    if (!state) return;
    removeFirst(state.nsps, socket.nsp.name);
    this.refused(state);
  }

  /** First middleware of every namespace: a socket beyond the connection's first is capped too. */
  private readonly admit = (socket: AnySocket, next: Next): void => {
    const state = this.conns.get(socket.conn);
    if (state && state.nsps.length > 1) {
      const refusal = this.limiter.check(state.ip);
      if (refusal) return this.refuse(socket, next, refusal.code, refusal.message);
    }
    next();
  };

  private readonly refuseAll = (socket: AnySocket, next: Next): void => {
    this.refuse(socket, next, ErrorCode.BAD_REQUEST, `nothing is served on namespace ${socket.nsp.name}`);
  };

  private attach(socket: AnySocket): void {
    const state = this.conns.get(socket.conn);
    if (!state) return;
    state.sockets.push(socket);
    this.reweigh(state);
    socket.on('disconnect', this.onSocketGone);
  }

  private socketGone(socket: AnySocket): void {
    const state = this.conns.get(socket.conn);
    if (!state) return;
    removeFirst(state.sockets, socket);
    removeFirst(state.nsps, socket.nsp.name);
    this.reweigh(state);
  }

  /** Keeps the caps' count of this connection at max(1, its sockets). */
  private reweigh(state: ConnState): void {
    const weight = Math.max(1, state.sockets.length);
    for (; state.weight < weight; state.weight++) this.limiter.opened(state.ip);
    for (; state.weight > weight; state.weight--) this.limiter.closed(state.ip);
  }

  private closed(conn: EngineConn): void {
    const state = this.conns.get(conn);
    if (!state) return;
    this.conns.delete(conn);
    for (; state.weight > 0; state.weight--) this.limiter.closed(state.ip);
  }

  private inspect(conn: EngineConn, packet: { type: string; data?: unknown }): void {
    if (packet.type !== 'message') return;
    const state = this.conns.get(conn);
    if (!state) return;
    // Binary attachments are bounded the same way (and in number by socket.io-parser).
    const data = packet.data as string | ArrayBufferLike | ArrayBufferView | undefined;
    const max = this.limits.viewerFrameBytes;
    const size =
      typeof data === 'string'
        ? data.length * 3 > max
          ? Buffer.byteLength(data)
          : data.length
        : (data?.byteLength ?? 0);
    if (typeof data === 'string' && data.charCodeAt(0) === 48 /* '0': CONNECT */) {
      return this.connecting(state, packetNamespace(data), size);
    }
    if (size > max && !state.feed) {
      this.closeConn(state, ErrorCode.FRAME_TOO_LARGE, `frame of ${size} bytes, over ${max} (MAX_VIEWER_FRAME_BYTES)`);
    }
  }

  /** A CONNECT packet, before Socket.IO sees it. */
  private connecting(state: ConnState, nsp: string, size: number): void {
    const max = this.limits.viewerFrameBytes;
    if (size > max) {
      // Answered as a connect_error (a token too long for a frame), then the connection closes.
      const message = `CONNECT of ${size} bytes, over ${max} (MAX_VIEWER_FRAME_BYTES)`;
      this.refusals.refuse(ErrorCode.FRAME_TOO_LARGE, state.ip, message);
      state.conn.write(
        `4${nsp === '/' ? '' : `${nsp},`}${JSON.stringify(refusalBody(ErrorCode.FRAME_TOO_LARGE, message))}`,
      );
      state.conn.close();
      return;
    }
    if (state.nsps.includes(nsp)) {
      // No Socket.IO client sends this: one socket per namespace, the next CONNECT is an attack.
      this.refusals.refuse(
        ErrorCode.BAD_REQUEST,
        state.ip,
        `a second CONNECT to ${nsp.slice(0, 32)} on one connection: dropped`,
        'DUPLICATE_CONNECT',
      );
      dropConnection(state.conn);
      return;
    }
    if (!this.served.has(nsp)) {
      // Socket.IO answers "Invalid namespace" by itself; the gate only counts it.
      this.refusals.refuse(
        ErrorCode.BAD_REQUEST,
        state.ip,
        `CONNECT to unknown namespace ${JSON.stringify(nsp.slice(0, 32))}`,
        'UNKNOWN_NAMESPACE',
      );
      this.refused(state);
      return;
    }
    state.nsps.push(nsp);
  }

  private refused(state: ConnState): void {
    if (++state.refused < MAX_REFUSED_CONNECTS) return;
    this.refusals.refuse(
      ErrorCode.BAD_REQUEST,
      state.ip,
      `${state.refused} refused CONNECTs on one connection: dropped`,
      'REFUSED_CONNECTS',
    );
    dropConnection(state.conn);
  }

  /** Closes a connection for a bad frame: its sockets are told why first. */
  private closeConn(state: ConnState, code: ErrorCode, message: string): void {
    this.refusals.refuse(code, state.ip, message);
    const live = state.sockets.filter((s) => s.connected);
    for (const socket of live) socket.emit('status', { notice: { code, message } });
    // Disconnecting a socket with `close` closes the connection once its notice is flushed.
    if (live.length > 0) for (const socket of live) socket.disconnect(true);
    else state.conn.close();
  }

  private refuseHttp(
    req: IncomingMessage,
    res: ServerResponse,
    next: (err?: Error) => void,
    code: ErrorCode,
    message: string,
  ): void {
    this.refusals.refuse(code, this.limiter.addressOf(req), message);
    // Engine.IO's own error shape: its code (3 bad request, 4 forbidden) and ours in the message.
    const forbidden = code === ErrorCode.FORBIDDEN_ORIGIN;
    const status = forbidden ? 403 : 400;
    const body = JSON.stringify({ code: forbidden ? 4 : 3, message: `${code}: ${message}` });
    if (res instanceof ServerResponse) {
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(body);
    } else {
      // A websocket upgrade: Engine.IO hands a stand-in response; answer on the raw socket.
      const socket = req.socket;
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${status} ${forbidden ? 'Forbidden' : 'Bad Request'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    }
    // Engine.IO sees the response is already sent and writes nothing more.
    next(new Error(code));
  }
}

function refusalBody(
  code: ErrorCode,
  message: string,
): { message: string; data: { code: ErrorCode; message: string } } {
  return { message, data: { code, message } };
}

function removeFirst<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
