import {
  DEFAULT_INSTRUMENTS,
  FeedTickSchema,
  FeedTradeSchema,
  LIMITS,
  type FeedAck,
  type FeedTick,
  type FeedTrade,
} from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { MarketState } from '../market/market-state.js';
import { FeedHealth } from './feed-health.js';
import { FeedService } from './feed.service.js';
import { Ingest } from './ingest.js';
import type { Sequencer } from './sequencer.js';

const NOW = Date.UTC(2026, 10, 25, 12);
const SKEW_MS = 5000;
const HOUR = 3_600_000;

/**
 * A sequencer into the real ingest path of a real market, recording what it is handed. With
 * `lag` it holds everything back until `flush()`, as the Redis bus does until it delivers.
 */
class RecordingSequencer implements Sequencer {
  private readonly ingest: Ingest;
  readonly ticks: FeedTick[] = [];
  readonly trades: FeedTrade[] = [];
  private readonly held: (() => unknown)[] = [];

  constructor(
    market: MarketState,
    private readonly lag: boolean,
  ) {
    this.ingest = new Ingest(market, new FeedHealth(1000));
  }

  tick(tick: FeedTick): void {
    this.ticks.push(tick);
    if (!this.lag) this.ingest.tick(tick);
    else this.held.push(() => this.ingest.tick(tick));
  }

  trade(trade: FeedTrade): void {
    this.trades.push(trade);
    if (!this.lag) this.ingest.trade(trade);
    else this.held.push(() => this.ingest.trade(trade));
  }

  flush(): void {
    for (const apply of this.held.splice(0)) apply();
  }
}

function setup({ token = 'the-right-token' as string | null, lag = false, tradeHistory = 5 } = {}) {
  const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory });
  const ingest = new RecordingSequencer(market, lag);
  let clockReads = 0;
  const service = new FeedService(ingest, {
    indexOf: (s) => market.indexOf(s),
    lastEventTs: (i) => market.lastEventTsAt(i),
    holdsTradeId: (i, id) => market.holdsTradeId(i, id),
    clockSkewMs: SKEW_MS,
    token: token ?? undefined,
    now: () => {
      clockReads++;
      return NOW;
    },
  });
  return { service, ingest, market, clockReads: () => clockReads };
}

const tick = (over: Record<string, unknown> = {}) => ({
  symbol: 'AAPL',
  ts: NOW - 1000,
  last: 100.5,
  bid: 100.4,
  ask: 100.6,
  volume: 0,
  ...over,
});
const trade = (over: Record<string, unknown> = {}) => ({
  symbol: 'BTC-USD',
  ts: NOW - 1000,
  price: 65_000,
  size: 0.5,
  side: 'buy',
  ...over,
});

const codes = (ack: FeedAck) => ack.rejected.map((r) => [r.index, r.code]);

