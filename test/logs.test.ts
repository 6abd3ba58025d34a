import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { FEED_NAMESPACE } from '@tickdeck/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sleep, startGateway, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

const MAIN = fileURLToPath(new URL('../backend/dist/main.js', import.meta.url));
/** What the gateway is configured with: none may ever be written. */
const FEED_TOKEN = 'feed-secret-4b1d9e7c22';
const VIEWER_TOKEN = 'viewer-secret-93ac0f5e61';
const JWT_SECRET = 'jwt-secret-0c7e2a9d4f6b8e1a3c5d7f9b2e4a6c8d';
/** What clients send that is wrong: none may be written either. */
const WRONG = 'wrong-secret-7f3a9c2e5b';
const SECRETS = [FEED_TOKEN, VIEWER_TOKEN, JWT_SECRET, WRONG];
const LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

interface LogRecord {
  level: string;
  timestamp: number;
  context: string;
  message: string;
  [field: string]: unknown;
}

/** A raw request: method, path, headers and body exactly as given. */
function send(
  url: string,
  path: string,
  { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Connects a socket that must be refused; resolves with the refusal's code. */
function refused(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, expected a refusal')));
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => resolve(err.data?.code ?? err.message));
  }).finally(() => socket.close()) as Promise<string | undefined>;
}

