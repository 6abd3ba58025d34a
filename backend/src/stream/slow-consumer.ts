import { ErrorCode, type Status } from '@tickdeck/protocol';

/** The parts of an Engine.IO socket (`socket.conn`) the guard reads; most are untyped internals. */
export interface EngineConn {
  readonly readyState: string;
  readonly transport: { readonly name: string; readonly writable: boolean };
  close(discard?: boolean): unknown;
}

interface EngineInternals {
  /** Packets waiting for the transport to become writable again. */
  writeBuffer?: readonly { data?: string | ArrayBufferLike | ArrayBufferView }[];
  transport: { socket?: { bufferedAmount?: number; terminate?: () => void } };
}

/** Room of the sockets whose connection is backed up: quote broadcasts skip it. */
export const LAGGING_ROOM = 'lagging';

/** The parts of a Socket.IO socket the guard uses. */
export interface GuardedSocket {
  readonly id: string;
  readonly conn: EngineConn;
  readonly rooms: ReadonlySet<string>;
  join(room: string): unknown;
  leave(room: string): unknown;
  emit(event: 'status', status: Status): unknown;
  disconnect(close: boolean): unknown;
}

/**
 * Bytes queued in the gateway's memory for one connection: Engine.IO's write buffer (packets held
 * while the transport is busy; string length stands in for bytes, the frames are ASCII JSON) plus,
 * on WebSocket, what the `ws` socket has handed to Node but not yet to the kernel (`bufferedAmount`:
 * the net socket's writableLength and the sender's queue). What sits in kernel buffers is not
 * counted: it is not the process's memory and it is bounded by the kernel.
 */
export function queuedBytes(conn: EngineConn): number {
  const internals = conn as unknown as EngineInternals;
  let bytes = 0;
  for (const packet of internals.writeBuffer ?? []) {
    const data = packet.data;
    bytes += data === undefined ? 1 : typeof data === 'string' ? data.length : data.byteLength;
  }
  if (conn.transport.name === 'websocket') bytes += internals.transport.socket?.bufferedAmount ?? 0;
  return bytes;
}

/** Drops an Engine.IO connection now, without waiting for a peer that does not read. */
export function dropConnection(conn: EngineConn): void {
  if (conn.readyState === 'closed') return;
  const ws = (conn as unknown as EngineInternals).transport.socket;
  if (conn.transport.name === 'websocket' && typeof ws?.terminate === 'function') ws.terminate();
  else conn.close(true);
}

export interface SlowConsumerOptions {
  /** Bytes queued for one socket beyond which it is disconnected (`MAX_BUFFERED_BYTES`). */
  maxBufferedBytes: number;
  /** Bytes queued beyond which a socket skips quotes (joins {@link LAGGING_ROOM}); default min(64 KiB, max/4). */
  lagBytes?: number;
  /** Sweep period in ms: the fastest tier, the cadence at which trades leave. */
  periodMs: number;
  /** How long a disconnected socket may take to read its notice before its connection is dropped. */
  graceMs?: number;
  /** Told about each socket disconnected (for the log): its id and the bytes it had queued. */
  onEvict?: (id: string, bytes: number) => void;
}

/**
 * Keeps slow viewers from costing memory. Quotes are lossy: a socket with more than `lagBytes`
 * queued is put in {@link LAGGING_ROOM}, which quote broadcasts skip, until it has caught up; its
 * next quote carries the latest state, and the seq jump says exactly how many ticks it missed.
 * (Socket.IO's `volatile` flag is not used: it skips a socket whenever its transport has a write
 * in flight, which is true for a few microseconds after any frame, so a quote sent right after
 * a trade frame would be dropped for a socket that reads perfectly well.) Trades are never skipped,
 * so a socket that stops reading would hold more and more of them in the gateway's memory. A sweep
 * every `periodMs` looks at each socket: one property read for a socket whose transport is
 * writable (then nothing is queued), a sum over the write buffer otherwise; over
 * `maxBufferedBytes` the socket is sent a
 * `status {notice: SLOW_CONSUMER}` and disconnected, and after `graceMs` its connection is dropped
 * whether or not it read that notice. A socket therefore holds at most `maxBufferedBytes` plus
 * one sweep's worth of its trades, for at most `graceMs` after it went over.
 *
 * Why a sweep rather than a check after each trade broadcast: the sweep costs one read per socket
 * per period whatever each socket holds, while checking trade-room members costs one per held
 * symbol; and it keeps the throttler's flush (the measured hot path) untouched.
 */
export class SlowConsumerGuard {
  /** Sockets disconnected so far. */
  evicted = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly graceMs: number;
  private readonly lagBytes: number;

  constructor(private readonly options: SlowConsumerOptions) {
    this.graceMs = options.graceMs ?? 5000;
    this.lagBytes = options.lagBytes ?? Math.min(64 * 1024, Math.floor(options.maxBufferedBytes / 4));
  }

  /** Sweeps `sockets` (a live view, e.g. a namespace's local `sockets` map) every period. */
  start(sockets: () => Iterable<GuardedSocket>): void {
    this.stop();
    this.timer = setInterval(() => this.sweep(sockets()), this.options.periodMs);
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

  /** Checks every socket once; returns how many it disconnected. */
  sweep(sockets: Iterable<GuardedSocket>): number {
    const max = this.options.maxBufferedBytes;
    let n = 0;
    for (const socket of sockets) {
      const conn = socket.conn;
      const lagging = socket.rooms.has(LAGGING_ROOM);
      // A writable transport has handed everything to the kernel: nothing queued here.
      const bytes = conn.transport.writable ? 0 : queuedBytes(conn);
      if (bytes > max) {
        this.evict(socket, bytes);
        n++;
      } else if (bytes > this.lagBytes) {
        if (!lagging) void socket.join(LAGGING_ROOM);
      } else if (lagging) {
        void socket.leave(LAGGING_ROOM);
      }
    }
    return n;
  }

  private evict(socket: GuardedSocket, bytes: number): void {
    const max = this.options.maxBufferedBytes;
    const conn = socket.conn;
    socket.emit('status', {
      notice: {
        code: ErrorCode.SLOW_CONSUMER,
        message: `disconnected: ${bytes} bytes waited for this connection to read them, over the gateway's limit of ${max} (MAX_BUFFERED_BYTES)`,
      },
    });
    // Leaves every room at once, so nothing more is queued for it; the notice and the close
    // follow whatever the peer has not read yet.
    socket.disconnect(true);
    setTimeout(() => dropConnection(conn), this.graceMs).unref();
    this.evicted++;
    this.options.onEvict?.(socket.id, bytes);
  }
}