describe(FeedService.name, () => {
  it('accepts only the configured token, and refuses everyone when none is configured', () => {
    const { service } = setup();
    expect(service.authorize('the-right-token')).toBeUndefined();
    expect(service.authorize('the-wrong-token')).toMatchObject({ code: 'UNAUTHORIZED', message: 'wrong feed token' });
    expect(service.authorize('x')).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(service.authorize(undefined)).toMatchObject({ code: 'UNAUTHORIZED', message: /missing feed token/ });
    expect(service.authorize({ token: 'the-right-token' })).toMatchObject({ code: 'UNAUTHORIZED' });
    const closed = setup({ token: null }).service;
    expect(closed.authorize('the-right-token')).toMatchObject({ code: 'UNAUTHORIZED', message: /FEED_TOKEN/ });
    const shut = new FeedService({} as Sequencer, {
      indexOf: () => 0,
      lastEventTs: () => 0,
      holdsTradeId: () => false,
      clockSkewMs: SKEW_MS,
      token: undefined,
      closedMessage: 'FEED=embedded',
    });
    expect(shut.authorize('anything')).toEqual({ code: 'UNAUTHORIZED', message: 'FEED=embedded' });
  });

  it('applies the good items of a mixed batch and rejects each bad one with its index and code', () => {
    const { service, ingest } = setup();
    const batch = [
      tick(),
      tick({ last: Number.NaN }),
      tick({ bid: -1 }),
      tick({ ask: Infinity }),
      tick({ last: '100' }),
      tick({ bid: 101, ask: 100 }),
      tick({ symbol: 'NOPE' }),
      tick({ ts: 1_700_000_000 }),
      tick({ ts: Number.NaN }),
      tick({ ts: NOW + 2 * 86_400_000 }),
      tick({ extra: 1 }),
      tick({ symbol: 7 }),
      null,
      tick({ volume: -1 }),
      tick({ last: 101, ts: NOW }),
    ];
    const ack = service.ticks(batch);
    expect(ack).toMatchObject({ accepted: 2, rejectedCount: 13 });
    expect(codes(ack)).toEqual([
      [1, 'BAD_PRICE'],
      [2, 'BAD_PRICE'],
      [3, 'BAD_PRICE'],
      [4, 'BAD_PRICE'],
      [5, 'BAD_PRICE'],
      [6, 'UNKNOWN_SYMBOL'],
      [7, 'BAD_TIMESTAMP'],
      [8, 'BAD_TIMESTAMP'],
      [9, 'BAD_TIMESTAMP'],
      [10, 'BAD_REQUEST'],
      [11, 'BAD_REQUEST'],
      [12, 'BAD_REQUEST'],
      [13, 'BAD_REQUEST'],
    ]);
    expect(ingest.ticks.map((t) => t.last)).toEqual([100.5, 101]);
  });

  it('validates trades the same way', () => {
    const { service, ingest } = setup();
    const ack = service.trades([
      trade(),
      trade({ price: 0 }),
      trade({ side: 'hold' }),
      trade({ size: 0 }),
      trade({ symbol: 'NOPE-USD' }),
      trade({ id: 'feed-1' }),
    ]);
    expect(ack).toMatchObject({ accepted: 2, rejectedCount: 4 });
    expect(codes(ack)).toEqual([
      [1, 'BAD_PRICE'],
      [2, 'BAD_REQUEST'],
      [3, 'BAD_REQUEST'],
      [4, 'UNKNOWN_SYMBOL'],
    ]);
    expect(ingest.trades.map((t) => t.id)).toEqual([undefined, 'feed-1']);
  });

  it('refuses a ts more than clockSkewMs ahead of the clock, which it reads once per batch', () => {
    const { service, ingest, clockReads } = setup();
    const ack = service.ticks([
      tick({ ts: NOW + 23 * HOUR }),
      tick({ ts: NOW + SKEW_MS + 1 }),
      tick({ ts: NOW + SKEW_MS }),
    ]);
    expect(clockReads()).toBe(1);
    expect(ack).toMatchObject({ accepted: 1, rejectedCount: 2 });
    expect(codes(ack)).toEqual([
      [0, 'BAD_TIMESTAMP'],
      [1, 'BAD_TIMESTAMP'],
    ]);
    expect(ack.rejected[0]!.message).toBe(
      `ts ${NOW + 23 * HOUR} is more than 5000 ms ahead of the gateway clock (${NOW}; MAX_FEED_CLOCK_SKEW_MS)`,
    );
    expect(service.trades([trade({ ts: NOW + 23 * HOUR })])).toMatchObject({
      accepted: 0,
      rejected: [{ code: 'BAD_TIMESTAMP' }],
    });
    expect(ingest.ticks.map((t) => t.ts)).toEqual([NOW + SKEW_MS]);
  });

  it('refuses a tick older than the symbol’s last one, leaving the day as it was; an equal ts is fine', () => {
    const { service, market } = setup();
    const i = market.indexOf('AAPL');
    expect(service.ticks([tick({ ts: NOW - 2000, last: 100 }), tick({ ts: NOW - 1000, last: 101 })]).accepted).toBe(2);
    const before = market.snapshot(i);
    expect(before).toMatchObject({ open: 100, last: 101, ts: NOW - 1000, seq: 2 });

    const old = Date.UTC(2000, 0, 2);
    const ack = service.ticks([tick({ ts: old, last: 50, bid: 49.9, ask: 50.1 })]);
    expect(ack).toEqual({
      accepted: 0,
      rejected: [
        {
          index: 0,
          code: 'BAD_TIMESTAMP',
          message: `ts ${old} is older than AAPL's last tick at ${NOW - 1000} (2026-11-25T11:59:59.000Z)`,
        },
      ],
      rejectedCount: 1,
    });
    expect(market.snapshot(i)).toEqual(before);
    expect(market.historySince(i, 0).points.map((p) => p.t)).toEqual([NOW - 2000, NOW - 1000]);

    expect(service.ticks([tick({ ts: NOW - 1000, last: 102 })]).accepted).toBe(1);
    expect(market.snapshot(i)).toMatchObject({ open: 100, last: 102, ts: NOW - 1000, seq: 3 });
  });

  it('refuses a later item of a batch that is older than an earlier accepted one', () => {
    const { service, ingest } = setup();
    const ack = service.ticks([
      tick({ ts: NOW - 1000 }),
      tick({ ts: NOW - 500, last: -1 }), // refused for its price: it does not move the bound
      tick({ ts: NOW - 2000 }),
      tick({ ts: NOW - 1000 }),
      tick({ symbol: 'MSFT', ts: NOW - 5000 }),
    ]);
    expect(codes(ack)).toEqual([
      [1, 'BAD_PRICE'],
      [2, 'BAD_TIMESTAMP'],
    ]);
    expect(ingest.ticks.map((t) => [t.symbol, t.ts])).toEqual([
      ['AAPL', NOW - 1000],
      ['AAPL', NOW - 1000],
      ['MSFT', NOW - 5000],
    ]);
    const trades = service.trades([trade({ ts: NOW - 10 }), trade({ ts: NOW - 20 })]);
    expect(codes(trades)).toEqual([[1, 'BAD_TIMESTAMP']]);
    expect(trades.rejected[0]!.message).toMatch(/older than BTC-USD's last trade at/);
  });

  it('orders ticks and trades apart: a publisher’s trades of a span, then its ticks, all go in', () => {
    const { service, market } = setup();
    // tickdeck-sim sends each span's trades, then the span's ticks (each trade with the tick it came with).
    const span = [NOW - 900, NOW - 800, NOW - 700];
    expect(service.trades(span.map((ts) => trade({ symbol: 'AAPL', ts, price: 100.5 })))).toMatchObject({
      accepted: 3,
      rejectedCount: 0,
    });
    expect(service.ticks([NOW - 950, ...span].map((ts) => tick({ ts })))).toMatchObject({
      accepted: 4,
      rejectedCount: 0,
    });
    expect(market.lastEventTsAt(market.indexOf('AAPL'))).toBe(NOW - 700);
    expect(codes(service.trades([trade({ symbol: 'AAPL', ts: NOW - 750 })]))).toEqual([[0, 'BAD_TIMESTAMP']]);
  });

  it('orders every event after one the market got from elsewhere (another node, the simulator)', () => {
    const { service, market } = setup();
    service.ticks([tick({ ts: NOW - 3000 })]);
    market.applyTick({ symbol: 'AAPL', ts: NOW - 1000, last: 100, bid: 99.9, ask: 100.1 });
    const ack = service.trades([trade({ symbol: 'AAPL', ts: NOW - 2000, price: 100 })]);
    expect(ack.rejected).toEqual([
      {
        index: 0,
        code: 'BAD_TIMESTAMP',
        message: `ts ${NOW - 2000} is older than AAPL's last event at ${NOW - 1000} (2026-11-25T11:59:59.000Z)`,
      },
    ]);
    expect(service.trades([trade({ symbol: 'AAPL', ts: NOW - 1000, price: 100 })]).accepted).toBe(1);
  });

  it('in cluster mode, where the market applies accepted items later, still orders against them', () => {
    const { service, ingest, market } = setup({ lag: true });
    expect(service.ticks([tick({ ts: NOW - 1000 })]).accepted).toBe(1);
    expect(service.trades([trade({ id: 'x-1' })]).accepted).toBe(1);
    expect(market.lastEventTsAt(market.indexOf('AAPL'))).toBe(0); // not applied yet
    expect(codes(service.ticks([tick({ ts: NOW - 2000 })]))).toEqual([[0, 'BAD_TIMESTAMP']]);
    expect(service.trades([trade({ ts: NOW, id: 'x-1' })]).rejected).toEqual([
      { index: 0, code: 'BAD_REQUEST', message: 'duplicate trade id: BTC-USD already has a trade x-1' },
    ]);
    ingest.flush();
    expect(market.snapshot(market.indexOf('AAPL'))).toMatchObject({ seq: 1, ts: NOW - 1000 });
    expect(codes(service.ticks([tick({ ts: NOW - 2000 })]))).toEqual([[0, 'BAD_TIMESTAMP']]);
  });

  it('refuses an over-limit batch with one rejection, however long it is', () => {
    const { service, ingest } = setup();
    const huge = new Array<number>(1_000_000).fill(0);
    const ack = service.ticks(huge);
    expect(ack).toEqual({
      accepted: 0,
      rejected: [{ index: -1, code: 'BAD_REQUEST', message: 'batch of 1000000 items is over the limit of 5000' }],
      rejectedCount: 1_000_000,
    });
    expect(JSON.stringify(ack).length).toBeLessThan(64 * 1024);
    const over = service.trades(Array.from({ length: LIMITS.maxFeedBatch + 1 }, () => trade()));
    expect(over).toMatchObject({ accepted: 0, rejectedCount: LIMITS.maxFeedBatch + 1 });
    expect(over.rejected).toHaveLength(1);
    expect(service.ticks({ 0: tick() })).toEqual({
      accepted: 0,
      rejected: [{ index: -1, code: 'BAD_REQUEST', message: 'a batch must be an array' }],
      rejectedCount: 1,
    });
    expect(ingest.ticks).toHaveLength(0);
    expect(ingest.trades).toHaveLength(0);
  });

  it('lists the first maxFeedRejections rejections of a batch, counts them all, and keeps every message short', () => {
    const { service } = setup();
    const hostile = 'x'.repeat(10_000);
    const kinds = [
      tick({ symbol: hostile }),
      tick({ [hostile]: 1 }),
      tick({ last: hostile }),
      tick({ ts: hostile }),
      tick({ volume: 1e300 }),
      tick({ symbol: `<script>${hostile}` }),
    ];
    const batch = Array.from({ length: LIMITS.maxFeedBatch }, (_, k) => kinds[k % kinds.length]);
    const ack = service.ticks(batch);
    expect(ack.accepted).toBe(0);
    expect(ack.rejectedCount).toBe(LIMITS.maxFeedBatch);
    expect(ack.rejected).toHaveLength(LIMITS.maxFeedRejections);
    expect(ack.rejected.map((r) => r.index)).toEqual(Array.from({ length: 100 }, (_, k) => k));
    expect(JSON.stringify(ack).length).toBeLessThan(64 * 1024);
    const trades = service.trades([
      trade({ id: `<img src=x onerror=alert(1)>${hostile}` }),
      trade({ side: hostile }),
      trade({ symbol: 'DOGE-USD', id: 'z'.repeat(64) }),
      trade({ symbol: 'DOGE-USD', id: 'z'.repeat(64) }),
    ]);
    expect(trades.rejectedCount).toBe(3);
    const messages = [...ack.rejected, ...trades.rejected].map((r) => r.message);
    expect(new Set(messages.map((m) => m.replace(/\d+/g, 'N'))).size).toBeGreaterThanOrEqual(7);
    for (const m of messages) {
      expect(m.length).toBeLessThanOrEqual(160);
      expect(m).not.toMatch(/[<>]|onerror|x{33}/);
    }
  });

  it('bounds prices by LIMITS.maxPrice and sizes and volumes by maxSize and maxVolume', () => {
    const { service, ingest } = setup();
    const above = (x: number) => x * (1 + Number.EPSILON);
    const ticks = service.ticks([
      tick({ last: 1e308, bid: 1, ask: 1e308 }),
      tick({ ask: above(LIMITS.maxPrice) }),
      tick({ volume: above(LIMITS.maxVolume) }),
      tick({ last: LIMITS.maxPrice, bid: LIMITS.maxPrice, ask: LIMITS.maxPrice, volume: LIMITS.maxVolume }),
    ]);
    expect(codes(ticks)).toEqual([
      [0, 'BAD_PRICE'],
      [1, 'BAD_PRICE'],
      [2, 'BAD_REQUEST'],
    ]);
    expect(ticks.rejected[0]!.message).toBe('last must be a number in (0, 1000000000], got 1e+308');
    const trades = service.trades([
      trade({ price: 1e308 }),
      trade({ size: above(LIMITS.maxSize) }),
      trade({ price: LIMITS.maxPrice, size: LIMITS.maxSize }),
    ]);
    expect(codes(trades)).toEqual([
      [0, 'BAD_PRICE'],
      [1, 'BAD_REQUEST'],
    ]);
    expect(ingest.ticks).toHaveLength(1);
    expect(ingest.trades).toHaveLength(1);
  });

  it('takes only plain trade ids, and refuses one the symbol already has', () => {
    const { service, market, ingest } = setup({ tradeHistory: 3 });
    const ack = service.trades([
      trade({ id: '<b>hi</b>' }),
      trade({ id: 'has space' }),
      trade({ id: '' }),
      trade({ id: 'x'.repeat(65) }),
      trade({ id: 42 }),
      trade({ id: 'BTC-USD-7' }),
      trade({ id: 'Ex:1.a_b-c' }),
      trade({ id: 'Ex:1.a_b-c' }),
      trade({ id: 'x'.repeat(64) }),
      trade({ symbol: 'ETH-USD', id: 'Ex:1.a_b-c' }),
      trade({ symbol: 'ETH-USD', id: 'BTC-USD-7' }),
    ]);
    expect(codes(ack)).toEqual([
      [0, 'BAD_REQUEST'],
      [1, 'BAD_REQUEST'],
      [2, 'BAD_REQUEST'],
      [3, 'BAD_REQUEST'],
      [4, 'BAD_REQUEST'],
      [5, 'BAD_REQUEST'],
      [7, 'BAD_REQUEST'],
    ]);
    expect(ack.rejected[5]!.message).toMatch(/BTC-USD-<digits> are the gateway's own/);
    expect(ack.rejected[6]!.message).toBe('duplicate trade id: BTC-USD already has a trade Ex:1.a_b-c');
    expect(ingest.trades.map((t) => [t.symbol, t.id])).toEqual([
      ['BTC-USD', 'Ex:1.a_b-c'],
      ['BTC-USD', 'x'.repeat(64)],
      ['ETH-USD', 'Ex:1.a_b-c'],
      ['ETH-USD', 'BTC-USD-7'],
    ]);
    const btc = market.indexOf('BTC-USD');
    expect(market.holdsTradeId(btc, 'Ex:1.a_b-c')).toBe(true);
    // A later batch, and a trade the market got from elsewhere: refused all the same.
    market.applyTrade({ symbol: 'BTC-USD', ts: NOW - 1000, price: 1, size: 1, side: 'sell', id: 'other-node' });
    expect(codes(service.trades([trade({ id: 'Ex:1.a_b-c' }), trade({ id: 'other-node' })]))).toEqual([
      [0, 'BAD_REQUEST'],
      [1, 'BAD_REQUEST'],
    ]);
    // Once the ring (3 trades here) has let go of it, an id nobody accepted through /feed is free again.
    for (let k = 0; k < 3; k++)
      market.applyTrade({ symbol: 'BTC-USD', ts: NOW - 1000, price: 1, size: 1, side: 'buy' });
    expect(market.holdsTradeId(btc, 'other-node')).toBe(false);
    expect(service.trades([trade({ id: 'other-node' })]).accepted).toBe(1);
  });

  it('matches symbols case-insensitively and passes the canonical symbol on', () => {
    const { service, ingest, market } = setup();
    const ack = service.ticks([tick({ symbol: 'aapl' }), tick({ symbol: 'Msft' }), tick({ symbol: 'nope' })]);
    expect(codes(ack)).toEqual([[2, 'UNKNOWN_SYMBOL']]);
    expect(ack.rejected[0]!.message).toBe('unknown symbol: nope');
    expect(ingest.ticks.map((t) => t.symbol)).toEqual(['AAPL', 'MSFT']);
    expect(market.snapshot(market.indexOf('AAPL'))).toMatchObject({ seq: 1, last: 100.5 });
    expect(service.trades([trade({ symbol: 'btc-usd' })]).accepted).toBe(1);
    expect(market.recentTrades(market.indexOf('BTC-USD'), 1)).toMatchObject([{ id: 'BTC-USD-1' }]);
    // The ordering and id rules apply to the symbol, however it is spelt.
    expect(codes(service.ticks([tick({ symbol: 'AaPl', ts: NOW - 2000 })]))).toEqual([[0, 'BAD_TIMESTAMP']]);
  });

  it('agrees with the protocol’s FeedTickSchema and FeedTradeSchema on every rule they can express', () => {
    const ticks = [
      tick(),
      tick({ symbol: 'aapl' }),
      tick({ volume: undefined }),
      tick({ last: 0 }),
      tick({ last: 1e308 }),
      tick({ bid: LIMITS.maxPrice, ask: LIMITS.maxPrice }),
      tick({ ask: LIMITS.maxPrice + 1 }),
      tick({ bid: 101 }),
      tick({ volume: LIMITS.maxVolume }),
      tick({ volume: LIMITS.maxVolume + 1 }),
      tick({ volume: -1 }),
      tick({ ts: Date.UTC(2000, 0, 1) }),
      tick({ ts: Date.UTC(2000, 0, 1) - 1 }),
      tick({ ts: '1' }),
      tick({ extra: true }),
      tick({ last: Number.NaN }),
      tick({ symbol: ' msft ' }),
    ];
    const trades = [
      trade(),
      trade({ size: LIMITS.maxSize }),
      trade({ size: LIMITS.maxSize + 1 }),
      trade({ price: LIMITS.maxPrice + 1 }),
      trade({ id: 'ok:id' }),
      trade({ id: 'no id' }),
      trade({ id: '<i>' }),
      trade({ id: 'BTC-USD-7' }),
      trade({ id: 'ETH-USD-7' }),
      trade({ id: 'y'.repeat(65) }),
      trade({ side: 'SELL' }),
    ];
    for (const t of ticks) {
      const zod = FeedTickSchema.safeParse(t).success;
      expect([t, setup().service.ticks([{ ...t }]).accepted === 1]).toEqual([t, zod]);
    }
    for (const t of trades) {
      const zod = FeedTradeSchema.safeParse(t).success;
      expect([t, setup().service.trades([{ ...t }]).accepted === 1]).toEqual([t, zod]);
    }
  });
});
