import { request as httpRequest } from 'node:http';
import { ErrorCode, type Status, type SubscribeAck, type TradeBatch } from '@tickdeck/protocol';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bystanderGap as bystanderGapOn } from './support/cadence.js';
import { onFrame } from './support/frame.js';
import { connectViewer, sleep, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

interface RawResponse {
  status: number;
  body: string;
}

/** A plain HTTP GET with chosen headers (fetch may not set Origin). */
function get(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Engine.IO polling handshake with an Origin header. */
const pollingHandshake = (gw: RunningGateway, origin?: string) =>
  get(`${gw.url}/socket.io/?EIO=4&transport=polling`, origin === undefined ? {} : { Origin: origin });

/** A direct websocket handshake: resolves with 101 on upgrade, or the refusing status. */
function websocketHandshake(gw: RunningGateway, origin: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/socket.io/?EIO=4&transport=websocket`, { origin });
    ws.once('upgrade', (res) => {
      resolve(res.statusCode ?? 0);
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', () => resolve(-1));
  });
}

function connectWith(url: string, opts: Parameters<typeof io>[1]): MarketClient {
  return io(`${url}/market`, { transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
}

/** Resolves with the connect_error's data, or rejects if the socket connects. */
function connectError(socket: MarketClient): Promise<{ message: string; data?: { code?: string; message?: string } }> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, expected a refusal')));
    socket.once('connect_error', (err) => resolve(err as never));
  });
}

function connected(socket: MarketClient): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

/** Resolves with the status notice and the disconnect reason when the server drops the socket. */
function dropped(socket: MarketClient): Promise<{ notice: Status['notice']; reason: string }> {
  return new Promise((resolve) => {
    let notice: Status['notice'];
    socket.on('status', (s) => (notice ??= s.notice));
    socket.once('disconnect', (reason) => resolve({ notice, reason }));
  });
}

const okAck = (ack: SubscribeAck) => {
  if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
  return ack;
};

describe('security: Origin allowlist', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.stop());

  it('refuses foreign and lookalike origins on polling (403, no session) and websocket (never 101)', async () => {
    const own = `http://127.0.0.1:${gw.port}`;
    for (const origin of [
      'http://evil.test',
      `http://localhost:${gw.port}.evil.test`,
      'null',
      `${own}/`,
      `https://127.0.0.1:${gw.port}`,
    ]) {
      const res = await pollingHandshake(gw, origin);
      expect(res.status, origin).toBe(403);
      expect(res.body, origin).not.toContain('"sid"');
      expect(JSON.parse(res.body).message, origin).toMatch(/^FORBIDDEN_ORIGIN/);
      // Engine.IO answers a refused upgrade with 400; what matters is that it is never 101.
      expect(await websocketHandshake(gw, origin), origin).toBeGreaterThanOrEqual(400);
    }
    // The gateway's own origin (and no Origin at all: a non-browser client) get a session.
    for (const origin of [own, `http://localhost:${gw.port}`, undefined]) {
      const res = await pollingHandshake(gw, origin);
      expect(res.status, origin).toBe(200);
      expect(res.body, origin).toContain('"sid"');
    }
    expect(await websocketHandshake(gw, own)).toBe(101);
    const viewer = connectWith(gw.url, { extraHeaders: { Origin: own } });
    await connected(viewer);
    expect(okAck(await viewer.emitWithAck('subscribe', { symbols: ['AAPL'] })).snapshots).toHaveLength(1);
    viewer.close();
  });

  it('gives REST CORS headers to allowed origins only', async () => {
    const own = `http://localhost:${gw.port}`;
    const ok = await get(`${gw.url}/api/symbols`, { Origin: own });
    const foreign = await new Promise<string | undefined>((resolve, reject) => {
      httpRequest(`${gw.url}/api/symbols`, { headers: { Origin: 'http://evil.test' } }, (res) => {
        res.resume();
        resolve(res.headers['access-control-allow-origin']);
      })
        .on('error', reject)
        .end();
    });
    expect(ok.status).toBe(200);
    expect(foreign).toBeUndefined();
    const allowed = await new Promise<string | undefined>((resolve, reject) => {
      httpRequest(`${gw.url}/api/symbols`, { headers: { Origin: own } }, (res) => {
        res.resume();
        resolve(res.headers['access-control-allow-origin']);
      })
        .on('error', reject)
        .end();
    });
    expect(allowed).toBe(own);
  });
});

