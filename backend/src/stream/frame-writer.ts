import { MARKET_NAMESPACE } from '@tickdeck/protocol';
import { preEncode, writeMessage } from '../security/engine-conn.js';
import type { SocketViewer } from './subscription.service.js';

/** The Socket.IO EVENT packet of a `frame` on `/market`, around its payload's JSON. */
const PACKET_HEAD = `2${MARKET_NAMESPACE},["frame",`;

/**
 * The throttler's output: writes one `frame` payload (already JSON) to viewers as the Socket.IO
 * packet `socket.emit('frame', payload)` would make, without serialising it again. Several
 * viewers share one WebSocket frame, built once (as a Socket.IO room broadcast does); one
 * viewer's packet is framed by Engine.IO as usual. Any Socket.IO client decodes it, over
 * WebSocket or long-polling alike.
 */
export function writeFrames(viewers: Iterable<SocketViewer>, count: number, json: string): void {
  const packet = `${PACKET_HEAD}${json}]`;
  const shared = count > 1 ? preEncode(packet) : undefined;
  for (const viewer of viewers) {
    const socket = viewer.socket;
    if (socket.connected) writeMessage(socket.conn, packet, shared);
  }
}
