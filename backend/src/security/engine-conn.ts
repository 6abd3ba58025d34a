/**
 * The one place that reads Engine.IO's connection internals (`writeBuffer`, the `ws` socket
 * behind a websocket transport, the pre-encoded frame option of a write); `engine-conn.spec.ts`
 * fails when the library changes them.
 */
import { Sender as WsSender } from 'ws';

/** The parts of an Engine.IO socket (`socket.conn`) read here; most are untyped internals. */
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

/** A complete WebSocket text frame, built once and written as is to one or many connections. */
export interface PreEncodedFrame {
  /** One Buffer: header and payload together, so the socket gets a single write of Buffer bytes. */
  readonly wsPreEncodedFrame: [Buffer];
}

/**
 * Frames an Engine.IO message packet (`4` + `packet`) once, for {@link writeMessage}: Engine.IO's
 * websocket transport then writes these bytes instead of framing the packet again (what
 * Socket.IO's own room broadcasts do). It pays even for one connection: `ws` would otherwise hand
 * the kernel a header Buffer plus the packet as a string, which Node converts in a writev (the
 * profile of issue 13: a third of the gateway's time in string conversion and its garbage).
 * Polling connections ignore it.
 */
export function preEncode(packet: string): PreEncodedFrame {
  const parts = WsSender.frame(Buffer.from(`4${packet}`), {
    readOnly: false,
    mask: false,
    rsv1: false,
    opcode: 1,
    fin: true,
  });
  return { wsPreEncodedFrame: [Buffer.concat(parts)] };
}

/**
 * Queues one Engine.IO message (an encoded Socket.IO packet) on a connection, as Socket.IO's
 * `emit` ends up doing, without encoding it again; `frame` from {@link preEncode}. Nothing on a
 * connection that is not open.
 */
export function writeMessage(conn: EngineConn, packet: string, frame?: PreEncodedFrame): void {
  if (conn.readyState !== 'open') return;
  if (frame !== undefined && writeDirect(conn, frame)) return;
  // The write options object is Engine.IO's own (it sets `compress` on it), so one per write.
  (conn as unknown as EngineWrite).write(packet, frame ? { wsPreEncodedFrame: frame.wsPreEncodedFrame } : {});
}

/**
 * Writes a pre-built frame straight to the TCP socket under a websocket transport when nothing
 * of Engine.IO's is waiting to go before it (its write buffer is empty, and `ws` queues nothing
 * while its sender is idle, which it always is without compression): the bytes reach
 * the wire in the order Engine.IO would have written them, without its per-packet objects,
 * events and write callbacks. False when it did not write (polling, an upgrade in progress,
 * packets queued, a socket gone), and the caller takes Engine.IO's path.
 */
function writeDirect(conn: EngineConn, frame: PreEncodedFrame): boolean {
  const internals = conn as unknown as EngineInternals & { upgrading?: boolean };
  if (conn.transport.name !== 'websocket' || internals.upgrading) return false;
  if ((internals.writeBuffer?.length ?? 0) > 0) return false;
  const ws = internals.transport.socket as WsInternals | undefined;
  const sender = ws?._sender;
  const tcp = ws?._socket;
  if (ws?.readyState !== 1 || sender === undefined || sender._state !== 0 || (sender._queue?.length ?? 0) > 0)
    return false;
  if (tcp === undefined || !tcp.writable) return false;
  tcp.write(frame.wsPreEncodedFrame[0]);
  return true;
}

interface WsInternals {
  readyState: number;
  /** `_state` 0: DEFAULT (not deflating, not reading a Blob); `_queue`: frames held meanwhile */
  _sender?: { _state?: number; _queue?: unknown[] };
  _socket?: { writable: boolean; write(data: Buffer): boolean };
}

interface EngineWrite {
  write(data: string, options: { wsPreEncodedFrame?: Buffer[] }): unknown;
}
