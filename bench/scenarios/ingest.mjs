// Scenario `ingest`: market state + the throttler on one core, no network
// (`node bench/ingest-micro.mjs --json --alerts N`), its JSON line merged as is: the ticks/s with
// the price alerts' book empty, then with N armed alerts, in the same run (issue 16).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/config.mjs';

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
  const { code, out, err } = await run.runNode(script, args, run.cfg.ingestTimeoutMs);
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
  run.results.ingestMicro = { status: 'ok', .../** @type {Record<string, unknown>} */ (JSON.parse(line)) };
  run.log(`ingest micro: ${line.slice(0, 200)}`);
}
