#!/usr/bin/env node
// `npm run bench`: every scenario of issue 3 in one bounded run, on 127.0.0.1 only, ours beside
// the baseline peers, with the same lean load generator. Writes bench/results/latest.json (every
// figure) and bench/results/latest.md (the table). `--quick` is the CI smoke run (< 60 s): it
// exits non-zero when a scenario errors, and does not judge the numbers.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, closeSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_INSTRUMENTS } from '@tickdeck/protocol';
import { ClientPool, symbolSets } from './lib/client-pool.mjs';
import { runCluster } from './lib/cluster.mjs';
import { renderMarkdown, evaluateTargets } from './lib/report.mjs';
import { runBrowserBench } from './browser.mjs';
import { ServerProc, cpuMs, freePort, machineBusyMs } from './lib/server-proc.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HELP = `usage: node bench/run.mjs [options]

  --quick               smoke run in under 60 s (CI); exits 1 if any scenario errors
  --servers LIST        comma-separated subset of: ours,plain,limit,naive (default: all)
  --scenarios LIST      comma-separated subset of: ingest,ingest-feed,fanout,ramp,memory,cluster,browser (default: all)
                        (cluster: ours on one node vs two nodes over Redis, same clients; needs
                        redis-server on the PATH, skipped with a message without it)
                        (ingest-feed: ticks/s accepted end to end through /feed, tickdeck-sim
                        replay --speed max into ours with FEED=external; needs ours)
                        (browser: the dashboard in headless /usr/bin/chromium, 8 charts at the
                        100 ms tier for 30 s, 5 s with --quick: median fps, longest main-thread
                        task, JS bundle gzipped; bench/browser.mjs; needs ours)
  --transport ws|raw    lean client transport (default: raw; ws = the ws library)
  --workers N           load-generator processes (default: 2)
  --subsets rotate|random  how clients pick 10 of 20 symbols (default: rotate: 20 distinct sets)
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

