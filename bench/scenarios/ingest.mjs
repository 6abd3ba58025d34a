// Scenario `ingest`: market state + the throttler on one core, no network
// (`node bench/ingest-micro.mjs --json --alerts N`), its JSON line merged as is: the ticks/s with
// the price alerts' book empty, then with N armed alerts, in the same run (issue 16).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/config.mjs';
import { lastJsonLine } from '../lib/json-line.mjs';

/** @param {import('../lib/bench-run.mjs').BenchRun} run */
export async function runIngestMicro(run) {
  const script = join(ROOT, 'bench/ingest-micro.mjs');
  if (!existsSync(script)) {
    run.results.ingestMicro = { status: 'not run', reason: 'bench/ingest-micro.mjs does not exist yet' };
    run.log('ingest micro: not run (bench/ingest-micro.mjs absent)');
    return;
  }
  const args = ['--json', '--alerts', String(run.cfg.ingestAlerts), ...(run.quick ? ['--seconds', '1'] : [])];
  run.log(`ingest micro: node bench/ingest-micro.mjs ${args.join(' ')}`);
  const figures = lastJsonLine('ingest-micro', await run.runNode(script, args, run.cfg.ingestTimeoutMs));
  run.results.ingestMicro = { status: 'ok', ...figures };
  run.log(`ingest micro: ${JSON.stringify(figures).slice(0, 200)}`);
}
