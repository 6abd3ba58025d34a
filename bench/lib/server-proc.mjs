// One server under test as a child process: started the same way for ours and for every peer
// (`node --expose-gc --import eld-probe.mjs <script>`), measured from outside through /proc
// (CPU, RSS) and from inside through the preloaded probe (event-loop delay, GC), and always
// stopped: SIGTERM, then SIGKILL. A broker peer (nats, mqtt) is two processes: the Node
// publisher started here, and the broker it publishes into (brokers.mjs), which is what the
// subscribers connect to and what CPU and RSS are read from; both stop together.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopBroker, stopBrokerNow } from './brokers.mjs';

const PROBE = fileURLToPath(new URL('./eld-probe.mjs', import.meta.url));

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 is what Linux uses everywhere in practice
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The path of an executable `command` on the PATH, then in `extraDirs`; null when there is none.
 * @param {string} command @param {string[]} [extraDirs]
 * @returns {string | null}
 */
export function which(command, extraDirs = []) {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not here
    }
  }
  return null;
}

/** @param {number} port @returns {Promise<boolean>} whether something accepts connections on 127.0.0.1:`port` */
export function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** @param {number} pid @returns {number | null} user + system CPU time in ms */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that closes the command name: state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return null;
  }
}

/** @returns {number} CPU time the whole machine spent in user and system mode so far, in ms (all cores) */
export function machineBusyMs() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // user nice system: the modes a process's utime/stime are counted in (irq/softirq are not)
  const [user = NaN, nice = NaN, system = NaN] = cpu.trim().split(/\s+/).slice(1).map(Number);
  return ((user + nice + system) * 1000) / clockTicks;
}

/** @param {number} pid @returns {number | null} resident set size in KB */
export function rssKB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export class ServerProc {
  /**
   * @param {{ name: string, script: string, env: Record<string, string>, port: number,
   *   rssLimitKB: number, onSpawn?: (pid: number) => void, onExit?: (pid: number) => void,
   *   broker?: import('./brokers.mjs').Broker }} opts
   *   `broker`: the broker this process publishes into; `port` is then the broker's WebSocket port
   */
  constructor(opts) {
    this.opts = opts;
    this.name = opts.name;
    this.port = opts.port;
    /** @type {import('./brokers.mjs').Broker | null} */
    this.broker = opts.broker ?? null;
    /** The process whose CPU and RSS are the server's: the broker, if there is one. */
    this.measuredPid = 0;
    /** @type {string[]} the last lines of output, for error reports */
    this.tail = [];
    this.ready = false;
    this.readyBy = '';
    /** Set when the watchdog killed the server for exceeding the RSS limit. */
    this.overloaded = '';
    this.peakRssKB = 0;
    this.exited = false;
    /** @type {number | null} */
    this.exitCode = null;
    /** @type {string | null} */
    this.exitSignal = null;
    this.probeSeq = 0;
    /** @type {Map<number, (msg: any) => void>} */
    this.probeWaiters = new Map();

    const child = spawn(process.execPath, ['--expose-gc', '--import', PROBE, opts.script], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.pid = /** @type {number} */ (child.pid);
    this.measuredPid = this.broker ? this.broker.pid : this.pid;
    opts.onSpawn?.(this.pid);
    /** @type {Promise<void>} */
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        clearInterval(this.watchdog);
        opts.onExit?.(this.pid);
        for (const [, w] of this.probeWaiters) w(null);
        this.probeWaiters.clear();
        resolve();
      });
    });
    this.readyLine = new Promise((resolve) => {
      const onData = (/** @type {Buffer} */ chunk) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim() === '') continue;
          this.tail.push(line.slice(0, 300));
          if (this.tail.length > 30) this.tail.shift();
          if (/listening on http:\/\/(127\.0\.0\.1|localhost):\d+/.test(line)) resolve('line');
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
    });
    child.on('message', (/** @type {any} */ msg) => {
      const w = this.probeWaiters.get(msg?.id);
      if (w) {
        this.probeWaiters.delete(msg.id);
        w(msg);
      }
    });
    child.on('error', () => {});
    this.watchdog = setInterval(() => {
      const rss = rssKB(this.measuredPid);
      if (rss === null) return;
      if (rss > this.peakRssKB) this.peakRssKB = rss;
      if (rss > opts.rssLimitKB && !this.overloaded) {
        this.overloaded = `RSS ${Math.round(rss / 1024)} MB > limit ${Math.round(opts.rssLimitKB / 1024)} MB: killed`;
        child.kill('SIGKILL');
        if (this.broker) stopBrokerNow(this.broker);
      }
    }, 250);
  }

  /** The output lines that explain a failure: error lines first, else the last few. */
  why() {
    const errs = this.tail.filter((l) => /error/i.test(l) && !/^\s+at /.test(l));
    return (errs.length > 0 ? errs.slice(0, 3) : this.tail.slice(-3)).map((l) => l.trim()).join(' | ');
  }

  /**
   * Resolves once the server prints its `listening on` line or, failing that, accepts TCP
   * connections on its port (a server that logs nothing at LOG_LEVEL=warn still gets measured).
   * @param {number} timeoutMs
   */
  async waitReady(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let byLine = false;
    // never rejects: it resolves on the line or never
    void this.readyLine.then(() => {
      byLine = true;
    });
    while (Date.now() < deadline) {
      if (this.exited)
        throw new Error(`${this.name} exited before ready (${this.exitSignal ?? this.exitCode}): ${this.why()}`);
      if (byLine) {
        this.readyBy = 'listening line';
        break;
      }
      if (await portOpen(this.port)) {
        // give a printed line a moment to arrive, so the report can say which it was
        await new Promise((r) => setTimeout(r, 300));
        this.readyBy = byLine ? 'listening line' : 'port open (no listening line seen)';
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!this.readyBy) throw new Error(`${this.name} not ready within ${timeoutMs} ms: ${this.why()}`);
    this.ready = true;
  }

  /**
   * @param {string} probe @param {number} [timeoutMs] @param {Record<string, unknown>} [extra]
   * @returns {Promise<any>} the probe's answer, or null without one
   */
  probe(probe, timeoutMs = 10_000, extra = {}) {
    if (this.exited || !this.child.connected) return Promise.resolve(null);
    const id = ++this.probeSeq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.probeWaiters.delete(id);
        resolve(null);
      }, timeoutMs);
      this.probeWaiters.set(id, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      try {
        this.child.send({ ...extra, probe, id });
      } catch {
        clearTimeout(timer);
        this.probeWaiters.delete(id);
        resolve(null);
      }
    });
  }

  /** CPU time of the server (of the broker, for a broker peer). */
  cpuMs() {
    return cpuMs(this.measuredPid);
  }

  /** A broker peer's publisher (null for every other server: it is the server). */
  publisherCpuMs() {
    return this.broker ? cpuMs(this.pid) : null;
  }

  rssKB() {
    return rssKB(this.measuredPid);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000) {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (!this.exited) this.child.kill('SIGKILL');
      }, graceMs);
      await this.exitPromise;
      clearTimeout(t);
    }
    if (this.broker) await stopBroker(this.broker, graceMs);
  }

  killNow() {
    if (!this.exited) this.child.kill('SIGKILL');
    if (this.broker) stopBrokerNow(this.broker);
  }
}
