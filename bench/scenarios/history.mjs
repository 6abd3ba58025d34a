// Scenario `history` (issue 14): what keeping history costs the fan-out. The fan-out's workload
// (cfg.history.clients × 10 of 20 symbols at the 100 ms tier, feed cfg.feedRate) on ours with
// HISTORY_STORE=sqlite (a fresh temp DATA_DIR, better-sqlite3 writing in its worker thread every
// HISTORY_WRITE_MS) and on ours with HISTORY_STORE=memory (nothing written), one server per
// window, in cfg.history.order (memory, sqlite, sqlite, memory in a full run). Per store: the
// mean over its windows of the updates/s delivered within bound (a window's updates/s when it
// held the ramp's bound, else 0) and of the event-loop delay p99. In a full run a window during
// which other processes used more than cfg.otherLoadWarnPct % of a core is measured again, once.
import { setTimeout as sleep } from 'node:timers/promises';

/** @typedef {import('../lib/bench-run.mjs').BenchRun} BenchRun */
/** @typedef {import('../lib/results.mjs').Measurement} Measurement */
/** @typedef {'sqlite' | 'memory'} HistoryKind */

/**
 * One window of one store.
 * @typedef {Measurement & { store: HistoryKind, held: boolean, withinBoundPerSec: number,
 *   historyWrites: number | null, rowsWrittenPerSec: number | null, lastWriteMs: number | null }} HistoryWindow
 *   held: p99 ≤ the bound, ≥ the minimum share of owed, no disconnects; the history figures are
 *   the gateway's own (/metrics) over the window, null for memory
 */

/**
 * Per store, the mean of its windows.
 * @typedef {object} HistoryStoreFigures
 * @property {number} windows
 * @property {number} updatesPerSec
 * @property {number} withinBoundPerSec
 * @property {number | null} eldP99Ms
 * @property {number | null} latencyP99Ms
 * @property {number | null} serverCpuPct
 * @property {number | null} rowsWrittenPerSec
 */

/**
 * @typedef {object} HistoryResult
 * @property {'ok'} status
 * @property {number} clients
 * @property {number} feedRate
 * @property {number} boundMs
 * @property {number} owedPerSec
 * @property {HistoryWindow[]} windows  in the order measured
 * @property {HistoryStoreFigures} sqlite
 * @property {HistoryStoreFigures} memory
 */

/**
 * The gateway's history counters (/metrics), or null when it has none to give.
 * @param {string} host @param {number} port
 * @returns {Promise<{ writes: number, rows: number, lastWriteSeconds: number } | null>}
 */
