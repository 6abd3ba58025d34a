// Parent side of the load generator: a few forked worker processes, each holding a share of the
// lean clients. Processes rather than threads: they are scheduled apart from each other and from
// the server under test, and a worker that dies takes nobody else's clients with it.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from './stats.mjs';

const WORKER = fileURLToPath(new URL('./client-worker.mjs', import.meta.url));
const COMMAND_TIMEOUT_MS = 120_000;

/**
 * @typedef {object} WindowResult
 * @property {number} updatesPerSec  quotes delivered per second, all clients (whatever the event)
 * @property {number} framesPerSec   frames carrying quotes per second (`quotes`, or `frame` with quotes)
 * @property {number} tradeFramesPerSec  frames carrying trades (`trades`, or `frame` with trades)
 * @property {number} bothFramesPerSec   `frame`s carrying quotes and trades (in both of the above)
 * @property {number} allFramesPerSec every WebSocket message
 * @property {number} mbPerSec       payload megabytes per second
 * @property {number} quotesPerFrame
 * @property {number} clientCpuPct   load generator CPU, % of one core, all workers together
 * @property {number} clientSysPct   the part of it spent in the kernel
 * @property {number} clients        clients open at the end of the window
 * @property {number} disconnects    clients lost during the window
 * @property {number} windowMs
 * @property {{ samples: number, p50Ms: number | null, p99Ms: number | null, maxMs: number | null, negativeSamples: number }} latency
 */