/** Every line printed, each parsed; throws naming the first that is not a JSON record. */
function records(output: string): LogRecord[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogRecord;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

describe('LOG_FORMAT=json: lines an operator can ship, and no secret in them', () => {
  let gw: RunningGateway;
  let output = '';

  beforeAll(async () => {
    gw = await startGateway({
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'verbose',
      FEED: 'both',
      FEED_TOKEN,
      AUTH_TOKENS: VIEWER_TOKEN,
      AUTH_JWT_SECRET: JWT_SECRET,
      REFUSAL_LOG_INTERVAL_MS: '100',
      MAX_VIEWER_FRAME_BYTES: '1024',
      // A process warning on SIGUSR2, which Node itself would print as text.
      NODE_OPTIONS: '--import=data:text/javascript,process.on(`SIGUSR2`,()=>process.emitWarning(`canary`))',
    });
    const url = gw.url;
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    // REST: a wrong token in the header and the query, then the right ones; a public route.
    expect(await send(url, `/api/snapshot?token=${WRONG}`, { headers: bearer(WRONG) })).toBe(401);
    expect(await send(url, `/api/snapshot?symbols=AAPL&token=${VIEWER_TOKEN}`, { headers: bearer(VIEWER_TOKEN) })).toBe(
      200,
    );
    expect(await send(url, `/api/health?token=${WRONG}`)).toBe(200);
    expect(await send(url, `/api/nope?token=${WRONG}`, { headers: bearer(WRONG) })).toBe(404);
    // Bodies, well-formed and not, to a route that takes none.
    for (const body of [JSON.stringify({ token: WRONG }), `{"token":"${WRONG}`]) {
      const status = await send(url, '/api/snapshot', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...bearer(VIEWER_TOKEN) },
        body,
      });
      expect(status).toBeGreaterThanOrEqual(400);
    }
    // /feed with a wrong token, then the right one with a batch the gateway refuses item by item.
    const feedOpts = { transports: ['websocket'], reconnection: false, forceNew: true };
    expect(await refused(io(`${url}${FEED_NAMESPACE}`, { ...feedOpts, auth: { token: WRONG } }))).toBe('UNAUTHORIZED');
    const publisher = io(`${url}${FEED_NAMESPACE}`, { ...feedOpts, auth: { token: FEED_TOKEN } });
    await new Promise((resolve) => publisher.once('connect', () => resolve(undefined)));
    const ack = (await publisher.timeout(5000).emitWithAck('ticks', [
      { symbol: WRONG.toUpperCase(), ts: Date.now(), last: 1, bid: 1, ask: 1 },
      { symbol: 'AAPL', ts: Date.now(), last: -1, bid: 1, ask: 1, note: WRONG },
    ])) as { rejectedCount: number };
    expect(ack.rejectedCount).toBe(2);
    publisher.close();
    // /market: a wrong token in the handshake and in the query string, a foreign Origin (which the
    // refusal log names: an Origin is no secret), a huge frame.
    expect(await refused(io(`${url}/market`, { ...feedOpts, auth: { token: WRONG } }))).toBe('UNAUTHORIZED');
    expect(await refused(io(`${url}/market`, { ...feedOpts, query: { token: WRONG } }))).toBeTruthy();
    const foreign = new WebSocket(`ws://127.0.0.1:${gw.port}/socket.io/?EIO=4&transport=websocket&token=${WRONG}`, {
      origin: 'http://evil.test',
    });
    await new Promise((resolve) => {
      foreign.once('unexpected-response', resolve);
      foreign.once('error', resolve);
    });
    const viewer = io(`${url}/market`, { ...feedOpts, auth: { token: VIEWER_TOKEN } });
    await new Promise((resolve) => viewer.once('connect', () => resolve(undefined)));
    const closed = new Promise((resolve) => viewer.once('disconnect', resolve));
    viewer.emit('subscribe', { symbols: [WRONG.repeat(100)] });
    await closed;
    viewer.close();
    gw.child.kill('SIGUSR2');
    // The refusal log writes within its interval; then a graceful stop writes its lines too.
    await until(() => /FRAME_TOO_LARGE/.test(gw.output()) && /canary/.test(gw.output()), 5000);
    await sleep(300);
    await gw.stop();
    output = gw.output();
  });
  afterAll(() => gw?.stop());

  it('writes every line on stdout and stderr as a JSON record with level, timestamp, context and message', () => {
    const all = records(output);
    expect(all.length).toBeGreaterThan(20);
    for (const r of all) {
      expect(LEVELS, JSON.stringify(r)).toContain(r.level);
      expect(typeof r.timestamp, JSON.stringify(r)).toBe('number');
      expect(Math.abs(r.timestamp - Date.now())).toBeLessThan(120_000);
      expect(typeof r.context, JSON.stringify(r)).toBe('string');
      expect(typeof r.message, JSON.stringify(r)).toBe('string');
    }
    expect(all.some((r) => r.message.startsWith('tickdeck listening on http://127.0.0.1:'))).toBe(true);
    expect(all.some((r) => r.level === 'warn' && /^refused /.test(r.message))).toBe(true);
    expect(all.some((r) => r.context === 'ShutdownService')).toBe(true);
    expect(all).toContainEqual(
      expect.objectContaining({ level: 'warn', context: 'process', message: 'Warning: canary' }),
    );
  });

  it('writes one access record per HTTP request: method, path without its query, status, duration', () => {
    const access = records(output).filter((r) => r.context === 'HTTP');
    expect(access.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/api/snapshot', 401],
      ['GET', '/api/snapshot', 200],
      ['GET', '/api/health', 200],
      ['GET', '/api/nope', 404],
      ['POST', '/api/snapshot', 404],
      ['POST', '/api/snapshot', 404],
    ]);
    for (const r of access) {
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect(r.durationMs).toBeLessThan(10_000);
      expect(r.message).toBe(`${String(r.method)} ${String(r.path)} ${String(r.status)} ${String(r.durationMs)} ms`);
    }
    // The probe is a debug record, the rest log records.
    expect(access.map((r) => r.level)).toEqual(['log', 'log', 'debug', 'log', 'log', 'log']);
  });

  it('never writes a token, a secret or a message body, whatever was refused', () => {
    for (const secret of SECRETS) {
      expect(output).not.toContain(secret);
      expect(output.toLowerCase()).not.toContain(secret.toLowerCase());
    }
  });
});

describe('LOG_FORMAT=json before the configuration is valid', () => {
  it('writes the configuration error as one fatal record, naming the variable, never its value', () => {
    const run = spawnSync(process.execPath, [MAIN], {
      env: { ...process.env, LOG_FORMAT: 'json', FEED_TOKEN: 'short', PORT: 'abc' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!) as LogRecord;
    expect(record).toMatchObject({ level: 'fatal', context: 'tickdeck' });
    expect(record.message).toMatch(/invalid configuration:\n {2}PORT="abc": .*\n {2}FEED_TOKEN=<hidden>: /s);
    expect(run.stderr).not.toContain('short');
  });
});
