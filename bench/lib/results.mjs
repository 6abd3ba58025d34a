// The results of one run: their shape (latest.json, read back by report.mjs), the warnings
// derived from them, and the two files they are written to.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { renderMarkdown } from './report.mjs';

/** @typedef {import('./config.mjs').BenchConfig} BenchConfig */

/**
 * One measurement window (a fan-out, a ramp step, a half-load window).
 * @typedef {object} Measurement
 * @property {number} clients             clients open at the end of the window
 * @property {number} updatesPerSec       quotes delivered per second, all clients
 * @property {number | null} deliveredRatio  of the quotes owed (null: not a throttled server)
 * @property {number} framesPerSec        frames carrying quotes per second (`quotes`, or `frame` with quotes)
 * @property {number} quotesPerFrame
 * @property {number} tradeFramesPerSec   frames carrying trades (`trades`, or `frame` with trades)
 * @property {number} bothFramesPerSec    `frame`s carrying both (in both of the above)
 * @property {number} allFramesPerSec     every WebSocket message
 * @property {number} mbPerSec
 * @property {number | null} latencyP50Ms feed `ts` to receipt
 * @property {number | null} latencyP99Ms
 * @property {number | null} latencyMaxMs
 * @property {number} latencySamples
 * @property {number | null} serverCpuPct  % of one core (a broker peer: the broker's)
 * @property {number | null} [publisherCpuPct]  a broker peer: its Node publisher, % of one core
 * @property {number | null} serverRssMB
 * @property {number | null} eldP99Ms      event-loop delay
 * @property {number | null} eldMaxMs
 * @property {number} clientCpuPct        the load generator, % of one core
 * @property {number} clientSysPct
 * @property {number} disconnects
 * @property {number} windowMs
 * @property {number | null} otherLoadPct  CPU other processes used during the window, % of one core
 * @property {string | undefined} overloaded  why the watchdog killed the server, if it did
 * @property {string | null} [profile]    the window's CPU profile (--profile)
 * @property {number} [connectFailures]
 * @property {boolean} [within]           ramp: held the bound
 * @property {boolean} [retried]          ramp: the second window of one over the bound
 * @property {boolean} [bisect]           ramp: a bisection step
 */

/**
 * A ramp step that never got measured: adding its clients failed.
 * @typedef {{ clients: number, connectFailures: number, within: false, note: string }} FailedStep
 */

/**
 * @typedef {object} RampResult
 * @property {number} boundMs
 * @property {number} maxClientsHeld
 * @property {number | null} firstClientsOverBound
 * @property {boolean} capped  held up to the ramp's client cap
 * @property {number} maxUpdatesPerSecWithinBound
 * @property {number} maxFramesPerSecWithinBound
 * @property {{ clients: number, serverCpuPct: number | null, clientCpuPct: number, latencyP99Ms: number | null } | null} atBest
 * @property {(Measurement | FailedStep)[]} steps
 * @property {Measurement & { ofMaxUpdates: number | null, connectFailures: number }} [halfLoad]
 *   connectFailures: of the clients that load was owed, how many were not open in its window
 */

/**
 * @typedef {object} MemoryResult
 * @property {number} clients
 * @property {number} connectFailures
 * @property {boolean} gc  the server collected garbage before the reading
 * @property {number} baselineRssMB
 * @property {number} rssMB
 * @property {number} perConnKB
 * @property {number | null} heapPerConnKB
 */

/**
 * Scenario `scale` (scenarios/scale.mjs).
 * @typedef {object} ScaleResult
 * @property {'ok'} status
 * @property {number} target          viewers asked for
 * @property {number} attempted       viewers the machine's limits allowed (connected + failed)
 * @property {string | null} whyNotTarget  why attempted < target, null when it is not
 * @property {number} connected
 * @property {number} connectFailures
 * @property {string[]} connectErrors
 * @property {number} connectSeconds
 * @property {number} addresses       source addresses used
 * @property {number} perAddress
 * @property {number} workers
 * @property {{ gatewayOpenFiles: number | null, gatewayOpenFilesHard: number | null, gatewayHttpCap: number | null, workerOpenFiles: number | null }} limits
 * @property {number} tierMs
 * @property {number} feedRate
 * @property {number} tradeProbability
 * @property {number} boundMs
 * @property {number} owedPerSec
 * @property {boolean} held  p99 within bound, >= minDelivered of owed, no failed connect, none lost
 * @property {Measurement} window
 */

