import {
  type FeedAck,
  type FeedTick,
  type FeedTrade,
  type Quote,
  type Snapshot,
  type TradeBatch,
} from '@tickdeck/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { onFrame } from './support/frame.js';
import {
  connectViewer,
  sleep,
  startGateway,
  type MarketClient,
  type RunningGateway,
  connectPublisher,
  type FeedClient,
} from './support/gateway.js';
import { until } from './support/until.js';

const TOKEN = 'feed-limits-token-0123';
const HOUR = 3_600_000;

const gateways: RunningGateway[] = [];
const sockets: { disconnect(): unknown }[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

async function gateway(): Promise<RunningGateway> {
  const gw = await startGateway({ FEED: 'external', FEED_TOKEN: TOKEN });
  gateways.push(gw);
  return gw;
}

async function publisher(url: string): Promise<FeedClient> {
  const socket = await connectPublisher(url, TOKEN);
  sockets.push(socket);
  return socket;
}

async function viewer(
  url: string,
  symbols: string[],
): Promise<{ socket: MarketClient; quotes: Quote[]; trades: TradeBatch[] }> {
  const socket = await connectViewer(url);
  sockets.push(socket);
  const quotes: Quote[] = [];
  const trades: TradeBatch[] = [];
  onFrame(socket, { quotes: (q) => quotes.push(...q), trades: (b) => trades.push(b) });
  const ack = await socket.timeout(5000).emitWithAck('subscribe', { symbols, throttleMs: 100 });
  expect(ack.ok).toBe(true);
  return { socket, quotes, trades };
}

async function snapshot(gw: RunningGateway, symbol: string): Promise<Snapshot> {
  const res = await fetch(`${gw.url}/api/snapshot/${symbol}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Snapshot;
}

const aapl = (ts: number, last: number): FeedTick => ({ symbol: 'AAPL', ts, last, bid: last - 0.01, ask: last + 0.01 });

describe('/feed limits against a real gateway', () => {
  it('answers a 1,000,000-item frame with one small rejection and keeps serving viewers', async () => {
    const gw = await gateway();
    const pub = await publisher(gw.url);
    const huge = new Array<number>(1_000_000).fill(0) as unknown as FeedTick[];
    const started = Date.now();
    const ack: FeedAck = await pub.timeout(10_000).emitWithAck('ticks', huge);
    expect(JSON.stringify(ack).length).toBeLessThan(64 * 1024);
    expect(ack).toEqual({
      accepted: 0,
      rejected: [{ index: -1, code: 'BAD_REQUEST', message: 'batch of 1000000 items is over the limit of 5000' }],
      rejectedCount: 1_000_000,
    });
    expect(pub.connected).toBe(true);
    // Responsive right after: a viewer connects and subscribes, and a good tick still goes in.
    const { quotes } = await viewer(gw.url, ['AAPL']);
    expect(Date.now() - started).toBeLessThan(5000);
    const good: FeedAck = await pub.timeout(5000).emitWithAck('ticks', [aapl(Date.now(), 201)]);
    expect(good).toEqual({ accepted: 1, rejected: [], rejectedCount: 0 });
    expect(await until(() => quotes.some((q) => q.last === 201), 5000)).toBe(true);
  });

  it('refuses a tick 23 h ahead and one dated 2000-01-02 after live ticks, and the snapshot keeps its day', async () => {
    const gw = await gateway();
    const pub = await publisher(gw.url);
    const { quotes } = await viewer(gw.url, ['AAPL']);
    const t0 = Date.now();
    const live: FeedAck = await pub.timeout(5000).emitWithAck('ticks', [aapl(t0, 200), aapl(t0 + 1, 202)]);
    expect(live).toMatchObject({ accepted: 2, rejectedCount: 0 });
    const before = await snapshot(gw, 'AAPL');
    expect(before).toMatchObject({ seq: 2, ts: t0 + 1, open: 200, last: 202 });
    expect(await until(() => quotes.some((q) => q.seq === 2), 5000)).toBe(true);

    const ahead = Date.now() + 23 * HOUR;
    const old = Date.UTC(2000, 0, 2);
    const ack: FeedAck = await pub.timeout(5000).emitWithAck('ticks', [aapl(ahead, 50), aapl(old, 60)]);
    expect(ack.accepted).toBe(0);
    expect(ack.rejectedCount).toBe(2);
    expect(ack.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'BAD_TIMESTAMP'],
      [1, 'BAD_TIMESTAMP'],
    ]);
    expect(ack.rejected[0]!.message).toMatch(/more than 5000 ms ahead of the gateway clock .*MAX_FEED_CLOCK_SKEW_MS/);
    expect(ack.rejected[1]!.message).toContain(`is older than AAPL's last tick at ${t0 + 1}`);
    const trade: FeedTrade = { symbol: 'AAPL', ts: ahead, price: 50, size: 1, side: 'buy' };
    const trades: FeedAck = await pub.timeout(5000).emitWithAck('trades', [trade]);
    expect(trades.rejected.map((r) => r.code)).toEqual(['BAD_TIMESTAMP']);

    const after = await snapshot(gw, 'AAPL');
    expect(after).toEqual(before);
    // Nothing arrives from the refused ticks: give a 100 ms tier a few flushes.
    await sleep(400);
    expect(quotes.filter((q) => q.seq > 2 || q.last === 50 || q.last === 60)).toEqual([]);
  });

  it('accepts a lower-case symbol as its canonical one', async () => {
    const gw = await gateway();
    const pub = await publisher(gw.url);
    const { trades } = await viewer(gw.url, ['MSFT']);
    const ts = Date.now();
    const tick: FeedAck = await pub
      .timeout(5000)
      .emitWithAck('ticks', [{ symbol: 'msft', ts, last: 431.25, bid: 431.2, ask: 431.3 }]);
    expect(tick).toEqual({ accepted: 1, rejected: [], rejectedCount: 0 });
    expect(await snapshot(gw, 'MSFT')).toMatchObject({ symbol: 'MSFT', seq: 1, ts, last: 431.25 });
    const trade: FeedAck = await pub
      .timeout(5000)
      .emitWithAck('trades', [{ symbol: 'Msft', ts, price: 431.3, size: 10, side: 'buy' }]);
    expect(trade).toMatchObject({ accepted: 1, rejectedCount: 0 });
    expect(await until(() => trades.length > 0, 5000)).toBe(true);
    expect(trades[0]).toMatchObject({ symbol: 'MSFT', trades: [{ id: 'MSFT-1', price: 431.3 }] });
  });
});
