import { describe, expect, it } from 'vitest';
import { holdKey, planSubscriptions } from './subscriptions';

describe(planSubscriptions.name, () => {
  it('subscribes the watchlist in one request per set of chart intervals', () => {
    const plan = planSubscriptions(new Map(), {
      symbols: ['AAPL', 'MSFT', 'NVDA', 'BTC-USD'],
      candles: { AAPL: ['1m'], 'BTC-USD': ['1m'], NVDA: ['5s'] },
    });
    expect(plan).toEqual({
      unsubscribe: [],
      subscribe: [
        { symbols: ['AAPL', 'BTC-USD'], candles: ['1m'] },
        { symbols: ['MSFT'], candles: [] },
        { symbols: ['NVDA'], candles: ['5s'] },
      ],
    });
  });

  it('asks only for what changed: a removed symbol, a new one, a chart opened or moved to another interval', () => {
    const held = new Map([
      ['AAPL', '1m'],
      ['MSFT', ''],
      ['NVDA', ''],
    ]);
    const plan = planSubscriptions(held, {
      symbols: ['AAPL', 'MSFT', 'TSLA'],
      candles: { AAPL: ['5m'], MSFT: ['1m'] },
    });
    expect(plan).toEqual({
      unsubscribe: ['NVDA'],
      subscribe: [
        { symbols: ['AAPL'], candles: ['5m'] },
        { symbols: ['MSFT'], candles: ['1m'] },
        { symbols: ['TSLA'], candles: [] },
      ],
    });
    // A chart closed: the symbol stays, without candles.
    expect(planSubscriptions(new Map([['AAPL', '1m']]), { symbols: ['AAPL'], candles: {} }).subscribe).toEqual([
      { symbols: ['AAPL'], candles: [] },
    ]);
    expect(planSubscriptions(held, { symbols: ['AAPL', 'MSFT', 'NVDA'], candles: { AAPL: ['1m'] } })).toEqual({
      unsubscribe: [],
      subscribe: [],
    });
  });

  it('keys a symbol by its intervals, repeats counted once', () => {
    expect(holdKey(['1m', '5m', '1m'])).toBe('1m,5m');
    expect(holdKey(undefined)).toBe('');
  });
});