async function historyCounters(host, port) {
  try {
    const res = await fetch(`http://${host}:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return null;
    const text = await res.text();
    const val = (/** @type {string} */ name) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : NaN;
    };
    const writes = val('tickdeck_history_writes_total');
    const rows = val('tickdeck_history_bars_written_total') + val('tickdeck_history_trades_written_total');
    const lastWriteSeconds = val('tickdeck_history_last_write_seconds');
    return Number.isFinite(writes) && Number.isFinite(rows) ? { writes, rows, lastWriteSeconds } : null;
  } catch {
    return null;
  }
}

/** @param {number[]} xs @returns {number} */
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * @param {(HistoryWindow)[]} ws one store's windows
 * @returns {HistoryStoreFigures}
 */
function figures(ws) {
  /** @param {(w: HistoryWindow) => number | null} f @param {number} digits */
  const avg = (f, digits) => {
    const xs = ws.map(f).filter((x) => x !== null && Number.isFinite(x));
    return xs.length === 0 ? null : Number(mean(/** @type {number[]} */ (xs)).toFixed(digits));
  };
  return {
    windows: ws.length,
    updatesPerSec: avg((w) => w.updatesPerSec, 0) ?? 0,
    withinBoundPerSec: avg((w) => w.withinBoundPerSec, 0) ?? 0,
    eldP99Ms: avg((w) => w.eldP99Ms, 1),
    latencyP99Ms: avg((w) => w.latencyP99Ms, 0),
    serverCpuPct: avg((w) => w.serverCpuPct, 1),
    rowsWrittenPerSec: avg((w) => w.rowsWrittenPerSec, 0),
  };
}

/** @param {BenchRun} run */
export async function runHistoryCost(run) {
  const { cfg } = run;
  const h = cfg.history;
  const owed = run.owed(h.clients);
  const { boundMs, minDelivered } = cfg.ramp;
  /** @type {HistoryWindow[]} */
  const windows = [];
  for (const [i, store] of h.order.entries()) {
    run.log(`history (${i + 1}/${h.order.length}): ours with HISTORY_STORE=${store}, feed ${cfg.feedRate} ticks/s`);
    const server = await run.startServer('ours', { feedRate: cfg.feedRate, env: { HISTORY_STORE: store } });
    const pool = run.newPool();
    try {
      const conn = await run.addClients(pool, server, h.clients, cfg.tierMs, { workload: cfg.subsets });
      await sleep(h.warmupMs);
      let c0 = store === 'sqlite' ? await historyCounters(cfg.host, server.port) : null;
      let t0 = performance.now();
      let m = await run.measure(server, pool, h.windowMs, owed);
      // Other load (another build or test on the same cores) skews one store's figures only:
      // in a full run such a window is measured again, once, on the same server and clients.
      let retried = false;
      if (!run.quick && (m.otherLoadPct ?? 0) > cfg.otherLoadWarnPct && !server.exited) {
        run.log(`history ${store}: other processes used ${m.otherLoadPct} % of a core: measuring again`);
        c0 = store === 'sqlite' ? await historyCounters(cfg.host, server.port) : null;
        t0 = performance.now();
        m = await run.measure(server, pool, h.windowMs, owed);
        retried = true;
      }
      const c1 = store === 'sqlite' ? await historyCounters(cfg.host, server.port) : null;
      const seconds = (performance.now() - t0) / 1000;
      if (server.exited && !server.overloaded)
        throw new Error(
          `ours (${store}) exited during the window (${server.exitSignal ?? server.exitCode}): ${server.why()}`,
        );
      if (store === 'sqlite' && c0 && c1 && c1.writes === c0.writes)
        throw new Error(
          'ours with HISTORY_STORE=sqlite wrote no history during the window (tickdeck_history_writes_total)',
        );
      if (store === 'sqlite' && (!c0 || !c1))
        run.log(`history ${store}: no /metrics reading (the history figures are left out)`);
      const held =
        m.latencyP99Ms !== null &&
        m.latencyP99Ms <= boundMs &&
        (m.deliveredRatio ?? 0) >= minDelivered &&
        m.disconnects === 0 &&
        conn.failed === 0;
      /** @type {HistoryWindow} */
      const w = {
        ...m,
        store,
        connectFailures: conn.failed,
        ...(retried ? { retried } : {}),
        held,
        withinBoundPerSec: held ? m.updatesPerSec : 0,
        historyWrites: c0 && c1 ? c1.writes - c0.writes : null,
        rowsWrittenPerSec: c0 && c1 ? Math.round((c1.rows - c0.rows) / seconds) : null,
        lastWriteMs: c1 && Number.isFinite(c1.lastWriteSeconds) ? Math.round(c1.lastWriteSeconds * 10_000) / 10 : null,
      };
      windows.push(w);
      run.log(
        `history ${store}: ${run.fmt(m)}; ${held ? 'within' : 'NOT within'} bound` +
          (w.rowsWrittenPerSec !== null
            ? `; ${w.historyWrites} writes, ${w.rowsWrittenPerSec} rows/s, last write ${w.lastWriteMs} ms`
            : ''),
      );
    } finally {
      await run.closePool(pool);
      await run.stopServer(server);
    }
  }
  /** @type {HistoryResult} */
  const result = {
    status: 'ok',
    clients: h.clients,
    feedRate: cfg.feedRate,
    boundMs,
    owedPerSec: owed,
    windows,
    sqlite: figures(windows.filter((w) => w.store === 'sqlite')),
    memory: figures(windows.filter((w) => w.store === 'memory')),
  };
  run.results.history = result;
  const { sqlite: s, memory: mem } = result;
  run.log(
    `history: sqlite ${s.withinBoundPerSec} upd/s within bound, ELD p99 ${s.eldP99Ms} ms, CPU ${s.serverCpuPct} %; ` +
      `memory ${mem.withinBoundPerSec} upd/s, ELD p99 ${mem.eldP99Ms} ms, CPU ${mem.serverCpuPct} %` +
      (mem.withinBoundPerSec > 0 ? ` (ratio ${(s.withinBoundPerSec / mem.withinBoundPerSec).toFixed(3)})` : ''),
  );
}
