// BASELINE PEER, not the product: the tutorial way — every tick emitted to the symbol's rooms
// as it arrives, every trade likewise, no throttling, no conflation. It shows what conflation
// buys; under the fan-out workload it is expected to fall behind.
import { createServer } from 'node:http';
import { tradeRoom } from '@tickdeck/protocol';
import { Server } from 'socket.io';
import { exitOnSignals, parseSubscribe, peerConfig, PeerMarket, quoteRoom, startFeed } from './common.mjs';

const cfg = peerConfig('naive-socketio');
const market = new PeerMarket();
const http = createServer();
const io = new Server(http, { serveClient: false });
const nsp = io.of('/market');
// A subscriber at any tier gets every tick: emit to the union of the symbol's tier rooms.
const quoteRooms = market.symbols.map((s) => cfg.tiers.map((t) => quoteRoom(s, t)));

const stopFeed = startFeed(cfg, {
  tick: (t) => {
    const i = market.applyTick(t);
    const rooms = quoteRooms[i]; // none for -1: not a symbol of this market
    if (rooms) nsp.to(rooms).emit('quotes', [market.quote(i, 1)]);
  },
  trade: (t) => {
    const applied = market.applyTrade(t);
    if (applied) nsp.to(tradeRoom(t.symbol)).emit('trades', { symbol: t.symbol, trades: [applied.trade] });
  },
});

nsp.on('connection', (socket) => {
  socket.on('subscribe', (body, ack) => {
    if (typeof ack !== 'function') return;
    const req = parseSubscribe(body, market, cfg.tiers);
    if (!req.ok) return ack(req);
    const snapshots = [];
    for (const symbol of req.symbols) {
      // the in-memory adapter joins at once (a Promise only with an async adapter)
      void socket.join([quoteRoom(symbol, req.tierMs), tradeRoom(symbol)]);
      snapshots.push(market.snapshot(market.indexOf(symbol)));
    }
    ack({ ok: true, throttleMs: req.tierMs, snapshots, trades: [], gaps: [] });
  });
});

exitOnSignals(() => {
  stopFeed();
  void io.close(); // the process exits right after
});
http.listen(cfg.port, cfg.host, () => {
  const addr = /** @type {import('node:net').AddressInfo} */ (http.address());
  console.log(`${cfg.name}: listening on http://${cfg.host}:${addr.port}`);
});
