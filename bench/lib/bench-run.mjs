// What every scenario of one run shares: the configuration, the results being filled in, the
// log, and the servers, client pools and helper processes it starts (all registered, so none
// outlives the run).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DEFAULT_INSTRUMENTS } from '@tickdeck/protocol';
import { ClientPool, symbolSets } from './client-pool.mjs';
import { startBroker } from './brokers.mjs';
import { ROOT, serverDef } from './config.mjs';
import { LiveProcesses } from './live-processes.mjs';
import { fmt, measureWindow } from './measure.mjs';
import { newResults } from './results.mjs';
import { ServerProc, freePort } from './server-proc.mjs';

/** @typedef {import('./config.mjs').BenchConfig} BenchConfig */
/** @typedef {import('./config.mjs').ServerKey} ServerKey */
/** @typedef {import('./config.mjs').Workload} Workload */
/** @typedef {import('./results.mjs').Measurement} Measurement */

export class BenchRun {
  /**
   * @param {{ cfg: BenchConfig, name: string, quick: boolean, scenarios: string[] }} o
   *   `name`: the results' file stem (profiles are named after it too)
   */
  constructor({ cfg, name, quick, scenarios }) {
    this.cfg = cfg;
    this.name = name;
    this.quick = quick;
    this.scenarios = scenarios;
    this.t0 = performance.now();
    this.results = newResults(cfg);
    this.errors = this.results.errors;
    this.warnings = this.results.warnings;
    /** @type {Map<number, string>} server port -> its DATA_DIR */
    this.dataDirs = new Map();
    this.live = new LiveProcesses();
    /** The symbols clients pick from. */
    this.symbols = DEFAULT_INSTRUMENTS.map((i) => i.symbol);
    /** Per workload, the symbol sets clients subscribe to, in turn. */
    this.symbolSets = {
      random: symbolSets(this.symbols, cfg.symbolsPerClient, 'random', 1000),
      rotate: symbolSets(this.symbols, cfg.symbolsPerClient, 'rotate'),
    };
  }

