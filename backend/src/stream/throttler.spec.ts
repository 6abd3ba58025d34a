import { DEFAULT_INSTRUMENTS, tradeRoom, type FeedTick, type Quote, type TradeBatch } from '@tickdeck/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MarketState } from '../market/market-state.js';
import { Throttler, type Broadcaster } from './throttler.js';

const instruments = DEFAULT_INSTRUMENTS.filter((i) => ['AAPL', 'MSFT', 'BTC-USD'].includes(i.symbol));
const T0 = Date.UTC(2026, 10, 25, 14, 30);
const TRADE_HISTORY = 100;

/** Records what the throttler sends; rooms have the members the test gives them. */
class FakeRooms implements Broadcaster {
  readonly sizes = new Map<string, number>();
  readonly sent: { room: string; quotes: Quote[] }[] = [];
  readonly tradesSent: { room: string; batch: TradeBatch }[] = [];
  members(room: string): number {
    return this.sizes.get(room) ?? 0;
  }
  quotes(room: string, quotes: Quote[]): void {
    this.sent.push({ room, quotes });
  }
  trades(room: string, batch: TradeBatch): void {
    this.tradesSent.push({ room, batch });
  }
}

function tick(symbol: string, last: number, ts: number, volume = 0): FeedTick {
  return { symbol, ts, last, bid: last - 0.01, ask: last + 0.01, volume };
}

