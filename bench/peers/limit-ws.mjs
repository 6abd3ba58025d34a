// BASELINE PEER, not the product: "the limit". Raw `ws`, the same throttled, conflated rooms as
// the gateway, but each message is encoded and framed ONCE and the same bytes are written
// straight to every subscriber's TCP socket. Nothing in Node on this machine delivers frames
// faster. It speaks just enough Engine.IO v4 / Socket.IO v5 (open packet, namespace connect,
// subscribe with ack, pings) for the same lean client to run against it unchanged; it is not a
// Socket.IO server (no polling, no reconnection state, no binary, no other events).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { tradeRoom } from '@tickdeck/protocol';
import { Sender, WebSocketServer } from 'ws';
import {
  exitOnSignals,
  parseSubscribe,
  peerConfig,
  PeerMarket,
  quoteRoom,
  startFeed,
  startThrottler,
} from './common.mjs';

const NSP = '/market';
const PING_INTERVAL_MS = 25_000;
const PING_TIMEOUT_MS = 20_000;

const cfg = peerConfig('limit-ws');
const market = new PeerMarket();

/** @typedef {import('node:net').Socket} NetSocket */
/** @type {Map<string, Set<NetSocket>>} room -> members' TCP sockets */
const rooms = new Map();

/** Text -> one complete, unmasked WebSocket text frame. @param {string} text */
function frame(text) {
  const parts = Sender.frame(Buffer.from(text), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false });
  return Buffer.concat(parts);
}

/** @param {string} room @param {string} packet an encoded Socket.IO packet */
function broadcast(room, packet) {
  const members = rooms.get(room);
  if (!members || members.size === 0) return;
  const bytes = frame(packet);
  for (const socket of members) {
    // Below ws's Sender on purpose: the frame is already complete, so this is one write per
    // subscriber and nothing else. Safe because this server never compresses or fragments.
    if (socket.writable) socket.write(bytes);
  }
}

const throttler = startThrottler(market, cfg.tiers, {
  members: (room) => rooms.get(room)?.size ?? 0,
  quotes: (room, quotes) => broadcast(room, `42${NSP},${JSON.stringify(['quotes', quotes])}`),
  trades: (room, batch) => broadcast(room, `42${NSP},${JSON.stringify(['trades', batch])}`),
});
const stopFeed = startFeed(cfg, {
  tick: (t) => market.applyTick(t),
  trade: (t) => {
    const applied = market.applyTrade(t);
    if (applied) throttler.tradeApplied(applied.index, applied.trade);
  },
});

const http = createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server: http, path: '/socket.io/', perMessageDeflate: false, maxPayload: 100_000 });

wss.on('connection', (ws) => {
  const socket = /** @type {NetSocket} */ (/** @type {any} */ (ws)._socket);
  /** @type {Set<string>} */
  const joined = new Set();
  let connected = false;
  const sid = randomBytes(15).toString('base64url');
  ws.send(
    `0${JSON.stringify({ sid, upgrades: [], pingInterval: PING_INTERVAL_MS, pingTimeout: PING_TIMEOUT_MS, maxPayload: 1_000_000 })}`,
  );

  const join = (/** @type {string} */ room) => {
    let members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Set()));
    members.add(socket);
    joined.add(room);
  };

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
    const req = parseSubscribe(event[1], market, cfg.tiers);
    let ack;
    if (req.ok) {
      const snapshots = [];
      for (const symbol of req.symbols) {
        for (const room of joined) {
          if (room.startsWith(`q:${symbol}:`)) {
            rooms.get(room)?.delete(socket);
            joined.delete(room);
          }
        }
        join(quoteRoom(symbol, req.tierMs));
        join(tradeRoom(symbol));
        snapshots.push(market.snapshot(market.indexOf(symbol)));
      }
      ack = { ok: true, throttleMs: req.tierMs, snapshots, trades: [], gaps: [] };
    } else {
      ack = req;
    }
    ws.send(`43${NSP},${m[1]}${JSON.stringify([ack])}`);
  });

  ws.on('close', () => {
    for (const room of joined) rooms.get(room)?.delete(socket);
    joined.clear();
  });
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
  stopFeed();
  throttler.stop();
  clearInterval(pinger);
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  http.close();
});
http.listen(cfg.port, cfg.host, () => {
  const addr = /** @type {import('node:net').AddressInfo} */ (http.address());
  console.log(`${cfg.name}: listening on http://${cfg.host}:${addr.port}`);
});