/** @type {any} */
let args;
try {
  args = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      servers: { type: 'string', default: 'ours,plain,limit,naive' },
      scenarios: { type: 'string', default: 'ingest,ingest-feed,fanout,ramp,memory,cluster,browser' },
      transport: { type: 'string', default: 'raw' },
      workers: { type: 'string', default: '2' },
      subsets: { type: 'string', default: 'rotate' },
      'trade-probability': { type: 'string' },
      profile: { type: 'boolean', default: false },
      out: { type: 'string', default: join(ROOT, 'bench/results') },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  console.error(`bench: ${/** @type {Error} */ (err).message}\n\n${HELP}`);
  process.exit(1);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const QUICK = Boolean(args.quick);
args.name ??= QUICK ? 'quick' : 'latest';
const TRADE_P = args['trade-probability'] === undefined ? null : Number(args['trade-probability']);
if (TRADE_P !== null && !(TRADE_P >= 0 && TRADE_P <= 1)) {
  console.error(`bench: --trade-probability must be between 0 and 1\n\n${HELP}`);
  process.exit(1);
}
const SERVERS = String(args.servers).split(',').filter(Boolean);
const SCENARIOS = String(args.scenarios).split(',').filter(Boolean);
const WORKERS = Number(args.workers);
if (
  !['ws', 'raw'].includes(args.transport) ||
  !['rotate', 'random'].includes(args.subsets) ||
  !(WORKERS >= 1 && WORKERS <= 16)
) {
  console.error(`bench: bad --transport, --subsets or --workers\n\n${HELP}`);
  process.exit(1);
}

/** Every knob of the run, recorded in the results. */
const CFG = {
  mode: QUICK ? 'quick' : 'full',
  host: '127.0.0.1',
  feedRate: 20_000,
  feedSeed: 42,
  tiersMs: [100, 250, 1000],
  tierMs: 100,
  symbolsPerClient: 10,
  subsets: /** @type {'rotate' | 'random'} */ (args.subsets),
  transport: /** @type {'ws' | 'raw'} */ (args.transport),
  workers: WORKERS,
  sampleEvery: 20,
  fanoutClients: QUICK ? 200 : 1000,
  warmupMs: QUICK ? 700 : 3000,
  windowMs: QUICK ? 1500 : 8000,
  ramp: {
    servers: ['ours', 'limit', 'plain'],
    /** Equal to fanoutClients: the fan-out measurement is the ramp's first step. */
    startClients: QUICK ? 200 : 200,
    maxClients: QUICK ? 400 : 12_000,
    maxSteps: QUICK ? 2 : 12,
    bisections: QUICK ? 0 : 2,
    /** windows re-measured when one is over the bound */
    confirmations: QUICK ? 0 : 1,
    warmupMs: QUICK ? 700 : 2000,
    windowMs: QUICK ? 1500 : 5000,
    halfLoad: !QUICK,
    /** p99 bound: 100 ms + the tier */
    boundMs: 100 + 100,
    /** share of the owed quotes a step must deliver to count as held */
    minDelivered: 0.95,
  },
  memory: {
    clients: QUICK ? 300 : 5000,
    /** A quiet market: the clients are idle subscribers, the feed still runs. */
    feedRate: 2,
    tierMs: 1000,
    settleMs: QUICK ? 800 : 4000,
  },
  /** The naive peer drowns at any fan-out: its connect phase gets a short, fixed budget. */
  naive: { connectDeadlineMs: QUICK ? 3000 : 10_000, handshakeTimeoutMs: QUICK ? 3000 : 5000 },
  connectConcurrency: 64,
  /** A drowning server answers the probe late or never: do not wait long for it. */
  probeTimeoutMs: QUICK ? 1000 : 3000,
  /** How long to wait for another run's lock and for a quiet machine before starting. */
  waitForMachineMs: QUICK ? 60_000 : 600_000,
  /** A window during which other processes used more than this (% of one core) is flagged. */
  otherLoadWarnPct: 15,
  connectDeadlineMs: QUICK ? 10_000 : 30_000,
  handshakeTimeoutMs: 10_000,
  machineCores: os.cpus().length,
  /** Set with --trade-probability: passed to every server as FEED_TRADE_PROBABILITY. */
  tradeProbability: TRADE_P,
  profile: Boolean(args.profile),
  readyTimeoutMs: 30_000,
  rssLimitKB: Number(process.env.BENCH_RSS_LIMIT_MB ?? 4096) * 1024,
  ingestTimeoutMs: QUICK ? 25_000 : 180_000,
  /** End-to-end ingest: a recording of this many ticks/s over this many seconds, replayed at max speed. */
  ingestFeed: { rate: 200_000, seconds: QUICK ? 1 : 5, batch: 5000, inFlight: 4, seed: 42 },
};

/** The servers under test. Ours is the product; the rest are the baselines in bench/peers/. */
const SERVER_DEFS = {
  ours: { label: 'ours (NestJS gateway)', script: join(ROOT, 'backend/dist/main.js') },
  plain: { label: 'plain Socket.IO (peer)', script: join(ROOT, 'bench/peers/plain-socketio.mjs') },
  limit: { label: 'the limit: pre-framed ws (peer)', script: join(ROOT, 'bench/peers/limit-ws.mjs') },
  naive: { label: 'naive Socket.IO, no throttle (peer)', script: join(ROOT, 'bench/peers/naive-socketio.mjs') },
};
for (const s of SERVERS) {
  if (!(s in SERVER_DEFS)) {
    console.error(`bench: unknown server ${s}\n\n${HELP}`);
    process.exit(1);
  }
}

const SYMBOLS = DEFAULT_INSTRUMENTS.map((i) => i.symbol);
const SETS = symbolSets(SYMBOLS, CFG.symbolsPerClient, CFG.subsets, CFG.subsets === 'random' ? 1000 : SYMBOLS.length);

// ---------------------------------------------------------------- one benchmark per machine
// Two runs on the same 2 cores measure each other. A lock in the temp dir makes a second run
// (from any checkout) wait for the first; load from anything else is measured per window.
const LOCK = join(os.tmpdir(), 'tickdeck-bench.lock');
let lockHeld = false;
function tryLock() {
  try {
    const fd = openSync(LOCK, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    lockHeld = true;
    return 0;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
    const pid = Number(readFileSync(LOCK, 'utf8').trim());
    try {
      if (pid > 0) process.kill(pid, 0);
      return pid;
    } catch {
      unlinkSync(LOCK); // stale: its run is gone
      return tryLock();
    }
  }
}
function releaseLock() {
  if (!lockHeld) return;
  try {
    if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) unlinkSync(LOCK);
  } catch {
    // already gone
  }
  lockHeld = false;
}

// ---------------------------------------------------------------- cleanup: no orphans, ever
/** @type {Set<ServerProc>} */
const liveServers = new Set();
/** @type {Set<ClientPool>} */
const livePools = new Set();
/** @type {Set<import('node:child_process').ChildProcess>} */
const liveOthers = new Set();
function killEverything() {
  for (const s of liveServers) s.killNow();
  for (const p of livePools) p.killNow();
  for (const c of liveOthers) if (c.exitCode === null) c.kill('SIGKILL');
}
process.on('exit', () => {
  killEverything();
  releaseLock();
});
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping every client and server`);
    killEverything();
    process.exit(130);
  });
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const t0 = performance.now();
const log = (/** @type {string} */ msg) =>
  console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
const r0 = (/** @type {number | null | undefined} */ x) => (x == null ? null : Math.round(x));

/** @type {string[]} */
const errors = [];
/** Not errors (CI does not fail on them) but reasons to distrust a figure. */
/** @type {string[]} */
const warnings = [];
const results = {
  date: new Date().toISOString(),
  machine: {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
  },
  config: CFG,
  servers: /** @type {Record<string, any>} */ ({}),
  ingestMicro: /** @type {any} */ ({ status: 'not run' }),
  ingestFeed: /** @type {any} */ ({ status: 'not run' }),
  browser: /** @type {any} */ ({ status: 'not run' }),
  fanout: /** @type {Record<string, any>} */ ({}),
  ramp: /** @type {Record<string, any>} */ ({}),
  memory: /** @type {Record<string, any>} */ ({}),
  cluster: /** @type {any} */ ({ status: 'not run' }),
  targets: /** @type {any[]} */ ([]),
  errors,
  warnings,
  otherLoadAtStartPct: /** @type {number | null} */ (null),
  wallSeconds: 0,
};

// ---------------------------------------------------------------- helpers

/** @param {string} key @param {{ feedRate: number, env?: Record<string, string> }} o */
async function startServer(key, o) {
  const def = SERVER_DEFS[/** @type {keyof typeof SERVER_DEFS} */ (key)];
  const port = await freePort();
  const server = new ServerProc({
    name: key,
    script: def.script,
    port,
    rssLimitKB: CFG.rssLimitKB,
    env: {
      HOST: CFG.host,
      PORT: String(port),
      FEED_RATE: String(o.feedRate),
      FEED_SEED: String(CFG.feedSeed),
      THROTTLE_TIERS_MS: CFG.tiersMs.join(','),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      // Every load-generator client comes from 127.0.0.1: lift the per-address cap (peers ignore it).
      MAX_CONNECTIONS: '1000000',
      MAX_CONNECTIONS_PER_IP: '1000000',
      ...(CFG.tradeProbability === null ? {} : { FEED_TRADE_PROBABILITY: String(CFG.tradeProbability) }),
      ...o.env,
    },
  });
  liveServers.add(server);
  try {
    await server.waitReady(CFG.readyTimeoutMs);
  } catch (err) {
    await stopServer(server);
    throw err;
  }
  const built = statSync(def.script).mtime.toISOString();
  const prev = results.servers[key];
  if (prev && prev.scriptModified !== built) {
    warnings.push(
      `${key}: ${relative(ROOT, def.script)} changed during the run (${prev.scriptModified} -> ${built}): its rows mix two builds`,
    );
  }
  results.servers[key] = {
    label: def.label,
    script: relative(ROOT, def.script),
    // which build of ours was measured: the gateway is rebuilt often
    scriptModified: built,
    readyBy: server.readyBy,
  };
  return server;
}

/** @param {ServerProc} server */
async function stopServer(server) {
  await server.stop();
  liveServers.delete(server);
}

/**
 * One measurement window: counters, /proc and the probe read over the same interval.
 * @param {ServerProc} server @param {ClientPool} pool @param {number} windowMs
 * @param {number | null} owedPerSec quotes/s the subscriptions are owed (null: not a throttled server)
 * @returns {Promise<Record<string, any>>}
 */
async function measure(server, pool, windowMs, owedPerSec) {
  await server.probe('eld-reset', CFG.probeTimeoutMs);
  const ownCpu = () =>
    pool.pids.reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0) +
    (process.cpuUsage().user + process.cpuUsage().system) / 1000;
  const cpu0 = server.cpuMs();
  const own0 = ownCpu();
  const busy0 = machineBusyMs();
  const w0 = performance.now();
  await pool.start();
  await sleep(windowMs);
  const res = await pool.stop();
  const cpu1 = server.cpuMs();
  const own1 = ownCpu();
  const busy1 = machineBusyMs();
  const w1 = performance.now();
  // CPU the machine spent on anything but this run: another benchmark or build on the same
  // 2 cores ruins the comparison, so it is measured and reported with every window.
  const otherLoadPct =
    cpu0 !== null && cpu1 !== null ? ((busy1 - busy0 - (cpu1 - cpu0) - (own1 - own0)) / (w1 - w0)) * 100 : null;
  const eld = await server.probe('eld-read', CFG.probeTimeoutMs);
  const rss = server.rssKB();
  return {
    clients: res.clients,
    updatesPerSec: r0(res.updatesPerSec),
    deliveredRatio: owedPerSec ? Math.round((res.updatesPerSec / owedPerSec) * 1000) / 1000 : null,
    framesPerSec: r0(res.framesPerSec),
    quotesPerFrame: Math.round(res.quotesPerFrame * 100) / 100,
    tradeFramesPerSec: r0(res.tradeFramesPerSec),
    allFramesPerSec: r0(res.allFramesPerSec),
    mbPerSec: Math.round(res.mbPerSec * 10) / 10,
    latencyP50Ms: res.latency.p50Ms,
    latencyP99Ms: res.latency.p99Ms,
    latencyMaxMs: res.latency.maxMs,
    latencySamples: res.latency.samples,
    serverCpuPct: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / (w1 - w0)) * 1000) / 10 : null,
    serverRssMB: rss === null ? null : Math.round(rss / 102.4) / 10,
    eldP99Ms: eld ? Math.round(eld.p99Ms * 10) / 10 : null,
    eldMaxMs: eld ? Math.round(eld.maxMs * 10) / 10 : null,
    clientCpuPct: Math.round(res.clientCpuPct),
    clientSysPct: Math.round(res.clientSysPct),
    disconnects: res.disconnects,
    windowMs: Math.round(res.windowMs),
    otherLoadPct: otherLoadPct === null ? null : Math.max(0, Math.round(otherLoadPct)),
    overloaded: server.overloaded || undefined,
  };
}

/** @param {ClientPool} pool @param {ServerProc} server @param {number} count @param {number} tierMs */
async function addClients(pool, server, count, tierMs) {
  const naive = server.name === 'naive';
  const r = await pool.add(count, {
    host: CFG.host,
    port: server.port,
    symbolSets: SETS,
    throttleMs: tierMs,
    concurrency: CFG.connectConcurrency,
    deadlineMs: naive ? CFG.naive.connectDeadlineMs : CFG.connectDeadlineMs,
    timeoutMs: naive ? CFG.naive.handshakeTimeoutMs : CFG.handshakeTimeoutMs,
  });
  if (r.failed > 0) {
    const why = r.errors.length > 0 ? r.errors.join('; ') : 'not attempted before the connect deadline';
    log(`  ${r.failed} of ${count} clients failed to connect: ${why}`);
  }
  return r;
}

/**
 * Held: p99 within the bound, and the server keeps the contract — it delivers what the
 * subscriptions are owed (a throttler that falls behind flushes less often instead of queueing,
 * so latency alone would not show it), loses no client and was not killed.
 * @param {any} step @param {number} expectedClients
 */
function withinBound(step, expectedClients) {
  return (
    step.latencyP99Ms !== null &&
    step.latencyP99Ms <= CFG.ramp.boundMs &&
    (step.deliveredRatio ?? 0) >= CFG.ramp.minDelivered &&
    step.disconnects === 0 &&
    step.clients >= expectedClients &&
    !step.overloaded
  );
}

/** @param {number} x @param {number} step */
function roundTo(x, step) {
  return Math.round(x / step) * step;
}

const fmt = (/** @type {any} */ m) =>
  `${m.clients} clients: ${m.updatesPerSec} upd/s${m.deliveredRatio !== null ? ` (${Math.round(m.deliveredRatio * 100)} % of owed)` : ''}, ${m.framesPerSec} frames/s (+${m.tradeFramesPerSec} trade frames/s), ` +
  `p50/p99/max ${m.latencyP50Ms}/${m.latencyP99Ms}/${m.latencyMaxMs} ms, cpu ${m.serverCpuPct}%, rss ${m.serverRssMB} MB, ` +
  `eld p99 ${m.eldP99Ms} ms, clients' cpu ${m.clientCpuPct}%${m.otherLoadPct > CFG.otherLoadWarnPct ? `, OTHER LOAD ${m.otherLoadPct}%` : ''}` +
  `${m.overloaded ? ` OVERLOADED (${m.overloaded})` : ''}`;

function newPool() {
  const pool = new ClientPool({ workers: CFG.workers, transport: CFG.transport, sampleEvery: CFG.sampleEvery });
  livePools.add(pool);
  return pool;
}

/** @param {ClientPool} pool */
async function closePool(pool) {
  await pool.close();
  livePools.delete(pool);
}

// ---------------------------------------------------------------- scenarios

async function runIngestMicro() {
  const script = join(ROOT, 'bench/ingest-micro.mjs');
  if (!existsSync(script)) {
    results.ingestMicro = { status: 'not run', reason: 'bench/ingest-micro.mjs does not exist yet' };
    log('ingest micro: not run (bench/ingest-micro.mjs absent)');
    return;
  }
  log(`ingest micro: node bench/ingest-micro.mjs --json${QUICK ? ' --seconds 1' : ''}`);
  const { code, out, err } = await runNode(
    script,
    ['--json', ...(QUICK ? ['--seconds', '1'] : [])],
    CFG.ingestTimeoutMs,
  );
  const line = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .pop();
  if (code !== 0 || !line) {
    throw new Error(
      `ingest-micro exited ${code}${line ? '' : ' without a JSON line'}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  results.ingestMicro = { status: 'ok', ...JSON.parse(line) };
  log(`ingest micro: ${line.slice(0, 200)}`);
}

/**
 * Runs a Node script to its end within `timeoutMs` (then SIGKILL), collecting its output.
 * @param {string} script @param {string[]} argv @param {number} timeoutMs
 * @returns {Promise<{ code: number | string | null, out: string, err: string }>}
 */
async function runNode(script, argv, timeoutMs) {
  const child = spawn(process.execPath, [script, ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  liveOthers.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise((resolve) => child.once('exit', (c, sig) => resolve(sig ?? c)));
  clearTimeout(timer);
  liveOthers.delete(child);
  return { code: /** @type {number | string | null} */ (code), out, err };
}

/**
 * Runs `tickdeck-sim` to completion within `timeoutMs`; rejects on a non-zero exit.
 * @param {string[]} argv @param {number} timeoutMs @returns {Promise<string>} its stdout
 */
async function sim(argv, timeoutMs) {
  const { code, out, err } = await runNode(join(ROOT, 'simulator/bin/tickdeck-sim.js'), argv, timeoutMs);
  if (code !== 0)
    throw new Error(`tickdeck-sim ${argv[0]} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  return out;
}

/** Ticks/s accepted end to end: tickdeck-sim replay --speed max over loopback into ours with FEED=external. */
async function runIngestFeed() {
  const f = CFG.ingestFeed;
  const file = join(os.tmpdir(), `tickdeck-bench-feed-${process.pid}.ndjson`);
  const token = `bench-${process.pid}-${Date.now()}`;
  const model = ['--rate', String(f.rate), '--duration', `${f.seconds}s`, '--seed', String(f.seed)];
  log(`ingest /feed: recording ${f.seconds} s at ${f.rate.toLocaleString('en-US')} ticks/s`);
  await sim(['record', '--out', file, ...model], CFG.ingestTimeoutMs);
  const server = await startServer('ours', { feedRate: 1, env: { FEED: 'external', FEED_TOKEN: token } });
  try {
    const cpu0 = server.cpuMs();
    const out = await sim(
      [
        'replay',
        file,
        '--url',
        `http://${CFG.host}:${server.port}`,
        '--token',
        token,
        '--speed',
        'max',
        '--batch',
        String(f.batch),
        '--in-flight',
        String(f.inFlight),
      ],
      CFG.ingestTimeoutMs,
    );
    const cpu1 = server.cpuMs();
    const m = /done in ([\d.]+) s: sent ([\d,]+) ticks \+ ([\d,]+) trades, accepted ([\d,]+).*rejected ([\d,]+)/.exec(
      out,
    );
    if (!m) throw new Error(`no summary in tickdeck-sim's output: ${out.slice(0, 200)}`);
    const num = (/** @type {string} */ x) => Number(x.replace(/,/g, ''));
    const seconds = Number(m[1]);
    const health = await (await fetch(`http://${CFG.host}:${server.port}/api/health`)).json();
    const ticks = health.feed.ticks;
    results.ingestFeed = {
      status: 'ok',
      ticksPerSecond: Math.round(ticks / seconds),
      itemsPerSecond: Math.round(num(m[4]) / seconds),
      ticks,
      trades: health.feed.trades,
      rejected: num(m[5]),
      seconds,
      batch: f.batch,
      inFlight: f.inFlight,
      serverCpuPct: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / (seconds * 1000)) * 100) : null,
    };
    log(`ingest /feed: ${JSON.stringify(results.ingestFeed)}`);
  } finally {
    await stopServer(server);
    try {
      unlinkSync(file);
    } catch {
      // never written
    }
  }
}

/** Quotes per second a throttled server owes `clients` subscribers (every symbol moves within every tier interval at this feed rate). @param {number} clients */
function owed(clients) {
  return (clients * CFG.symbolsPerClient * 1000) / CFG.tierMs;
}

/**
 * Judges a ramp window; one over the bound is measured once more and counts as over only if
 * that window is too, so a single hiccup (a GC, a late timer) does not end the ramp early.
 * @param {string} key @param {ServerProc} server @param {ClientPool} pool
 * @param {Record<string, any>} m @param {number} clients @param {string} what
 */
async function confirm(key, server, pool, m, clients, what) {
  m.within = withinBound(m, clients);
  log(`${key} ${what}: ${fmt(m)}${m.within ? '' : '  <- over bound'}`);
  if (m.within || server.exited || m.overloaded || CFG.ramp.confirmations === 0) return m;
  const again = await measure(server, pool, CFG.ramp.windowMs, owed(clients));
  again.within = withinBound(again, clients);
  again.retried = true;
  log(`${key} ${what} (again): ${fmt(again)}${again.within ? '' : '  <- over bound'}`);
  return again.within ? again : m;
}

/** Fan-out at CFG.fanoutClients, then (for the ramp servers) the ramp on the same server. @param {string} key */
async function runFanoutAndRamp(key) {
  const doFanout = SCENARIOS.includes('fanout');
  const doRamp = SCENARIOS.includes('ramp') && CFG.ramp.servers.includes(key);
  if (!doFanout && !doRamp) return;
  log(`${key}: starting (feed ${CFG.feedRate} ticks/s)`);
  const server = await startServer(key, { feedRate: CFG.feedRate });
  const pool = newPool();
  const throttled = key !== 'naive';
  try {
    /** @type {Record<string, any> | null} */
    let fanout = null;
    if (doFanout) {
      const conn = await addClients(pool, server, CFG.fanoutClients, CFG.tierMs);
      await sleep(CFG.warmupMs);
      const profilePath = join(ROOT, 'bench/results', `${args.name}-${key}-fanout.cpuprofile`);
      if (CFG.profile) await server.probe('profile-start', 5000);
      const m = await measure(server, pool, CFG.windowMs, throttled ? owed(CFG.fanoutClients) : null);
      if (CFG.profile) {
        const done = await server.probe('profile-stop', 20_000, { path: profilePath });
        if (done?.ok) log(`${key}: profile written to ${relative(ROOT, profilePath)}`);
        m.profile = done?.ok ? relative(ROOT, profilePath) : null;
      }
      fanout = m;
      m.connectFailures = conn.failed;
      results.fanout[key] = m;
      log(`${key} fan-out: ${fmt(m)}`);
      if (CFG.tradeProbability === 0 && m.tradeFramesPerSec > 0) {
        errors.push(
          `${key}: trades arrive although FEED_TRADE_PROBABILITY=0 — it ignores the variable, so its workload differs from the peers'`,
        );
      }
      if (server.exited && !server.overloaded)
        throw new Error(`${key} exited during fan-out (${server.exitSignal ?? server.exitCode}): ${server.why()}`);
    }
    if (!doRamp || server.exited) return;

    // The ramp starts low and grows by what the CPU readings predict is left, then bisects.
    let n = CFG.ramp.startClients;
    // When the ramp starts where the fan-out stands, the fan-out window is its first step.
    let reuse = fanout !== null && n === CFG.fanoutClients && pool.total === n;
    if (!reuse) {
      if (pool.total > n) await pool.shrinkTo(n);
      else await addClients(pool, server, n - pool.total, CFG.tierMs);
      await sleep(CFG.ramp.warmupMs * (doFanout ? 2 : 1));
    }
    /** @type {any[]} */
    const steps = [];
    let held = 0;
    let bad = 0;
    let capped = false;
    for (;;) {
      const first = reuse && fanout ? { ...fanout } : await measure(server, pool, CFG.ramp.windowMs, owed(n));
      reuse = false;
      const m = await confirm(key, server, pool, first, n, 'ramp');
      steps.push(m);
      if (!m.within) {
        bad = n;
        break;
      }
      held = n;
      if (n >= CFG.ramp.maxClients) {
        capped = true;
        break;
      }
      if (steps.length >= CFG.ramp.maxSteps || server.exited) break;
      // Load grows linearly with clients: aim just under where the server's core or the whole
      // machine would be full, but never less than +15 % or more than x2 per step.
      const srv = Math.max(1, m.serverCpuPct ?? 100);
      const all = Math.max(1, srv + m.clientCpuPct);
      const predicted = n * Math.min(100 / srv, (CFG.machineCores * 100) / all);
      const next = Math.min(CFG.ramp.maxClients, roundTo(Math.max(n * 1.15, Math.min(n * 2, predicted * 0.9)), 50));
      const c = await addClients(pool, server, next - n, CFG.tierMs);
      n = next;
      if (c.failed > 0) {
        bad = n;
        steps.push({
          clients: pool.total,
          connectFailures: c.failed,
          within: false,
          note: `connect failures: ${c.errors.join('; ')}`,
        });
        break;
      }
      await sleep(CFG.ramp.warmupMs);
    }
    for (let b = 0; b < CFG.ramp.bisections && held && bad && bad - held > held * 0.08 && !server.exited; b += 1) {
      const mid = roundTo((held + bad) / 2, 50);
      if (mid <= held || mid >= bad) break;
      if (pool.total > mid) await pool.shrinkTo(mid);
      else await addClients(pool, server, mid - pool.total, CFG.tierMs);
      await sleep(CFG.ramp.warmupMs * 2);
      const m = await confirm(
        key,
        server,
        pool,
        await measure(server, pool, CFG.ramp.windowMs, owed(mid)),
        mid,
        'ramp (bisect)',
      );
      m.bisect = true;
      steps.push(m);
      if (m.within) held = mid;
      else bad = mid;
    }
    const best = steps
      .filter((m) => m.within && m.clients <= held)
      .reduce((a, m) => (a && a.updatesPerSec >= m.updatesPerSec ? a : m), /** @type {any} */ (null));
    /** @type {any} */
    const ramp = {
      boundMs: CFG.ramp.boundMs,
      maxClientsHeld: held,
      firstClientsOverBound: bad || null,
      capped,
      maxUpdatesPerSecWithinBound: best ? best.updatesPerSec : 0,
      maxFramesPerSecWithinBound: best ? best.framesPerSec : 0,
      atBest: best
        ? {
            clients: best.clients,
            serverCpuPct: best.serverCpuPct,
            clientCpuPct: best.clientCpuPct,
            latencyP99Ms: best.latencyP99Ms,
          }
        : null,
      steps,
    };
    if (CFG.ramp.halfLoad && held && !server.exited) {
      const half = Math.max(50, roundTo(held / 2, 50));
      await pool.shrinkTo(half);
      await sleep(CFG.ramp.warmupMs * 2);
      const m = await measure(server, pool, CFG.ramp.windowMs, owed(half));
      ramp.halfLoad = {
        ...m,
        ofMaxUpdates: best ? Math.round((m.updatesPerSec / best.updatesPerSec) * 100) / 100 : null,
      };
      log(`${key} half load: ${fmt(m)}`);
    }
    results.ramp[key] = ramp;
  } finally {
    await closePool(pool);
    await stopServer(server);
  }
}

/** @param {string} key */
async function runMemory(key) {
  log(`${key} memory: starting (feed ${CFG.memory.feedRate} ticks/s)`);
  const server = await startServer(key, { feedRate: CFG.memory.feedRate });
  const pool = newPool();
  try {
    await sleep(CFG.memory.settleMs / 2);
    const before = await server.probe('gc', 15_000);
    await sleep(200);
    const baseKB = server.rssKB();
    const c = await addClients(pool, server, CFG.memory.clients, CFG.memory.tierMs);
    await sleep(CFG.memory.settleMs);
    const after = await server.probe('gc', 15_000);
    await sleep(200);
    const rssKB = server.rssKB();
    const connected = pool.total;
    if (baseKB === null || rssKB === null || connected === 0) throw new Error(`${key}: no memory reading`);
    const m = {
      clients: connected,
      connectFailures: c.failed,
      gc: Boolean(after?.gc),
      baselineRssMB: Math.round(baseKB / 102.4) / 10,
      rssMB: Math.round(rssKB / 102.4) / 10,
      perConnKB: Math.round(((rssKB - baseKB) / connected) * 10) / 10,
      heapPerConnKB:
        before && after ? Math.round(((after.heapUsed - before.heapUsed) / 1024 / connected) * 10) / 10 : null,
    };
    results.memory[key] = m;
    log(
      `${key} memory: ${connected} idle clients, RSS ${m.baselineRssMB} -> ${m.rssMB} MB = ${m.perConnKB} KB/conn (heap ${m.heapPerConnKB} KB/conn)`,
    );
  } finally {
    await closePool(pool);
    await stopServer(server);
  }
}

/** Runs one scenario step, recording (not throwing) its error. @param {string} what @param {() => Promise<void>} fn */
async function guarded(what, fn) {
  try {
    await fn();
  } catch (err) {
    const msg = `${what}: ${/** @type {Error} */ (err).message}`;
    errors.push(msg);
    log(`ERROR ${msg}`);
  }
}

// ---------------------------------------------------------------- main

/** Waits (bounded) for the lock, then for the machine to be quiet; records what it found. */
async function waitForMachine() {
  const deadline = Date.now() + CFG.waitForMachineMs;
  let said = 0;
  for (let holder = tryLock(); holder !== 0; holder = tryLock()) {
    if (Date.now() > deadline) throw new Error(`another benchmark (pid ${holder}, ${LOCK}) still runs; giving up`);
    if (Date.now() - said > 30_000) {
      log(`waiting for another benchmark run (pid ${holder}) to finish`);
      said = Date.now();
    }
    await sleep(2000);
  }
  for (;;) {
    const b0 = machineBusyMs();
    const o0 = process.cpuUsage();
    await sleep(2000);
    const o1 = process.cpuUsage(o0);
    const other = ((machineBusyMs() - b0 - (o1.user + o1.system) / 1000) / 2000) * 100;
    results.otherLoadAtStartPct = Math.round(other);
    if (other <= CFG.otherLoadWarnPct) return;
    if (Date.now() > deadline) {
      warnings.push(`the machine was busy before the run (${Math.round(other)} % of a core used by other processes)`);
      return;
    }
    if (Date.now() - said > 30_000) {
      log(`waiting for a quiet machine: other processes use ${Math.round(other)} % of a core`);
      said = Date.now();
    }
  }
}

async function main() {
  log(
    `tickdeck bench (${CFG.mode}): ${results.machine.cores} cores, ${results.machine.cpuModel}, Node ${results.machine.node}`,
  );
  await waitForMachine();
  const servers = SERVERS.filter((s) => {
    if (s === 'ours' && !existsSync(SERVER_DEFS.ours.script)) {
      errors.push(`ours: ${relative(ROOT, SERVER_DEFS.ours.script)} missing (run npm run build)`);
      return false;
    }
    return true;
  });
  if (SCENARIOS.includes('ingest')) await guarded('ingest micro', runIngestMicro);
  if (SCENARIOS.includes('ingest-feed')) {
    if (servers.includes('ours')) await guarded('ingest /feed', runIngestFeed);
    else results.ingestFeed = { status: 'not run', reason: 'needs --servers ours' };
  }
  for (const key of servers) await guarded(`${key} fan-out/ramp`, () => runFanoutAndRamp(key));
  if (SCENARIOS.includes('memory')) for (const key of servers) await guarded(`${key} memory`, () => runMemory(key));
  if (SCENARIOS.includes('browser')) {
    if (!servers.includes('ours')) results.browser = { status: 'not run', reason: 'needs --servers ours' };
    else
      await guarded('browser', async () => {
        log(`browser: 8 charts at 100 ms in headless Chromium for ${QUICK ? 5 : 30} s`);
        results.browser = await runBrowserBench({ seconds: QUICK ? 5 : 30, warmupSeconds: QUICK ? 1 : 3 });
        log(`browser: ${JSON.stringify({ ...results.browser, chartPoints: undefined, fpsSamples: undefined })}`);
      });
  }
  if (SCENARIOS.includes('cluster')) {
    const hooks = {
      CFG,
      results,
      log,
      sleep,
      startServer,
      stopServer,
      newPool,
      closePool,
      addClients,
      owed,
      liveOthers,
    };
    if (servers.includes('ours')) await guarded('cluster', () => runCluster(hooks));
    else results.cluster = { status: 'not run', reason: 'needs --servers ours' };
  }

  const loaded = [
    ...Object.entries(results.fanout).map(([k, m]) => [`${k} fan-out`, m]),
    ...Object.entries(results.ramp).flatMap(([k, r]) =>
      r.steps.map((/** @type {any} */ m) => [`${k} ramp @ ${m.clients}`, m]),
    ),
  ].filter(([, m]) => m.otherLoadPct > CFG.otherLoadWarnPct);
  if (loaded.length > 0) {
    warnings.push(
      `other processes used > ${CFG.otherLoadWarnPct} % of a core during ${loaded.length} window(s) (${loaded
        .slice(0, 4)
        .map(([w, m]) => `${w}: ${m.otherLoadPct} %`)
        .join(', ')}${loaded.length > 4 ? ', ...' : ''}): those figures are not comparable`,
    );
  }
  results.targets = evaluateTargets(results);
  results.wallSeconds = Math.round((performance.now() - t0) / 100) / 10;
  mkdirSync(args.out, { recursive: true });
  const jsonPath = join(args.out, `${args.name}.json`);
  const mdPath = join(args.out, `${args.name}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(mdPath, renderMarkdown(results));
  log(`wrote ${relative(ROOT, jsonPath)} and ${relative(ROOT, mdPath)} in ${results.wallSeconds} s`);
  for (const w of warnings) console.error(`bench: warning: ${w}`);
  if (errors.length > 0) {
    console.error(`bench: ${errors.length} scenario error(s):\n  ${errors.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error('bench: failed:', err);
  killEverything();
  process.exit(2);
});