describe('security: viewer auth', () => {
  const TOKEN = 'viewer-token-3f9a1c';
  const SECRET = 'jwt-secret-0123456789abcdef0123456789';
  const key = new TextEncoder().encode(SECRET);
  const jwt = (expSeconds: number) =>
    new SignJWT({ sub: 'trader' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
      .sign(key);
  let gw: RunningGateway;
  const secrets: string[] = [TOKEN, SECRET];
  beforeAll(async () => {
    gw = await startGateway({ AUTH_TOKENS: `${TOKEN},other-token-77`, AUTH_JWT_SECRET: SECRET, LOG_LEVEL: 'verbose' });
  });
  afterAll(() => gw?.stop());

  it('refuses missing, wrong, expired and query-string tokens with UNAUTHORIZED and sends nothing', async () => {
    const expired = await jwt(-60);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-0123456789abcdef0123'));
    secrets.push(expired, forged);
    const cases: [string, Parameters<typeof io>[1]][] = [
      ['missing', {}],
      ['wrong', { auth: { token: 'wrong-token-123' } }],
      ['expired JWT', { auth: { token: expired } }],
      ['JWT signed with another secret', { auth: { token: forged } }],
      ['query string', { query: { token: TOKEN } }],
    ];
    for (const [what, opts] of cases) {
      const socket = connectWith(gw.url, opts);
      let events = 0;
      socket.onAny(() => events++);
      const err = await connectError(socket);
      expect(err.data?.code, what).toBe(ErrorCode.UNAUTHORIZED);
      // Nothing arrives within 300 ms.
      await sleep(300);
      expect(events, what).toBe(0);
      socket.close();
    }
  });

  it('accepts a valid static token and a valid JWT on /market', async () => {
    for (const token of [TOKEN, await jwt(600)]) {
      secrets.push(token);
      const socket = connectWith(gw.url, { auth: { token } });
      await connected(socket);
      const quotes: unknown[] = [];
      onFrame(socket, { quotes: (q) => quotes.push(...q) });
      okAck(await socket.emitWithAck('subscribe', { symbols: ['AAPL', 'MSFT', 'BTC-USD'], throttleMs: 100 }));
      expect(await until(() => quotes.length > 0, 1500), 'quotes within 1.5 s').toBe(true);
      socket.close();
    }
  });

  it('disconnects a socket whose JWT expires mid-session with TOKEN_EXPIRED', async () => {
    const token = await jwt(2);
    secrets.push(token);
    const socket = connectWith(gw.url, { auth: { token } });
    await connected(socket);
    const t0 = Date.now();
    const { notice, reason } = await dropped(socket);
    expect(notice?.code).toBe(ErrorCode.TOKEN_EXPIRED);
    expect(reason).toBe('io server disconnect');
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('REST: 401 with a JSON body without a valid bearer token; 200 with one; health stays open', async () => {
    const refused: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer nope-nope-nope' },
      { Authorization: TOKEN },
    ];
    for (const headers of refused) {
      const res = await get(`${gw.url}/api/snapshot/AAPL`, headers);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      expect(res.body).not.toContain(TOKEN);
    }
    const ok = await get(`${gw.url}/api/snapshot/AAPL`, { Authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ symbol: 'AAPL' });
    const viaJwt = await get(`${gw.url}/api/symbols`, { Authorization: `Bearer ${await jwt(60)}` });
    expect(viaJwt.status).toBe(200);
    expect((await get(`${gw.url}/api/health`)).status).toBe(200);
  });

  it('never writes a token or the secret to its log', () => {
    const out = gw.output();
    expect(out).toMatch(/refused 127\.0\.0\.1: UNAUTHORIZED: \/market: /);
    for (const s of secrets) expect(out).not.toContain(s);
  });
});

describe('security: limits', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({
      RATE_LIMIT_PER_S: '20',
      RATE_LIMIT_BURST: '40',
      MAX_CONNECTIONS: '6',
      MAX_CONNECTIONS_PER_IP: '3',
      TRUST_PROXY: 'true',
      FEED_RATE: '400',
    });
  });
  afterAll(() => gw?.stop());

  const bystanderGap = (fn: () => Promise<void>) => bystanderGapOn(gw.url, fn);

  it('flood: 200 subscribes in a second get RATE_LIMITED with retryAfterMs, then a disconnect; others unaffected', async () => {
    const gap = await bystanderGap(async () => {
      const flooder = await connectViewer(gw.url);
      const drop = dropped(flooder);
      const acks: SubscribeAck[] = [];
      // 200 in one second: 10 every 50 ms.
      for (let n = 0; n < 200 && flooder.connected; n++) {
        flooder.emit('subscribe', { symbols: ['AAPL'] }, (ack) => acks.push(ack));
        // The attack's pace, not a wait.
        if (n % 10 === 9) await sleep(50);
      }
      const { notice, reason } = await drop;
      expect(notice?.code).toBe(ErrorCode.RATE_LIMITED);
      expect(reason).toBe('io server disconnect');
      const ok = acks.filter((a) => a.ok);
      const limited = acks.filter((a) => !a.ok && a.error.code === ErrorCode.RATE_LIMITED);
      expect(ok.length).toBeGreaterThanOrEqual(40);
      expect(ok.length).toBeLessThan(80);
      expect(limited.length).toBeGreaterThan(0);
      for (const a of limited) if (!a.ok) expect(a.error.retryAfterMs).toBeGreaterThan(0);
    });
    expect(gap).toBeLessThan(350);
  });

  it('closes only the sender of an oversized frame, with FRAME_TOO_LARGE', async () => {
    const gap = await bystanderGap(async () => {
      const big = await connectViewer(gw.url);
      const drop = dropped(big);
      (big as unknown as { emit: (...a: unknown[]) => void }).emit('subscribe', {
        symbols: ['AAPL'],
        pad: 'x'.repeat(20_000),
      });
      const { notice, reason } = await drop;
      expect(notice?.code).toBe(ErrorCode.FRAME_TOO_LARGE);
      expect(reason).toBe('io server disconnect');
    });
    expect(gap).toBeLessThan(350);
  });

  it('caps connections per client address and in total, before any session exists', async () => {
    const from = (ip: string) => connectWith(gw.url, { extraHeaders: { 'X-Forwarded-For': `203.0.113.9, ${ip}` } });
    const open: MarketClient[] = [];
    for (let n = 0; n < 3; n++) {
      const s = from('10.0.0.1');
      await connected(s);
      open.push(s);
    }
    const fourth = from('10.0.0.1');
    await expect(connected(fourth)).rejects.toThrow();
    fourth.close();
    const res = await get(`${gw.url}/socket.io/?EIO=4&transport=polling`, { 'X-Forwarded-For': '10.0.0.1' });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).message).toMatch(/^TOO_MANY_CONNECTIONS: .*MAX_CONNECTIONS_PER_IP=3/);
    for (let n = 0; n < 3; n++) {
      const s = from('10.0.0.2');
      await connected(s);
      open.push(s);
    }
    const total = await get(`${gw.url}/socket.io/?EIO=4&transport=polling`, { 'X-Forwarded-For': '10.0.0.3' });
    expect(total.status).toBe(403);
    expect(JSON.parse(total.body).message).toMatch(/^TOO_MANY_CONNECTIONS: .*MAX_CONNECTIONS=6/);
    // A freed slot is usable again, within 200 ms.
    open.shift()!.close();
    const reconnected = await until(async () => {
      const again = from('10.0.0.1');
      open.push(again);
      await connected(again);
      return true;
    }, 200);
    expect(reconnected, 'a connection from 10.0.0.1 within 200 ms of closing one').toBe(true);
    for (const s of open) s.close();
  });
});

