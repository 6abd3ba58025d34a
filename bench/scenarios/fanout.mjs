// Scenario `fanout`: cfg.fanoutClients clients × 10 of 20 symbols at the 100 ms tier against one
// server, one window, per workload (how the clients pick their symbols). The ramp (ramp.mjs)
// continues on the same server and clients.
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../lib/config.mjs';
import { runRamp } from './ramp.mjs';

/** @typedef {import('../lib/bench-run.mjs').BenchRun} BenchRun */
/** @typedef {import('../lib/config.mjs').ServerKey} ServerKey */
/** @typedef {import('../lib/config.mjs').Workload} Workload */

/**
 * Fan-out at cfg.fanoutClients, then (for the workload's ramp servers) the ramp on the same server.
 * @param {BenchRun} run @param {ServerKey} key @param {Workload} workload
 */
export async function runFanoutAndRamp(run, key, workload) {
  const { cfg, results } = run;
  const doFanout = run.scenarios.includes('fanout');
  const doRamp = run.scenarios.includes('ramp') && cfg.ramp.servers[workload].includes(key);
  if (!doFanout && !doRamp) return;
  const fanouts = (results.fanout[workload] ??= {});
  const ramps = (results.ramp[workload] ??= {});
  run.log(`${key} (${workload}): starting (feed ${cfg.feedRate} ticks/s)`);
  const server = await run.startServer(key, { feedRate: cfg.feedRate });
  const pool = run.newPool();
  const throttled = key !== 'naive';
  try {
    /** @type {import('../lib/results.mjs').Measurement | null} */
    let fanout = null;
    if (doFanout) {
      const conn = await run.addClients(pool, server, cfg.fanoutClients, cfg.tierMs, { workload });
      await sleep(cfg.warmupMs);
      const profilePath = join(ROOT, 'bench/results', `${run.name}-${key}-${workload}-fanout.cpuprofile`);
      if (cfg.profile) await server.probe('profile-start', 5000);
      const m = await run.measure(server, pool, cfg.windowMs, throttled ? run.owed(cfg.fanoutClients) : null);
      if (cfg.profile) {
        const done = await server.probe('profile-stop', 20_000, { path: profilePath });
        if (done?.ok) run.log(`${key}: profile written to ${relative(ROOT, profilePath)}`);
        m.profile = done?.ok ? relative(ROOT, profilePath) : null;
      }
      fanout = m;
      m.connectFailures = conn.failed;
      fanouts[key] = m;
      run.log(`${key} fan-out (${workload}): ${run.fmt(m)}`);
      if (cfg.tradeProbability === 0 && m.tradeFramesPerSec > 0) {
        run.errors.push(
          `${key}: trades arrive although FEED_TRADE_PROBABILITY=0 — it ignores the variable, so its workload differs from the peers'`,
        );
      }
      if (server.exited && !server.overloaded)
        throw new Error(`${key} exited during fan-out (${server.exitSignal ?? server.exitCode}): ${server.why()}`);
    }
    if (!doRamp || server.exited) return;
    ramps[key] = await runRamp(run, key, workload, server, pool, fanout, doFanout);
  } finally {
    await run.closePool(pool);
    await run.stopServer(server);
  }
}
