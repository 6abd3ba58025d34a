#!/usr/bin/env node
// Browser bench of the dashboard: the real gateway, real Chromium (the system's, never a
// download), eight 1m candle charts at the 100 ms tier, each holding a day of bars. The gateway
// starts on a SQLite store seeded first with a day of history of the eight symbols
// (bench/seed-history.mjs --days 1 --states, so it continues the seeded walk); the page opens
// with stored preferences of the dashboard's current shape (prefs.svelte.ts), each chart pages
// back through its day (Home on the chart, as a user would, until no older bar exists) and
// returns to now; the bench then checks through the page's test hook (test-hook.ts) that every
// chart holds the seeded day before it measures. Reports frames per second (median of 1 s
// samples), the longest main-thread task (PerformanceObserver 'longtask'), the gzipped size of
// the built JavaScript, and what other processes used of the machine meanwhile. Prints one JSON
// object; `npm run bench` merges it as scenario `browser`.
//
//   node bench/browser.mjs [--seconds 30] [--warmup 3] [--trace FILE] [--profile FILE] [--dashboard DIR]
//
// --trace FILE also records a CDP performance trace of the measured window (chrome://tracing,
// or DevTools' Performance panel): what the long tasks and the frames are made of; --profile
// FILE the page's CPU profile (node bench/lib/profile-summary.mjs FILE); --dashboard DIR serves
// another build (vite build --mode e2e --minify false --outDir DIR: readable function names).
/* global window, document, requestAnimationFrame -- page.evaluate / addInitScript callbacks run in the page */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { CHROMIUM, CHROMIUM_ARGS } from './lib/chromium.mjs';
import { lastJsonLine } from './lib/json-line.mjs';
import { cpuMs, machineBusyMs } from './lib/server-proc.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'backend/dist/main.js');
const DIST = join(ROOT, 'frontend/dist');
/** The build with the page's test hook (`vite build --mode e2e`), which the bench reads. */
const E2E_DIST = join(ROOT, 'frontend/dist-e2e');
const SEED_SCRIPT = join(ROOT, 'bench/seed-history.mjs');

/** The eight symbols the bench charts. */
export const BENCH_SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'TSLA', 'BTC-USD', 'ETH-USD', 'SOL-USD', 'AMD'];
/** The charts' interval, and the days of it the store holds before the gateway starts. */
const BENCH_INTERVAL = '1m';
const BENCH_DAYS = 1;
const BENCH_TIER_MS = 100;

/**
 * Starts `node backend/dist/main.js` on 127.0.0.1 and resolves once it prints its `listening on` line.
 * @param {Record<string, string>} env
 * @returns {Promise<{ url: string, port: number, pid: number, stop: () => Promise<void> }>}
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
    pid: /** @type {number} */ (child.pid),
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
 * Stored preferences (the shape of frontend/src/lib/prefs.svelte.ts's `PrefsData`) that open
 * `symbols` as candle charts at `interval`, at the throttle tier `tierMs`; the watchlist is the
 * gateway's whole universe (`null`, as on a first visit). A number for `interval` is a chart
 * window in seconds as the line-chart dashboard stored it, mapped as the page maps an old one.
 * @param {readonly string[]} symbols @param {number} tierMs
 * @param {import('@tickdeck/protocol').CandleInterval | number} [interval]
 */
export function prefsWith(symbols, tierMs, interval = BENCH_INTERVAL) {
  const iv = typeof interval === 'number' ? (interval <= 60 ? '1s' : interval <= 300 ? '5s' : '1m') : interval;
  return JSON.stringify({
    sort: null,
    watchlist: null,
    charts: symbols.map((symbol) => ({ symbol, interval: iv, mode: 'candles' })),
    tierMs,
    largeTrade: 500_000,
  });
}

/**
 * Seeds `dir` (a DATA_DIR) with `days` of bars of `symbols` and their last states, through
 * bench/seed-history.mjs in a child process; its figures.
 * @param {string} dir @param {readonly string[]} symbols @param {number} days
 * @returns {Promise<import('./seed-history.mjs').SeedResult>}
 */
export async function seedStore(dir, symbols, days) {
  const args = [SEED_SCRIPT, '--store', 'sqlite', '--dir', dir, '--days', String(days)];
  args.push('--symbols', symbols.join(','), '--states', '--json');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const code = /** @type {number | null} */ (await new Promise((resolve) => child.once('exit', resolve)));
  return /** @type {import('./seed-history.mjs').SeedResult} */ (lastJsonLine('seed-history', { code, out, err }));
}

/**
 * CPU time (ms) of `pid` and every process under it (the gateway, Chromium's browser, renderer, GPU
 * and utility processes), as far as they are alive.
 * @param {number} pid
 */
function treeCpuMs(pid) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const todo = [pid];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    total += cpuMs(p) ?? 0;
    todo.push(...(children.get(p) ?? []));
  }
  return total;
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
 * A chart as the page's test hook reports it (frontend/src/lib/test-hook.ts `ChartView`; the part
 * the bench reads).
 * @typedef {{ symbol: string, interval: string, mode: string, points: number, drawn: number,
 *   xs: number[], follow: boolean, hasOlder: boolean, loadingOlder: boolean }} BenchChart
 */

