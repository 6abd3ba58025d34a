// Scenario `candles` (issue 14): GET /api/candles latency over cfg.candles.days of stored bars.
// Per store: bench/seed-history.mjs writes the bars (through the gateway's own adapter, in a
// child process), ours starts on them (HISTORY_RETENTION_* = 0 so nothing is pruned, the embedded
// feed at cfg.feedRate writing as usual), then per interval `requests` sequential
// GET /api/candles/AAPL?interval=X&limit=500&to=T with T random inside the seeded days and no
// later than the end of the last seeded bar, so the answer is all stored bars (the gateway's
// rings hold only what it folded since it started, all after T), asking for it as a browser does
// (brotli). Every answer is checked: the bars expected, oldest first, all before T.
//
// SQLite: a temp DATA_DIR. PostgreSQL: a fresh database `tickdeck_bench_<random>` on
// cfg.candles.pgAdminUrl's server, created here and dropped at the end (its sessions terminated
// first; also on Ctrl-C); no other database is touched. No PostgreSQL there: under CI=true an
// error, else a loud warning and no PostgreSQL rows.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { CANDLE_INTERVALS } from '@tickdeck/protocol';
import { ROOT } from '../lib/config.mjs';
import { lastJsonLine } from '../lib/json-line.mjs';
import { cpuMs, machineBusyMs } from '../lib/server-proc.mjs';
import { INTERVALS, seededBarCount } from '../seed-history.mjs';

/** @typedef {import('../lib/bench-run.mjs').BenchRun} BenchRun */
/** @typedef {import('../seed-history.mjs').SeedResult} SeedResult */
/** @typedef {import('@tickdeck/protocol').CandleInterval} CandleInterval */
/** @typedef {'sqlite' | 'postgres'} CandleStore */

/**
 * One interval's requests.
 * @typedef {object} CandleTiming
 * @property {number} requests
 * @property {number} barsMean  bars per answer
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} maxMs
 * @property {number} meanMs
 * @property {string} encoding  the last answer's Content-Encoding (bodies under 1 KiB go uncompressed)
 */

/**
 * @typedef {{ status: 'ok', seed: SeedResult, intervals: Record<string, CandleTiming>, worstP99Ms: number,
 *   worstInterval: string, serverCpuPct: number | null, postgresCpuPct?: number, otherLoadPct: number | null }
 *   | { status: 'skipped', reason: string }} CandleStoreResult
 *   serverCpuPct: the gateway over the requests; postgresCpuPct: every `postgres` process; otherLoadPct: what
 *   anything else used meanwhile (% of one core), as for every window of the fan-out
 */

/** @returns {number} CPU time (ms) of every process named `postgres` now (the server and its backends) */
function postgresCpuMs() {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    total += cpuMs(Number(pid)) ?? 0;
  }
  return total;
}

/**
 * @typedef {object} CandlesResult
 * @property {'ok'} status
 * @property {number} days
 * @property {string[]} symbols   seeded
 * @property {string} symbol      asked for
 * @property {number} limit
 * @property {number} requests    per interval and store
 * @property {number} feedRate
 * @property {Partial<Record<CandleStore, CandleStoreResult>>} stores
 */

const SEED_SCRIPT = join(ROOT, 'bench/seed-history.mjs');

/** HISTORY_RETENTION_* = 0 for every interval and the trades: nothing pruned. */
const KEEP_ALL = Object.fromEntries(
  [...INTERVALS.map((i) => i.toUpperCase()), 'TRADES'].map((k) => [`HISTORY_RETENTION_${k}`, '0']),
);

/**
 * What a browser asks for (the dashboard pages its charts through this endpoint): the gateway
 * compresses REST JSON over 1 KiB on the fly, brotli when offered (fetch alone offers gzip only).
 */
const ACCEPT = { 'accept-encoding': 'gzip, deflate, br, zstd', accept: 'application/json' };

/** @param {number[]} sorted ascending @param {number} p 0..100 @returns {number} nearest rank */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** @param {number} x */
const ms = (x) => Math.round(x * 100) / 100;

/**
 * Runs seed-history.mjs to its end; its figures (the JSON line it prints last).
 * @param {BenchRun} run @param {string[]} where `--store sqlite --dir D` or `--store postgres --url U`
 * @returns {Promise<SeedResult>}
 */
async function seed(run, where) {
  const c = run.cfg.candles;
  const argv = [
    ...where,
    '--days',
    String(c.days),
    '--symbols',
    c.symbols.join(','),
    '--batch',
    String(c.seedBatch),
    '--json',
  ];
  const child = await run.runNode(SEED_SCRIPT, argv, c.seedTimeoutMs);
  return /** @type {SeedResult} */ (lastJsonLine(`seed-history ${where[1]}`, child));
}