describe('recovery: subscribe with since after a reconnect', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ FEED_RATE: '600', FEED_TRADE_PROBABILITY: '0.5', TRADE_HISTORY: '5000' });
  });
  afterAll(() => gw?.stop());

  it('a client away for 2 s ends up with every trade exactly once, in order, like one that stayed', async () => {
    const symbols = ['AAPL', 'BTC-USD', 'ETH-USD'];
    const ids = (batches: TradeBatch[], symbol: string) =>
      batches.filter((b) => b.symbol === symbol).flatMap((b) => b.trades.map((t) => t.seq));

    const stayed = await connectViewer(gw.url);
    const stayedGot: TradeBatch[] = [];
    onFrame(stayed, { trades: (b) => stayedGot.push(b) });
    const stayedAck = okAck(await stayed.emitWithAck('subscribe', { symbols }));

    const away = await connectViewer(gw.url);
    const awayGot: TradeBatch[] = [];
    onFrame(away, { trades: (b) => awayGot.push(b) });
    const awayAck = okAck(await away.emitWithAck('subscribe', { symbols }));
    const hasTrades = (batches: TradeBatch[]) => symbols.every((s) => ids(batches, s).length > 0);
    // Connected until it has had trades of every symbol.
    expect(await until(() => hasTrades(awayGot), 5000), 'trades of every symbol before leaving').toBe(true);
    away.close();
    const last: Record<string, number> = {};
    for (const s of awayAck.snapshots) last[s.symbol] = s.tradeSeq;
    for (const b of awayGot) for (const t of b.trades) last[b.symbol] = t.seq;
    // Away for 2 s while trades flow: the scenario itself, not a wait.
    await sleep(2000);

    const back = await connectViewer(gw.url);
    onFrame(back, { trades: (b) => awayGot.push(b) });
    const backAck = okAck(await back.emitWithAck('subscribe', { symbols, epoch: awayAck.epoch, since: last }));
    expect(backAck.gaps).toEqual([]);
    awayGot.push(...backAck.trades);
    const replayed = awayGot.length;
    // Back until live trades of every symbol followed the ones it missed.
    expect(await until(() => hasTrades(awayGot.slice(replayed)), 5000), 'live trades after the replay').toBe(true);
    back.close();
    // The one that stayed has every trade the other got, within 300 ms.
    const lastSeq = (batches: TradeBatch[], s: string) => ids(batches, s).at(-1) ?? 0;
    expect(
      await until(() => symbols.every((s) => lastSeq(stayedGot, s) >= lastSeq(awayGot, s)), 300),
      'the staying viewer reached the same trades',
    ).toBe(true);
    stayed.close();

    for (const s of symbols) {
      const from = awayAck.snapshots.find((x) => x.symbol === s)!.tradeSeq;
      const got = ids(awayGot, s);
      const end = got[got.length - 1]!;
      const reference = ids(stayedGot, s).filter((seq) => seq > from && seq <= end);
      expect(stayedAck.snapshots.find((x) => x.symbol === s)!.tradeSeq).toBeLessThanOrEqual(from);
      // Trades flowed while it was away, and it has each of them once, in order.
      expect(got.length, s).toBeGreaterThan(5);
      expect(got, s).toEqual(reference);
      expect(got, s).toEqual([...Array(got.length).keys()].map((n) => from + 1 + n));
    }
  });
});
