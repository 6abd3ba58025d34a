// Scenario `ramp` (cfg.ramp.servers per workload): from cfg.ramp.startClients, steps sized from the CPU
// readings, bisections between the last step held and the first over, then a window at half
// the clients held. Runs on the server and clients the fan-out left (fanout.mjs).
import { setTimeout as sleep } from 'node:timers/promises';

/** @typedef {import('../lib/bench-run.mjs').BenchRun} BenchRun */
/** @typedef {import('../lib/server-proc.mjs').ServerProc} ServerProc */
/** @typedef {import('../lib/client-pool.mjs').ClientPool} ClientPool */
/** @typedef {import('../lib/results.mjs').Measurement} Measurement */
/** @typedef {import('../lib/results.mjs').RampResult} RampResult */

/**
 * Held: p99 within the bound, and the server keeps the contract — it delivers what the
 * subscriptions are owed (a throttler that falls behind flushes less often instead of queueing,
 * so latency alone would not show it), loses no client and was not killed.
 * @param {BenchRun['cfg']['ramp']} bound @param {Measurement} step @param {number} expectedClients
 */
export function withinBound(bound, step, expectedClients) {
  return (
    step.latencyP99Ms !== null &&
    step.latencyP99Ms <= bound.boundMs &&
    (step.deliveredRatio ?? 0) >= bound.minDelivered &&
    step.disconnects === 0 &&
    step.clients >= expectedClients &&
    !step.overloaded
  );
}

/** @param {number} x @param {number} step */
function roundTo(x, step) {
  return Math.round(x / step) * step;
}

/**
 * Judges a ramp window; one over the bound is measured once more and counts as over only if
 * that window is too, so a single hiccup (a GC, a late timer) does not end the ramp early.
 * @param {BenchRun} run @param {string} key  the server and workload, for the log
 * @param {ServerProc} server @param {ClientPool} pool
 * @param {Measurement} m @param {number} clients @param {string} what
 */
async function confirm(run, key, server, pool, m, clients, what) {
  const { ramp } = run.cfg;
  m.within = withinBound(ramp, m, clients);
  run.log(`${key} ${what}: ${run.fmt(m)}${m.within ? '' : '  <- over bound'}`);
  if (m.within || server.exited || m.overloaded || ramp.confirmations === 0) return m;
  const again = await run.measure(server, pool, ramp.windowMs, run.owed(clients));
  again.within = withinBound(ramp, again, clients);
  again.retried = true;
  run.log(`${key} ${what} (again): ${run.fmt(again)}${again.within ? '' : '  <- over bound'}`);
  return again.within ? again : m;
}

/**
 * The ramp starts low and grows by what the CPU readings predict is left, then bisects.
 * @param {BenchRun} run @param {string} serverKey the server
 * @param {import('../lib/config.mjs').Workload} workload how its clients pick their symbols
 * @param {ServerProc} server @param {ClientPool} pool
 * @param {Measurement | null} fanout the fan-out window on this server and pool, if one ran
 * @param {boolean} afterFanout whether the fan-out ran first (the pool changes size, so warm up longer)
 * @returns {Promise<RampResult>}
 */
export async function runRamp(run, serverKey, workload, server, pool, fanout, afterFanout) {
  const { cfg } = run;
  const key = `${serverKey} (${workload})`;
  const add = (/** @type {number} */ count) => run.addClients(pool, server, count, cfg.tierMs, { workload });
  let n = cfg.ramp.startClients;
  // When the ramp starts where the fan-out stands, the fan-out window is its first step.
  let reuse = fanout !== null && n === cfg.fanoutClients && pool.total === n;
  if (!reuse) {
    if (pool.total > n) await pool.shrinkTo(n);
    else await add(n - pool.total);
    await sleep(cfg.ramp.warmupMs * (afterFanout ? 2 : 1));
  }
  /** @type {RampResult['steps']} */
  const steps = [];
  /** @type {Measurement[]} */
  const measured = [];
  let held = 0;
  let bad = 0;
  let capped = false;
  for (;;) {
    const first = reuse && fanout ? { ...fanout } : await run.measure(server, pool, cfg.ramp.windowMs, run.owed(n));
    reuse = false;
    const m = await confirm(run, key, server, pool, first, n, 'ramp');
    steps.push(m);
    measured.push(m);
    if (!m.within) {
      bad = n;
      break;
    }
    held = n;
    if (n >= cfg.ramp.maxClients) {
      capped = true;
      break;
    }
    if (steps.length >= cfg.ramp.maxSteps || server.exited) break;
    // Load grows linearly with clients: aim just under where the server's core or the whole
    // machine would be full, but never less than +15 % or more than x2 per step.
    const srv = Math.max(1, m.serverCpuPct ?? 100);
    const all = Math.max(1, srv + m.clientCpuPct);
    const predicted = n * Math.min(100 / srv, (cfg.machineCores * 100) / all);
    const next = Math.min(cfg.ramp.maxClients, roundTo(Math.max(n * 1.15, Math.min(n * 2, predicted * 0.9)), 50));
    const c = await add(next - n);
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
    await sleep(cfg.ramp.warmupMs);
  }
  for (let b = 0; b < cfg.ramp.bisections && held && bad && bad - held > held * 0.08 && !server.exited; b += 1) {
    const mid = roundTo((held + bad) / 2, 50);
    if (mid <= held || mid >= bad) break;
    if (pool.total > mid) await pool.shrinkTo(mid);
    else await add(mid - pool.total);
    await sleep(cfg.ramp.warmupMs * 2);
    const m = await confirm(
      run,
      key,
      server,
      pool,
      await run.measure(server, pool, cfg.ramp.windowMs, run.owed(mid)),
      mid,
      'ramp (bisect)',
    );
    m.bisect = true;
    steps.push(m);
    measured.push(m);
    if (m.within) held = mid;
    else bad = mid;
  }
  const best = measured
    .filter((m) => m.within && m.clients <= held)
    .reduce((/** @type {Measurement | null} */ a, m) => (a && a.updatesPerSec >= m.updatesPerSec ? a : m), null);
  /** @type {RampResult} */
  const ramp = {
    boundMs: cfg.ramp.boundMs,
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
  if (cfg.ramp.halfLoad && held && !server.exited) {
    const half = Math.max(50, roundTo(held / 2, 50));
    await pool.shrinkTo(half);
    await sleep(cfg.ramp.warmupMs * 2);
    const m = await run.measure(server, pool, cfg.ramp.windowMs, run.owed(half));
    ramp.halfLoad = {
      ...m,
      ofMaxUpdates: best ? Math.round((m.updatesPerSec / best.updatesPerSec) * 100) / 100 : null,
      // the clients of this load were all connected once (the ramp held more); any not open now failed
      connectFailures: Math.max(0, half - m.clients),
    };
    run.log(`${key} half load: ${run.fmt(m)}`);
  }
  return ramp;
}