/**
 * The requests against one server: per interval, `warmup` + `requests` sequential GETs.
 * @param {BenchRun} run @param {import('../lib/server-proc.mjs').ServerProc} server @param {SeedResult} s
 * @param {() => number} rand
 * @returns {Promise<Record<string, CandleTiming>>}
 */
async function timeRequests(run, server, s, rand) {
  const { cfg } = run;
  const c = cfg.candles;
  const range = { from: s.from, to: s.to };
  /** @type {Record<string, CandleTiming>} */
  const out = {};
  for (const interval of INTERVALS) {
    const w = CANDLE_INTERVALS[interval];
    const first = Math.floor(range.from / w) * w;
    // T <= the end of the last seeded bar: the gateway's own bars (from its first tick on) start at or after it.
    const hi = Math.floor(range.to / w) * w;
    const lo = Math.min(first + c.limit * w, hi - w) + 1;
    /** @type {number[]} */
    const times = [];
    let bars = 0;
    let encoding = 'identity';
    for (let k = 0; k < c.warmup + c.requests; k++) {
      const to = lo + Math.floor(rand() * (hi - lo + 1));
      const url = `http://${cfg.host}:${server.port}/api/candles/${c.symbol}?interval=${interval}&limit=${c.limit}&to=${to}`;
      const t0 = performance.now();
      const res = await fetch(url, { headers: ACCEPT, signal: AbortSignal.timeout(c.requestTimeoutMs) });
      const body = /** @type {{ candles?: { start: number }[] }} */ (await res.json());
      const dt = performance.now() - t0;
      const got = body.candles ?? [];
      const want = Math.min(c.limit, seededBarCount(range, interval, to));
      const ordered = got.every((b, j) => b.start < to && (j === 0 || b.start > (got[j - 1]?.start ?? 0)));
      if (res.status !== 200 || got.length !== want || !ordered) {
        throw new Error(
          `GET ${url.replace(/^http:\/\/[^/]+/, '')}: HTTP ${res.status}, ${got.length} bars (expected ${want}${ordered ? '' : ', oldest first and all before to'})`,
        );
      }
      encoding = res.headers.get('content-encoding') ?? 'identity';
      if (k < c.warmup) continue;
      times.push(dt);
      bars += got.length;
    }
    times.sort((a, b) => a - b);
    out[interval] = {
      requests: times.length,
      barsMean: Math.round(bars / times.length),
      p50Ms: ms(percentile(times, 50)),
      p99Ms: ms(percentile(times, 99)),
      maxMs: ms(times[times.length - 1] ?? NaN),
      meanMs: ms(times.reduce((a, b) => a + b, 0) / times.length),
      encoding,
    };
    const t = out[interval];
    run.log(
      `  ${interval}: ${t.requests} requests, ${t.barsMean} bars each, p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms, max ${t.maxMs} ms`,
    );
  }
  return out;
}

/**
 * Seeds one store, starts ours on it, times the requests.
 * @param {BenchRun} run @param {CandleStore} store @param {string[]} seedWhere
 * @param {{ env: Record<string, string>, dataDir?: string }} serverOpts
 * @returns {Promise<CandleStoreResult>}
 */
async function runStore(run, store, seedWhere, serverOpts) {
  const { cfg } = run;
  const c = cfg.candles;
  run.log(`candles ${store}: seeding ${c.days} day(s) of bars of ${c.symbols.join(', ')}`);
  const s = await seed(run, seedWhere);
  run.log(
    `candles ${store}: ${s.rows.toLocaleString('en-US')} bars in ${s.seconds} s = ${s.rowsPerSec.toLocaleString('en-US')} rows/s (${s.writeRowsPerSec.toLocaleString('en-US')} inside write())${s.vacuumSeconds !== undefined ? `, then VACUUM (ANALYZE) bars in ${s.vacuumSeconds} s` : ''}`,
  );
  const server = await run.startServer('ours', {
    feedRate: cfg.feedRate,
    ...(serverOpts.dataDir ? { dataDir: serverOpts.dataDir } : {}),
    env: { ...KEEP_ALL, ...serverOpts.env },
  });
  try {
    const own = () => (process.cpuUsage().user + process.cpuUsage().system) / 1000;
    const pg = store === 'postgres' ? postgresCpuMs : () => 0;
    const cpu0 = server.cpuMs();
    const pg0 = pg();
    const own0 = own();
    const busy0 = machineBusyMs();
    const t0 = performance.now();
    let x = 0x9e3779b9;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
    const intervals = await timeRequests(run, server, s, rand);
    const cpu1 = server.cpuMs();
    const pgMs = pg() - pg0;
    const ownMs = own() - own0;
    const busyMs = machineBusyMs() - busy0;
    const elapsed = performance.now() - t0;
    if (server.exited) throw new Error(`ours (${store}) exited: ${server.why()}`);
    const other = Math.max(0, Math.round(((busyMs - ((cpu1 ?? 0) - (cpu0 ?? 0)) - pgMs - ownMs) / elapsed) * 100));
    if (other > cfg.otherLoadWarnPct) {
      run.warnings.push(
        `candles ${store}: other processes used ${other} % of a core while it was measured: its figures are not comparable`,
      );
      run.log(`candles ${store}: OTHER LOAD ${other} % of a core`);
    }
    let worst = INTERVALS[0] ?? '1s';
    for (const i of INTERVALS) if ((intervals[i]?.p99Ms ?? 0) > (intervals[worst]?.p99Ms ?? 0)) worst = i;
    return {
      status: 'ok',
      seed: s,
      intervals,
      worstP99Ms: intervals[worst]?.p99Ms ?? NaN,
      worstInterval: worst,
      serverCpuPct: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / elapsed) * 1000) / 10 : null,
      ...(store === 'postgres' ? { postgresCpuPct: Math.round((pgMs / elapsed) * 1000) / 10 } : {}),
      otherLoadPct: cpu0 !== null && cpu1 !== null ? other : null,
    };
  } finally {
    await run.stopServer(server);
  }
}

