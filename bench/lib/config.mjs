// The command line of `npm run bench` and every knob of one run (recorded in its results).
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The repository root, with a trailing separator. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every server, in the order a full run measures them (and the report lists them). */
export const ALL_SERVERS = 'ours,plain,limit,limit1,naive,nats,mqtt';
/** --quick: the product and the two limits it is judged against. */
export const QUICK_SERVERS = 'ours,limit,limit1';
export const ALL_SCENARIOS = 'ingest,ingest-feed,fanout,ramp,history,candles,memory,scale,cluster,browser';
/** --quick (CI, < 60 s): no scale (minutes), cluster (Redis, two gateways) or browser (Chromium). */
export const QUICK_SCENARIOS = 'ingest,ingest-feed,fanout,ramp,history,candles,memory';

export const HELP = `usage: node bench/run.mjs [options]

  --quick               smoke run in well under 60 s (CI); exits 1 if any scenario errors;
                        servers ${QUICK_SERVERS}, scenarios ${QUICK_SCENARIOS},
                        the random workload only
  --servers LIST        comma-separated subset of: ${ALL_SERVERS}
                        (default: all of them; with --quick: ${QUICK_SERVERS}).
                        limit is raw ws writing a pre-framed frame per symbol, limit1 one
                        pre-framed frame per viewer per flush (the gateway's design with nothing
                        else); nats and mqtt are the brokers a user might pick instead —
                        nats-server / mosquitto on free ports with their own config, subscribers
                        over WebSocket; a missing binary skips that peer loudly, and is an error
                        under CI=true
  --scenarios LIST      comma-separated subset of: ${ALL_SCENARIOS}
                        (default: all; with --quick: ${QUICK_SCENARIOS})
                        (scale: 20,000 viewers of ours at the 1000 ms tier, or as many as the
                        open-files limit allows, from 127.0.0.2, 127.0.0.3, ... at 200 per address)
                        (cluster: ours on one node vs two nodes over Redis, same clients; needs
                        redis-server on the PATH, skipped with a message without it)
                        (ingest-feed: ticks/s accepted end to end through /feed, tickdeck-sim
                        replay --speed max into ours with FEED=external; needs ours)
                        (history: the fan-out of ours with HISTORY_STORE=sqlite beside the same
                        with HISTORY_STORE=memory, windows interleaved; needs ours)
                        (candles: GET /api/candles latency per interval over 7 days of bars
                        seeded by bench/seed-history.mjs, in SQLite and in a database of its own
                        on the PostgreSQL at 127.0.0.1:5432 (skipped with a warning when there is
                        none, an error under CI=true); needs ours)
                        (browser: the dashboard in headless /usr/bin/chromium, 8 charts at the
                        100 ms tier for 30 s (5 s when asked for with --quick): median fps,
                        longest main-thread task, JS bundle gzipped; bench/browser.mjs; needs ours)
  --transport ws|raw    lean client transport (default: raw; ws = the ws library)
  --workers N           load-generator processes (default: 2)
  --subsets rotate|random  run fan-out and ramp with this workload only. By default a full run
                        does both, random first (seeded random 10 of 20 symbols per client, as
                        watchlists are: the headline and the targets), then rotate (client i takes
                        symbols i..i+9: 20 distinct sets, so viewers share frames); --quick does
                        random only
  --trade-probability P share of ticks that are trades, passed to every server as
                        FEED_TRADE_PROBABILITY (default: unset, the simulator's 0.3)
  --profile             CPU-profile every server during its fan-out window (distorts that
                        window: for diagnosis, not for the table); bench/results/*.cpuprofile
  --out DIR             where latest.json / latest.md go (default: bench/results)
  --name NAME           file stem (default: "latest", or "quick" with --quick, so a smoke
                        run never overwrites the full results)
  -h, --help            this text

Environment: BENCH_RSS_LIMIT_MB (default 4096) kills a server whose RSS passes it (reported
as overloaded, not as an error).`;

