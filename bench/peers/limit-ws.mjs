// BASELINE PEER, not the product: "the limit". Raw `ws`, the same throttled, conflated rooms as
// the gateway, but each message is encoded and framed ONCE and the same bytes are written
// straight to every subscriber's TCP socket. Nothing in Node on this machine delivers frames
// faster. It speaks just enough Engine.IO v4 / Socket.IO v5 (open packet, namespace connect,
// subscribe with ack, pings) for the same lean client to run against it unchanged; it is not a
// Socket.IO server (no polling, no reconnection state, no binary, no other events).
import { tradeRoom } from '@tickdeck/protocol';
import { peerConfig, PeerMarket, quoteRoom, startFeed, startThrottler } from './common.mjs';
import { frame, NSP, serveRawWs } from './raw-ws.mjs';

const cfg = peerConfig('limit-ws');
const market = new PeerMarket();

/** @typedef {import('node:net').Socket} NetSocket */
/** @type {Map<string, Set<NetSocket>>} room -> members' TCP sockets */
const rooms = new Map();

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

serveRawWs({
  name: cfg.name,
  host: cfg.host,
  port: cfg.port,
  market,
  tiers: cfg.tiers,
  onConnection: (socket) => {
    /** @type {Set<string>} */
    const joined = new Set();
    const join = (/** @type {string} */ room) => {
      let members = rooms.get(room);
      if (!members) rooms.set(room, (members = new Set()));
      members.add(socket);
      joined.add(room);
    };
    return {
      subscribe: (req) =>
        req.symbols.map((symbol) => {
          for (const room of joined) {
            if (room.startsWith(`q:${symbol}:`)) {
              rooms.get(room)?.delete(socket);
              joined.delete(room);
            }
          }
          join(quoteRoom(symbol, req.tierMs));
          join(tradeRoom(symbol));
          return market.snapshot(market.indexOf(symbol));
        }),
      close: () => {
        for (const room of joined) rooms.get(room)?.delete(socket);
        joined.clear();
      },
    };
  },
  stop: () => {
    stopFeed();
    throttler.stop();
  },
});