export class ClientPool {
  /**
   * @param {{ workers: number, transport: 'ws' | 'raw', sampleEvery: number, onSpawn?: (pid: number) => void }} opts
   */
  constructor(opts) {
    this.opts = opts;
    /** @type {import('node:child_process').ChildProcess[]} */
    this.workers = [];
    /** @type {number[]} clients held per worker */
    this.held = [];
    this.nextClientIndex = 0;
    this.seq = 0;
    /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }>} */
    this.pending = new Map();
    for (let w = 0; w < opts.workers; w += 1) {
      const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
      child.on('message', (/** @type {any} */ msg) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(new Error(`client worker ${w}: ${msg.error}`));
        else p.resolve(msg);
      });
      child.on('exit', (code, signal) => {
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          clearTimeout(p.timer);
          p.reject(new Error(`client worker ${w} exited (${signal ?? code})`));
        }
      });
      opts.onSpawn?.(/** @type {number} */ (child.pid));
      this.workers.push(child);
      this.held.push(0);
    }
  }

  /** @param {number} w @param {Record<string, unknown>} msg @returns {Promise<any>} */
  call(w, msg, timeoutMs = COMMAND_TIMEOUT_MS) {
    const worker = this.workers[w];
    if (!worker) return Promise.reject(new Error(`no client worker ${w}`));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`client worker ${w}: ${msg.cmd} timed out`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        worker.send({ ...msg, id });
      } catch (err) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** @returns {number[]} the worker processes' ids */
  get pids() {
    return this.workers.map((c) => /** @type {number} */ (c.pid));
  }

  get total() {
    return this.held.reduce((a, b) => a + b, 0);
  }

  /**
   * Adds `count` clients, spread evenly, each subscribed to the next symbol set in turn.
   * @param {number} count
   * @param {{ host: string, port: number, symbolSets: string[][], throttleMs: number, concurrency?: number, timeoutMs?: number, deadlineMs?: number,
   *   protocol?: 'sio' | 'nats' | 'mqtt', sourceAddresses?: { first: number, perAddress: number } }} target
   *   protocol: Socket.IO (default), or a broker peer's; sourceAddresses: spread the clients over
   *   loopback source addresses, `perAddress` each from 127.0.0.0 + `first` on, counted over the
   *   pool's clients (not per call)
   */
  async add(count, target) {
    const n = this.workers.length;
    const shares = this.workers.map((_, w) => Math.floor(count / n) + (w < count % n ? 1 : 0));
    let first = this.nextClientIndex;
    const calls = shares.map((share, w) => {
      const firstIndex = first;
      first += share;
      if (share === 0) return Promise.resolve({ connected: 0, failed: 0, errors: [] });
      return this.call(
        w,
        {
          cmd: 'connect',
          protocol: target.protocol ?? 'sio',
          host: target.host,
          port: target.port,
          count: share,
          symbolSets: target.symbolSets,
          firstIndex,
          throttleMs: target.throttleMs,
          sampleEvery: this.opts.sampleEvery,
          transport: this.opts.transport,
          concurrency: Math.ceil((target.concurrency ?? 64) / n),
          timeoutMs: target.timeoutMs ?? 20_000,
          deadlineMs: target.deadlineMs ?? 60_000,
          sourceAddresses: target.sourceAddresses ?? null,
        },
        Math.max(COMMAND_TIMEOUT_MS, (target.deadlineMs ?? 60_000) + (target.timeoutMs ?? 20_000) + 10_000),
      );
    });
    this.nextClientIndex = first;
    const results = await Promise.all(calls);
    let connected = 0;
    let failed = 0;
    /** @type {string[]} */
    const errors = [];
    results.forEach((r, w) => {
      connected += r.connected;
      failed += r.failed;
      this.held[w] += r.connected;
      errors.push(...r.errors);
    });
    return { connected, failed, errors: [...new Set(errors)].slice(0, 5) };
  }

  /** Closes the newest clients until `keep` remain. @param {number} keep */
  async shrinkTo(keep) {
    const drop = Math.max(0, this.total - keep);
    const n = this.workers.length;
    const shares = this.workers.map((_, w) =>
      Math.min(this.held[w] ?? 0, Math.floor(drop / n) + (w < drop % n ? 1 : 0)),
    );
    const results = await Promise.all(shares.map((count, w) => this.call(w, { cmd: 'drop', count })));
    results.forEach((r, w) => {
      this.held[w] = r.total;
    });
  }

  /** Starts a measurement window in every worker. */
  async start() {
    await Promise.all(this.workers.map((_, w) => this.call(w, { cmd: 'start' })));
  }

  /** Ends the window and merges what every worker counted. @returns {Promise<WindowResult>} */
  async stop() {
    const reports = await Promise.all(this.workers.map((_, w) => this.call(w, { cmd: 'stop' })));
    const latency = new LatencyHistogram();
    const rate = (/** @type {string} */ key) =>
      reports.reduce((sum, r) => sum + (r.elapsedMs > 0 ? (r[key] * 1000) / r.elapsedMs : 0), 0);
    for (const r of reports) latency.addSparse(r.latency);
    const quotes = reports.reduce((s, r) => s + r.quotes, 0);
    const quoteFrames = reports.reduce((s, r) => s + r.quoteFrames, 0);
    const windowMs = Math.max(...reports.map((r) => r.elapsedMs));
    return {
      updatesPerSec: rate('quotes'),
      framesPerSec: rate('quoteFrames'),
      tradeFramesPerSec: rate('tradeFrames'),
      bothFramesPerSec: rate('bothFrames'),
      allFramesPerSec: rate('frames'),
      mbPerSec: rate('bytes') / 1e6,
      quotesPerFrame: quoteFrames > 0 ? quotes / quoteFrames : 0,
      clientCpuPct: reports.reduce((s, r) => s + (r.elapsedMs > 0 ? (r.cpuMs / r.elapsedMs) * 100 : 0), 0),
      clientSysPct: reports.reduce((s, r) => s + (r.elapsedMs > 0 ? (r.sysMs / r.elapsedMs) * 100 : 0), 0),
      clients: reports.reduce((s, r) => s + r.open, 0),
      disconnects: reports.reduce((s, r) => s + r.disconnects, 0),
      windowMs,
      latency: latency.summary(),
    };
  }

  /** Closes every client and ends the workers (SIGKILL for any that does not go in time). */
  async close() {
    await Promise.allSettled(this.workers.map((_, w) => this.call(w, { cmd: 'close' }, 10_000)));
    await Promise.all(
      this.workers.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
            const t = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('exit', () => {
              clearTimeout(t);
              resolve(undefined);
            });
          }),
      ),
    );
    this.held = this.held.map(() => 0);
  }

  /** Synchronous last resort (process exit path). */
  killNow() {
    for (const child of this.workers) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

/**
 * The subscription sets: client i takes the 10 symbols starting at position i (mod 20), so
 * every symbol is in exactly half the clients' sets and there are 20 distinct sets.
 * @param {string[]} symbols @param {number} perClient
 * @param {'rotate' | 'random'} mode
 */
export function symbolSets(symbols, perClient, mode = 'rotate', count = symbols.length) {
  if (mode === 'random') {
    // Seeded (mulberry32) so two runs subscribe identically.
    let a = 0x9e3779b9;
    const rnd = () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return Array.from({ length: count }, () => {
      const pool = [...symbols];
      for (let i = pool.length - 1; i > 0; i -= 1) {
        const j = Math.floor(rnd() * (i + 1));
        const swap = /** @type {string} */ (pool[j]); // j <= i < pool.length
        pool[j] = /** @type {string} */ (pool[i]);
        pool[i] = swap;
      }
      return pool.slice(0, perClient);
    });
  }
  return symbols.map((_, i) => [...symbols.slice(i), ...symbols.slice(0, i)].slice(0, perClient));
}
