/**
 * The attack review's findings, each tried against a real gateway as the attacker did, bounded
 * in count and time. Every test here failed on the code before the fix it names.
 */
import { ErrorCode, type FeedAck, type SubscribeAck } from '@tickdeck/protocol';
import { io, Manager, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  gatewayHeapBytes,
  http,
  PollingSession,
  rawWebSocket,
  refusals,
  settledHeapBytes,
  viewers,
} from './support/engine.js';
import { bystanderGap as bystanderGapOn } from './support/cadence.js';
import { startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

const FEED_TOKEN = 'review-feed-token';
const VIEWER_TOKEN = 'review-viewer-token';
const EVIL = 'http://evil.test';
const MB = 1 << 20;

const okAck = (ack: SubscribeAck) => {
  if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
  return ack;
};

/** Resolves when the websocket closes (the gateway dropped it). */
const closed = (ws: WebSocket) =>
  new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve())));

/** Sends `n` copies of `frame`, yielding now and then so the socket drains. */
async function flood(ws: WebSocket, frame: string, n: number): Promise<void> {
  for (let i = 0; i < n && ws.readyState === WebSocket.OPEN; i++) {
    ws.send(frame);
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
  }
}

function connectError(socket: Socket): Promise<{ message: string; data?: { code?: string } }> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, expected a refusal')));
    socket.once('connect_error', (err) => resolve(err as never));
  });
}

/** Resolves once `socket` is connected; rejects on connect_error or after `ms`. */
function connected(socket: Socket, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    const timer = setTimeout(() => reject(new Error(`not connected within ${ms} ms`)), ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('security review: one connection, bounded', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({
      FEED: 'both',
      FEED_TOKEN,
      FEED_RATE: '400',
      MAX_BUFFERED_BYTES: String(64 * 1024),
    });
  });
  afterAll(() => gw?.stop());

  const bystanderGap = (fn: () => Promise<void>) => bystanderGapOn(gw.url, fn);

  it('finding 1: 12,000 CONNECTs on one polling session leave at most one /market socket, heap bounded, bystander on time', async () => {
    const heapBefore = await settledHeapBytes(gw, 1000);
    let heapPeak = 0;
    const gap = await bystanderGap(async () => {
      // Ten sessions, as the attacker ran them: 120,000 sockets and ~480 MB before the fix.
      for (let s = 0; s < 10; s++) {
        const session = await PollingSession.open(gw);
        await session.post(Array.from({ length: 12_000 }, () => '0/market,'));
        // The duplicate CONNECT dropped the session, so nothing of it is left.
        expect((await session.get()).status).toBe(400);
        expect(await viewers(gw)).toBeLessThanOrEqual(2);
      }
      heapPeak = await gatewayHeapBytes(gw);
    });
    expect(await viewers(gw)).toBe(0);
    expect(heapPeak - heapBefore).toBeLessThan(40 * MB);
    expect(gap).toBeLessThan(200);
  });

  it('finding 1 over websocket: 4,000 CONNECT frames on one connection give at most one socket', async () => {
    const ws = await rawWebSocket(gw);
    const gone = closed(ws);
    await flood(ws, '40/market,', 4000);
    await gone;
    expect(await refusals(gw, ErrorCode.BAD_REQUEST)).toBeGreaterThan(0);
    expect(await viewers(gw)).toBe(0);
  });

  it('a real client may still leave and rejoin a namespace, and hold /market and /feed on one connection', async () => {
    // A bare Manager (io(url) would also open a socket on the main namespace, which is refused),
    // without autoConnect: connect() on a socket that is still connecting sends a second CONNECT.
    const manager = new Manager(gw.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
    const market = manager.socket('/market') as MarketClient;
    const feed = manager.socket('/feed', { auth: { token: FEED_TOKEN } });
    market.connect();
    feed.connect();
    await Promise.all([connected(market), connected(feed)]);
    market.disconnect();
    // A round trip on the same connection: the gateway has processed the DISCONNECT. (A CONNECT
    // in the same TCP read as the DISCONNECT is closed by Socket.IO itself, as a protocol error.)
    await feed.emitWithAck('ticks', []);
    market.connect();
    await connected(market);
    expect(okAck(await market.emitWithAck('subscribe', { symbols: ['AAPL'] })).snapshots).toHaveLength(1);
    const ack = (await feed.emitWithAck('ticks', [])) as FeedAck;
    expect(ack.accepted).toBe(0);
    market.close();
    feed.close();
  });

  it('finding 2: a JSONP handshake is refused and returns no script', async () => {
    const res = await http(`${gw.url}/socket.io/?EIO=4&transport=polling&j=0`);
    expect(res.status).toBe(400);
    expect(res.body).not.toContain('___eio');
    expect(res.body).not.toContain('sid');
    expect(JSON.parse(res.body).message).toMatch(/^BAD_REQUEST: JSONP/);
  });

  it('finding 3: a foreign Origin is refused on every request of an existing session (GET, POST, upgrade)', async () => {
    const session = await PollingSession.open(gw);
    const get = await session.get({ Origin: EVIL });
    expect(get.status).toBe(403);
    expect(JSON.parse(get.body).message).toMatch(/^FORBIDDEN_ORIGIN/);
    const post = await session.post(['0/market,'], { Origin: EVIL });
    expect(post.status).toBe(403);
    await expect(rawWebSocket(gw, `&sid=${session.sid}`, EVIL)).rejects.toThrow(/refused with 403/);
    // The session's own origin still passes, and polling bodies are never sniffed.
    const own = await session.post(['0/market,'], { Origin: `http://127.0.0.1:${gw.port}` });
    expect(own.status).toBe(200);
    expect(own.headers['x-content-type-options']).toBe('nosniff');
    const poll = await session.get();
    expect(poll.status).toBe(200);
    expect(poll.headers['x-content-type-options']).toBe('nosniff');
    expect(poll.body).toMatch(/^40\/market,\{"sid"/);
  });

  it('finding 4: 400,000 refused CONNECTs from a client that never reads pin less than 20 MB', async () => {
    const before = await settledHeapBytes(gw);
    const ws = await rawWebSocket(gw);
    ws.pause();
    const gone = closed(ws);
    await flood(ws, '40/nope,', 400_000);
    // Long-polling, never GETting the replies: refused the same way.
    const session = await PollingSession.open(gw);
    await session.post(Array.from({ length: 100_000 }, () => '0/nope,'));
    const pinned = (await settledHeapBytes(gw)) - before;
    expect(pinned).toBeLessThan(20 * MB);
    expect((await session.get()).status).toBe(400);
    ws.resume();
    await gone;
  });

  it('finding 5: a /feed publisher that stops reading its acks is dropped', async () => {
    const before = await refusals(gw, ErrorCode.SLOW_CONSUMER);
    const ws = await rawWebSocket(gw);
    const joined = new Promise<void>((resolve) =>
      ws.on('message', (m: Buffer) => {
        if (m.toString().startsWith('40/feed,{"sid"')) resolve();
      }),
    );
    ws.send(`40/feed,${JSON.stringify({ token: FEED_TOKEN })}`);
    await joined;
    ws.pause();
    const gone = closed(ws);
    // Batches of bad items: each ack lists rejections; none is read.
    const batch = JSON.stringify(['ticks', Array.from({ length: 5000 }, () => ({}))]);
    for (let id = 0; id < 1000 && ws.readyState === WebSocket.OPEN; id++) {
      ws.send(`42/feed,${id}${batch}`);
      if (id % 50 === 49) {
        await new Promise((r) => setImmediate(r));
        if ((await refusals(gw, ErrorCode.SLOW_CONSUMER)) > before) break;
      }
    }
    expect(await until(async () => (await refusals(gw, ErrorCode.SLOW_CONSUMER)) > before, 5000)).toBe(true);
    ws.resume();
    await gone;
  });

  it('info: a CONNECT to the main namespace and an unknown /feed event get coded answers', async () => {
    const main = io(gw.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    const err = await connectError(main);
    expect(err.data?.code).toBe(ErrorCode.BAD_REQUEST);
    main.close();
    const feed = io(`${gw.url}/feed`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: FEED_TOKEN },
    });
    await connected(feed);
    const ack = (await feed.emitWithAck('nonsense', [])) as FeedAck;
    expect(ack.rejected[0]).toMatchObject({ index: -1, code: ErrorCode.BAD_REQUEST });
    expect(feed.connected).toBe(true);
    feed.close();
  });

  it('info: a 1 MB viewer token is answered with connect_error FRAME_TOO_LARGE', async () => {
    const big = io(`${gw.url}/market`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: 'x'.repeat(MB) },
    });
    const err = await connectError(big);
    expect(err.data?.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    big.close();
  });
});

