// Scenario `scale`: cfg.scale.target (20,000) viewers of ours on ONE gateway, at the 1000 ms tier,
// each with its own seeded random 10 of the 20 symbols, then one window: p99 latency against the
// bound (tier + 100 ms), quotes delivered against owed, server CPU and RSS, failed connects.
//
// The gateway's caps stay as shipped (MAX_CONNECTIONS 20,000, MAX_CONNECTIONS_PER_IP 200): the
// load generator spreads its connections over the loopback source addresses 127.0.0.2, 127.0.0.3,
// ... 200 per address (all of 127.0.0.0/8 is loopback on Linux) instead of lifting the per-address
// cap. What it cannot get around is the open-files limit: the gateway caps its HTTP connections at
// that limit less FD_RESERVE (backend/src/ops/http-limits.ts), so with a hard limit of 20,000 it
// holds at most 19,744 sockets. The scenario connects min(target, that cap less a small margin)
// and the result says how many and why.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { symbolSets } from '../lib/client-pool.mjs';

/** @typedef {import('../lib/bench-run.mjs').BenchRun} BenchRun */
/** @typedef {import('../lib/results.mjs').ScaleResult} ScaleResult */

/** Descriptors a load-generator process keeps for anything but its clients (IPC, Node's own). */
const WORKER_FD_RESERVE = 200;

/**
 * The "Max open files" limits of a process (`/proc/<pid>/limits`); null where unknown or unlimited.
 * @param {number | 'self'} pid @returns {{ soft: number | null, hard: number | null }}
 */
export function openFilesLimit(pid) {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    const num = (/** @type {string | undefined} */ s) => (s && /^\d+$/.test(s) ? Number(s) : null);
    return { soft: num(m?.[1]), hard: num(m?.[2]) };
  } catch {
    return { soft: null, hard: null };
  }
}

/** The gateway's FD_RESERVE, from its build (256 when that cannot be read). */
async function gatewayFdReserve() {
  try {
    const mod = await import('../../backend/dist/ops/http-limits.js');
    return typeof mod.FD_RESERVE === 'number' ? mod.FD_RESERVE : 256;
  } catch {
    return 256;
  }
}

/** @param {BenchRun} run */
export async function runScale(run) {
  const { cfg } = run;
  const sc = cfg.scale;
  run.log(
    `scale: up to ${sc.target} viewers of ours @ ${sc.tierMs} ms, ${sc.perAddress} per source address (feed ${sc.feedRate} ticks/s, trades off)`,
  );
  const server = await run.startServer('ours', {
    feedRate: sc.feedRate,
    env: {
      FEED_TRADE_PROBABILITY: String(sc.tradeProbability),
      // the gateway's own defaults, which the harness lifts for every other scenario
      MAX_CONNECTIONS: String(sc.target),
      MAX_CONNECTIONS_PER_IP: String(sc.perAddress),
    },
  });
  /** @type {import('../lib/client-pool.mjs').ClientPool | null} */
  let pool = null;
  try {
    const gatewayFiles = openFilesLimit(server.pid);
    const workerFiles = openFilesLimit('self'); // the workers inherit the harness's limit
    const reserve = await gatewayFdReserve();
    const httpCap = gatewayFiles.soft === null ? null : gatewayFiles.soft - reserve;
    const byFds = httpCap === null ? sc.target : Math.floor((httpCap - sc.marginConnections) / 100) * 100;
    const attempted = Math.max(0, Math.min(sc.target, byFds));
    /** @type {string | null} */
    let whyNotTarget = null;
    if (attempted < sc.target) {
      const fixed = gatewayFiles.soft === gatewayFiles.hard ? ', the hard limit: it cannot be raised here' : '';
      whyNotTarget =
        `the open-files limit (RLIMIT_NOFILE) is ${gatewayFiles.soft}${fixed}; the gateway caps HTTP connections at that ` +
        `less its ${reserve} spare descriptors = ${httpCap} (backend/src/ops/http-limits.ts; a MAX_HTTP_CONNECTIONS above ` +
        `it is lowered to it), and ${httpCap === null ? 0 : httpCap - attempted} more are kept free below that cap`;
    }
    const perWorker = workerFiles.soft === null ? attempted : workerFiles.soft - WORKER_FD_RESERVE;
    const workers = Math.max(cfg.workers, Math.ceil(attempted / Math.max(1, perWorker)));
    const addresses = Math.ceil(attempted / sc.perAddress);
    run.log(
      `scale: connecting ${attempted} viewers over ${workers} load-generator processes from ${addresses} addresses` +
        (whyNotTarget ? ` (not ${sc.target}: ${whyNotTarget})` : ''),
    );
    pool = run.newPool(workers);
    const t0 = performance.now();
    const conn = await run.addClients(pool, server, attempted, sc.tierMs, {
      // every viewer its own watchlist
      symbolSets: symbolSets(run.symbols, cfg.symbolsPerClient, 'random', attempted),
      concurrency: sc.connectConcurrency,
      deadlineMs: sc.connectDeadlineMs,
      timeoutMs: sc.handshakeTimeoutMs,
      sourceAddresses: { first: sc.firstAddress, perAddress: sc.perAddress },
    });
    const connectSeconds = Math.round((performance.now() - t0) / 100) / 10;
    run.log(`scale: ${conn.connected} connected, ${conn.failed} failed in ${connectSeconds} s`);
    await sleep(sc.warmupMs);
    const owedPerSec = run.owed(conn.connected, sc.tierMs);
    const m = await run.measure(server, pool, sc.windowMs, owedPerSec);
    m.connectFailures = conn.failed;
    const held =
      m.latencyP99Ms !== null &&
      m.latencyP99Ms <= sc.boundMs &&
      (m.deliveredRatio ?? 0) >= sc.minDelivered &&
      conn.failed === 0 &&
      m.disconnects === 0 &&
      m.clients >= conn.connected &&
      !m.overloaded;
    run.log(`scale: ${run.fmt(m)}${held ? '' : '  <- over bound'}`);
    run.results.scale = {
      status: 'ok',
      target: sc.target,
      attempted,
      whyNotTarget,
      connected: conn.connected,
      connectFailures: conn.failed,
      connectErrors: conn.errors,
      connectSeconds,
      addresses,
      perAddress: sc.perAddress,
      workers,
      limits: {
        gatewayOpenFiles: gatewayFiles.soft,
        gatewayOpenFilesHard: gatewayFiles.hard,
        gatewayHttpCap: httpCap,
        workerOpenFiles: workerFiles.soft,
      },
      tierMs: sc.tierMs,
      feedRate: sc.feedRate,
      tradeProbability: sc.tradeProbability,
      boundMs: sc.boundMs,
      owedPerSec,
      held,
      window: m,
    };
  } finally {
    if (pool) await run.closePool(pool);
    await run.stopServer(server);
  }
}
