import { LIMITS, type FeedTick, type FeedTrade } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { FeedService } from './feed.service.js';
import type { Ingest } from './ingest.js';

const NOW = Date.UTC(2026, 10, 25, 12);

function setup(token: string | null = 'the-right-token') {
  const ticks: FeedTick[] = [];
  const trades: FeedTrade[] = [];
  const ingest = {
    tick: (t: FeedTick) => ticks.push(t) > 0,
    trade: (t: FeedTrade) => trades.push(t) > 0,
  } as unknown as Ingest;
  const service = new FeedService(ingest, {
    isKnown: (s) => s === 'AAPL' || s === 'BTC-USD',
    token: token ?? undefined,
    now: () => NOW,
  });
  return { service, ticks, trades };
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

describe(FeedService.name, () => {
  it('accepts only the configured token, and refuses everyone when none is configured', () => {
    const { service } = setup();
    expect(service.authorize('the-right-token')).toBeUndefined();
    expect(service.authorize('the-wrong-token')).toMatchObject({ code: 'UNAUTHORIZED', message: 'wrong feed token' });
    expect(service.authorize('x')).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(service.authorize(undefined)).toMatchObject({ code: 'UNAUTHORIZED', message: /missing feed token/ });
    expect(service.authorize({ token: 'the-right-token' })).toMatchObject({ code: 'UNAUTHORIZED' });
    const closed = setup(null).service;
    expect(closed.authorize('the-right-token')).toMatchObject({ code: 'UNAUTHORIZED', message: /FEED_TOKEN/ });
    const shut = new FeedService({} as Ingest, {
      isKnown: () => true,
      token: undefined,
      closedMessage: 'FEED=embedded',
    });
    expect(shut.authorize('anything')).toEqual({ code: 'UNAUTHORIZED', message: 'FEED=embedded' });
  });

  it('applies the good items of a mixed batch and rejects each bad one with its index and code', () => {
    const { service, ticks } = setup();
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
    expect(ack.accepted).toBe(2);
    expect(ack.rejected.map((r) => [r.index, r.code])).toEqual([
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
    expect(ticks.map((t) => t.last)).toEqual([100.5, 101]);
  });

  it('validates trades the same way', () => {
    const { service, trades } = setup();
    const ack = service.trades([
      trade(),
      trade({ price: 0 }),
      trade({ side: 'hold' }),
      trade({ size: 0 }),
      trade({ symbol: 'ETH-USD' }),
      trade({ id: 'feed-1' }),
    ]);
    expect(ack.accepted).toBe(2);
    expect(ack.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'BAD_PRICE'],
      [2, 'BAD_REQUEST'],
      [3, 'BAD_REQUEST'],
      [4, 'UNKNOWN_SYMBOL'],
    ]);
    expect(trades.map((t) => t.id)).toEqual([undefined, 'feed-1']);
  });

  it('refuses a batch that is not an array, or is over the limit, as a whole', () => {
    const { service, ticks } = setup();
    expect(service.ticks({ 0: tick() })).toEqual({
      accepted: 0,
      rejected: [{ index: -1, code: 'BAD_REQUEST', message: 'a batch must be an array' }],
    });
    const big = service.ticks(Array.from({ length: LIMITS.maxFeedBatch + 1 }, () => tick()));
    expect(big.accepted).toBe(0);
    expect(big.rejected).toHaveLength(LIMITS.maxFeedBatch + 1);
    expect(big.rejected.every((r) => r.code === 'BAD_REQUEST')).toBe(true);
    expect(ticks).toHaveLength(0);
  });
});
