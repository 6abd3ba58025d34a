// Scenario `browser`: the dashboard in headless Chromium, 8 charts at the 100 ms tier
// (bench/browser.mjs, which also runs on its own).
import { runBrowserBench } from '../browser.mjs';

/** @param {import('../lib/bench-run.mjs').BenchRun} run */
export async function runBrowser(run) {
  const seconds = run.quick ? 5 : 30;
  run.log(`browser: 8 charts at 100 ms in headless Chromium for ${seconds} s`);
  const result = await runBrowserBench({ seconds, warmupSeconds: run.quick ? 1 : 3 });
  run.results.browser = result;
  run.log(`browser: ${JSON.stringify({ ...result, chartPoints: undefined, fpsSamples: undefined })}`);
}