/** @returns {BenchChart[]} every chart, in the page (the hook's `charts()` with its full type) */
const pageCharts = () => /** @type {BenchChart[]} */ (/** @type {unknown} */ (window.__tickdeck?.charts() ?? []));

/**
 * Pages every chart back through its stored day, as a user would: Home on the chart (the crosshair
 * to its oldest bar, which pages in older ones) until no older bar exists, then End (back to now)
 * and the focus away (the crosshair goes). Resolves to the charts as the hook then reports them.
 * @param {import('playwright-core').Page} page @param {readonly string[]} symbols @param {number} timeoutMs
 */
async function loadTheDay(page, symbols, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const chart = async (/** @type {string} */ symbol) =>
    (await page.evaluate(pageCharts)).find((c) => c.symbol === symbol);
  for (const symbol of symbols) {
    const surface = page.locator(`[data-chart="${symbol}"] [data-chart-keys]`);
    await surface.focus();
    for (;;) {
      const c = await chart(symbol);
      if (!c) throw new Error(`no chart of ${symbol} on the page`);
      if (!c.hasOlder && !c.loadingOlder) break;
      if (Date.now() > deadline)
        throw new Error(`${symbol}: its day of bars did not load in ${timeoutMs} ms (${c.points} bars held)`);
      if (!c.loadingOlder) await surface.press('Home');
      await page.waitForTimeout(100);
    }
    await surface.press('End');
    await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
  }
  return page.evaluate(pageCharts);
}

/**
 * The bench itself.
 * @param {{ seconds: number, warmupSeconds: number, trace?: string, profile?: string, dashboard?: string }} o
 *   trace: a file to write a CDP performance trace of the measured window to; profile: a file to
 *   write the page's CPU profile of it to (.cpuprofile: bench/lib/profile-summary.mjs reads it);
 *   dashboard: the built dashboard to serve instead of frontend/dist-e2e (an unminified build)
 */
