// The message brokers behind the broker peers (nats, mqtt): each started by the harness on two
// free ports of 127.0.0.1 — a TCP port for the publisher (peers/nats-pub.mjs, peers/mqtt-pub.mjs)
// and a WebSocket port for the subscribers — from its own config file in a fresh temp dir, so it
// never touches the system's services (4222, 1883) or their config. Stopped with its server
// (server-proc.mjs); its CPU and RSS are what the tables show for that peer.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, portOpen, which } from './server-proc.mjs';

/** @typedef {'nats' | 'mqtt'} BrokerKind */

/**
 * @typedef {object} BrokerDef
 * @property {string} command   the binary, looked up on the PATH and in /usr/sbin, /usr/local/sbin
 * @property {string} debianPackage
 * @property {(p: { tcpPort: number, wsPort: number, dir: string }) => string} config
 * @property {(confPath: string) => string[]} args
 */

/** @type {Record<BrokerKind, BrokerDef>} */
export const BROKERS = {
  nats: {
    command: 'nats-server',
    debianPackage: 'nats-server',
    config: ({ tcpPort, wsPort }) =>
      [
        `listen: "127.0.0.1:${tcpPort}"`,
        'max_payload: 1048576',
        'websocket {',
        '  host: "127.0.0.1"',
        `  port: ${wsPort}`,
        '  no_tls: true',
        '  compression: false',
        '}',
        '',
      ].join('\n'),
    args: (conf) => ['-c', conf],
  },
  mqtt: {
    command: 'mosquitto',
    debianPackage: 'mosquitto',
    config: ({ tcpPort, wsPort }) =>
      [
        'per_listener_settings false',
        'allow_anonymous true',
        'persistence false',
        // as root mosquitto would drop to the `mosquitto` user; keep the harness's own user
        `user ${os.userInfo().username}`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        `listener ${tcpPort} 127.0.0.1`,
        'protocol mqtt',
        `listener ${wsPort} 127.0.0.1`,
        'protocol websockets',
        '',
      ].join('\n'),
    args: (conf) => ['-c', conf],
  },
};

/** @param {string} command @returns {string | null} its path (Debian puts brokers in /usr/sbin), or null when not installed */
export function findBinary(command) {
  return which(command, ['/usr/sbin', '/usr/local/sbin']);
}

/**
 * A running broker: its process, its two ports and its temp dir (removed when it stops).
 * @typedef {{ kind: BrokerKind, bin: string, child: import('node:child_process').ChildProcess,
 *   pid: number, tcpPort: number, wsPort: number, dir: string, tail: string[] }} Broker
 */

/**
 * Starts `kind` on two free ports and waits until both accept connections.
 * @param {BrokerKind} kind @param {number} timeoutMs
 * @param {(child: import('node:child_process').ChildProcess) => void} register  called at once with the child (kill on exit)
 * @returns {Promise<Broker>}
 */
export async function startBroker(kind, timeoutMs, register) {
  const def = BROKERS[kind];
  const bin = findBinary(def.command);
  if (!bin) throw new Error(`${def.command} is not installed (Debian package ${def.debianPackage})`);
  const tcpPort = await freePort();
  let wsPort = await freePort();
  while (wsPort === tcpPort) wsPort = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), `tickdeck-bench-${kind}-`));
  const conf = join(dir, kind === 'nats' ? 'nats.conf' : 'mosquitto.conf');
  writeFileSync(conf, def.config({ tcpPort, wsPort, dir }));
  const child = spawn(bin, def.args(conf), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  register(child);
  /** @type {string[]} */
  const tail = [];
  const onData = (/** @type {Buffer} */ chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line.slice(0, 300));
      if (tail.length > 30) tail.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.on('error', () => {});
  const broker = { kind, bin, child, pid: /** @type {number} */ (child.pid), tcpPort, wsPort, dir, tail };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `${def.command} exited at start (${child.signalCode ?? child.exitCode}): ${tail.slice(-3).join(' | ')}`,
      );
    }
    if ((await portOpen(tcpPort)) && (await portOpen(wsPort))) return broker;
    if (Date.now() > deadline) {
      stopBrokerNow(broker);
      throw new Error(
        `${def.command} not listening on ${tcpPort} and ${wsPort} within ${timeoutMs} ms: ${tail.slice(-3).join(' | ')}`,
      );
    }
    await sleep(50);
  }
}

/** SIGTERM, SIGKILL after `graceMs`; removes the temp dir. @param {Broker} b */
export async function stopBroker(b, graceMs = 3000) {
  if (b.child.exitCode === null && b.child.signalCode === null) {
    const gone = new Promise((resolve) => b.child.once('exit', resolve));
    b.child.kill('SIGTERM');
    const t = setTimeout(() => b.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }
  rmSync(b.dir, { recursive: true, force: true });
}

/** The synchronous exit path. @param {Broker} b */
export function stopBrokerNow(b) {
  if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
  rmSync(b.dir, { recursive: true, force: true });
}
