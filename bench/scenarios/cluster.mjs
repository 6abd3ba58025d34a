// Scenario `cluster`: the same client load on one gateway and on two gateways sharing a feed
// over Redis (issue 7), to show what scale-out buys and what the Redis hop costs. Needs
// redis-server on the PATH; without it the scenario is skipped, saying so (not an error).
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMs, freePort, machineBusyMs, which } from '../lib/server-proc.mjs';

/** @typedef {import('../lib/bench-run.mjs').BenchRun} BenchRun */
/** @typedef {import('../lib/server-proc.mjs').ServerProc} ServerProc */

/**
 * One window across one or more gateways.
 * @typedef {object} ClusterWindow
 * @property {number} nodes
 * @property {number} clients
 * @property {number} connectFailures
 * @property {number} updatesPerSec
 * @property {number} deliveredRatio  of the quotes owed
 * @property {number} framesPerSec
 * @property {number | null} latencyP50Ms  feed `ts` to receipt, so the Redis hop is in it
 * @property {number | null} latencyP99Ms
 * @property {number | null} latencyMaxMs
 * @property {(number | null)[]} serverCpuPct  per gateway, % of one core
 * @property {number} clientCpuPct
 * @property {number} disconnects
 * @property {number} otherLoadPct
 */

/**
 * @typedef {{ status: 'ok', clients: number, tierMs: number, oneNode: ClusterWindow, twoNodes: ClusterWindow }} ClusterResult
 */

/** @param {BenchRun} run */
export async function runCluster(run) {
  const { cfg, results } = run;
  const bin = which('redis-server');
  if (!bin) {
    const reason = 'redis-server is not on the PATH (Debian package redis-server): the cluster scenario needs it';
    results.cluster = { status: 'skipped', reason };
    run.log(`cluster: SKIPPED: ${reason}`);
    return;
  }
  const port = await freePort();
  const redis = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  run.live.others.add(redis);
  let out = '';
  redis.stdout?.on('data', (c) => (out += c));
  redis.stderr?.on('data', (c) => (out += c));
  try {
    const end = Date.now() + 10_000;
    while (!/Ready to accept connections/.test(out)) {
      if (redis.exitCode !== null || Date.now() > end)
        throw new Error(`redis-server did not start: ${out.slice(-500)}`);
      await sleep(50);
    }
    const url = `redis://127.0.0.1:${port}`;
    const clients = cfg.fanoutClients;
    run.log(`cluster: ${clients} clients on one gateway, then split over two (Redis on ${port})`);

    const one = await measureCluster(run, url, [clients], /** @type {number} */ (redis.pid));
    run.log(`cluster, 1 node: ${fmt(one)}`);
    const half = Math.floor(clients / 2);
    const two = await measureCluster(run, url, [half, clients - half], /** @type {number} */ (redis.pid));
    run.log(`cluster, 2 nodes: ${fmt(two)}`);
    results.cluster = { status: 'ok', clients, tierMs: cfg.tierMs, oneNode: one, twoNodes: two };
  } finally {
    redis.kill('SIGKILL');
    run.live.others.delete(redis);
  }
}

/** @param {ClusterWindow} m */
function fmt(m) {
  return `${m.clients} clients: ${m.updatesPerSec} upd/s (${Math.round(m.deliveredRatio * 100)} % of owed), p50/p99 ${m.latencyP50Ms}/${m.latencyP99Ms} ms, server CPU ${m.serverCpuPct.join(' + ')} %${m.otherLoadPct > 15 ? `, OTHER LOAD ${m.otherLoadPct} %` : ''}`;
}

/**
 * Starts one gateway per entry of `split` (the first with the embedded feed, the others relaying
 * it from Redis), puts that many clients on each, and measures one window across all of them.
 * @param {BenchRun} run @param {string} url @param {number[]} split @param {number} redisPid
 * @returns {Promise<ClusterWindow>}
 */
async function measureCluster(run, url, split, redisPid) {
  const { cfg } = run;
  /** @type {ServerProc[]} */
  const servers = [];
  const pool = run.newPool();
  try {
    for (let k = 0; k < split.length; k++) {
      const env = { REDIS_URL: url, FEED: k === 0 ? 'embedded' : 'external' };
      servers.push(await run.startServer('ours', { feedRate: cfg.feedRate, env }));
    }
    // Every relay node must be on the bus before the clients come.
    for (const s of servers.slice(1)) await waitForRelay(s.port);
    let failed = 0;
    for (const [k, server] of servers.entries())
      failed += (await run.addClients(pool, server, split[k] ?? 0, cfg.tierMs)).failed;
    await sleep(cfg.warmupMs);
    const cpu0 = servers.map((s) => s.cpuMs());
    const ours = () =>
      [...pool.pids, redisPid].reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0) +
      (process.cpuUsage().user + process.cpuUsage().system) / 1000;
    const own0 = ours();
    const busy0 = machineBusyMs();
    const w0 = performance.now();
    await pool.start();
    await sleep(cfg.windowMs);
    const res = await pool.stop();
    const w1 = performance.now();
    const cpu1 = servers.map((s) => s.cpuMs());
    const serverMs = servers.reduce((sum, _, k) => sum + ((cpu1[k] ?? 0) - (cpu0[k] ?? 0)), 0);
    // CPU the machine spent on anything but this run (servers, Redis, load generator, us).
    const otherLoadPct = Math.max(
      0,
      Math.round(((machineBusyMs() - busy0 - serverMs - (ours() - own0)) / (w1 - w0)) * 100),
    );
    const owed = run.owed(split.reduce((a, b) => a + b, 0));
    return {
      nodes: split.length,
      clients: res.clients,
      connectFailures: failed,
      updatesPerSec: Math.round(res.updatesPerSec),
      deliveredRatio: Math.round((res.updatesPerSec / owed) * 1000) / 1000,
      framesPerSec: Math.round(res.framesPerSec),
      latencyP50Ms: res.latency.p50Ms,
      latencyP99Ms: res.latency.p99Ms,
      latencyMaxMs: res.latency.maxMs,
      serverCpuPct: cpu1.map((end, k) => {
        const start = cpu0[k] ?? null;
        return start === null || end === null ? null : Math.round(((end - start) / (w1 - w0)) * 1000) / 10;
      }),
      clientCpuPct: Math.round(res.clientCpuPct),
      disconnects: res.disconnects,
      otherLoadPct,
    };
  } finally {
    await run.closePool(pool);
    for (const s of servers) await run.stopServer(s);
  }
}

/** Waits until the gateway on `port` has received feed batches over Redis. @param {number} port */
async function waitForRelay(port) {
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      const body = /** @type {any} */ (await res.json());
      if (body.cluster?.redis === 'ok' && body.cluster.bus.received > 0) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`gateway on ${port} received no feed over Redis in 15 s`);
    await sleep(100);
  }
}