describe('security review: caps count sockets, refusals are logged at a bounded rate', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({
      FEED: 'both',
      FEED_TOKEN,
      AUTH_TOKENS: VIEWER_TOKEN,
      MAX_CONNECTIONS_PER_IP: '3',
      REFUSAL_LOG_INTERVAL_MS: '1000',
    });
  });
  afterAll(() => gw?.stop());

  const lines = (pattern: RegExp) =>
    gw
      .output()
      .split('\n')
      .filter((l) => pattern.test(l)).length;

  it('finding 8: 50,000 bad-token CONNECTs on one connection and 100 refused clients write a handful of lines', async () => {
    const ws = await rawWebSocket(gw);
    const gone = closed(ws);
    await flood(ws, `40/market,${JSON.stringify({ token: 'wrong-token-123' })}`, 50_000);
    await gone;
    for (let n = 0; n < 100; n++) {
      const s = io(`${gw.url}/market`, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        auth: { token: `wrong-token-${n}` },
      });
      expect((await connectError(s)).data?.code).toBe(ErrorCode.UNAUTHORIZED);
      s.close();
    }
    // The interval's summary line carries the count of what it did not write.
    expect(await until(() => / more in 1 s/.test(gw.output()), 5000)).toBe(true);
    expect(lines(/UNAUTHORIZED/)).toBeLessThanOrEqual(4);
    expect(lines(/refused/)).toBeLessThanOrEqual(10);
    expect(gw.output()).not.toContain('wrong-token');
  });

  it('finding 1: a second namespace socket counts against MAX_CONNECTIONS_PER_IP', async () => {
    // A bare Manager (io(url) would also open a socket on the main namespace, which is refused),
    // without autoConnect: connect() on a socket that is still connecting sends a second CONNECT.
    const manager = new Manager(gw.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
    const market = manager.socket('/market', { auth: { token: VIEWER_TOKEN } });
    const feed = manager.socket('/feed', { auth: { token: FEED_TOKEN } });
    market.connect();
    await connected(market);
    feed.connect();
    await connected(feed);
    // One connection holding two sockets counts twice: one more connection fills the cap of 3.
    const third = io(`${gw.url}/market`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: VIEWER_TOKEN },
    });
    await connected(third);
    const fourth = io(`${gw.url}/market`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: VIEWER_TOKEN },
    });
    await expect(connected(fourth)).rejects.toThrow();
    fourth.close();
    // Closing the second socket frees its slot.
    feed.disconnect();
    const fifth = io(`${gw.url}/market`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: VIEWER_TOKEN },
    });
    expect(await until(() => fifth.connected, 3000)).toBe(true);
    for (const s of [market, third, fifth]) s.close();
  });
});