/**
 * @typedef {object} ServerDef
 * @property {string} label
 * @property {string} script  the Node process started (for a broker peer: its publisher)
 * @property {import('./brokers.mjs').BrokerKind} [broker]  a broker peer: the broker the
 *   subscribers connect to (started first, measured for CPU and RSS), and the protocol they speak
 */

/** The servers under test. Ours is the product; the rest are the baselines in bench/peers/. */
export const SERVER_DEFS = /** @type {const} @satisfies {Record<string, ServerDef>} */ ({
  ours: { label: 'ours (NestJS gateway)', script: join(ROOT, 'backend/dist/main.js') },
  plain: { label: 'plain Socket.IO (peer)', script: join(ROOT, 'bench/peers/plain-socketio.mjs') },
  limit: {
    label: 'the limit: pre-framed ws, a frame per symbol (peer)',
    script: join(ROOT, 'bench/peers/limit-ws.mjs'),
  },
  limit1: {
    label: 'the limit: one pre-framed frame per viewer (peer)',
    script: join(ROOT, 'bench/peers/limit-frame.mjs'),
  },
  naive: { label: 'naive Socket.IO, no throttle (peer)', script: join(ROOT, 'bench/peers/naive-socketio.mjs') },
  nats: {
    label: 'NATS over WebSocket (nats-server, peer)',
    script: join(ROOT, 'bench/peers/nats-pub.mjs'),
    broker: 'nats',
  },
  mqtt: {
    label: 'MQTT over WebSocket (mosquitto, peer)',
    script: join(ROOT, 'bench/peers/mqtt-pub.mjs'),
    broker: 'mqtt',
  },
});

/** @typedef {keyof typeof SERVER_DEFS} ServerKey */

/** @param {ServerKey} key @returns {ServerDef} */
export function serverDef(key) {
  return SERVER_DEFS[key];
}

/** @param {string} key @returns {key is ServerKey} */
export function isServerKey(key) {
  return Object.hasOwn(SERVER_DEFS, key);
}

/** A bad command line: the CLI prints it with the help text and exits 1. */
export class UsageError extends Error {}

/**
 * @typedef {object} CliOptions
 * @property {boolean} quick
 * @property {ServerKey[]} servers  in the order given
 * @property {string[]} scenarios
 * @property {string} out   directory of the results
 * @property {string} name  file stem of the results
 * @property {BenchConfig} cfg
 */

/**
 * Parses and checks the command line. @param {string[]} argv
 * @returns {CliOptions | null} null when the help text was asked for
 * @throws {UsageError}
 */
export function parseCli(argv) {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        servers: { type: 'string' },
        scenarios: { type: 'string' },
        transport: { type: 'string', default: 'raw' },
        workers: { type: 'string', default: '2' },
        subsets: { type: 'string' },
        'trade-probability': { type: 'string' },
        profile: { type: 'boolean', default: false },
        out: { type: 'string', default: join(ROOT, 'bench/results') },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError(/** @type {Error} */ (err).message);
  }
  if (values.help) return null;
  const quick = values.quick;
  const tp = values['trade-probability'];
  const tradeProbability = tp === undefined ? null : Number(tp);
  if (tradeProbability !== null && !(tradeProbability >= 0 && tradeProbability <= 1)) {
    throw new UsageError('--trade-probability must be between 0 and 1');
  }
  const workers = Number(values.workers);
  const { transport, subsets } = values;
  if (
    !(transport === 'ws' || transport === 'raw') ||
    !(subsets === undefined || subsets === 'rotate' || subsets === 'random') ||
    !(workers >= 1 && workers <= 16)
  ) {
    throw new UsageError('bad --transport, --subsets or --workers');
  }
  /** @type {ServerKey[]} */
  const servers = [];
  for (const s of (values.servers ?? (quick ? QUICK_SERVERS : ALL_SERVERS)).split(',').filter(Boolean)) {
    if (!isServerKey(s)) throw new UsageError(`unknown server ${s}`);
    servers.push(s);
  }
  return {
    quick,
    servers,
    scenarios: (values.scenarios ?? (quick ? QUICK_SCENARIOS : ALL_SCENARIOS)).split(',').filter(Boolean),
    out: values.out,
    name: values.name ?? (quick ? 'quick' : 'latest'),
    cfg: benchConfig({
      quick,
      workloads: subsets ? [subsets] : quick ? ['random'] : ['random', 'rotate'],
      transport,
      workers,
      tradeProbability,
      profile: values.profile,
    }),
  };
}

