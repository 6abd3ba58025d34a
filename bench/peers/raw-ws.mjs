// Shared by the two raw `ws` limit peers (limit-ws.mjs, limit-frame.mjs), BASELINES, not the
// product: the HTTP + WebSocket server and just enough Engine.IO v4 / Socket.IO v5 on it (open
// packet, the `/market` CONNECT, `subscribe` with its ack, pings) for the same lean client to
// run against them unchanged. Not a Socket.IO server: no polling, no reconnection state, no
// binary, no other events.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { Sender, WebSocketServer } from 'ws';
import { exitOnSignals, parseSubscribe } from './common.mjs';

/** @typedef {import('node:net').Socket} NetSocket */
/** @typedef {import('ws').WebSocket} WebSocket */
/** @typedef {Exclude<ReturnType<typeof parseSubscribe>, { ok: false }>} SubscribeRequest */

export const NSP = '/market';
const PING_INTERVAL_MS = 25_000;
const PING_TIMEOUT_MS = 20_000;

/** Text -> one complete, unmasked WebSocket text frame. @param {string} text */
export function frame(text) {
  const parts = Sender.frame(Buffer.from(text), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false });
  return Buffer.concat(parts);
}

/**
 * @typedef {object} RawWsPeer
 * @property {string} name            for the `listening on` line
 * @property {string} host
 * @property {number} port
 * @property {import('./common.mjs').PeerMarket} market
 * @property {number[]} tiers
 * @property {(socket: NetSocket) => {
 *   subscribe: (req: SubscribeRequest) => unknown[],
 *   close: () => void,
 * }} onConnection  per connection: `subscribe` returns the ack's snapshots; `close` on disconnect
 * @property {() => void} stop        the peer's own timers and feed, on exit
 */

/**
 * Serves a raw-ws peer on `host:port` and stops it on signals. Writes to a subscriber go to its
 * TCP socket (`onConnection`'s argument) directly, below ws's Sender: the frames are complete.
 * @param {RawWsPeer} peer
 */
export function serveRawWs(peer) {
  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http, path: '/socket.io/', perMessageDeflate: false, maxPayload: 100_000 });

  wss.on('connection', (ws) => {
    const socket = /** @type {NetSocket} */ (/** @type {any} */ (ws)._socket);
    const conn = peer.onConnection(socket);
    let connected = false;
    const sid = randomBytes(15).toString('base64url');
    ws.send(
      `0${JSON.stringify({ sid, upgrades: [], pingInterval: PING_INTERVAL_MS, pingTimeout: PING_TIMEOUT_MS, maxPayload: 1_000_000 })}`,
    );
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003);
      const text = data.toString();
      if (text === '3') return; // pong
      if (!connected && text.startsWith(`40${NSP}`)) {
        connected = true;
        ws.send(`40${NSP},${JSON.stringify({ sid: randomBytes(15).toString('base64url') })}`);
        return;
      }
      const m = connected ? /^42\/market,(\d+)(\[.*)$/s.exec(text) : null;
      if (!m) return;
      let event;
      try {
        event = JSON.parse(m[2] ?? '');
      } catch {
        return ws.close(1007);
      }
      if (!Array.isArray(event) || event[0] !== 'subscribe') return;
      const req = parseSubscribe(event[1], peer.market, peer.tiers);
      const ack = req.ok
        ? { ok: true, throttleMs: req.tierMs, snapshots: conn.subscribe(req), trades: [], gaps: [] }
        : req;
      ws.send(`43${NSP},${m[1]}${JSON.stringify([ack])}`);
    });
    ws.on('close', () => conn.close());
    ws.on('error', () => {});
  });

  const ping = frame('2');
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      const socket = /** @type {NetSocket} */ (/** @type {any} */ (ws)._socket);
      if (socket.writable) socket.write(ping);
    }
  }, PING_INTERVAL_MS);

  exitOnSignals(() => {
    peer.stop();
    clearInterval(pinger);
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    http.close();
  });
  http.listen(peer.port, peer.host, () => {
    const addr = /** @type {import('node:net').AddressInfo} */ (http.address());
    console.log(`${peer.name}: listening on http://${peer.host}:${addr.port}`);
  });
}
