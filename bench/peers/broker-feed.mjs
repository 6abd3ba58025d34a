// Shared by the two BROKER peers (nats-pub.mjs, mqtt-pub.mjs; baselines, not the product): the
// same market, simulator and conflating throttler as every other peer (common.mjs), whose output
// is published into a message broker — nats-server or mosquitto, started by the harness on free
// ports with its own config — instead of being sent to the subscribers directly. The broker does
// the fan-out; this process only publishes, one write per throttler flush, over plain TCP and
// with no client library in the path.
import net from 'node:net';
import { exitOnSignals, peerConfig, PeerMarket, startFeed, startThrottler } from './common.mjs';

/** @typedef {import('@tickdeck/protocol').Quote} Quote */

/**
 * @typedef {object} BrokerWire
 * @property {(room: string) => string} topic  `q:AAPL:100` / `t:AAPL` -> the broker's subject or topic
 * @property {(topic: string, payload: Buffer) => Buffer} publish  one complete PUB / PUBLISH packet
 * @property {(socket: net.Socket, ready: () => void) => void} handshake  connects to the broker; calls `ready` once it may publish
 * @property {Buffer | null} [keepalive]  written every `keepaliveMs`
 * @property {number} [keepaliveMs]
 */

/** @param {string} name @param {BrokerWire} wire */
export function runBrokerPublisher(name, wire) {
  const cfg = peerConfig(name);
  const brokerPort = Number(process.env.BROKER_PORT);
  if (!(brokerPort > 0)) {
    console.error(`${name}: BROKER_PORT (the broker's TCP client port) is required`);
    process.exit(1);
  }
  const market = new PeerMarket();
  /** @type {Map<string, string>} room -> topic */
  const topics = new Map();
  const topicOf = (/** @type {string} */ room) => {
    let t = topics.get(room);
    if (t === undefined) topics.set(room, (t = wire.topic(room)));
    return t;
  };
  /** @type {Buffer[]} packets of the current flush, written together */
  let out = [];
  let scheduled = false;
  let ready = false;
  const socket = net.connect({ host: '127.0.0.1', port: brokerPort });
  socket.setNoDelay(true);
  const flush = () => {
    scheduled = false;
    if (out.length === 0) return;
    const bytes = out.length === 1 ? /** @type {Buffer} */ (out[0]) : Buffer.concat(out);
    out = [];
    if (ready && socket.writable) socket.write(bytes);
  };
  /** @param {string} room @param {unknown} body */
  const publish = (room, body) => {
    if (!ready) return;
    out.push(wire.publish(topicOf(room), Buffer.from(JSON.stringify(body))));
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  // The broker routes by interest, so every room counts as having members: a message nobody
  // subscribed to is the broker's to drop (the other peers skip empty rooms themselves).
  const throttler = startThrottler(market, cfg.tiers, {
    members: () => 1,
    quotes: (room, quotes) => publish(room, quotes),
    trades: (room, batch) => publish(room, batch),
  });
  const stopFeed = startFeed(cfg, {
    tick: (t) => market.applyTick(t),
    trade: (t) => {
      const applied = market.applyTrade(t);
      if (applied) throttler.tradeApplied(applied.index, applied.trade);
    },
  });
  /** @type {NodeJS.Timeout | undefined} */
  let keepalive;
  socket.on('connect', () =>
    wire.handshake(socket, () => {
      ready = true;
      if (wire.keepalive) {
        const k = wire.keepalive;
        keepalive = setInterval(() => socket.writable && socket.write(k), wire.keepaliveMs ?? 30_000);
      }
      // the subscribers connect to the broker's WebSocket port (PORT), not to this process
      console.log(
        `${name}: publishing to 127.0.0.1:${brokerPort}; subscribers listening on http://127.0.0.1:${cfg.port}`,
      );
    }),
  );
  socket.on('error', (err) => {
    console.error(`${name}: broker connection error: ${err.message}`);
    process.exit(1);
  });
  socket.on('close', () => {
    console.error(`${name}: the broker closed the connection`);
    process.exit(1);
  });
  exitOnSignals(() => {
    stopFeed();
    throttler.stop();
    clearInterval(keepalive);
    socket.removeAllListeners('close');
    socket.destroy();
  });
}