export async function runBrowserBench({ seconds, warmupSeconds, trace, profile, dashboard }) {
  const bundle = bundleSizes();
  const dataDir = mkdtempSync(join(tmpdir(), 'tickdeck-bench-browser-'));
  try {
    const seed = await seedStore(dataDir, BENCH_SYMBOLS, BENCH_DAYS);
    const seededBars = seed.rowsPerInterval[BENCH_INTERVAL] ?? 0;
    const gateway = await spawnGateway({
      HISTORY_STORE: 'sqlite',
      DATA_DIR: dataDir,
      ...(dashboard ? { DASHBOARD_DIR: dashboard } : {}),
    });
    try {
      return {
        ...(await measure({ seconds, warmupSeconds, trace, profile, gateway, seededBars, seedTo: seed.to })),
        ...bundle,
      };
    } finally {
      await gateway.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * @param {{ seconds: number, warmupSeconds: number, trace?: string, profile?: string, seededBars: number, seedTo: number,
 *   gateway: Awaited<ReturnType<typeof spawnGateway>> }} o
 */
async function measure({ seconds, warmupSeconds, trace, profile, gateway, seededBars, seedTo }) {
  const browser = await launchChromium();
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
      prefsWith(BENCH_SYMBOLS, BENCH_TIER_MS, BENCH_INTERVAL),
    );
    const page = await context.newPage();
    await page.goto(gateway.url);
    await page.waitForFunction(() => window.__tickdeck?.connection() === 'live', undefined, { timeout: 20_000 });
    await page.waitForFunction(
      (n) => (window.__tickdeck?.charts() ?? []).filter((c) => c.points > 0).length >= n,
      BENCH_SYMBOLS.length,
      { timeout: 20_000 },
    );
    const loaded = await loadTheDay(page, BENCH_SYMBOLS, 60_000);
    // Every chart holds the seeded day (and what the gateway folded since), at 1m, following now.
    const short = loaded.filter(
      (c) => c.interval !== BENCH_INTERVAL || c.mode !== 'candles' || c.points < seededBars || !c.follow,
    );
    if (loaded.length !== BENCH_SYMBOLS.length || short.length > 0 || seededBars < 1400) {
      throw new Error(
        `the charts do not hold the seeded day (${seededBars} ${BENCH_INTERVAL} bars each): ` +
          loaded
            .map((c) => `${c.symbol} ${c.interval} ${c.mode} ${c.points} bars${c.follow ? '' : ' (panned)'}`)
            .join(', '),
      );
    }
    await page.waitForTimeout(warmupSeconds * 1000);
    const cdp = trace || profile ? await context.newCDPSession(page) : undefined;
    if (cdp && profile) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    /** @type {unknown[]} */
    const events = [];
    if (cdp && trace) {
      cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
      await cdp.send('Tracing.start', {
        transferMode: 'ReportEvents',
        traceConfig: {
          includedCategories: [
            'devtools.timeline',
            'disabled-by-default-devtools.timeline',
            'v8.execute',
            'blink',
            'disabled-by-default-v8.cpu_profiler',
          ],
        },
      });
    }
    // This process's tree: the bench, the gateway and Chromium (every one of its processes).
    const load0 = {
      machine: machineBusyMs(),
      gateway: cpuMs(gateway.pid) ?? 0,
      self: selfCpuMs(),
      tree: treeCpuMs(process.pid),
    };
    const t0 = performance.now();
    const m = await page.evaluate(async (ms) => {
      const charts = () => /** @type {BenchChart[]} */ (/** @type {unknown} */ (window.__tickdeck?.charts() ?? []));
      const charts0 = charts().map((c) => c.points);
      const quotes0 = window.__tickdeck?.quoteCount('AAPL') ?? 0;
      // The hook's copy of every bar above is not the dashboard's work: its task is not counted.
      await new Promise((resolve) => setTimeout(resolve, 100));
      window.__longTasks = [];
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
        charts: charts().map((c, i) => ({
          symbol: c.symbol,
          interval: c.interval,
          points: c.points,
          grew: c.points - (charts0[i] ?? 0),
          drawn: c.drawn,
          follow: c.follow,
        })),
        aaplQuotesPerSec: ((window.__tickdeck?.quoteCount('AAPL') ?? 0) - quotes0) / (ms / 1000),
      };
    }, seconds * 1000);
    const elapsed = performance.now() - t0;
    const treeMs = treeCpuMs(process.pid) - load0.tree;
    const gatewayMs = (cpuMs(gateway.pid) ?? 0) - load0.gateway;
    const selfMs = selfCpuMs() - load0.self;
    const chromiumMs = treeMs - gatewayMs - selfMs;
    const machineMs = machineBusyMs() - load0.machine;
    if (cdp && profile) {
      const { profile: p } = await cdp.send('Profiler.stop');
      writeFileSync(profile, JSON.stringify(p));
    }
    if (cdp && trace) {
      const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
      await cdp.send('Tracing.end');
      await done;
      writeFileSync(/** @type {string} */ (trace), JSON.stringify({ traceEvents: events }));
    }
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
    const pct = (/** @type {number} */ ms) => Math.round((ms / elapsed) * 100);
    return {
      status: /** @type {const} */ ('ok'),
      seconds,
      charts: m.charts.length,
      tierMs: BENCH_TIER_MS,
      interval: BENCH_INTERVAL,
      seededDays: BENCH_DAYS,
      seededBarsPerChart: seededBars,
      seededTo: new Date(seedTo).toISOString(),
      fpsMedian: median === null ? null : round1(median),
      fpsMin: slowest === null ? null : round1(slowest),
      fpsSamples: m.samples.map(round1),
      longTasks: m.longTasks.length,
      longestTaskMs: m.longTasks.length ? round1(Math.max(...m.longTasks)) : 0,
      longTasksMs: [...m.longTasks]
        .sort((a, b) => b - a)
        .slice(0, 10)
        .map(round1),
      aaplQuotesPerSec: round1(m.aaplQuotesPerSec),
      chartPoints: m.charts,
      // % of one core over the measured window; otherLoadPct: everything else on the machine
      chromiumCpuPct: pct(chromiumMs),
      gatewayCpuPct: pct(gatewayMs),
      otherLoadPct: Math.max(0, pct(machineMs - treeMs)),
      chromium: browser.version(),
      ...(trace ? { trace } : {}),
      ...(profile ? { profile } : {}),
    };
  } finally {
    await browser.close();
  }
}

/** CPU time of this process, ms. */
function selfCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '3' },
      trace: { type: 'string' },
      profile: { type: 'string' },
      dashboard: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: node bench/browser.mjs [--seconds N] [--warmup N] [--trace FILE] [--profile FILE] [--dashboard DIR]

Eight 1m candle charts, a day of bars each, at the 100 ms tier in headless Chromium (${CHROMIUM})
against a gateway on a freshly seeded SQLite store; prints JSON: fpsMedian, longestTaskMs,
jsGzipKB, otherLoadPct, ... --trace FILE: a CDP performance trace of the measured window;
--profile FILE: the page's CPU profile of it (node bench/lib/profile-summary.mjs FILE);
--dashboard DIR: serve that build of the dashboard (e.g. an unminified vite build --mode e2e).`);
    process.exit(0);
  }
  runBrowserBench({
    seconds: Number(values.seconds),
    warmupSeconds: Number(values.warmup),
    trace: values.trace,
    profile: values.profile,
    dashboard: values.dashboard,
  }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err) => {
      console.error(`bench/browser: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(2);
    },
  );
}