/**
 * Whether the PostgreSQL server answers; the reason when not.
 * @param {string} url @returns {Promise<string | null>}
 */
async function pgUnreachable(url) {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 3000,
    application_name: 'tickdeck-bench',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    const e = /** @type {Error & { code?: string, errors?: Error[] }} */ (err);
    return e.message || e.errors?.map((x) => x.message).join('; ') || e.code || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * One statement on the admin database, on a connection of its own.
 * @param {string} url @param {string} sql @param {unknown[]} [values]
 */
async function admin(url, sql, values) {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    application_name: 'tickdeck-bench',
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(sql, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** @param {string} name */
const terminateSql = (name) =>
  `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`;

/**
 * The same drop, synchronously (a child Node process), for the harness's exit path.
 * @param {string} adminUrl @param {string} name
 */
function dropSync(adminUrl, name) {
  const script = `import pg from 'pg';
const c = new pg.Client({ connectionString: ${JSON.stringify(adminUrl)}, connectionTimeoutMillis: 3000 });
await c.connect();
await c.query(${JSON.stringify(terminateSql(name))});
await c.query('DROP DATABASE IF EXISTS ${name} WITH (FORCE)');
await c.end();`;
  spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 10_000, stdio: 'ignore' });
}

/** @param {BenchRun} run */
export async function runCandles(run) {
  const { cfg } = run;
  const c = cfg.candles;
  /** @type {CandlesResult} */
  const result = {
    status: 'ok',
    days: c.days,
    symbols: c.symbols,
    symbol: c.symbol,
    limit: c.limit,
    requests: c.requests,
    feedRate: cfg.feedRate,
    stores: {},
  };
  run.results.candles = result;
  for (const store of c.stores) {
    if (store === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'tickdeck-bench-seeded-'));
      try {
        result.stores.sqlite = await runStore(run, 'sqlite', ['--store', 'sqlite', '--dir', dir], {
          dataDir: dir,
          env: { HISTORY_STORE: 'sqlite' },
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      continue;
    }
    const why = await pgUnreachable(c.pgAdminUrl);
    if (why) {
      const msg = `candles postgres: SKIPPED: no PostgreSQL at ${c.pgAdminUrl} (${why}; Debian package postgresql)`;
      if (process.env.CI === 'true') throw new Error(`${msg}: CI=true, so this is an error`);
      run.warnings.push(msg);
      run.log(`!!! ${msg}`);
      result.stores.postgres = { status: 'skipped', reason: `no PostgreSQL at ${c.pgAdminUrl}: ${why}` };
      continue;
    }
    const name = `tickdeck_bench_${randomBytes(6).toString('hex')}`;
    const url = new URL(c.pgAdminUrl);
    url.pathname = `/${name}`;
    await admin(c.pgAdminUrl, `CREATE DATABASE ${name}`);
    const cleanup = () => dropSync(c.pgAdminUrl, name);
    run.live.cleanups.add(cleanup);
    run.log(`candles postgres: created database ${name}`);
    try {
      result.stores.postgres = await runStore(run, 'postgres', ['--store', 'postgres', '--url', url.href], {
        env: { HISTORY_STORE: 'postgres', DATABASE_URL: url.href },
      });
    } finally {
      await admin(c.pgAdminUrl, terminateSql(name));
      await admin(c.pgAdminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      run.live.cleanups.delete(cleanup);
      run.log(`candles postgres: dropped database ${name}`);
    }
  }
}
