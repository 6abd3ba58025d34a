import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './support/until.js';
import { sleep, startGateway, type RunningGateway } from './support/gateway.js';
import { requireSystemCommand } from './support/system.js';

const PRLIMIT = requireSystemCommand('prlimit', 'util-linux', 'http limits');

/** Half-open requests the attacker opens, all from one address. */
const FLOOD = 3000;
const ATTACKER = '127.0.0.2';
const PER_IP = 100;
/** Long enough that the whole flood is in before the first held request times out, even on a busy machine. */
const HEADERS_TIMEOUT_MS = 5000;
const REFUSAL_LOG_INTERVAL_MS = 1000;
/**
 * The gateway's open-files limit during the test, lowered after it starts: below FLOOD, so the
 * flood would take every descriptor the gateway has (the finding, at 20,000) without the cap.
 */
const GATEWAY_FD_LIMIT = 1024;

interface Probe {
  socket: Socket;
  openedAt: number;
  closedAt?: number;
  reply: string;
}

/** Opens one connection from `localAddress` and writes an unfinished request; resolves once it is connected or gone. */
function halfOpen(port: number, localAddress: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const probe: Probe = { socket, openedAt: Date.now(), reply: '' };
    socket.on('data', (d: Buffer) => (probe.reply += d.toString()));
    // Resets and writes after the server closed are what refused sockets see.
    socket.on('error', () => {});
    socket.once('close', () => {
      probe.closedAt = Date.now();
      resolve(probe);
    });
    socket.once('connect', () => {
      probe.openedAt = Date.now();
      socket.write(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Never-Ends: `);
      resolve(probe);
    });
  });
}

/** `GET /api/health` from 127.0.0.1 on a fresh connection: its status (0 = failed) and how long it took. */
function health(port: number, timeoutMs: number): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/health', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: Date.now() - started }));
    req.end();
  });
}

describe.skipIf(!PRLIMIT)('HTTP under a flood of half-open requests from one address', () => {
  let gw: RunningGateway;
  const probes: Probe[] = [];
  let floodMs = 0;

  beforeAll(async () => {
    gw = await startGateway({
      MAX_HTTP_CONNECTIONS_PER_IP: String(PER_IP),
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      REFUSAL_LOG_INTERVAL_MS: String(REFUSAL_LOG_INTERVAL_MS),
      LOG_LEVEL: 'warn',
    });
    const lowered = spawnSync(PRLIMIT!, ['--pid', String(gw.child.pid), `--nofile=${GATEWAY_FD_LIMIT}:`], {
      encoding: 'utf8',
    });
    expect(lowered.status, lowered.stderr).toBe(0);
    expect((await health(gw.port, 1000)).status).toBe(200);

    const started = Date.now();
    // In batches: a few hundred connects at a time stay within the listen backlog.
    for (let i = 0; i < FLOOD; i += 250) {
      const batch = Array.from({ length: Math.min(250, FLOOD - i) }, () => halfOpen(gw.port, ATTACKER));
      probes.push(...(await Promise.all(batch)));
    }
    floodMs = Date.now() - started;
  });

  afterAll(async () => {
    for (const p of probes) p.socket.destroy();
    await gw?.stop();
  });

  const held = () => probes.filter((p) => p.closedAt === undefined);

  it('holds at most MAX_HTTP_CONNECTIONS_PER_IP of them and closes the rest at once, without a response', async () => {
    // The flood must be over before the first held request times out, or later ones take their place.
    expect(floodMs).toBeLessThan(HEADERS_TIMEOUT_MS - 1000);
    expect(await until(() => held().length <= PER_IP, 1000)).toBe(true);
    expect(held()).toHaveLength(PER_IP);
    const refused = probes.filter((p) => p.closedAt !== undefined);
    expect(refused).toHaveLength(FLOOD - PER_IP);
    const slowest = Math.max(...refused.map((p) => p.closedAt! - p.openedAt));
    expect(slowest).toBeLessThan(1000);
    expect(refused.filter((p) => p.reply !== '')).toEqual([]);
  });

  it('answers GET /api/health from another address with 200 within 1 s while they are held', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await health(gw.port, 1000);
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(1000);
    }
    // That was while the flood was held: none of it has timed out yet.
    expect(held().length).toBe(PER_IP);
  });

  it('closes the held ones with a 408 once HTTP_HEADERS_TIMEOUT_MS is over (within 2 s of it)', async () => {
    const holding = held();
    expect(await until(() => holding.every((p) => p.closedAt !== undefined), HEADERS_TIMEOUT_MS + 3000)).toBe(true);
    const lifetimes = holding.map((p) => p.closedAt! - p.openedAt);
    expect(Math.min(...lifetimes)).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(Math.max(...lifetimes)).toBeLessThan(HEADERS_TIMEOUT_MS + 2000);
    for (const p of holding) expect(p.reply).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
    // The address has its room back.
    const again = await halfOpen(gw.port, ATTACKER);
    probes.push(again);
    // Not closed within 200 ms: held, where a refused one is closed at once.
    await sleep(200);
    expect(again.closedAt).toBeUndefined();
    again.socket.destroy();
  });

  it('logs the refusals at a bounded rate, and counts every one', async () => {
    const refusedCount = FLOOD - PER_IP;
    const lines = () => gw.output().match(/refused 127\.0\.0\.2: HTTP_CONNECTIONS_PER_IP: .*/g) ?? [];
    // A first refusal in an interval has a line of its own; the others are counted in the interval's last line.
    const logged = () => lines().reduce((n, line) => n + Number(/: (\d+) more in /.exec(line)?.[1] ?? 1), 0);
    // The count line comes at the end of the interval the last refusal fell in.
    expect(await until(() => logged() >= refusedCount, REFUSAL_LOG_INTERVAL_MS + 2000)).toBe(true);
    expect(logged()).toBe(refusedCount);
    // At most two lines per interval the flood spanned (its first refusal, then the count).
    expect(lines().length).toBeLessThanOrEqual(2 * (1 + Math.ceil(floodMs / REFUSAL_LOG_INTERVAL_MS)));
    expect(lines()[0]).toMatch(/MAX_HTTP_CONNECTIONS_PER_IP=100/);
  });
});
