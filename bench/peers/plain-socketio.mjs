// BASELINE PEER, not the product: a bare socket.io 4 server (no NestJS) doing the gateway's
// conflating throttled room broadcast — one `quotes` emit per changed symbol per tier flush to
// room `q:{SYMBOL}:{TIER}`, trades batched to `t:{SYMBOL}` at the fastest tier. It shows what
// our stack costs on top of the library.
import { createServer } from 'node:http';
import { tradeRoom } from '@tickdeck/protocol';
import { Server } from 'socket.io';
import {
  exitOnSignals,
  parseSubscribe,
  peerConfig,
  PeerMarket,
  quoteRoom,
  startFeed,
  startThrottler,
} from './common.mjs';

const cfg = peerConfig('plain-socketio');
const market = new PeerMarket();
const http = createServer();
const io = new Server(http, { serveClient: false });
const nsp = io.of('/market');
const rooms = nsp.adapter.rooms;

const throttler = startThrottler(market, cfg.tiers, {
  members: (room) => rooms.get(room)?.size ?? 0,
  quotes: (room, quotes) => nsp.to(room).emit('quotes', quotes),
  trades: (room, batch) => nsp.to(room).emit('trades', batch),
});
const stopFeed = startFeed(cfg, {
  tick: (t) => market.applyTick(t),
  trade: (t) => {
    const applied = market.applyTrade(t);
    if (applied) throttler.tradeApplied(applied.index, applied.trade);
  },
});

nsp.on('connection', (socket) => {
  /** @type {Map<string, number>} symbol -> tier */
  const subs = new Map();
  socket.on('subscribe', (body, ack) => {
    if (typeof ack !== 'function') return;
    const req = parseSubscribe(body, market, cfg.tiers);
    if (!req.ok) return ack(req);
    const snapshots = [];
    for (const symbol of req.symbols) {
      const prev = subs.get(symbol);
      if (prev !== undefined) void socket.leave(quoteRoom(symbol, prev));
      subs.set(symbol, req.tierMs);
      // the in-memory adapter joins at once (a Promise only with an async adapter)
      void socket.join([quoteRoom(symbol, req.tierMs), tradeRoom(symbol)]);
      snapshots.push(market.snapshot(market.indexOf(symbol)));
    }
    ack({ ok: true, throttleMs: req.tierMs, snapshots, trades: [], gaps: [] });
  });
});

exitOnSignals(() => {
  stopFeed();
  throttler.stop();
  void io.close(); // the process exits right after
});
http.listen(cfg.port, cfg.host, () => {
  const addr = /** @type {import('node:net').AddressInfo} */ (http.address());
  console.log(`${cfg.name}: listening on http://${cfg.host}:${addr.port}`);
});
