import { describe, expect, it } from 'vitest';
import { MarketStore, SPARK_BUCKET_MS, SPARK_POINTS } from './market.svelte';
import { quote, snapshot, spec } from './test-data';

describe(MarketStore.name, () => {
  it('keeps the latest quote per symbol', () => {
    const store = new MarketStore();
    expect(store.applyQuotes([quote('AAPL', 1, { last: 228.5 }), quote('MSFT', 1, { last: 417.2 })])).toHaveLength(2);
    expect(store.applyQuotes([quote('AAPL', 2, { last: 229.1 })])).toHaveLength(1);

    expect(store.quote('AAPL')?.last).toBe(229.1);
    expect(store.quote('MSFT')?.last).toBe(417.2);
    expect(store.quote('NVDA')).toBeUndefined();
  });

  it('ignores a quote whose seq is not newer than the one held', () => {
    const store = new MarketStore();
    store.applyQuotes([quote('AAPL', 5, { last: 230 })]);

    expect(store.applyQuotes([quote('AAPL', 5, { last: 1 }), quote('AAPL', 3, { last: 2 })])).toHaveLength(0);
    expect(store.quote('AAPL')).toMatchObject({ seq: 5, last: 230 });
  });

  it('applies a snapshot, then only the quotes newer than it', () => {
    const store = new MarketStore();
    store.sessionStarted();
    store.subscribed({ throttleMs: 250, snapshots: [snapshot('AAPL', 10, { last: 228 })] });
    expect(store.quote('AAPL')).toMatchObject({ seq: 10, last: 228 });

    expect(store.applyQuotes([quote('AAPL', 9, { last: 1 })])).toHaveLength(0);
    expect(store.applyQuotes([quote('AAPL', 11, { last: 228.25 })])).toHaveLength(1);
    expect(store.quote('AAPL')).toMatchObject({ seq: 11, last: 228.25 });
  });

  it('keeps a quote that overtook its snapshot', () => {
    const store = new MarketStore();
    store.sessionStarted();
    store.applyQuotes([quote('AAPL', 12, { last: 229 })]);
    store.subscribed({ throttleMs: 250, snapshots: [snapshot('AAPL', 10, { last: 228 })] });

    expect(store.quote('AAPL')).toMatchObject({ seq: 12, last: 229 });
  });

  it('keeps comparing seqs across a reconnect within one epoch', () => {
    const store = new MarketStore();
    store.sessionStarted();
    store.subscribed({ epoch: 'e1', snapshots: [snapshot('AAPL', 10, { last: 228 })] });
    store.applyQuotes([quote('AAPL', 12, { last: 229 })]);

    // Another node of the cluster, a little behind: same epoch, so its older snapshot loses.
    store.sessionStarted();
    store.subscribed({ epoch: 'e1', snapshots: [snapshot('AAPL', 11, { last: 1 })] });
    expect(store.quote('AAPL')).toMatchObject({ seq: 12, last: 229 });
    expect(store.epoch).toBe('e1');
  });

  it('starts over from a snapshot of another epoch, whatever its seq, sparkline included', () => {
    const store = new MarketStore();
    store.setInstruments([spec('AAPL'), spec('MSFT')]);
    store.sessionStarted();
    store.subscribed({
      epoch: 'e1',
      snapshots: [snapshot('AAPL', 10, { last: 228, ts: 0 }), snapshot('MSFT', 5, { last: 417, ts: 0 })],
    });
    store.applyQuotes([quote('AAPL', 11, { last: 229, ts: SPARK_BUCKET_MS })]);
    expect(store.rows[0]!.spark).toEqual([228, 229]);

    // The gateway restarted and its seqs already passed the old ones: still a new run.
    store.sessionStarted();
    const applied = store.subscribed({
      epoch: 'e2',
      snapshots: [snapshot('AAPL', 50, { last: 100, ts: 10_000, epoch: 'e2' })],
    });
    expect(applied.map((s) => s.seq)).toEqual([50]);
    expect(store.epoch).toBe('e2');
    expect(store.rows[0]).toMatchObject({ quote: { seq: 50, last: 100 }, tick: 'flat', spark: [100] });
    // Nothing of the old run stays on screen, not even for a symbol the new ack did not carry.
    expect(store.quote('MSFT')).toBeUndefined();
    expect(store.applyQuotes([quote('AAPL', 50, { last: 1 })])).toHaveLength(0);
    expect(store.applyQuotes([quote('AAPL', 51, { last: 101 })])).toHaveLength(1);
  });

  it('lists every instrument in order, each with its latest quote', () => {
    const store = new MarketStore();
    store.setInstruments([spec('MSFT'), spec('AAPL')]);
    expect(store.rows.map((row) => [row.spec.symbol, row.quote])).toEqual([
      ['MSFT', undefined],
      ['AAPL', undefined],
    ]);

    store.applyQuotes([quote('AAPL', 1, { last: 228.5 })]);
    expect(store.rows.map((row) => [row.spec.symbol, row.quote?.last])).toEqual([
      ['MSFT', undefined],
      ['AAPL', 228.5],
    ]);

    store.applyQuotes([quote('AAPL', 2, { last: 228.75 }), quote('MSFT', 1, { last: 417 })]);
    expect(store.rows.map((row) => row.quote?.last)).toEqual([417, 228.75]);
  });

  it('moves through connecting, live, reconnecting and offline', () => {
    const store = new MarketStore();
    expect(store.connection).toEqual({ state: 'connecting' });

    store.sessionStarted();
    expect(store.connection).toEqual({ state: 'connecting' });
    store.subscribed({ throttleMs: 100, snapshots: [] });
    expect(store.connection).toEqual({ state: 'live' });
    expect(store.throttleMs).toBe(100);

    store.reconnecting(0);
    expect(store.connection).toEqual({ state: 'reconnecting', attempt: 0 });
    store.reconnecting(3);
    expect(store.connection).toEqual({ state: 'reconnecting', attempt: 3 });

    store.sessionStarted();
    store.subscribed({ throttleMs: 250, snapshots: [] });
    expect(store.connection).toEqual({ state: 'live' });

    store.offline('disconnected by the gateway');
    expect(store.connection).toEqual({ state: 'offline', reason: 'disconnected by the gateway' });
    store.connecting();
    expect(store.connection).toEqual({ state: 'connecting' });
  });

  it('marks values stale unless subscribed and the feed is live', () => {
    const store = new MarketStore();
    expect(store.stale).toBe(true);

    store.sessionStarted();
    expect(store.stale).toBe(true);
    store.subscribed({ throttleMs: 250, snapshots: [] });
    expect(store.stale).toBe(false);

    store.applyStatus({ feed: 'stale' });
    expect(store.stale).toBe(true);
    store.applyStatus({ feed: 'live' });
    expect(store.stale).toBe(false);

    store.reconnecting(1);
    store.sessionStarted();
    store.subscribed({ throttleMs: 250, snapshots: [] });
    expect(store.feed).toBeUndefined();
    expect(store.stale).toBe(false);

    store.offline('gave up reconnecting');
    expect(store.stale).toBe(true);
  });

  it('shows server notices until the next successful subscribe', () => {
    const store = new MarketStore();
    store.applyStatus({ server: 'shutdown' });
    expect(store.notice).toMatch(/shutting down/);
    store.applyStatus({ notice: { code: 'SLOW_CONSUMER', message: 'You are falling behind.' } });
    expect(store.notice).toBe('You are falling behind.');

    store.sessionStarted();
    store.subscribed({ throttleMs: 250, snapshots: [] });
    expect(store.notice).toBeUndefined();
  });

  it('records which way each update moved the price, and a bounded sparkline', () => {
    const store = new MarketStore();
    store.setInstruments([spec('AAPL')]);
    store.applyQuotes([quote('AAPL', 1, { last: 100, ts: 0 })]);
    expect(store.rows[0]).toMatchObject({ tick: 'flat', spark: [100] });
    store.applyQuotes([quote('AAPL', 2, { last: 101, ts: 100 })]);
    expect(store.rows[0]).toMatchObject({ tick: 'up', spark: [101] });
    store.applyQuotes([quote('AAPL', 3, { last: 99, ts: SPARK_BUCKET_MS })]);
    expect(store.rows[0]).toMatchObject({ tick: 'down', spark: [101, 99] });

    for (let i = 0; i < SPARK_POINTS + 10; i++) {
      store.applyQuotes([quote('AAPL', 10 + i, { last: 200 + i, ts: SPARK_BUCKET_MS * (2 + i) })]);
    }
    const spark = store.rows[0]!.spark;
    expect(spark).toHaveLength(SPARK_POINTS);
    expect(spark.at(-1)).toBe(200 + SPARK_POINTS + 9);
    expect(store.quoteCount('AAPL')).toBe(3 + SPARK_POINTS + 10);
  });

  it('publishes the update rate and forgets latency and transport when the link drops', () => {
    const store = new MarketStore();
    store.applyQuotes([quote('AAPL', 1), quote('MSFT', 1), quote('AAPL', 1)]);
    store.sampleRate(500);
    expect(store.updatesPerSec).toBe(4);
    store.measuredLatency(12.4);
    store.setTransport('websocket');
    expect([store.latencyMs, store.transport]).toEqual([12, 'websocket']);

    store.reconnecting(1);
    expect([store.latencyMs, store.transport, store.updatesPerSec]).toEqual([undefined, undefined, undefined]);
  });
});