describe(Throttler.name, () => {
  let market: MarketState;
  let throttler: Throttler;
  let rooms: FakeRooms;

  beforeEach(() => {
    vi.useFakeTimers();
    market = new MarketState(instruments, { historySeconds: 60, tradeHistory: TRADE_HISTORY });
    throttler = new Throttler(market, [250, 100, 1000]);
    rooms = new FakeRooms();
    throttler.start(rooms);
  });
  afterEach(() => {
    throttler.stop();
    vi.useRealTimers();
  });

  /** `members` sockets holding `symbols` at `tierMs`; returns their group's room. */
  const hold = (tierMs: number, symbols: string[], members = 1) => {
    let room = '';
    for (let m = 0; m < members; m++) {
      room = throttler.join(
        throttler.tierIndex(tierMs),
        symbols.map((s) => market.indexOf(s)),
      ).room;
    }
    return room;
  };

  it('merges the ticks of one window into one quote with the last price and the window folded into the day', () => {
    const aapl = hold(250, ['AAPL'], 3);
    const prices = [100, 104, 97, 101, 102];
    prices.forEach((p, k) => market.applyTick(tick('AAPL', p, T0 + k, 10 * (k + 1))));
    vi.advanceTimersByTime(249);
    expect(rooms.sent).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(rooms.sent).toHaveLength(1);
    const [{ room, quotes }] = rooms.sent as [{ room: string; quotes: Quote[] }];
    expect(room).toBe(aapl);
    expect(quotes).toHaveLength(1);
    expect(quotes[0]).toMatchObject({
      symbol: 'AAPL',
      seq: 5,
      conflated: 5,
      last: 102,
      open: 100,
      high: 104,
      low: 97,
      volume: 150,
      change: 2,
      changePct: 2,
      ts: T0 + 4,
    });
    expect(throttler.stats).toMatchObject({ quoteBroadcasts: 1, quotesDelivered: 3 });
  });

  it('sends nothing for a symbol without ticks, and nothing for a symbol nobody holds', () => {
    hold(250, ['AAPL']);
    const group = throttler.join(throttler.tierIndex(100), [market.indexOf('MSFT')]);
    throttler.leave(group); // MSFT's only holder left
    expect(throttler.groupCount(throttler.tierIndex(100))).toBe(0);
    market.applyTick(tick('MSFT', 400, T0));
    vi.advanceTimersByTime(1000);
    expect(rooms.sent).toEqual([]);
  });

  it('packs the changed symbols of a subscription set into one frame per group, built once per symbol', () => {
    const both = hold(100, ['MSFT', 'AAPL'], 2);
    const same = hold(100, ['AAPL', 'MSFT']); // same set, other order: the same group
    const one = hold(100, ['AAPL']);
    expect(same).toBe(both);
    expect(throttler.groupCount(throttler.tierIndex(100))).toBe(2);
    market.applyTick(tick('AAPL', 100, T0));
    market.applyTick(tick('MSFT', 400, T0));
    market.applyTick(tick('BTC-USD', 60000, T0)); // held by nobody
    vi.advanceTimersByTime(100);
    expect(rooms.sent.map((s) => [s.room, s.quotes.map((q) => q.symbol)])).toEqual([
      [both, ['AAPL', 'MSFT']],
      [one, ['AAPL']],
    ]);
    expect(rooms.sent[0]!.quotes[0]).toBe(rooms.sent[1]!.quotes[0]);
    expect(throttler.stats).toMatchObject({ quoteBroadcasts: 2, quotesDelivered: 2 * 3 + 1 });
    market.applyTick(tick('MSFT', 401, T0 + 1));
    vi.advanceTimersByTime(100);
    expect(rooms.sent.slice(2).map((s) => [s.room, s.quotes.map((q) => q.symbol)])).toEqual([[both, ['MSFT']]]);
  });

  it('sends at most one quote per symbol per interval, each newer, and counts what it merged', () => {
    hold(100, ['AAPL']);
    for (let k = 0; k < 100; k++) {
      market.applyTick(tick('AAPL', 100 + k / 100, T0 + k * 10));
      vi.advanceTimersByTime(10);
    }
    const seqs = rooms.sent.map((s) => s.quotes[0]!.seq);
    expect(rooms.sent).toHaveLength(10);
    expect(seqs).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(rooms.sent.every((s) => s.quotes[0]!.conflated === 10)).toBe(true);
    expect(rooms.sent.at(-1)!.quotes[0]!.last).toBe(100.99);
  });

  it('keeps tiers independent: each tier counts its own conflation', () => {
    const fastRoom = hold(100, ['BTC-USD']);
    const slowRoom = hold(1000, ['BTC-USD']);
    for (let k = 0; k < 20; k++) {
      market.applyTick(tick('BTC-USD', 60000 + k, T0 + k * 50));
      vi.advanceTimersByTime(50);
    }
    const fast = rooms.sent.filter((s) => s.room === fastRoom);
    const slow = rooms.sent.filter((s) => s.room === slowRoom);
    expect(fast).toHaveLength(10);
    expect(slow).toHaveLength(1);
    expect(slow[0]!.quotes[0]).toMatchObject({ seq: 20, conflated: 20, last: 60019 });
  });

  it('delivers every trade in order at the fastest tier, never conflated', () => {
    rooms.sizes.set(tradeRoom('AAPL'), 2);
    // The throttler is told nothing: it pulls the trades from the market by seq.
    for (let k = 0; k < 7; k++) {
      market.applyTrade({ symbol: 'AAPL', ts: T0 + k, price: 100 + k, size: k + 1, side: 'buy' });
    }
    expect(throttler.hasPendingTrades(market.indexOf('AAPL'))).toBe(true);
    vi.advanceTimersByTime(100);
    expect(rooms.tradesSent).toHaveLength(1);
    const batch = rooms.tradesSent[0]!.batch;
    expect(batch.symbol).toBe('AAPL');
    expect(batch.trades.map((t) => t.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(batch.trades.map((t) => t.id)).toEqual([
      'AAPL-1',
      'AAPL-2',
      'AAPL-3',
      'AAPL-4',
      'AAPL-5',
      'AAPL-6',
      'AAPL-7',
    ]);
    expect(throttler.hasPendingTrades(market.indexOf('AAPL'))).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(rooms.tradesSent).toHaveLength(1);
  });

  it('says so with gap: true when more trades came between two flushes than the ring holds', () => {
    rooms.sizes.set(tradeRoom('AAPL'), 1);
    const held = TRADE_HISTORY;
    for (let k = 0; k < held + 5; k++) {
      market.applyTrade({ symbol: 'AAPL', ts: T0 + k, price: 100, size: 1, side: 'buy' });
    }
    vi.advanceTimersByTime(100);
    const batch = rooms.tradesSent[0]!.batch;
    expect(batch.gap).toBe(true);
    // What the ring still holds, in order: the newest `held` trades.
    expect(batch.trades.map((t) => t.seq)).toEqual(Array.from({ length: held }, (_, k) => k + 6));
    expect(throttler.stats.tradeGaps).toBe(1);
    market.applyTrade({ symbol: 'AAPL', ts: T0 + held + 5, price: 100, size: 1, side: 'buy' });
    vi.advanceTimersByTime(100);
    expect(rooms.tradesSent[1]!.batch).toEqual({
      symbol: 'AAPL',
      trades: [expect.objectContaining({ seq: held + 6 })],
    });
  });

  it('runs deferred work right after the named tier flushes, once', () => {
    const done: number[] = [];
    throttler.afterNextFlush(throttler.tierIndex(1000), () => done.push(Date.now()));
    vi.advanceTimersByTime(999);
    expect(done).toHaveLength(0);
    vi.advanceTimersByTime(2000);
    expect(done).toHaveLength(1);
  });

  it('reports dirtiness per tier', () => {
    const i = market.indexOf('MSFT');
    const fast = throttler.tierIndex(100);
    expect(throttler.isDirty(fast, i)).toBe(false);
    market.applyTick(tick('MSFT', 400, T0));
    expect(throttler.isDirty(fast, i)).toBe(true);
    vi.advanceTimersByTime(100);
    expect(throttler.isDirty(fast, i)).toBe(false);
    expect(throttler.isDirty(throttler.tierIndex(1000), i)).toBe(true);
  });

  it('sends the quotes of a flush before its trades, so a trade frame never makes a volatile quote skip', () => {
    const order: string[] = [];
    throttler.start({
      members: () => 1,
      quotes: (room) => order.push(`quotes ${room}`),
      trades: (room) => order.push(`trades ${room}`),
    });
    const room = hold(100, ['AAPL']);
    market.applyTrade({ symbol: 'AAPL', ts: T0, price: 100, size: 1, side: 'sell' });
    market.applyTick(tick('AAPL', 100, T0));
    vi.advanceTimersByTime(100);
    expect(order).toEqual([`quotes ${room}`, `trades ${tradeRoom('AAPL')}`]);
  });
});
