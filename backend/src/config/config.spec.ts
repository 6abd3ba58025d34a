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

  it('keeps history in SQLite by default, in PostgreSQL with DATABASE_URL, and never echoes the URL', () => {
    const d = loadConfig({}).history;
    expect(d).toMatchObject({ store: 'sqlite', dataDir: './data', databaseUrl: undefined, writeMs: 1000 });
    expect(d.retentionDays).toEqual({ '1s': 1, '5s': 7, '1m': 30, '5m': 90, '15m': 365, '1h': 0, '1d': 0, trades: 7 });
    const url = 'postgres://u:s3cret@127.0.0.1:5432/db';
    expect(loadConfig({ DATABASE_URL: url }).history).toMatchObject({ store: 'postgres', databaseUrl: url });
    expect(loadConfig({ DATABASE_URL: url, HISTORY_STORE: 'memory' }).history.store).toBe('memory');
    expect(
      loadConfig({ HISTORY_RETENTION_1M: '0.5', HISTORY_RETENTION_TRADES: '0' }).history.retentionDays,
    ).toMatchObject({
      '1m': 0.5,
      trades: 0,
    });
    expect(() => loadConfig({ HISTORY_STORE: 'postgres' })).toThrow(/HISTORY_STORE=.*postgres needs DATABASE_URL/);
    expect(() => loadConfig({ HISTORY_RETENTION_1S: '-1' })).toThrow(/HISTORY_RETENTION_1S=/);
    let message = '';
    try {
      loadConfig({ DATABASE_URL: 'mysql://u:s3cret@host/db' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/DATABASE_URL=<hidden>: must be a postgres/);
    expect(message).not.toContain('s3cret');
  });

  it('bounds price alerts per viewer and per node', () => {
    expect(loadConfig({}).alerts).toEqual({ perViewer: 50, total: 100_000 });
    expect(loadConfig({ MAX_ALERTS_PER_VIEWER: '5', MAX_ALERTS: '10' }).alerts).toEqual({ perViewer: 5, total: 10 });
    expect(() => loadConfig({ MAX_ALERTS: '-1' })).toThrow(/MAX_ALERTS=/);
  });

  it('sends SSE heartbeats every 15 s unless SSE_HEARTBEAT_MS says otherwise', () => {
    expect(loadConfig({}).sseHeartbeatMs).toBe(15_000);
    expect(loadConfig({ SSE_HEARTBEAT_MS: '250' }).sseHeartbeatMs).toBe(250);
    expect(() => loadConfig({ SSE_HEARTBEAT_MS: '10' })).toThrow(
      /^invalid configuration:\n {2}SSE_HEARTBEAT_MS="10": /,
    );
    expect(() => loadConfig({ SSE_HEARTBEAT_MS: 'often' })).toThrow(/SSE_HEARTBEAT_MS=/);
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

  it('writes text logs by default and JSON lines with LOG_FORMAT=json', () => {
    expect(loadConfig({}).logFormat).toBe('text');
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: '' }).logFormat).toBe('text');
    expect(() => loadConfig({ LOG_FORMAT: 'pino' })).toThrow(/^invalid configuration:\n {2}LOG_FORMAT="pino": /);
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
