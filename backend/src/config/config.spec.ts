import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe(loadConfig.name, () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: undefined,
      logLevel: 'log',
      throttleTiersMs: [100, 250, 1000],
      defaultThrottleMs: 250,
      maxSymbolsPerClient: 50,
      historySeconds: 900,
      tradeHistory: 1000,
    });
    expect(c.feed).toMatchObject({
      mode: 'embedded',
      token: undefined,
      rate: 300,
      volatility: 1,
      tradeProbability: 0.3,
    });
    expect(c.symbols).toHaveLength(20);
  });

  it('parses lists and numbers, treating empty strings as unset', () => {
    const c = loadConfig({
      PORT: '0',
      THROTTLE_TIERS_MS: '500, 50 ,500',
      DEFAULT_THROTTLE_MS: '50',
      SYMBOLS: 'AAPL,BTC-USD',
      FEED_SEED: '7',
      HOST: '',
    });
    expect(c).toMatchObject({
      port: 0,
      throttleTiersMs: [50, 500],
      defaultThrottleMs: 50,
      symbols: ['AAPL', 'BTC-USD'],
      host: undefined,
    });
    expect(c.feed.seed).toBe(7);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ FEED_RATE: '-5' }, 'FEED_RATE'],
    [{ THROTTLE_TIERS_MS: '100,fast' }, 'THROTTLE_TIERS_MS'],
    [{ DEFAULT_THROTTLE_MS: '300' }, 'DEFAULT_THROTTLE_MS'],
    [{ SYMBOLS: 'AAPL,NOPE' }, 'SYMBOLS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ FEED_TRADE_PROBABILITY: '1.5' }, 'FEED_TRADE_PROBABILITY'],
    [{ FEED: 'redis' }, 'FEED'],
    [{ FEED_TOKEN: 'short' }, 'FEED_TOKEN'],
  ])('refuses %o naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid configuration:\\n  ${name}=`));
  });

  it('reads the feed mode and token, and never echoes a bad token', () => {
    expect(loadConfig({ FEED: 'external', FEED_TOKEN: 'sekrit-123' }).feed).toMatchObject({
      mode: 'external',
      token: 'sekrit-123',
    });
    expect(() => loadConfig({ FEED_TOKEN: 'short' })).toThrow(/FEED_TOKEN=<hidden>: must be at least 8 characters/);
    expect(() => loadConfig({ FEED_TOKEN: 'short' })).not.toThrow(/short/);
  });
});
