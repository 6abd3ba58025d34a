// The `cluster` scenario: the same client load on one gateway and on two gateways sharing a
// feed over Redis (issue 7), to show what scale-out buys and what the Redis hop costs. Needs
// redis-server on the PATH; without it the scenario is skipped, saying so (not an error).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { cpuMs, freePort, machineBusyMs } from './server-proc.mjs';

/** @param {string} command @returns {string | null} */
function which(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * @typedef {object} ClusterHooks the parts of bench/run.mjs the scenario uses
 * @property {any} CFG
 * @property {any} results
 * @property {(msg: string) => void} log
 * @property {(ms: number) => Promise<void>} sleep
 * @property {(key: string, o: { feedRate: number, env?: Record<string, string> }) => Promise<any>} startServer
 * @property {(server: any) => Promise<void>} stopServer
 * @property {() => any} newPool
 * @property {(pool: any) => Promise<void>} closePool
 * @property {(pool: any, server: any, count: number, tierMs: number) => Promise<{ failed: number }>} addClients
 * @property {(clients: number) => number} owed
 * @property {Set<import('node:child_process').ChildProcess>} liveOthers
 */

/** @param {ClusterHooks} h */
export async function runCluster(h) {
  const { CFG, results, log, sleep } = h;
  const bin = which('redis-server');
  if (!bin) {
    const reason = 'redis-server is not on the PATH (Debian package redis-server): the cluster scenario needs it';
    results.cluster = { status: 'skipped', reason };
    log(`cluster: SKIPPED: ${reason}`);
    return;
  }
  const port = await freePort();
  const redis = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  h.liveOthers.add(redis);
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
    const clients = CFG.fanoutClients;
    log(`cluster: ${clients} clients on one gateway, then split over two (Redis on ${port})`);

    const one = await measureCluster(h, url, [clients], /** @type {number} */ (redis.pid));
    log(`cluster, 1 node: ${fmt(one)}`);
    const half = Math.floor(clients / 2);
    const two = await measureCluster(h, url, [half, clients - half], /** @type {number} */ (redis.pid));
    log(`cluster, 2 nodes: ${fmt(two)}`);
    results.cluster = { status: 'ok', clients, tierMs: CFG.tierMs, oneNode: one, twoNodes: two };
  } finally {
    redis.kill('SIGKILL');
    h.liveOthers.delete(redis);
  }
}

/** @param {any} m */
function fmt(m) {
  return `${m.clients} clients: ${m.updatesPerSec} upd/s (${Math.round(m.deliveredRatio * 100)} % of owed), p50/p99 ${m.latencyP50Ms}/${m.latencyP99Ms} ms, server CPU ${m.serverCpuPct.join(' + ')} %${m.otherLoadPct > 15 ? `, OTHER LOAD ${m.otherLoadPct} %` : ''}`;
}

/**
 * Starts one gateway per entry of `split` (the first with the embedded feed, the others relaying
 * it from Redis), puts that many clients on each, and measures one window across all of them.
 * @param {ClusterHooks} h @param {string} url @param {number[]} split @param {number} redisPid
 */
async function measureCluster(h, url, split, redisPid) {
  const { CFG, sleep } = h;
  /** @type {any[]} */
  const servers = [];
  const pool = h.newPool();
  try {
    for (let k = 0; k < split.length; k++) {
      const env = { REDIS_URL: url, FEED: k === 0 ? 'embedded' : 'external' };
      servers.push(await h.startServer('ours', { feedRate: CFG.feedRate, env }));
    }
    // Every relay node must be on the bus before the clients come.
    for (const s of servers.slice(1)) await waitForRelay(s.port, sleep);
    let failed = 0;
    for (let k = 0; k < split.length; k++)
      failed += (await h.addClients(pool, servers[k], split[k], CFG.tierMs)).failed;
    await sleep(CFG.warmupMs);
    const cpu0 = servers.map((s) => s.cpuMs());
    const ours = () =>
      [...pool.pids, redisPid].reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0) +
      (process.cpuUsage().user + process.cpuUsage().system) / 1000;
    const own0 = ours();
    const busy0 = machineBusyMs();
    const w0 = performance.now();
    await pool.start();
    await sleep(CFG.windowMs);
    const res = await pool.stop();
    const w1 = performance.now();
    const cpu1 = servers.map((s) => s.cpuMs());
    const serverMs = servers.reduce((sum, _, k) => sum + ((cpu1[k] ?? 0) - (cpu0[k] ?? 0)), 0);
    // CPU the machine spent on anything but this run (servers, Redis, load generator, us).
    const otherLoadPct = Math.max(
      0,
      Math.round(((machineBusyMs() - busy0 - serverMs - (ours() - own0)) / (w1 - w0)) * 100),
    );
    const owed = h.owed(split.reduce((a, b) => a + b, 0));
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
      serverCpuPct: servers.map((_, k) =>
        cpu0[k] === null || cpu1[k] === null ? null : Math.round(((cpu1[k] - cpu0[k]) / (w1 - w0)) * 1000) / 10,
      ),
      clientCpuPct: Math.round(res.clientCpuPct),
      disconnects: res.disconnects,
      otherLoadPct,
    };
  } finally {
    await h.closePool(pool);
    for (const s of servers) await h.stopServer(s);
  }
}

/** Waits until the gateway on `port` has received feed batches over Redis. @param {number} port @param {(ms: number) => Promise<void>} sleep */
async function waitForRelay(port, sleep) {
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
