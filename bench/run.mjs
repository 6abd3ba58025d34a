#!/usr/bin/env node
// `npm run bench`: every scenario of issues 3, 13 and 14 in one bounded run, on 127.0.0.1 only, ours
// beside the baseline peers, with the same lean load generator. Writes bench/results/latest.json (every
// figure) and bench/results/latest.md (the table). `--quick` is the CI smoke run (< 60 s): it
// exits non-zero when a scenario errors, and does not judge the numbers.
// The scenarios are bench/scenarios/*.mjs; what they share is bench/lib/bench-run.mjs.
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { BenchRun } from './lib/bench-run.mjs';
import { BROKERS, findBinary } from './lib/brokers.mjs';
import { HELP, ROOT, SERVER_DEFS, UsageError, parseCli, serverDef } from './lib/config.mjs';
import { releaseLock, waitForMachine } from './lib/machine.mjs';
import { evaluateTargets } from './lib/report.mjs';
import { otherLoadWarning, writeResults } from './lib/results.mjs';
import { runBrowser } from './scenarios/browser.mjs';
import { runCandles } from './scenarios/candles.mjs';
import { runCluster } from './scenarios/cluster.mjs';
import { runFanoutAndRamp } from './scenarios/fanout.mjs';
import { runHistoryCost } from './scenarios/history.mjs';
import { runIngestFeed } from './scenarios/ingest-feed.mjs';
import { runIngestMicro } from './scenarios/ingest.mjs';
import { runMemory } from './scenarios/memory.mjs';
import { runScale } from './scenarios/scale.mjs';

/** The command line, or exit: 0 after the help text, 1 on a usage error. */
function optionsOrExit() {
  try {
    const opts = parseCli(process.argv.slice(2));
    if (opts) return opts;
    console.log(HELP);
    process.exit(0);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench: ${err.message}\n\n${HELP}`);
    process.exit(1);
  }
}

const opts = optionsOrExit();
const { cfg, scenarios, out } = opts;
const run = new BenchRun({ cfg, name: opts.name, quick: opts.quick, scenarios });
const { results } = run;
run.live.killOnExit(releaseLock);

/** @param {string} name */
const wants = (name) => scenarios.includes(name);

async function main() {
  run.log(
    `tickdeck bench (${cfg.mode}): ${results.machine.cores} cores, ${results.machine.cpuModel}, Node ${results.machine.node}`,
  );
  const machine = await waitForMachine({
    waitMs: cfg.waitForMachineMs,
    quietWaitMs: cfg.quietWaitMs,
    otherLoadWarnPct: cfg.otherLoadWarnPct,
    log: (msg) => run.log(msg),
  });
  results.otherLoadAtStartPct = machine.otherLoadPct;
  if (!machine.quiet) {
    run.warnings.push(
      `the machine was busy before the run (${machine.otherLoadPct} % of a core used by other processes)`,
    );
  }
  const servers = opts.servers.filter((s) => {
    if (s === 'ours' && !existsSync(SERVER_DEFS.ours.script)) {
      run.errors.push(`ours: ${relative(ROOT, SERVER_DEFS.ours.script)} missing (run npm run build)`);
      return false;
    }
    const broker = serverDef(s).broker;
    if (broker && !findBinary(BROKERS[broker].command)) {
      const { command, debianPackage } = BROKERS[broker];
      const why = `${s}: SKIPPED: ${command} is not installed (apt-get install ${debianPackage})`;
      // CI installs it (.ci/run), so there a missing broker is an error, not a skip
      if (process.env.CI === 'true') run.errors.push(why);
      else run.warnings.push(why);
      run.log(why);
      return false;
    }
    return true;
  });
  const hasOurs = servers.includes('ours');
  const needsOurs = () => /** @type {const} */ ({ status: 'not run', reason: 'needs --servers ours' });

  if (wants('ingest')) await run.guarded('ingest micro', () => runIngestMicro(run));
  if (wants('ingest-feed')) {
    if (hasOurs) await run.guarded('ingest /feed', () => runIngestFeed(run));
    else results.ingestFeed = needsOurs();
  }
  for (const workload of cfg.workloads) {
    for (const key of servers)
      await run.guarded(`${key} fan-out/ramp (${workload})`, () => runFanoutAndRamp(run, key, workload));
  }
  if (wants('history')) {
    if (hasOurs) await run.guarded('history', () => runHistoryCost(run));
    else results.history = needsOurs();
  }
  if (wants('candles')) {
    if (hasOurs) await run.guarded('candles', () => runCandles(run));
    else results.candles = needsOurs();
  }
  if (wants('memory')) for (const key of servers) await run.guarded(`${key} memory`, () => runMemory(run, key));
  if (wants('scale')) {
    if (hasOurs) await run.guarded('scale', () => runScale(run));
    else results.scale = needsOurs();
  }
  if (wants('browser')) {
    if (hasOurs) await run.guarded('browser', () => runBrowser(run));
    else results.browser = needsOurs();
  }
  if (wants('cluster')) {
    if (hasOurs) await run.guarded('cluster', () => runCluster(run));
    else results.cluster = needsOurs();
  }

  const loaded = otherLoadWarning(results, cfg.otherLoadWarnPct);
  if (loaded) run.warnings.push(loaded);
  results.targets = evaluateTargets(results);
  results.wallSeconds = run.elapsedSeconds();
  const { jsonPath, mdPath } = writeResults(results, out, opts.name);
  run.log(`wrote ${relative(ROOT, jsonPath)} and ${relative(ROOT, mdPath)} in ${results.wallSeconds} s`);
  for (const w of run.warnings) console.error(`bench: warning: ${w}`);
  if (run.errors.length > 0) {
    console.error(`bench: ${run.errors.length} scenario error(s):\n  ${run.errors.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error('bench: failed:', err);
  run.live.killAll();
  process.exit(2);
});
