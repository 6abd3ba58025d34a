// Scenario `browser`: the dashboard in headless Chromium, 8 candle charts at 1m with a day of
// bars each (a SQLite store seeded first), at the 100 ms tier (bench/browser.mjs, which also
// runs on its own).
import { runBrowserBench } from '../browser.mjs';

/** @param {import('../lib/bench-run.mjs').BenchRun} run */
export async function runBrowser(run) {
  const seconds = run.quick ? 5 : 30;
  run.log(`browser: 8 candle charts (1m, a day of bars each) at 100 ms in headless Chromium for ${seconds} s`);
  const result = await runBrowserBench({ seconds, warmupSeconds: run.quick ? 1 : 3 });
  run.results.browser = result;
  run.log(`browser: ${JSON.stringify({ ...result, chartPoints: undefined, fpsSamples: undefined })}`);
  if (result.otherLoadPct > run.cfg.otherLoadWarnPct) {
    run.warnings.push(
      `browser: other processes used ${result.otherLoadPct} % of a core while it was measured: its figures are not comparable`,
    );
  }
}
