import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect, type Socket as NetSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FEED_NAMESPACE,
  type FeedAck,
  type FeedClientToServerEvents,
  type Quote,
  type Status,
} from '@tickdeck/protocol';
import { generate } from 'selfsigned';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { onFrame } from './support/frame.js';
import { sleep, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

const TOKEN = 'lifecycle-test-token';
const gateways: RunningGateway[] = [];
const sockets: { disconnect(): unknown }[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

async function gateway(env: Record<string, string> = {}): Promise<RunningGateway> {
  const gw = await startGateway(env);
  gateways.push(gw);
  return gw;
}

/**
 * A viewer that records every `status` with its arrival time (ms, wall clock), listening before
 * it connects: the gateway's first status comes right behind the connect.
 */
async function statusViewer(
  url: string,
  options: { ca?: string } = {},
): Promise<{ socket: MarketClient; statuses: { at: number; status: Status }[] }> {
  const statuses: { at: number; status: Status }[] = [];
  const socket: MarketClient = io(`${url}/market`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...options,
  });
  sockets.push(socket);
  socket.on('status', (status) => statuses.push({ at: Date.now(), status }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, statuses };
}

/** Resolves with what `pick` finds once it finds something, within `ms`. */
async function waitFor<T>(pick: () => T | undefined, ms: number, what: string): Promise<T> {
  let found: T | undefined;
  if (!(await until(() => (found = pick()) !== undefined, ms))) throw new Error(`no ${what} within ${ms} ms`);
  return found!;
}

/** `GET /api/health` on a connection of its own, closed after: its status. */
function healthStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/api/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Whether a TCP connect to 127.0.0.1:`port` is refused (a connection that is accepted is closed at once). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function feedState(url: string): Promise<string> {
  const health = (await (await fetch(`${url}/api/health`)).json()) as { feed: { state: string } };
  return health.feed.state;
}

describe('feed staleness', () => {
  const STALE_MS = 1000;

  it('tells every viewer `stale` within FEED_STALE_MS of the last tick plus one check, and `live` on the next', async () => {
    const gw = await gateway({ FEED: 'external', FEED_TOKEN: TOKEN, FEED_STALE_MS: String(STALE_MS) });
    const pub: Socket<Record<string, never>, FeedClientToServerEvents> = io(`${gw.url}${FEED_NAMESPACE}`, {
      auth: { token: TOKEN },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    sockets.push(pub);
    await new Promise<void>((resolve, reject) => {
      pub.once('connect', resolve);
      pub.once('connect_error', reject);
    });
    let last = 100;
    /** Publishes one AAPL tick; resolves with the wall-clock time its ack came back. */
    const publish = async (): Promise<number> => {
      last += 0.01;
      const ack: FeedAck = await pub.emitWithAck('ticks', [
        { symbol: 'AAPL', ts: Date.now(), last, bid: last - 0.01, ask: last + 0.01 },
      ]);
      expect(ack).toEqual({ accepted: 1, rejected: [], rejectedCount: 0 });
      return Date.now();
    };

    // Ticks every 100 ms, well inside FEED_STALE_MS: no `stale` arrives within those 1.5 s.
    await publish();
    const viewer = await statusViewer(gw.url);
    let lastAck = 0;
    for (let n = 0; n < 15; n++) {
      lastAck = await publish();
      await sleep(100);
    }
    expect(viewer.statuses.map((s) => s.status)).toEqual([{ feed: 'live' }]);
    expect(await feedState(gw.url)).toBe('live');

    // Silence: `stale` once FEED_STALE_MS have passed, never before, within one more check (100 ms).
    const stale = await waitFor(
      () => viewer.statuses.find((s) => s.status.feed === 'stale'),
      STALE_MS + 3000,
      'status {feed: stale}',
    );
    expect(stale.status).toEqual({ feed: 'stale' });
    expect(stale.at - lastAck).toBeGreaterThanOrEqual(STALE_MS - 50);
    expect(stale.at - lastAck).toBeLessThanOrEqual(STALE_MS + 2 * 100 + 300);
    expect(await feedState(gw.url)).toBe('stale');

    // A viewer connecting now learns it at once.
    const late = await statusViewer(gw.url);
    await waitFor(() => late.statuses[0], 2000, 'status on connect');
    expect(late.statuses[0]!.status).toEqual({ feed: 'stale' });

    // The next tick brings both back to `live` (at once, not at the next check: see feed-health.spec).
    const resumed = await publish();
    for (const v of [viewer, late]) {
      const live = await waitFor(
        () => v.statuses.find((s) => s.at >= stale.at && s.status.feed === 'live'),
        2000,
        'status {feed: live}',
      );
      expect(live.at - resumed).toBeLessThan(250);
    }
    expect(await feedState(gw.url)).toBe('live');
    expect(viewer.statuses.map((s) => s.status.feed)).toEqual(['live', 'stale', 'live']);
    expect(late.statuses.map((s) => s.status.feed)).toEqual(['stale', 'live']);
  });
});

describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal}: refuses new connections, tells viewers, finishes a request in flight, exits 0 within 5 s`, async () => {
      const gw = await gateway({ FEED_RATE: '2000' });
      const viewers = await Promise.all([statusViewer(gw.url), statusViewer(gw.url)]);
      const quotes: Quote[] = [];
      const reasons: string[] = [];
      for (const { socket } of viewers) {
        onFrame(socket, { quotes: (q) => quotes.push(...q) });
        socket.on('disconnect', (reason) => reasons.push(reason));
        expect((await socket.emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 100 })).ok).toBe(true);
      }
      // And a connection that stopped reading: it cannot answer a close, so it is dropped.
      const stalled = new WebSocket(`ws://127.0.0.1:${gw.port}/socket.io/?EIO=4&transport=websocket`);
      await new Promise((resolve, reject) => stalled.once('open', resolve).once('error', reject));
      const stalledTcp = (stalled as unknown as { _socket: NetSocket })._socket;
      stalledTcp.pause();
      const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
      expect(await until(() => quotes.length > 0, 300), 'quotes within 300 ms').toBe(true);

      // A REST request in flight: its headers are half sent when the signal arrives.
      const inflight = connect({ host: '127.0.0.1', port: gw.port });
      await new Promise<void>((resolve) => inflight.once('connect', resolve));
      let response = '';
      inflight.on('data', (c: Buffer) => (response += c.toString()));
      const responded = new Promise<void>((resolve) => inflight.once('close', resolve));
      inflight.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      // A request on a later connection answered: the gateway has accepted the one in flight
      // (it takes connections in order) and read what was written on it.
      expect(await healthStatus(gw.port)).toBe(200);

      const signalledAt = Date.now();
      const exited = new Promise<{ code: number | null; signal: string | null; ms: number }>((resolve) =>
        gw.child.once('exit', (code, sig) => resolve({ code, signal: sig, ms: Date.now() - signalledAt })),
      );
      gw.child.kill(signal);
      expect(await until(() => refused(gw.port), 150), 'new connections refused within 150 ms').toBe(true);
      await expect(fetch(`${gw.url}/api/health`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
      inflight.write('\r\n');

      const { code, signal: killedBy, ms } = await exited;
      expect({ code, killedBy }).toEqual({ code: 0, killedBy: null });
      expect(ms).toBeLessThan(5000);
      await responded;
      // Reading again, it finds its connection closed.
      stalledTcp.resume();
      await stalledClosed;
      expect(response).toMatch(/^HTTP\/1\.1 200 /);
      expect(response).toMatch(/"status":"ok"/);

      for (const v of viewers) {
        expect(v.statuses.map((s) => s.status).filter((s) => s.server)).toEqual([{ server: 'shutdown' }]);
        expect(v.statuses.at(-1)!.status).toEqual({ server: 'shutdown' });
      }
      // Closed as a transport, not a Socket.IO disconnect: clients reconnect by themselves.
      expect(reasons).toEqual(['transport close', 'transport close']);
      expect(gw.output()).not.toMatch(/did not finish within/);
    });
  }
});