/** Ramped in the random workload (and in rotate when it runs alone). @type {ServerKey[]} */
const RAMP_SERVERS = ['ours', 'limit', 'limit1', 'plain', 'nats', 'mqtt'];

/** How clients pick their 10 of 20 symbols: seeded random sets, or 20 rotating ones. @typedef {'random' | 'rotate'} Workload */

/**
 * Every knob of the run, recorded in the results.
 * @param {{ quick: boolean, workloads?: Workload[], transport?: 'ws' | 'raw', workers?: number,
 *   tradeProbability?: number | null, profile?: boolean }} o
 *   workloads: fan-out and ramp run once per workload, in order; the first is the headline's
 */
export function benchConfig({
  quick,
  workloads = ['random'],
  transport = 'raw',
  workers = 2,
  tradeProbability = null,
  profile = false,
}) {
  return {
    mode: quick ? 'quick' : 'full',
    host: '127.0.0.1',
    feedRate: 20_000,
    feedSeed: 42,
    tiersMs: [100, 250, 1000],
    tierMs: 100,
    symbolsPerClient: 10,
    workloads,
    /** The headline workload: the targets', and the one memory and cluster use. */
    subsets: /** @type {Workload} */ (workloads[0] ?? 'random'),
    transport,
    workers,
    sampleEvery: 20,
    fanoutClients: quick ? 200 : 1000,
    warmupMs: quick ? 700 : 3000,
    windowMs: quick ? 1500 : 8000,
    ramp: {
      /**
       * Per workload, the servers ramped. Rotate is the second workload of a full run: only ours
       * and the two limits, to keep the full run near 20 min (unless it is the only workload).
       */
      servers: {
        random: RAMP_SERVERS,
        rotate: workloads.length > 1 ? /** @type {ServerKey[]} */ (['ours', 'limit', 'limit1']) : RAMP_SERVERS,
      },
      /** Equal to fanoutClients: the fan-out measurement is the ramp's first step. */
      startClients: quick ? 200 : 200,
      maxClients: quick ? 400 : 12_000,
      maxSteps: quick ? 2 : 12,
      bisections: quick ? 0 : 2,
      /** windows re-measured when one is over the bound */
      confirmations: quick ? 0 : 1,
      warmupMs: quick ? 700 : 2000,
      windowMs: quick ? 1500 : 5000,
      halfLoad: !quick,
      /** p99 bound: 100 ms + the tier */
      boundMs: 100 + 100,
      /** share of the owed quotes a step must deliver to count as held */
      minDelivered: 0.95,
    },
    memory: {
      clients: quick ? 300 : 5000,
      /** A quiet market: the clients are idle subscribers, the feed still runs. */
      feedRate: 2,
      tierMs: 1000,
      settleMs: quick ? 800 : 4000,
    },
    /** The naive peer drowns at any fan-out: its connect phase gets a short, fixed budget. */
    naive: { connectDeadlineMs: quick ? 3000 : 10_000, handshakeTimeoutMs: quick ? 3000 : 5000 },
    connectConcurrency: 64,
    /** A drowning server answers the probe late or never: do not wait long for it. */
    probeTimeoutMs: quick ? 1000 : 3000,
    /** How long to wait for another run's lock before giving up. */
    waitForMachineMs: quick ? 60_000 : 600_000,
    /**
     * How long to wait for a quiet machine before starting anyway (with a warning). Short for the
     * smoke run, which does not judge its numbers; every window reports the load it saw.
     */
    quietWaitMs: quick ? 3000 : 120_000,
    /** A window during which other processes used more than this (% of one core) is flagged. */
    otherLoadWarnPct: 15,
    connectDeadlineMs: quick ? 10_000 : 30_000,
    handshakeTimeoutMs: 10_000,
    machineCores: os.cpus().length,
    /** Set with --trade-probability: passed to every server as FEED_TRADE_PROBABILITY. */
    tradeProbability,
    profile,
    readyTimeoutMs: 30_000,
    rssLimitKB: Number(process.env.BENCH_RSS_LIMIT_MB ?? 4096) * 1024,
    ingestTimeoutMs: quick ? 25_000 : 180_000,
    /** Scenario `ingest`: armed price alerts in the micro-benchmark's second measurement (issue 16). */
    ingestAlerts: 100_000,
    /**
     * Scenario `scale`: `target` viewers of ours at the `tierMs` tier, one gateway, from loopback
     * addresses 127.0.0.`firstAddress` on, `perAddress` each (the gateway's MAX_CONNECTIONS_PER_IP
     * default, left as it is). Trades off: every viewer is owed a frame per fastest flush when its
     * symbols trade, and at this feed that is 10 frames/s of ~15 KB per viewer (3 GB/s for
     * 20,000): the loopback and the load generator, not the gateway, would be measured.
     */
    scale: {
      target: 20_000,
      tierMs: 1000,
      feedRate: 20_000,
      tradeProbability: 0,
      firstAddress: 2,
      perAddress: 200,
      /** Kept free below the gateway's HTTP connection cap (open-files limit - its reserve) */
      marginConnections: 40,
      connectConcurrency: 128,
      connectDeadlineMs: 150_000,
      handshakeTimeoutMs: 30_000,
      warmupMs: 6000,
      windowMs: 10_000,
      /** p99 bound: 100 ms + the tier */
      boundMs: 1000 + 100,
      minDelivered: 0.95,
    },
    /**
     * Scenario `history`: what keeping history costs the fan-out. The fan-out's clients and feed
     * on ours with each store, one server per window, in this order (ABBA in a full run, so a
     * drift of the machine's load weighs on both alike); each store's figures are the mean of its
     * windows. Targets: sqlite ≥ minRatio × memory updates/s within bound, ELD p99 sqlite ≤
     * memory + maxEldDeltaMs.
     */
    history: {
      order: /** @type {('sqlite' | 'memory')[]} */ (
        quick ? ['memory', 'sqlite'] : ['memory', 'sqlite', 'sqlite', 'memory']
      ),
      clients: quick ? 200 : 1000,
      warmupMs: quick ? 700 : 3000,
      windowMs: quick ? 1500 : 8000,
      minRatio: 0.95,
      maxEldDeltaMs: 5,
    },
    /**
     * Scenario `candles`: `days` of bars of `symbols` seeded into each store (bench/seed-history.mjs),
     * ours started on it with the usual feed and nothing pruned, then per interval `requests`
     * sequential GET /api/candles/`symbol`?interval=X&limit=`limit`&to=T (after `warmup` uncounted),
     * T random inside the seeded days and before the gateway started, so every bar comes from the
     * store. Target: p99 ≤ p99TargetMs for every interval and store.
     */
    candles: {
      days: quick ? 1 : 7,
      symbols: quick ? ['AAPL'] : ['AAPL', 'MSFT'],
      symbol: 'AAPL',
      limit: 500,
      requests: quick ? 10 : 300,
      warmup: quick ? 2 : 20,
      p99TargetMs: 20,
      /** The target is judged on this many days of bars (a --quick run seeds fewer: not judged). */
      targetDays: 7,
      stores: /** @type {('sqlite' | 'postgres')[]} */ (['sqlite', 'postgres']),
      /** The server a fresh `tickdeck_bench_<random>` database is created on (and dropped from). */
      pgAdminUrl: 'postgresql://postgres@127.0.0.1:5432/postgres',
      seedBatch: 50_000,
      seedTimeoutMs: quick ? 30_000 : 300_000,
      requestTimeoutMs: 10_000,
    },
    /** End-to-end ingest: a recording of this many ticks/s over this many seconds, replayed at max speed. */
    ingestFeed: { rate: 200_000, seconds: quick ? 1 : 5, batch: 5000, inFlight: 4, seed: 42 },
  };
}

/** @typedef {ReturnType<typeof benchConfig>} BenchConfig */
