import { MARKET_NAMESPACE } from '@tickdeck/protocol';
import { type PreEncodedFrame, preEncode, writeMessage } from '../security/engine-conn.js';
import type { StreamViewer } from './subscription.service.js';

/** The Socket.IO EVENT packet of a `frame` on `/market`, around its payload's JSON. */
const PACKET_HEAD = `2${MARKET_NAMESPACE},["frame",`;

/**
 * The throttler's output: writes one `frame` payload (already JSON) to viewers as the Socket.IO
 * packet `socket.emit('frame', payload)` would make, without serialising it again. Several
 * viewers share one WebSocket frame, built once (as a Socket.IO room broadcast does), and a
 * lone websocket viewer gets one pre-built frame too (see {@link preEncode}). Any Socket.IO client decodes it, over
 * WebSocket or long-polling alike. A viewer with no socket (an SSE stream, which may share a
 * group with sockets) is handed the JSON to frame as it needs: the one check is on the field the
 * socket path reads anyway.
 */
export function writeFrames(viewers: Iterable<StreamViewer>, count: number, json: string): void {
  const packet = `${PACKET_HEAD}${json}]`;
  let framed: PreEncodedFrame | undefined;
  for (const viewer of viewers) {
    const socket = viewer.socket;
    if (socket === undefined) {
      viewer.writeFrame(json);
      continue;
    }
    if (!socket.connected) continue;
    if (framed === undefined && (count > 1 || socket.conn.transport.name === 'websocket')) framed = preEncode(packet);
    writeMessage(socket.conn, packet, framed);
  }
}
