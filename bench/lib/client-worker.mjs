// Entry of one load-generating child process (forked by client-pool.mjs). It holds a share of the
// lean clients and answers the parent's commands over IPC:
//   connect {protocol, host, port, count, symbolSets, firstIndex, throttleMs, sampleEvery, transport, concurrency,
//            sourceAddresses}
//                              protocol: sio (lean-client.mjs), nats or mqtt (broker-clients.mjs);
//                              sourceAddresses: {first, perAddress}, client i connects from
//                              127.0.0.0 + first + floor(i / perAddress) (null: the default)
//   start                      reset the counters: a measurement window begins
//   stop                       report the counters since `start`
//   drop {count}               close the newest `count` clients
//   close                      close every client and exit
// It exits by itself when the parent goes away, so a crashed harness leaves no load running.
import { MqttWsClient, NatsWsClient } from './broker-clients.mjs';
import { LeanClient } from './lean-client.mjs';
import { LatencyHistogram } from './stats.mjs';

/** @type {(LeanClient | NatsWsClient | MqttWsClient)[]} */
const clients = [];
const CLIENTS = { sio: LeanClient, nats: NatsWsClient, mqtt: MqttWsClient };
/** @type {import('./lean-client.mjs').Counters} */
const counters = {
  frames: 0,
  bytes: 0,
  quoteFrames: 0,
  quotes: 0,
  tradeFrames: 0,
  bothFrames: 0,
  otherFrames: 0,
  pings: 0,
  disconnects: 0,
  sampledFrames: 0,
  latency: new LatencyHistogram(),
};
let windowStart = 0;
let cpuAtStart = process.cpuUsage();

function resetCounters() {
  for (const key of /** @type {(keyof typeof counters)[]} */ (Object.keys(counters))) {
    if (key !== 'latency') /** @type {any} */ (counters)[key] = 0;
  }
  counters.latency.reset();
  windowStart = performance.now();
  cpuAtStart = process.cpuUsage();
}

/**
 * @param {{ protocol: 'sio' | 'nats' | 'mqtt', host: string, port: number, count: number, symbolSets: string[][], firstIndex: number,
 *   throttleMs: number, sampleEvery: number, transport: 'ws' | 'raw', concurrency: number, timeoutMs: number, deadlineMs: number,
 *   sourceAddresses?: { first: number, perAddress: number } | null }} req
 */
async function connect(req) {
  let next = 0;
  let ok = 0;
  /** @type {string[]} */
  const errors = [];
  const started = performance.now();
  // A server that is drowning (the naive peer) must not stretch the connect phase without end.
  const deadline = started + req.deadlineMs;
  const one = async () => {
    while (next < req.count && performance.now() < deadline) {
      const i = next++;
      const client = new (CLIENTS[req.protocol] ?? LeanClient)({
        host: req.host,
        port: req.port,
        symbols: /** @type {string[]} */ (req.symbolSets[(req.firstIndex + i) % req.symbolSets.length]),
        throttleMs: req.throttleMs,
        sampleEvery: req.sampleEvery,
        transport: req.transport,
        counters,
        timeoutMs: req.timeoutMs,
        ...(req.sourceAddresses ? { localAddress: sourceAddress(req.sourceAddresses, req.firstIndex + i) } : {}),
      });
      try {
        await client.connect();
        clients.push(client);
        ok += 1;
      } catch (err) {
        if (errors.length < 5) errors.push(/** @type {Error} */ (err).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(req.concurrency, req.count)) }, one));
  return { connected: ok, failed: req.count - ok, errors, total: clients.length, ms: performance.now() - started };
}

/**
 * The loopback address client `index` connects from: all of 127.0.0.0/8 is loopback on Linux, so
 * a server's per-address cap can be met by spreading clients over addresses.
 * @param {{ first: number, perAddress: number }} spread @param {number} index
 */
function sourceAddress({ first, perAddress }, index) {
  const a = first + Math.floor(index / perAddress);
  return `127.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}`;
}

function report() {
  const elapsedMs = performance.now() - windowStart;
  const cpu = process.cpuUsage(cpuAtStart);
  const { latency, ...counts } = counters;
  return {
    ...counts,
    elapsedMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    sysMs: cpu.system / 1000,
    clients: clients.length,
    open: clients.filter((c) => c.state === 'subscribed').length,
    latency: latency.toSparse(),
  };
}

function closeAll() {
  for (const c of clients) c.close();
  clients.length = 0;
}

/**
 * Carries out one command of the parent. @param {any} msg
 * @returns {Promise<Record<string, unknown>>} the reply's body
 */
async function handle(msg) {
  switch (msg.cmd) {
    case 'connect':
      return connect(msg);
    case 'start':
      resetCounters();
      return {};
    case 'stop':
      return report();
    case 'drop': {
      const gone = clients.splice(Math.max(0, clients.length - msg.count));
      for (const c of gone) c.close();
      return { dropped: gone.length, total: clients.length };
    }
    case 'close':
      closeAll();
      setTimeout(() => process.exit(0), 50);
      return {};
    default:
      return { error: `unknown command ${msg.cmd}` };
  }
}

process.on('message', (/** @type {any} */ msg) => {
  const reply = (/** @type {Record<string, unknown>} */ body) => process.send?.({ id: msg.id, ...body });
  handle(msg).then(reply, (err) => reply({ error: /** @type {Error} */ (err).stack ?? String(err) }));
});

process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});