describe('TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickdeck-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves https and wss on the one port with TLS_CERT and TLS_KEY', async () => {
    const pem = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      curve: 'P-256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    writeFileSync(certPath, pem.cert);
    writeFileSync(keyPath, pem.private, { mode: 0o600 });
    const gw = await gateway({ TLS_CERT: certPath, TLS_KEY: keyPath, FEED_RATE: '2000' });
    expect(gw.output()).toMatch(/listening on https:\/\/127\.0\.0\.1:\d+/);
    const base = `https://127.0.0.1:${gw.port}`;

    // REST over https, the certificate checked against the one generated above.
    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      httpsGet(`${base}/api/health`, { ca: pem.cert }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });

    // wss: subscribe and get quotes.
    const { socket, statuses } = await statusViewer(base, { ca: pem.cert });
    const quotes: Quote[] = [];
    onFrame(socket, { quotes: (q) => quotes.push(...q) });
    const ack = await socket.emitWithAck('subscribe', { symbols: ['AAPL', 'BTC-USD'], throttleMs: 100 });
    expect(ack.ok).toBe(true);
    await waitFor(() => (quotes.length >= 10 ? true : undefined), 5000, 'quotes over wss');
    expect(new Set(quotes.map((q) => q.symbol))).toEqual(new Set(['AAPL', 'BTC-USD']));
    expect(statuses.map((s) => s.status)).toEqual([{ feed: 'live' }]);

    // Plain http on the TLS port gets nothing, and an unknown certificate is refused by a client.
    await expect(fetch(`${gw.url}/api/health`)).rejects.toThrow();
    await expect(fetch(`${base}/api/health`)).rejects.toThrow();
  });
});
