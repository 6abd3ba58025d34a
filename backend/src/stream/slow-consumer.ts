import { ErrorCode, type Status } from '@tickdeck/protocol';
import { dropConnection, queuedBytes, type EngineConn } from '../security/engine-conn.js';

/** The parts of a Socket.IO socket the guard uses. */
export interface GuardedSocket {
  readonly id: string;
  readonly connected: boolean;
  emit(event: 'status', status: Status): unknown;
  disconnect(close: boolean): unknown;
}

/** One Engine.IO connection and the sockets over it (viewers, publishers, or none). */
export interface GuardedConnection {
  readonly conn: EngineConn;
  readonly sockets: readonly GuardedSocket[];
}

export interface SlowConsumerOptions {
  /** Bytes queued for one connection beyond which it is disconnected (`MAX_BUFFERED_BYTES`). */
  maxBufferedBytes: number;
  /** Bytes queued beyond which a connection's sockets skip quotes (`onLagging`); default min(64 KiB, max/4). */
  lagBytes?: number;
  /** Told when a connection's socket starts (true) or stops (false) lagging: the throttler skips its quotes meanwhile. */
  onLagging?: (socket: GuardedSocket, lagging: boolean) => void;
  /** Sweep period in ms: the fastest tier, the cadence at which trades leave. */
  periodMs: number;
  /** How long a disconnected socket may take to read its notice before its connection is dropped. */
  graceMs?: number;
  /** Told about each connection dropped (for the log): its sockets' ids and the bytes it had queued. */
  onEvict?: (conn: EngineConn, ids: string[], bytes: number) => void;
}

/**
 * Keeps connections that do not read from costing memory, whatever namespaces they hold: viewers,
 * feed publishers (their acks) and connections with no socket at all (refused CONNECTs) alike.
 * Quotes are lossy: a connection with more than `lagBytes` queued has its sockets marked lagging
 * (`onLagging`), and their frames skip quotes until it has caught up; the next frame then carries
 * the latest state, and the seq jump says exactly how many ticks it missed. (Socket.IO's
 * `volatile` flag is not used: it skips a socket whenever its transport has a write in flight,
 * which is true for a few microseconds after any frame, so a quote sent right after a trade frame
 * would be dropped for a socket that reads perfectly well.) Trades and acks are never skipped, so
 * a sweep every `periodMs` looks at each connection: one property read for a polling connection
 * whose transport is writable (then nothing is queued), otherwise the write buffer's sum plus, on
 * WebSocket, what its TCP socket holds (the frame writer writes there directly). Over
 * `maxBufferedBytes` its sockets are sent a `status {notice: SLOW_CONSUMER}` and disconnected,
 * and after `graceMs` the connection is dropped whether or not it read that notice; a connection
 * with no socket is dropped at once. A connection therefore holds at most `maxBufferedBytes`
 * plus one sweep's worth, for at most `graceMs` after it went over.
 *
 * Why a sweep rather than a check after each broadcast: the sweep costs one read per connection
 * per period whatever each holds, and it keeps the throttler's flush (the measured hot path)
 * untouched.
 */
export class SlowConsumerGuard {
  /** Connections dropped so far. */
  evicted = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly graceMs: number;
  private readonly lagBytes: number;
  /** Connections whose sockets are marked lagging. */
  private readonly lagging = new WeakSet<EngineConn>();
  private laggingCount = 0;
  /** Connections already evicted, waiting for their grace to end. */
  private readonly evicting = new WeakSet<EngineConn>();
  private readonly observers: ((bytes: number) => void)[] = [];

  constructor(private readonly options: SlowConsumerOptions) {
    this.graceMs = options.graceMs ?? 5000;
    this.lagBytes = options.lagBytes ?? Math.min(64 * 1024, Math.floor(options.maxBufferedBytes / 4));
  }

  /** Calls `fn` with the bytes each evicted connection had queued (for /metrics). */
  observe(fn: (bytes: number) => void): void {
    this.observers.push(fn);
  }

  /** Sweeps `connections` (a live view: the connection gate's) every period. */
  start(connections: () => Iterable<GuardedConnection>): void {
    this.stop();
    this.timer = setInterval(() => this.sweep(connections()), this.options.periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Nest lifecycle (the class imports no Nest): a stopping gateway closes every socket anyway. */
  beforeApplicationShutdown(): void {
    this.stop();
  }

  /** Checks every connection once; returns how many it evicted. */
  sweep(connections: Iterable<GuardedConnection>): number {
    const max = this.options.maxBufferedBytes;
    let n = 0;
    for (const c of connections) {
      const conn = c.conn;
      // A writable polling transport has nothing queued here. A websocket one may: the frame
      // writer writes to its TCP socket directly (engine-conn.ts), so its bytes are always read.
      if (conn.transport.writable && conn.transport.name !== 'websocket') {
        if (this.laggingCount > 0 && this.lagging.has(conn)) this.setLagging(c, false);
        continue;
      }
      const bytes = queuedBytes(conn);
      if (bytes > max) {
        if (this.evict(c, bytes)) n++;
      } else if (bytes > this.lagBytes) {
        if (!this.lagging.has(conn)) this.setLagging(c, true);
      } else if (this.laggingCount > 0 && this.lagging.has(conn)) {
        this.setLagging(c, false);
      }
    }
    return n;
  }

  private setLagging(c: GuardedConnection, lagging: boolean): void {
    if (lagging) {
      this.lagging.add(c.conn);
      this.laggingCount++;
    } else {
      this.lagging.delete(c.conn);
      this.laggingCount--;
    }
    const onLagging = this.options.onLagging;
    if (onLagging) for (const socket of c.sockets) onLagging(socket, lagging);
  }

  private evict(c: GuardedConnection, bytes: number): boolean {
    const conn = c.conn;
    if (this.evicting.has(conn)) return false;
    this.evicting.add(conn);
    if (this.lagging.has(conn)) {
      this.lagging.delete(conn);
      this.laggingCount--;
    }
    const max = this.options.maxBufferedBytes;
    const live = c.sockets.filter((s) => s.connected);
    const ids = live.map((s) => s.id);
    if (live.length === 0) {
      dropConnection(conn);
    } else {
      for (const socket of live) {
        socket.emit('status', {
          notice: {
            code: ErrorCode.SLOW_CONSUMER,
            message: `disconnected: ${bytes} bytes waited for this connection to read them, over the gateway's limit of ${max} (MAX_BUFFERED_BYTES)`,
          },
        });
        // Leaves every room at once, so nothing more is queued for it; the notice and the close
        // follow whatever the peer has not read yet.
        socket.disconnect(true);
      }
      setTimeout(() => dropConnection(conn), this.graceMs).unref();
    }
    this.evicted++;
    this.options.onEvict?.(conn, ids, bytes);
    for (const fn of this.observers) fn(bytes);
    return true;
  }
}
