#!/usr/bin/env node
// Browser bench of the dashboard: the real gateway, real Chromium (the system's, never a
// download), eight charts open at the 100 ms tier. Reports frames per second (median of 1 s
// samples), the longest main-thread task (PerformanceObserver 'longtask') and the gzipped size
// of the built JavaScript. Prints one JSON object; `npm run bench` merges it as scenario `browser`.
/* global window, requestAnimationFrame -- page.evaluate / addInitScript callbacks run in the page */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { CHROMIUM, CHROMIUM_ARGS } from './lib/chromium.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'backend/dist/main.js');
const DIST = join(ROOT, 'frontend/dist');
/** The build with the page's test hook (`vite build --mode e2e`), which the bench reads. */
const E2E_DIST = join(ROOT, 'frontend/dist-e2e');

/** The eight symbols the bench charts. */
export const BENCH_SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'TSLA', 'BTC-USD', 'ETH-USD', 'SOL-USD', 'AMD'];

/**
 * Starts `node backend/dist/main.js` on 127.0.0.1 and resolves once it prints its `listening on` line.
 * @param {Record<string, string>} env
 * @returns {Promise<{ url: string, port: number, stop: () => Promise<void> }>}
 */
export async function spawnGateway(env = {}) {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DASHBOARD_DIR: E2E_DIST,
      HISTORY_STORE: 'memory',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 20 s:\n${out}`)), 20_000);
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      out += chunk.toString();
      const m = /listening on https?:\/\/[^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${out}`));
    });
  });
  const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise((resolve) => {
        process.off('exit', kill);
        if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Launches the system Chromium through playwright-core. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Stored preferences that open `symbols` as charts at `tierMs` (the page reads them at load).
 * @param {readonly string[]} symbols @param {number} tierMs @param {number} [windowS] chart window, s
 */
export function prefsWith(symbols, tierMs, windowS = 300) {
  return JSON.stringify({
    sort: null,
    charts: symbols.map((symbol) => ({ symbol, windowS })),
    tierMs,
    largeTrade: 500_000,
  });
}

/** Gzipped bytes of every built JS and CSS asset. */
export function bundleSizes() {
  const assets = join(DIST, 'assets');
  if (!existsSync(assets)) throw new Error(`${assets} is missing: run npm run build -w @tickdeck/frontend`);
  let js = 0;
  let jsRaw = 0;
  let css = 0;
  for (const file of readdirSync(assets)) {
    const bytes = readFileSync(join(assets, file));
    if (file.endsWith('.js')) {
      js += gzipSync(bytes, { level: 9 }).length;
      jsRaw += bytes.length;
    } else if (file.endsWith('.css')) css += gzipSync(bytes, { level: 9 }).length;
  }
  return { jsGzipKB: round1(js / 1024), jsRawKB: round1(jsRaw / 1024), cssGzipKB: round1(css / 1024) };
}

const round1 = (/** @type {number} */ x) => Math.round(x * 10) / 10;

/**
 * The bench itself.
 * @param {{ seconds: number, warmupSeconds: number }} o
 */
export async function runBrowserBench({ seconds, warmupSeconds }) {
  const bundle = bundleSizes();
  const gateway = await spawnGateway();
  const browser = await launchChromium().catch(async (err) => {
    await gateway.stop();
    throw err;
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await context.addInitScript(
      (prefs) => {
        localStorage.setItem('tickdeck.prefs.v1', prefs);
        // Installed before any page script: long tasks from the very start are seen.
        window.__longTasks = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) window.__longTasks?.push(e.duration);
        }).observe({ type: 'longtask', buffered: true });
      },
      prefsWith(BENCH_SYMBOLS, 100),
    );
    const page = await context.newPage();
    await page.goto(gateway.url);
    await page.waitForFunction(() => window.__tickdeck?.connection() === 'live', undefined, { timeout: 20_000 });
    await page.waitForFunction((n) => (window.__tickdeck?.charts().length ?? 0) >= n, BENCH_SYMBOLS.length, {
      timeout: 20_000,
    });
    await page.waitForTimeout(warmupSeconds * 1000);
    const m = await page.evaluate(async (ms) => {
      window.__longTasks = [];
      const charts0 = window.__tickdeck?.charts().map((c) => c.points) ?? [];
      const quotes0 = window.__tickdeck?.quoteCount('AAPL') ?? 0;
      const samples = /** @type {number[]} */ ([]);
      let frames = 0;
      let start = performance.now();
      const end = start + ms;
      await new Promise((resolve) => {
        const tick = (/** @type {number} */ t) => {
          frames++;
          if (t - start >= 1000) {
            samples.push((frames * 1000) / (t - start));
            frames = 0;
            start = t;
          }
          if (t < end) requestAnimationFrame(tick);
          else resolve(undefined);
        };
        requestAnimationFrame(tick);
      });
      return {
        samples,
        longTasks: window.__longTasks ?? [],
        charts:
          window.__tickdeck?.charts().map((c, i) => ({
            symbol: c.symbol,
            points: c.points,
            grew: c.points - (charts0[i] ?? 0),
            drawn: c.drawn,
          })) ?? [],
        aaplQuotesPerSec: ((window.__tickdeck?.quoteCount('AAPL') ?? 0) - quotes0) / (ms / 1000),
      };
    }, seconds * 1000);
    if (m.aaplQuotesPerSec < 1) {
      // An idle page draws nothing: its figures would say nothing about the dashboard under load.
      throw new Error(
        `no quotes reached the page at the 100 ms tier (AAPL ${m.aaplQuotesPerSec}/s, ` +
          `${m.samples.length} fps samples, ${m.longTasks.length} long tasks): is the gateway delivering that tier?`,
      );
    }
    const sorted = [...m.samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? null;
    const slowest = sorted[0] ?? null;
    return {
      status: 'ok',
      seconds,
      charts: m.charts.length,
      tierMs: 100,
      fpsMedian: median === null ? null : round1(median),
      fpsMin: slowest === null ? null : round1(slowest),
      fpsSamples: m.samples.map(round1),
      longTasks: m.longTasks.length,
      longestTaskMs: m.longTasks.length ? round1(Math.max(...m.longTasks)) : 0,
      aaplQuotesPerSec: round1(m.aaplQuotesPerSec),
      chartPoints: m.charts,
      ...bundle,
      chromium: browser.version(),
    };
  } finally {
    await browser.close();
    await gateway.stop();
  }
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: node bench/browser.mjs [--seconds N] [--warmup N]

Eight charts open at the 100 ms tier in headless Chromium (${CHROMIUM}) against a fresh gateway;
prints JSON: fpsMedian, longestTaskMs, jsGzipKB, ...`);
    process.exit(0);
  }
  runBrowserBench({ seconds: Number(values.seconds), warmupSeconds: Number(values.warmup) }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err) => {
      console.error(`bench/browser: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(2);
    },
  );
}
