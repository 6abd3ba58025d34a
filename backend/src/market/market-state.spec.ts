import { DEFAULT_INSTRUMENTS, type FeedTick } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { CANDLE_INTERVAL_LIST, MarketState } from './market-state.js';
import { TradeRing } from './trade-ring.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 25, 23, 59, 58);

function tick(symbol: string, last: number, ts: number, volume = 0): FeedTick {
  return { symbol, ts, last, bid: last - 0.01, ask: last + 0.01, volume };
}

function market(historySeconds = 60, tradeHistory = 5) {
  return new MarketState(DEFAULT_INSTRUMENTS, { historySeconds, tradeHistory });
}

describe(MarketState.name, () => {
  it('starts every symbol at its reference price with seq 0', () => {
    const m = market();
    const s = m.snapshot(m.indexOf('AAPL'));
    expect(s).toMatchObject({ symbol: 'AAPL', seq: 0, tradeSeq: 0, last: 228.5, change: 0, changePct: 0 });
  });

  it('counts ticks in seq, tracks the day and rounds change free of float noise', () => {
    const m = market();
    const i = m.applyTick(tick('KO', 0.3, T0, 5));
    m.applyTick(tick('KO', 0.6, T0 + 1, 7));
    m.applyTick(tick('KO', 0.1, T0 + 2));
    expect(m.snapshot(i)).toMatchObject({
      seq: 3,
      open: 0.3,
      high: 0.6,
      low: 0.1,
      last: 0.1,
      volume: 12,
      change: -0.2,
    });
    expect(m.snapshot(i).changePct).toBeCloseTo(-66.6667, 4);
    expect(m.ticksApplied).toBe(3);
  });

  it('opens a new day at UTC midnight', () => {
    const m = market();
    const i = m.applyTick(tick('AAPL', 100, T0, 50));
    m.applyTick(tick('AAPL', 110, T0 + 1000, 50));
    m.applyTick(tick('AAPL', 105, T0 + 2000, 1)); // 00:00:00 the next day
    expect(m.snapshot(i)).toMatchObject({ seq: 3, open: 105, high: 105, low: 105, volume: 1 });
    m.applyTick(tick('AAPL', 90, T0 + 2000 + DAY - 2001));
    expect(m.snapshot(i)).toMatchObject({ open: 105, low: 90, volume: 1 });
  });

  it('ignores unknown symbols', () => {
    const m = market();
    expect(m.applyTick(tick('NOPE', 1, T0))).toBe(-1);
    expect(m.applyTrade({ symbol: 'NOPE', ts: T0, price: 1, size: 1, side: 'buy' })).toBeNull();
    expect(m.ticksApplied).toBe(0);
  });

  it('keeps 1-second OHLCV points in a bounded ring', () => {
    const m = market(3);
    const t = Date.UTC(2026, 10, 25, 12);
    const i = m.indexOf('MSFT');
    [10, 12, 9, 11].forEach((p, k) => m.applyTick(tick('MSFT', p, t + k * 100, 1)));
    m.applyTick(tick('MSFT', 20, t + 1500, 2));
    expect(m.historySince(i, 0).points).toEqual([
      { t, open: 10, high: 12, low: 9, close: 11, volume: 4 },
      { t: t + 1000, open: 20, high: 20, low: 20, close: 20, volume: 2 },
    ]);
    for (let s = 2; s < 10; s++) m.applyTick(tick('MSFT', s, t + s * 1000));
    const points = m.historySince(i, 0).points;
    expect(points.map((p) => p.t)).toEqual([t + 7000, t + 8000, t + 9000]);
    expect(m.historySince(i, t + 8000).points).toHaveLength(2);
  });

  it('numbers trades per symbol and recovers what a client missed, or reports the gap', () => {
    const m = market(60, 5);
    const i = m.indexOf('ETH-USD');
    for (let k = 1; k <= 8; k++) {
      const r = m.applyTrade({ symbol: 'ETH-USD', ts: T0 + k, price: 2000 + k, size: 1, side: k % 2 ? 'buy' : 'sell' });
      expect(r?.trade).toMatchObject({ seq: k, id: `ETH-USD-${k}` });
    }
    expect(m.tradeSeqAt(i)).toBe(8);
    expect(m.tradesAfter(i, 5)!.map((t) => t.seq)).toEqual([6, 7, 8]);
    expect(m.tradesAfter(i, 3)!.map((t) => t.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(m.tradesAfter(i, 8)).toEqual([]);
    expect(m.tradesAfter(i, 2)).toBeNull(); // 3 is gone
    expect(m.tradesAfter(i, 9)).toBeNull(); // from another gateway life
    expect(m.recentTrades(i, 2).map((t) => t.seq)).toEqual([7, 8]);
    expect(m.tradesAfter(m.indexOf('AAPL'), 0)).toEqual([]);
  });

  it('keeps each symbol’s latest event time across ticks and trades, and carries it through an export', () => {
    const m = market();
    const i = m.indexOf('AAPL');
    expect(m.lastEventTsAt(i)).toBe(0);
    m.applyTick(tick('AAPL', 100, T0));
    expect(m.lastEventTsAt(i)).toBe(T0);
    m.applyTrade({ symbol: 'AAPL', ts: T0 + 5, price: 100, size: 1, side: 'buy' });
    expect(m.lastEventTsAt(i)).toBe(T0 + 5);
    m.applyTick(tick('AAPL', 101, T0 + 3)); // ticks and trades interleave within a batch
    expect(m.lastEventTsAt(i)).toBe(T0 + 5);
    expect(m.lastEventTsAt(m.indexOf('MSFT'))).toBe(0);
    const copy = market();
    copy.importState(m.exportState());
    expect(copy.lastEventTsAt(i)).toBe(T0 + 5);
    expect(copy.lastEventTsAt(m.indexOf('MSFT'))).toBe(0);
  });

  it('starts a new epoch with every market, stamps it on snapshots, and carries it through an export', () => {
    const m = market();
    const other = market();
    expect(m.epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(other.epoch).not.toBe(m.epoch);
    m.applyTick(tick('AAPL', 100, T0));
    expect(m.snapshot(m.indexOf('AAPL')).epoch).toBe(m.epoch);
    const exported = m.exportState();
    expect(exported.epoch).toBe(m.epoch);
    // A node that had started an epoch of its own takes the exporter's with its state.
    other.applyTick(tick('MSFT', 400, T0));
    other.importState(JSON.parse(JSON.stringify(exported)) as typeof exported);
    expect(other.epoch).toBe(m.epoch);
    expect(other.snapshot(other.indexOf('AAPL'))).toEqual(m.snapshot(m.indexOf('AAPL')));
    expect(other.exportState()).toEqual(exported);
  });

  it('carries every candle ring, closed and open bars, through a JSON export exactly', () => {
    const m = market();
    const t = Date.UTC(2026, 10, 25, 12);
    // 30 minutes of AAPL, a tick every 7 s (258 1s bars), and two MSFT ticks: bars at every interval.
    m.applyTick(tick('MSFT', 400, t + 1000, 3));
    m.applyTick(tick('MSFT', 401.5, t + 2500, 1));
    for (let n = 0; n < 258; n++) m.applyTick(tick('AAPL', 100 + Math.sin(n) * 3, t + n * 7000, n % 5));
    const exported = m.exportState();
    const wire = JSON.parse(JSON.stringify(exported)) as typeof exported;
    const copy = market();
    copy.applyTick(tick('AAPL', 1, t - 60_000)); // bars of its own, replaced
    copy.importState(wire);
    for (const symbol of ['AAPL', 'MSFT', 'KO']) {
      const i = m.indexOf(symbol);
      for (const interval of CANDLE_INTERVAL_LIST) {
        const [mine, theirs] = [copy.candleRing(i, interval), m.candleRing(i, interval)];
        expect(mine.closed(), `${symbol} ${interval}`).toEqual(theirs.closed());
        expect(mine.openBar(), `${symbol} ${interval}`).toEqual(theirs.openBar());
      }
    }
    expect(m.candleRing(m.indexOf('AAPL'), '1m').size).toBeGreaterThan(25);
    // MSFT's 1s bars closed by the feed's clock (AAPL's later ticks) are closed in the export.
    expect(copy.candleRing(m.indexOf('MSFT'), '1s').openBar()).toBeNull();
    expect(copy.exportState()).toEqual(exported);
    // The copy goes on from there exactly as the exporter does.
    for (const x of [m, copy]) x.applyTick(tick('AAPL', 250, t + 258 * 7000, 9));
    expect(copy.candleRing(m.indexOf('AAPL'), '5m').openBar()).toEqual(m.candleRing(m.indexOf('AAPL'), '5m').openBar());
    expect(copy.exportState()).toEqual(m.exportState());
  });

  it('keeps its readers’ candle cursors through an import: the bars new to it come once, none twice', () => {
    const ahead = market();
    const behind = market();
    const t = Date.UTC(2026, 10, 25, 12);
    for (let n = 0; n < 3; n++) ahead.applyTick(tick('AAPL', 100 + n, t - 10_000 + n * 1000)); // before behind joined
    for (let n = 0; n < 10; n++) {
      ahead.applyTick(tick('AAPL', 110 + n, t + n * 1000));
      if (n < 6) behind.applyTick(tick('AAPL', 110 + n, t + n * 1000));
    }
    const i = behind.indexOf('AAPL');
    const cursor = behind.candleRing(i, '1s').closedCount; // it handed out t .. t + 4000
    expect(
      behind
        .candleRing(i, '1s')
        .closed()
        .map((c) => c.start - t),
    ).toEqual([0, 1000, 2000, 3000, 4000]);
    behind.importState(ahead.exportState());
    expect(
      behind
        .candleRing(i, '1s')
        .closedAfter(cursor)!
        .map((c) => c.start - t),
    ).toEqual([5000, 6000, 7000, 8000]);
    // An export from before candles were exported: the bars held stay.
    const old = ahead.exportState();
    delete old.candles;
    const before = behind.candleRing(i, '1m').closed();
    behind.importState(old);
    expect(behind.candleRing(i, '1m').closed()).toEqual(before);
  });

  it('names its epoch after a seed only while it has applied nothing', () => {
    const a = market();
    const b = market();
    expect(a.nameEpoch('node-a/0/1')).toBe(true);
    expect(b.nameEpoch('node-a/0/1')).toBe(true);
    expect(a.epoch).toBe(b.epoch);
    expect(a.epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(a.epoch).not.toContain('node');
    a.applyTrade({ symbol: 'AAPL', ts: T0, price: 100, size: 1, side: 'buy' });
    expect(a.nameEpoch('node-b/0/1')).toBe(false);
    expect(a.epoch).toBe(b.epoch);
  });

  it('reports the symbols whose tick or trade seq an import lowers, within one epoch', () => {
    const ahead = market();
    const behind = market();
    behind.importState(ahead.exportState());
    expect(behind.epoch).toBe(ahead.epoch);
    ahead.applyTick(tick('AAPL', 100, T0));
    ahead.applyTick(tick('AAPL', 101, T0 + 1));
    ahead.applyTrade({ symbol: 'MSFT', ts: T0, price: 400, size: 1, side: 'buy' });
    behind.applyTick(tick('AAPL', 100, T0));
    behind.applyTick(tick('MSFT', 400, T0));
    behind.applyTick(tick('MSFT', 401, T0 + 1));
    expect(ahead.importState(behind.exportState())).toEqual(['AAPL', 'MSFT']);
  });

  it('reports every symbol it had moved when an import is of another epoch, however high the seqs', () => {
    const mine = market();
    mine.applyTick(tick('AAPL', 100, T0));
    const cluster = market();
    for (let k = 0; k < 5; k++) cluster.applyTick(tick('AAPL', 100 + k, T0 + k));
    cluster.applyTick(tick('MSFT', 400, T0));
    // The cluster is ahead on every symbol, but my viewers' seqs count in an epoch that is gone.
    expect(mine.importState(cluster.exportState())).toEqual(['AAPL']);
    expect(mine.epoch).toBe(cluster.epoch);
  });

  it('knows the feed-assigned trade ids its rings hold, and not the ones it made up', () => {
    const m = market(60, 3);
    const i = m.indexOf('ETH-USD');
    const trade = (id?: string) => ({ symbol: 'ETH-USD', ts: T0, price: 2000, size: 1, side: 'buy' as const, id });
    m.applyTrade(trade('venue:1'));
    m.applyTrade(trade());
    expect(m.holdsTradeId(i, 'venue:1')).toBe(true);
    expect(m.holdsTradeId(i, 'ETH-USD-2')).toBe(false);
    expect(m.holdsTradeId(m.indexOf('BTC-USD'), 'venue:1')).toBe(false);
    const copy = market(60, 3);
    copy.importState(m.exportState());
    expect(copy.holdsTradeId(i, 'venue:1')).toBe(true);
    expect(copy.holdsTradeId(i, 'ETH-USD-2')).toBe(false);
    m.applyTrade(trade());
    m.applyTrade(trade()); // overwrites venue:1
    expect(m.holdsTradeId(i, 'venue:1')).toBe(false);
  });
});

describe(TradeRing.name, () => {
  it('reports a gap for a non-zero seq when it holds nothing', () => {
    expect(new TradeRing(3).after(4)).toBeNull();
  });

  it('counts a feed id held twice until both trades are overwritten', () => {
    const ring = new TradeRing(3);
    const t = (seq: number, id: string) => ({ id, seq, ts: T0, price: 1, size: 1, side: 'buy' as const });
    ring.push(t(1, 'dup'), true);
    ring.push(t(2, 'dup'), true);
    ring.push(t(3, 'X-3'));
    ring.push(t(4, 'X-4')); // overwrites the first dup
    expect(ring.holdsFeedId('dup')).toBe(true);
    ring.push(t(5, 'X-5'));
    expect(ring.holdsFeedId('dup')).toBe(false);
    expect(ring.holdsFeedId('X-5')).toBe(false);
  });
});
