/**
 * The one place that reads Engine.IO's connection internals (`writeBuffer`, the `ws` socket
 * behind a websocket transport); `engine-conn.spec.ts` fails when the library changes them.
 */

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