  /** @param {string} msg */
  log(msg) {
    console.log(`[${((performance.now() - this.t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
  }

  /** Seconds since the run started, to 0.1 s. */
  elapsedSeconds() {
    return Math.round((performance.now() - this.t0) / 100) / 10;
  }

  /**
   * Runs one scenario step, recording (not throwing) its error.
   * @param {string} what @param {() => Promise<void>} fn
   */
  async guarded(what, fn) {
    try {
      await fn();
    } catch (err) {
      const msg = `${what}: ${/** @type {Error} */ (err).message}`;
      this.errors.push(msg);
      this.log(`ERROR ${msg}`);
    }
  }

  /**
   * Starts a server under test on a free port and waits until it is ready.
   * @param {ServerKey} key @param {{ feedRate: number, env?: Record<string, string>, dataDir?: string }} o
   *   env: on top of (and overriding) the run's; dataDir: ours' DATA_DIR (a seeded one) instead of a
   *   fresh one, removed when the server stops all the same
   */
  async startServer(key, o) {
    const { cfg, results } = this;
    const def = serverDef(key);
    /** @type {import('./brokers.mjs').Broker | undefined} */
    let broker;
    if (def.broker) {
      // registered at once, so it dies with the run whatever happens next; the server owns it after
      broker = await startBroker(def.broker, cfg.readyTimeoutMs, (child) => this.live.others.add(child));
    }
    const port = broker ? broker.wsPort : await freePort();
    // Ours keeps its history in SQLite (HISTORY_STORE=sqlite below, whatever DATABASE_URL the
    // shell has: scenario `history` sets `memory` for its other half, `candles` `postgres`), in a
    // directory of its own, removed when it stops.
    const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'tickdeck-bench-'));
    this.dataDirs.set(port, dataDir);
    const server = new ServerProc({
      name: key,
      script: def.script,
      port,
      broker,
      rssLimitKB: cfg.rssLimitKB,
      env: {
        HOST: cfg.host,
        PORT: String(port),
        ...(broker ? { BROKER_PORT: String(broker.tcpPort) } : {}),
        FEED_RATE: String(o.feedRate),
        FEED_SEED: String(cfg.feedSeed),
        THROTTLE_TIERS_MS: cfg.tiersMs.join(','),
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        HISTORY_STORE: 'sqlite',
        DATA_DIR: dataDir,
        // Every load-generator client comes from 127.0.0.1: lift the per-address cap (peers ignore it).
        MAX_CONNECTIONS: '1000000',
        MAX_CONNECTIONS_PER_IP: '1000000',
        ...(cfg.tradeProbability === null ? {} : { FEED_TRADE_PROBABILITY: String(cfg.tradeProbability) }),
        ...o.env,
      },
    });
    this.live.servers.add(server);
    if (broker) this.live.others.delete(broker.child);
    try {
      await server.waitReady(cfg.readyTimeoutMs);
    } catch (err) {
      await this.stopServer(server);
      throw err;
    }
    const built = statSync(def.script).mtime.toISOString();
    const prev = results.servers[key];
    if (prev && prev.scriptModified !== built) {
      this.warnings.push(
        `${key}: ${relative(ROOT, def.script)} changed during the run (${prev.scriptModified} -> ${built}): its rows mix two builds`,
      );
    }
    results.servers[key] = {
      label: def.label,
      script: relative(ROOT, def.script),
      // which build of ours was measured: the gateway is rebuilt often
      scriptModified: built,
      readyBy: server.readyBy,
      ...(broker ? { broker: broker.bin } : {}),
    };
    return server;
  }

  /** @param {ServerProc} server */
  async stopServer(server) {
    await server.stop();
    this.live.servers.delete(server);
    const dir = this.dataDirs.get(server.port);
    if (dir) rmSync(dir, { recursive: true, force: true });
    this.dataDirs.delete(server.port);
  }

  /** @param {number} [workers] load-generator processes (default: --workers) */
  newPool(workers = this.cfg.workers) {
    const { cfg } = this;
    const pool = new ClientPool({ workers, transport: cfg.transport, sampleEvery: cfg.sampleEvery });
    this.live.pools.add(pool);
    return pool;
  }

  /** @param {ClientPool} pool */
  async closePool(pool) {
    await pool.close();
    this.live.pools.delete(pool);
  }

  /**
   * Connects `count` more clients of `pool` to `server`, at `tierMs`; logs the failures.
   * @param {ClientPool} pool @param {ServerProc} server @param {number} count @param {number} tierMs
   * @param {{ workload?: Workload, symbolSets?: string[][], concurrency?: number, deadlineMs?: number, timeoutMs?: number,
   *   sourceAddresses?: { first: number, perAddress: number } }} [o]
   *   workload: whose symbol sets (default: the headline workload's); symbolSets: these instead;
   *   the rest: see ClientPool.add
   */
  async addClients(pool, server, count, tierMs, o = {}) {
    const { cfg } = this;
    const naive = server.name === 'naive';
    const r = await pool.add(count, {
      protocol: server.broker ? server.broker.kind : 'sio',
      host: cfg.host,
      port: server.port,
      symbolSets: o.symbolSets ?? this.symbolSets[o.workload ?? cfg.subsets],
      throttleMs: tierMs,
      concurrency: o.concurrency ?? cfg.connectConcurrency,
      deadlineMs: o.deadlineMs ?? (naive ? cfg.naive.connectDeadlineMs : cfg.connectDeadlineMs),
      timeoutMs: o.timeoutMs ?? (naive ? cfg.naive.handshakeTimeoutMs : cfg.handshakeTimeoutMs),
      ...(o.sourceAddresses ? { sourceAddresses: o.sourceAddresses } : {}),
    });
    if (r.failed > 0) {
      const why = r.errors.length > 0 ? r.errors.join('; ') : 'not attempted before the connect deadline';
      this.log(`  ${r.failed} of ${count} clients failed to connect: ${why}`);
    }
    return r;
  }

  /**
   * One measurement window (see measure.mjs).
   * @param {ServerProc} server @param {ClientPool} pool @param {number} windowMs
   * @param {number | null} owedPerSec quotes/s the subscriptions are owed (null: not a throttled server)
   */
  measure(server, pool, windowMs, owedPerSec) {
    return measureWindow(server, pool, windowMs, owedPerSec, this.cfg.probeTimeoutMs);
  }

  /** @param {Measurement} m */
  fmt(m) {
    return fmt(m, this.cfg.otherLoadWarnPct);
  }

  /**
   * Quotes per second a throttled server owes `clients` subscribers at `tierMs` (every symbol
   * moves within every tier interval at these feed rates).
   * @param {number} clients @param {number} [tierMs]
   */
  owed(clients, tierMs = this.cfg.tierMs) {
    return (clients * this.cfg.symbolsPerClient * 1000) / tierMs;
  }

  /**
   * Runs a Node script to its end within `timeoutMs` (then SIGKILL), collecting its output.
   * @param {string} script @param {string[]} argv @param {number} timeoutMs
   * @returns {Promise<{ code: number | string | null, out: string, err: string }>} code: exit code or signal
   */
  async runNode(script, argv, timeoutMs) {
    const child = spawn(process.execPath, [script, ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.live.others.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    /** @type {number | string | null} */
    const code = await new Promise((resolve) => child.once('exit', (c, sig) => resolve(sig ?? c)));
    clearTimeout(timer);
    this.live.others.delete(child);
    return { code, out, err };
  }

  /**
   * Runs `tickdeck-sim` to completion within `timeoutMs`; rejects on a non-zero exit.
   * @param {string[]} argv @param {number} timeoutMs @returns {Promise<string>} its stdout
   */
  async sim(argv, timeoutMs) {
    const { code, out, err } = await this.runNode(join(ROOT, 'simulator/bin/tickdeck-sim.js'), argv, timeoutMs);
    if (code !== 0)
      throw new Error(`tickdeck-sim ${argv[0]} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
    return out;
  }
}
