// One measurement window: the load generator's counters, /proc and the server's probe, read
// over the same interval.
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMs, machineBusyMs } from './server-proc.mjs';

/** @typedef {import('./server-proc.mjs').ServerProc} ServerProc */
/** @typedef {import('./client-pool.mjs').ClientPool} ClientPool */
/** @typedef {import('./results.mjs').Measurement} Measurement */

/**
 * @param {ServerProc} server @param {ClientPool} pool @param {number} windowMs
 * @param {number | null} owedPerSec quotes/s the subscriptions are owed (null: not a throttled server)
 * @param {number} probeTimeoutMs how long to wait for the server's probe to answer
 * @returns {Promise<Measurement>}
 */
export async function measureWindow(server, pool, windowMs, owedPerSec, probeTimeoutMs) {
  await server.probe('eld-reset', probeTimeoutMs);
  const ownCpu = () =>
    pool.pids.reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0) +
    (process.cpuUsage().user + process.cpuUsage().system) / 1000;
  const cpu0 = server.cpuMs();
  const pub0 = server.publisherCpuMs();
  const own0 = ownCpu();
  const busy0 = machineBusyMs();
  const w0 = performance.now();
  await pool.start();
  await sleep(windowMs);
  const res = await pool.stop();
  const cpu1 = server.cpuMs();
  const pub1 = server.publisherCpuMs();
  const own1 = ownCpu();
  const busy1 = machineBusyMs();
  const w1 = performance.now();
  // CPU the machine spent on anything but this run: another benchmark or build on the same
  // 2 cores ruins the comparison, so it is measured and reported with every window.
  // A broker peer's publisher is part of the server under test, not other load.
  const pubMs = pub0 !== null && pub1 !== null ? pub1 - pub0 : null;
  const otherLoadPct =
    cpu0 !== null && cpu1 !== null
      ? ((busy1 - busy0 - (cpu1 - cpu0) - (pubMs ?? 0) - (own1 - own0)) / (w1 - w0)) * 100
      : null;
  const eld = await server.probe('eld-read', probeTimeoutMs);
  const rss = server.rssKB();
  return {
    clients: res.clients,
    updatesPerSec: Math.round(res.updatesPerSec),
    deliveredRatio: owedPerSec ? Math.round((res.updatesPerSec / owedPerSec) * 1000) / 1000 : null,
    framesPerSec: Math.round(res.framesPerSec),
    quotesPerFrame: Math.round(res.quotesPerFrame * 100) / 100,
    tradeFramesPerSec: Math.round(res.tradeFramesPerSec),
    bothFramesPerSec: Math.round(res.bothFramesPerSec),
    allFramesPerSec: Math.round(res.allFramesPerSec),
    mbPerSec: Math.round(res.mbPerSec * 10) / 10,
    latencyP50Ms: res.latency.p50Ms,
    latencyP99Ms: res.latency.p99Ms,
    latencyMaxMs: res.latency.maxMs,
    latencySamples: res.latency.samples,
    serverCpuPct: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / (w1 - w0)) * 1000) / 10 : null,
    ...(pubMs === null ? {} : { publisherCpuPct: Math.round((pubMs / (w1 - w0)) * 1000) / 10 }),
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

/**
 * One window on one log line.
 * @param {Measurement} m @param {number} otherLoadWarnPct other load above this is shouted
 */
export function fmt(m, otherLoadWarnPct) {
  return (
    `${m.clients} clients: ${m.updatesPerSec} upd/s${m.deliveredRatio !== null ? ` (${Math.round(m.deliveredRatio * 100)} % of owed)` : ''}, ` +
    `${m.framesPerSec} quote frames/s, ${m.tradeFramesPerSec} trade frames/s${m.bothFramesPerSec > 0 ? ` (${m.bothFramesPerSec} both)` : ''}, ` +
    `${m.clients > 0 ? Math.round((m.allFramesPerSec / m.clients) * 10) / 10 : 0} msgs/s per client, ${m.quotesPerFrame} quotes/frame, ` +
    `p50/p99/max ${m.latencyP50Ms}/${m.latencyP99Ms}/${m.latencyMaxMs} ms, cpu ${m.serverCpuPct}%${m.publisherCpuPct != null ? ` (+ publisher ${m.publisherCpuPct}%)` : ''}, rss ${m.serverRssMB} MB, ` +
    `eld p99 ${m.eldP99Ms} ms, clients' cpu ${m.clientCpuPct}%${(m.otherLoadPct ?? 0) > otherLoadWarnPct ? `, OTHER LOAD ${m.otherLoadPct}%` : ''}` +
    `${m.overloaded ? ` OVERLOADED (${m.overloaded})` : ''}`
  );
}