/** @typedef {{ label: string, script: string, scriptModified: string, readyBy: string, broker?: string }} ServerInfo  broker: a broker peer's binary */

/** A scenario that did not produce figures, and why. @typedef {{ status: 'not run' | 'skipped', reason?: string }} NotRun */

/** @param {BenchConfig} cfg */
export function newResults(cfg) {
  return {
    date: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      totalMemMB: Math.round(os.totalmem() / 2 ** 20),
    },
    config: cfg,
    /** @type {Record<string, ServerInfo>} */
    servers: {},
    /** @type {NotRun | ({ status: 'ok' } & Record<string, unknown>)} the JSON line of bench/ingest-micro.mjs */
    ingestMicro: { status: 'not run' },
    /** @type {NotRun | import('../scenarios/ingest-feed.mjs').IngestFeedResult} */
    ingestFeed: { status: 'not run' },
    /** @type {NotRun | Awaited<ReturnType<typeof import('../browser.mjs').runBrowserBench>>} */
    browser: { status: 'not run' },
    /** @type {Record<string, Record<string, Measurement>>} per workload (config.workloads), per server */
    fanout: Object.fromEntries(cfg.workloads.map((w) => [w, {}])),
    /** @type {Record<string, Record<string, RampResult>>} per workload, per server */
    ramp: Object.fromEntries(cfg.workloads.map((w) => [w, {}])),
    /** @type {Record<string, MemoryResult>} */
    memory: {},
    /** @type {NotRun | import('../scenarios/cluster.mjs').ClusterResult} */
    cluster: { status: 'not run' },
    /** @type {NotRun | ScaleResult} */
    scale: { status: 'not run' },
    /** @type {NotRun | import('../scenarios/history.mjs').HistoryResult} ours with SQLite vs memory history, fan-out */
    history: { status: 'not run' },
    /** @type {NotRun | import('../scenarios/candles.mjs').CandlesResult} GET /api/candles over stored bars */
    candles: { status: 'not run' },
    /** @type {ReturnType<typeof import('./report.mjs').evaluateTargets>} */
    targets: [],
    /** @type {string[]} scenario errors: the run exits 1 when there is any */
    errors: [],
    /** @type {string[]} not errors (CI does not fail on them) but reasons to distrust a figure */
    warnings: [],
    /** @type {number | null} */
    otherLoadAtStartPct: null,
    wallSeconds: 0,
  };
}

/** @typedef {ReturnType<typeof newResults>} Results */

/**
 * The warning for windows measured while other processes used more than `warnPct` % of a core,
 * or null when there were none.
 * @param {Results} results @param {number} warnPct
 */
export function otherLoadWarning(results, warnPct) {
  /** @type {{ what: string, pct: number }[]} */
  const loaded = [];
  /** @param {string} what @param {number | null | undefined} pct */
  const check = (what, pct) => {
    if (pct != null && pct > warnPct) loaded.push({ what, pct });
  };
  for (const [w, byServer] of Object.entries(results.fanout))
    for (const [k, m] of Object.entries(byServer)) check(`${k} fan-out (${w})`, m.otherLoadPct);
  for (const [w, byServer] of Object.entries(results.ramp))
    for (const [k, r] of Object.entries(byServer))
      for (const m of r.steps)
        check(`${k} ramp @ ${m.clients} (${w})`, 'otherLoadPct' in m ? m.otherLoadPct : undefined);
  if (results.scale.status === 'ok') check('scale', results.scale.window.otherLoadPct);
  if (results.history.status === 'ok')
    results.history.windows.forEach((m, i) => check(`history ${m.store} #${i + 1}`, m.otherLoadPct));
  if (loaded.length === 0) return null;
  return `other processes used > ${warnPct} % of a core during ${loaded.length} window(s) (${loaded
    .slice(0, 4)
    .map(({ what, pct }) => `${what}: ${pct} %`)
    .join(', ')}${loaded.length > 4 ? ', ...' : ''}): those figures are not comparable`;
}

/**
 * Writes `<name>.json` (every figure) and `<name>.md` (the tables) into `dir`.
 * @param {Results} results @param {string} dir @param {string} name
 */
export function writeResults(results, dir, name) {
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, `${name}.json`);
  const mdPath = join(dir, `${name}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(mdPath, renderMarkdown(results));
  return { jsonPath, mdPath };
}
