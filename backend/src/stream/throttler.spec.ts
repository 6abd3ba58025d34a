import {
  DEFAULT_INSTRUMENTS,
  FRAME_VERSION,
  type Candle,
  type CandleInterval,
  type FeedTick,
  type ViewerFrame,
} from '@tickdeck/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CANDLE_INTERVAL_LIST, MarketState } from '../market/market-state.js';
import { candleSeries, Throttler, type FrameOut, type Holding, type Viewer } from './throttler.js';

const instruments = DEFAULT_INSTRUMENTS.filter((i) => ['AAPL', 'MSFT', 'KO', 'BTC-USD'].includes(i.symbol));
const T0 = Date.UTC(2026, 10, 25, 14, 30);
const TRADE_HISTORY = 100;

interface TestViewer extends Viewer {
  readonly name: string;
}

interface Write {
  /** Fake time of the write. */
  at: number;
  viewers: string[];
  count: number;
  frame: ViewerFrame;
  /** The payload as written. */
  json: string;
}

/** Records every write: who, the count it was given, and the frame decoded from its JSON. */
class FakeOut implements FrameOut<TestViewer> {
  readonly writes: Write[] = [];
  write(viewers: Iterable<TestViewer>, count: number, json: string): void {
    this.writes.push({
      at: Date.now(),
      viewers: [...viewers].map((v) => v.name),
      count,
      frame: JSON.parse(json) as ViewerFrame,
      json,
    });
  }
  /** The frames `name` was written, in order. */
  framesOf(name: string): ViewerFrame[] {
    return this.writes.filter((w) => w.viewers.includes(name)).map((w) => w.frame);
  }
  clear(): void {
    this.writes.length = 0;
  }
}

/** A viewer; phase 0 unless told otherwise (`null`: the throttler's round robin). */
function viewer(name: string, phase: number | null = 0): TestViewer {
  const v: TestViewer = { name, group: null, lagging: false, owed: null };
  if (phase !== null) v.phase = phase;
  return v;
}

function tick(symbol: string, last: number, ts: number, volume = 0): FeedTick {
  return { symbol, ts, last, bid: last - 0.01, ask: last + 0.01, volume };
}

/** [symbol, seq, conflated] of each quote of a frame, in frame order. */
const quoteSeqs = (frame: ViewerFrame) => (frame.quotes ?? []).map((q) => [q.symbol, q.seq, q.conflated]);

describe(Throttler.name, () => {
  let market: MarketState;
  let throttler: Throttler<TestViewer>;
  let out: FakeOut;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    market = new MarketState(instruments, { historySeconds: 60, tradeHistory: TRADE_HISTORY });
    throttler = new Throttler(market, [250, 100, 1000, 250]);
    out = new FakeOut();
    throttler.start(out);
  });
  afterEach(() => {
    throttler.stop();
    vi.useRealTimers();
  });

  const idx = (symbol: string) => market.indexOf(symbol);
  /** A holding from quote symbols per tier in ms, and trade symbols. */
  const holding = (quotes: Record<number, string[]>, trades: string[] = []): Holding => ({
    quotes: throttler.tiers.map((ms) => (quotes[ms] ?? []).map(idx)),
    trades: trades.map(idx),
  });
  const assign = (v: TestViewer, quotes: Record<number, string[]>, trades: string[] = []) =>
    throttler.assign(v, holding(quotes, trades));
  let tradeTs = T0;
  const trade = (symbol: string, price = 100) =>
    market.applyTrade({ symbol, ts: tradeTs++, price, size: 1, side: 'buy' });

  it('offers its tiers sorted and deduplicated, and needs at least one', () => {
    expect(throttler.tiers).toEqual([100, 250, 1000]);
    expect([100, 250, 1000, 500].map((ms) => throttler.tierIndex(ms))).toEqual([0, 1, 2, -1]);
    expect(() => new Throttler(market, [])).toThrow(/at least one tier/);
  });

  it('merges the ticks of one window into one quote with the latest state and the window folded into the day', () => {
    const viewers = ['a', 'b', 'c'].map(viewer);
    for (const v of viewers) assign(v, { 250: ['AAPL'] });
    const prices = [100, 104, 97, 101, 102];
    prices.forEach((p, k) => market.applyTick(tick('AAPL', p, T0 + k, 10 * (k + 1))));
    vi.advanceTimersByTime(249);
    expect(out.writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(out.writes).toHaveLength(1);
    const [write] = out.writes as [Write];
    expect(write.viewers).toEqual(['a', 'b', 'c']);
    expect(write.count).toBe(3);
    // No trades key: nothing to carry.
    expect(write.frame).toStrictEqual({
      v: FRAME_VERSION,
      quotes: [
        {
          symbol: 'AAPL',
          seq: 5,
          conflated: 5,
          ts: T0 + 4,
          last: 102,
          bid: 101.99,
          ask: 102.01,
          open: 100,
          high: 104,
          low: 97,
          volume: 150,
          change: 2,
          changePct: 2,
        },
      ],
    });
    expect(throttler.stats).toEqual({
      frameEncodings: 1,
      framesWritten: 3,
      quotesDelivered: 3,
      tradesDelivered: 0,
      tradeGaps: 0,
      candlesDelivered: 0,
      candleGaps: 0,
      alertsQueued: 0,
    });
  });

  it('sends nothing for a symbol without ticks, nor for a symbol or trades nobody holds', () => {
    const a = viewer('a');
    const b = viewer('b');
    assign(a, { 250: ['AAPL'] });
    assign(b, { 100: ['MSFT'] }, ['MSFT']);
    expect(throttler.groupCount()).toBe(2);
    throttler.assign(b, null); // MSFT's only holder left: its group is forgotten
    expect(b.group).toBeNull();
    expect(throttler.groupCount()).toBe(1);
    market.applyTick(tick('MSFT', 400, T0));
    trade('MSFT');
    trade('BTC-USD');
    vi.advanceTimersByTime(1000);
    expect(out.writes).toEqual([]);
    expect(throttler.stats.frameEncodings).toBe(0);
    expect(throttler.hasPendingTrades(idx('MSFT'))).toBe(false);
  });

  it('writes each holding one frame per flush, shared by every viewer holding the same, with only its symbols', () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(viewer) as [TestViewer, TestViewer, TestViewer, TestViewer];
    assign(a, { 100: ['MSFT', 'AAPL'] }, ['AAPL']);
    assign(b, { 100: ['MSFT', 'AAPL'] }, ['AAPL']);
    // The same holding in another order and with a repeat: the same group.
    assign(c, { 100: ['AAPL', 'MSFT', 'AAPL'] }, ['AAPL', 'AAPL']);
    assign(d, { 100: ['AAPL'] });
    expect(c.group).toBe(a.group);
    expect(d.group).not.toBe(a.group);
    expect(throttler.groupCount()).toBe(2);
    market.applyTick(tick('AAPL', 100, T0));
    market.applyTick(tick('MSFT', 400, T0));
    market.applyTick(tick('BTC-USD', 60000, T0)); // held by nobody
    trade('AAPL');
    const stringify = vi.spyOn(JSON, 'stringify');
    vi.advanceTimersByTime(100);
    // Each changed quote and the trade batch serialised once, whatever the viewers and groups.
    expect(stringify).toHaveBeenCalledTimes(3);
    stringify.mockRestore();

    expect(out.writes.map((w) => [w.viewers, w.count])).toEqual([
      [['a', 'b', 'c'], 3],
      [['d'], 1],
    ]);
    const [shared, own] = out.writes as [Write, Write];
    // Quotes and trades of one flush in one frame.
    expect(quoteSeqs(shared.frame)).toEqual([
      ['AAPL', 1, 1],
      ['MSFT', 1, 1],
    ]);
    expect(shared.frame.trades).toEqual([{ symbol: 'AAPL', trades: [expect.objectContaining({ seq: 1 })] }]);
    expect(own.frame).toStrictEqual({ v: FRAME_VERSION, quotes: [shared.frame.quotes![0]] });
    expect(throttler.stats).toMatchObject({
      frameEncodings: 2,
      framesWritten: 4,
      quotesDelivered: 2 * 3 + 1,
      tradesDelivered: 3,
    });

    out.clear();
    market.applyTick(tick('MSFT', 401, T0 + 1));
    vi.advanceTimersByTime(100);
    expect(out.writes.map((w) => [w.viewers, quoteSeqs(w.frame)])).toEqual([[['a', 'b', 'c'], [['MSFT', 2, 1]]]]);
  });

  it('writes fired alerts exactly once and in order: with the group frame, alone, and while lagging', () => {
    const [a, b, alone, slow] = ['a', 'b', 'alone', 'slow'].map((n) => viewer(n)) as TestViewer[];
    assign(a!, { 1000: ['AAPL'] }, ['AAPL']);
    assign(b!, { 1000: ['AAPL'] }, ['AAPL']);
    assign(slow!, { 100: ['AAPL'] }, ['AAPL']);
    throttler.setLagging(slow!, true);
    market.applyTick(tick('AAPL', 100, T0));
    vi.advanceTimersByTime(1000);
    out.clear();
    const fired = (id: string) => JSON.stringify({ id, price: 1 });
    throttler.queueAlert(a!, fired('a1'));
    throttler.queueAlert(a!, fired('a2'));
    throttler.queueAlert(alone!, fired('x1'));
    throttler.queueAlert(slow!, fired('s1'));
    // The next flush (100 ms), long before a's 1000 ms tier is due: the alerts alone.
    vi.advanceTimersByTime(100);
    const ids = (name: string) => out.framesOf(name).flatMap((f) => (f.alerts ?? []).map((x) => x.id));
    expect(ids('a')).toEqual(['a1', 'a2']);
    expect(ids('alone')).toEqual(['x1']);
    expect(ids('slow')).toEqual(['s1']);
    expect(out.framesOf('b')).toEqual([]);
    expect(out.framesOf('alone')).toEqual([{ v: FRAME_VERSION, alerts: [{ id: 'x1', price: 1 }] }]);
    // Then a is in step again: it shares b's frames, and nothing is repeated.
    out.clear();
    market.applyTick(tick('AAPL', 101, T0 + 1));
    vi.advanceTimersByTime(1000);
    expect(ids('a')).toEqual([]);
    expect(out.writes.filter((w) => w.viewers.includes('a')).map((w) => w.viewers)).toEqual([['a', 'b']]);
    // An alert with the quotes of a due flush rides in the same frame, after them.
    vi.advanceTimersByTime(800); // the tick before the 1000 ms tier is due again
    out.clear();
    market.applyTick(tick('AAPL', 102, T0 + 2));
    throttler.queueAlert(b!, fired('b1'));
    vi.advanceTimersByTime(100);
    const [frame] = out.framesOf('b');
    expect(Object.keys(frame!)).toEqual(['v', 'quotes', 'alerts']);
    expect(ids('b')).toEqual(['b1']);
    expect(a!.group!.special).toBe(0);
  });

  it('sends at most one quote per symbol per interval, each newer, and counts what it merged', () => {
    assign(viewer('a'), { 100: ['AAPL'] });
    for (let k = 0; k < 100; k++) {
      market.applyTick(tick('AAPL', 100 + k / 100, T0 + k * 10));
      vi.advanceTimersByTime(10);
    }
    const frames = out.framesOf('a');
    expect(frames).toHaveLength(10);
    expect(frames.map((f) => f.quotes!.length)).toEqual(Array(10).fill(1));
    expect(frames.map((f) => f.quotes![0]!.seq)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(frames.map((f) => f.quotes![0]!.conflated)).toEqual(Array(10).fill(10));
    expect(frames.at(-1)!.quotes![0]!.last).toBe(100.99);
  });

  it('flushes a tier that is a multiple of the fastest on every n-th tick, with the trades, in one frame', () => {
    const fast = viewer('fast');
    const slow = viewer('slow');
    assign(fast, { 100: ['BTC-USD'] });
    // Quotes at 1000 and another symbol at 100: every 10th tick carries both, and the trades.
    assign(slow, { 100: ['AAPL'], 1000: ['BTC-USD'] }, ['BTC-USD']);
    for (let k = 0; k < 20; k++) {
      market.applyTick(tick('BTC-USD', 60000 + k, T0 + k * 50));
      if (k % 2 === 0) trade('BTC-USD', 60000 + k);
      if (k === 19) market.applyTick(tick('AAPL', 101, T0 + k * 50));
      vi.advanceTimersByTime(50);
    }
    expect(out.framesOf('fast')).toHaveLength(10);
    const slowWrites = out.writes.filter((w) => w.viewers.includes('slow'));
    // Its trades every tick, whatever its quote tier; its quotes only on the 10th.
    expect(slowWrites.map((w) => w.at)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(slowWrites.map((w) => w.frame.trades!.flatMap((b) => b.trades.map((t) => t.seq)))).toEqual([
      [1],
      [2],
      [3],
      [4],
      [5],
      [6],
      [7],
      [8],
      [9],
      [10],
    ]);
    expect(slowWrites.slice(0, 9).every((w) => w.frame.quotes === undefined)).toBe(true);
    const last = slowWrites.at(-1)!.frame;
    expect(last.quotes).toEqual([
      expect.objectContaining({ symbol: 'AAPL', seq: 1, conflated: 1 }),
      expect.objectContaining({ symbol: 'BTC-USD', seq: 20, conflated: 20, last: 60019 }),
    ]);
    expect(last.trades).toHaveLength(1);
  });

  it('spreads a phased tier over its ticks: each viewer one frame per interval, a tick writes a tenth', () => {
    const viewers = Array.from({ length: 20 }, (_, n) => viewer(`v${n}`, null));
    for (const v of viewers) assign(v, { 1000: ['AAPL'] });
    expect(viewers.map((v) => v.phase)).toEqual([...Array(20).keys()].map((n) => n % 10));
    // Same holding, two viewers per phase: ten groups, one per phase.
    expect(throttler.groupCount()).toBe(10);
    for (let t = 0; t < 30; t++) {
      market.applyTick(tick('AAPL', 100 + t, T0 + t * 100)); // seq t + 1, one per 100 ms
      vi.advanceTimersByTime(100);
    }
    // Every tick (100 ms) writes the two viewers of one phase, never all twenty at once.
    const ats = out.writes.map((w) => w.at);
    expect(new Set(ats).size).toBe(ats.length);
    expect(out.writes.every((w) => w.viewers.length === 2)).toBe(true);
    for (const v of viewers) {
      const frames = out.writes.filter((w) => w.viewers.includes(v.name));
      const at = frames.map((w) => w.at);
      // Phase p: ticks p, p + 10, ... (phase 0 at 1000, 2000, ...), 1000 ms apart.
      const p = v.phase!;
      expect(at).toEqual(p === 0 ? [1000, 2000, 3000] : [p * 100, p * 100 + 1000, p * 100 + 2000]);
      // Each frame the latest quote, `conflated` counting since that phase's previous flush.
      const quotes = frames.map((w) => quoteSeqs(w.frame)[0]);
      expect(quotes.map((q) => q![1])).toEqual(at.map((ms) => ms / 100));
      expect(quotes.slice(1).map((q) => q![2])).toEqual([10, 10]);
    }
  });

  it('flushes a tier that is no multiple of the fastest on its own timer, with quotes only', () => {
    assign(viewer('a'), { 250: ['AAPL'] }, ['AAPL']);
    market.applyTick(tick('AAPL', 100, T0));
    trade('AAPL');
    vi.advanceTimersByTime(100);
    expect(out.writes.map((w) => [w.at, w.frame])).toEqual([
      [100, { v: FRAME_VERSION, trades: [{ symbol: 'AAPL', trades: [expect.objectContaining({ seq: 1 })] }] }],
    ]);
    vi.advanceTimersByTime(100);
    trade('AAPL'); // waits for the fastest tier: the 250 ms flush does not carry it
    vi.advanceTimersByTime(50);
    expect(out.writes.slice(1).map((w) => [w.at, Object.keys(w.frame), quoteSeqs(w.frame)])).toEqual([
      [250, ['v', 'quotes'], [['AAPL', 1, 1]]],
    ]);
    expect(throttler.hasPendingTrades(idx('AAPL'))).toBe(true);
    vi.advanceTimersByTime(50);
    expect(out.writes.slice(2).map((w) => [w.at, Object.keys(w.frame)])).toEqual([[300, ['v', 'trades']]]);
    trade('AAPL');
    // flush(k) directly: the same.
    market.applyTick(tick('AAPL', 101, T0 + 1));
    throttler.flush(throttler.tierIndex(250));
    expect(out.writes.at(-1)!.frame).toStrictEqual({
      v: FRAME_VERSION,
      quotes: [expect.objectContaining({ seq: 2, conflated: 1 })],
    });
    expect(throttler.hasPendingTrades(idx('AAPL'))).toBe(true);
  });

  it('delivers every trade once and in order at the fastest tier, never conflated', () => {
    assign(viewer('a'), {}, ['AAPL', 'MSFT']);
    assign(viewer('b'), {}, ['MSFT', 'AAPL']);
    // The throttler is told nothing: it pulls the trades from the market by seq.
    for (let k = 0; k < 7; k++) trade('AAPL', 100 + k);
    trade('MSFT');
    expect(throttler.hasPendingTrades(idx('AAPL'))).toBe(true);
    vi.advanceTimersByTime(100);
    expect(out.writes.map((w) => [w.viewers, w.count])).toEqual([[['a', 'b'], 2]]);
    const frame = out.writes[0]!.frame;
    expect(Object.keys(frame)).toEqual(['v', 'trades']);
    expect(frame.trades!.map((b) => b.symbol)).toEqual(['AAPL', 'MSFT']);
    const aapl = frame.trades![0]!;
    expect(aapl.gap).toBeUndefined();
    expect(aapl.trades.map((t) => [t.seq, t.id, t.price])).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((seq) => [seq, `AAPL-${seq}`, 99 + seq]),
    );
    expect(throttler.stats).toMatchObject({ frameEncodings: 1, framesWritten: 2, tradesDelivered: 2 * 8 });
    expect(throttler.hasPendingTrades(idx('AAPL'))).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(out.writes).toHaveLength(1);
    trade('AAPL');
    trade('AAPL');
    vi.advanceTimersByTime(100);
    expect(out.writes[1]!.frame.trades).toEqual([
      { symbol: 'AAPL', trades: [expect.objectContaining({ seq: 8 }), expect.objectContaining({ seq: 9 })] },
    ]);
  });

  it('says so with gap: true when more trades came between two flushes than the ring holds', () => {
    assign(viewer('a'), {}, ['AAPL']);
    const held = TRADE_HISTORY;
    for (let k = 0; k < held + 5; k++) trade('AAPL');
    vi.advanceTimersByTime(100);
    const batch = out.writes[0]!.frame.trades![0]!;
    expect(batch.gap).toBe(true);
    // What the ring still holds, in order: the newest `held` trades.
    expect(batch.trades.map((t) => t.seq)).toEqual(Array.from({ length: held }, (_, k) => k + 6));
    expect(throttler.stats.tradeGaps).toBe(1);
    trade('AAPL');
    vi.advanceTimersByTime(100);
    expect(out.writes[1]!.frame.trades).toStrictEqual([
      { symbol: 'AAPL', trades: [expect.objectContaining({ seq: held + 6 })] },
    ]);
    expect(throttler.stats.tradeGaps).toBe(1);
  });

  it('skips the quotes of a lagging viewer and keeps its trades, leaving the rest of its group alone', () => {
    const a = viewer('a');
    const b = viewer('b');
    assign(a, { 100: ['AAPL'] }, ['AAPL']);
    assign(b, { 100: ['AAPL'] }, ['AAPL']);
    throttler.setLagging(a, true);
    expect(a.group).toBe(b.group);
    market.applyTick(tick('AAPL', 100, T0));
    trade('AAPL');
    vi.advanceTimersByTime(100);
    expect(out.framesOf('a')).toStrictEqual([
      { v: FRAME_VERSION, trades: [{ symbol: 'AAPL', trades: [expect.objectContaining({ seq: 1 })] }] },
    ]);
    expect(out.writes.find((w) => w.viewers.includes('a'))!.count).toBe(1);
    expect(out.framesOf('b')).toStrictEqual([
      {
        v: FRAME_VERSION,
        quotes: [expect.objectContaining({ seq: 1, conflated: 1 })],
        trades: [{ symbol: 'AAPL', trades: [expect.objectContaining({ seq: 1 })] }],
      },
    ]);
    expect(throttler.stats).toMatchObject({
      frameEncodings: 2,
      framesWritten: 2,
      quotesDelivered: 1,
      tradesDelivered: 2,
    });
    // Quotes only: nothing for it, never an empty frame.
    market.applyTick(tick('AAPL', 101, T0 + 1));
    vi.advanceTimersByTime(100);
    expect(out.framesOf('a')).toHaveLength(1);
    expect(out.framesOf('b').map(quoteSeqs)).toEqual([[['AAPL', 1, 1]], [['AAPL', 2, 1]]]);
  });

  it('sends a viewer that caught up, at each tier, the latest quote of what moved while it lagged, once', () => {
    const a = viewer('a');
    const b = viewer('b');
    const held = { 100: ['AAPL', 'KO'], 250: ['MSFT'], 1000: ['BTC-USD'] };
    assign(a, held);
    assign(b, held);
    for (const s of ['AAPL', 'KO', 'MSFT', 'BTC-USD']) market.applyTick(tick(s, 100, T0));
    vi.advanceTimersByTime(1000);
    expect(out.framesOf('a').map(quoteSeqs)).toEqual([
      [
        ['AAPL', 1, 1],
        ['KO', 1, 1],
      ],
      [['MSFT', 1, 1]],
      [['BTC-USD', 1, 1]],
    ]);
    out.clear();

    throttler.setLagging(a, true);
    for (let k = 0; k < 3; k++) market.applyTick(tick('AAPL', 101 + k, T0 + 1 + k));
    for (let k = 0; k < 2; k++) market.applyTick(tick('MSFT', 101 + k, T0 + 1 + k));
    for (let k = 0; k < 4; k++) market.applyTick(tick('BTC-USD', 101 + k, T0 + 1 + k));
    vi.advanceTimersByTime(1000); // every tier flushes once meanwhile
    expect(out.framesOf('a')).toEqual([]);
    expect(out.framesOf('b').map(quoteSeqs)).toEqual([[['AAPL', 4, 3]], [['MSFT', 3, 2]], [['BTC-USD', 5, 4]]]);
    out.clear();

    throttler.setLagging(a, false);
    market.applyTick(tick('AAPL', 110, T0 + 10)); // seq 5: b last got 4, a last got 1
    vi.advanceTimersByTime(100);
    // KO did not move: not repeated.
    expect(out.writes.map((w) => [w.at, w.viewers, w.count, quoteSeqs(w.frame)])).toEqual(
      expect.arrayContaining([
        [2100, ['a'], 1, [['AAPL', 5, 4]]],
        [2100, ['b'], 1, [['AAPL', 5, 1]]],
      ]),
    );
    expect(out.writes).toHaveLength(2);
    expect(out.framesOf('a')[0]!.quotes![0]).toMatchObject({ last: 110 });
    vi.advanceTimersByTime(150);
    expect(out.writes.slice(2).map((w) => [w.at, w.viewers, quoteSeqs(w.frame)])).toEqual([
      [2250, ['a'], [['MSFT', 3, 2]]],
    ]);
    vi.advanceTimersByTime(750);
    expect(out.writes.slice(3).map((w) => [w.at, w.viewers, quoteSeqs(w.frame)])).toEqual([
      [3000, ['a'], [['BTC-USD', 5, 4]]],
    ]);
    vi.advanceTimersByTime(1000);
    expect(out.writes).toHaveLength(4);
    // Settled: it shares its group's frames again.
    market.applyTick(tick('AAPL', 111, T0 + 11));
    vi.advanceTimersByTime(100);
    expect(out.writes.slice(4).map((w) => [w.viewers, w.count, quoteSeqs(w.frame)])).toEqual([
      [['a', 'b'], 2, [['AAPL', 6, 1]]],
    ]);
  });

  it('forgets what a viewer lagging was owed for a symbol it no longer holds', () => {
    const a = viewer('a');
    const b = viewer('b');
    assign(a, { 100: ['AAPL', 'MSFT'] });
    throttler.setLagging(a, true);
    market.applyTick(tick('AAPL', 100, T0));
    market.applyTick(tick('MSFT', 400, T0));
    vi.advanceTimersByTime(100);
    assign(a, { 100: ['AAPL'] });
    assign(b, { 100: ['AAPL'] });
    throttler.setLagging(a, false);
    vi.advanceTimersByTime(100);
    expect(out.framesOf('a').map(quoteSeqs)).toEqual([[['AAPL', 1, 1]]]);
    // Owed nothing more: it shares its group's frames.
    market.applyTick(tick('AAPL', 101, T0 + 1));
    vi.advanceTimersByTime(100);
    expect(out.writes.at(-1)).toMatchObject({ viewers: ['a', 'b'], count: 2 });
  });

  it('still owes a viewer that lags again what it missed the first time', () => {
    const a = viewer('a');
    assign(a, { 1000: ['BTC-USD'] });
    market.applyTick(tick('BTC-USD', 100, T0));
    vi.advanceTimersByTime(1000);
    throttler.setLagging(a, true);
    market.applyTick(tick('BTC-USD', 101, T0 + 1));
    market.applyTick(tick('BTC-USD', 102, T0 + 2));
    vi.advanceTimersByTime(1000); // seq 3 flushed, skipped for it
    throttler.setLagging(a, false);
    vi.advanceTimersByTime(50);
    throttler.setLagging(a, true); // before its tier's next flush could send it seq 3
    vi.advanceTimersByTime(50);
    throttler.setLagging(a, false);
    vi.advanceTimersByTime(900);
    expect(out.framesOf('a').map(quoteSeqs)).toEqual([[['BTC-USD', 1, 1]], [['BTC-USD', 3, 2]]]);
  });

  it('owes a lagging viewer the symbols it takes on while lagging, or before it had a group', () => {
    const a = viewer('a');
    assign(a, { 100: ['AAPL'] });
    throttler.setLagging(a, true);
    assign(a, { 100: ['AAPL', 'MSFT'] });
    const b = viewer('b');
    throttler.setLagging(b, true);
    assign(b, { 100: ['MSFT'] });
    market.applyTick(tick('MSFT', 400, T0)); // seq 1, skipped while lagging
    vi.advanceTimersByTime(100);
    throttler.setLagging(a, false);
    throttler.setLagging(b, false);
    vi.advanceTimersByTime(100);
    expect(out.framesOf('a').map(quoteSeqs)).toEqual([[['MSFT', 1, 1]]]);
    expect(out.framesOf('b').map(quoteSeqs)).toEqual([[['MSFT', 1, 1]]]);
  });

  it('moves a viewer between groups and forgets a group once emptied', () => {
    const a = viewer('a');
    const b = viewer('b');
    assign(a, { 100: ['AAPL'] });
    assign(b, { 100: ['AAPL'] });
    const first = a.group!;
    assign(a, { 250: ['AAPL'] });
    expect(first.members).toEqual(new Set([b]));
    expect(throttler.groupCount()).toBe(2);
    throttler.assign(b, null);
    expect(throttler.groupCount()).toBe(1);
    assign(a, {});
    expect(a.group).toBeNull();
    expect(throttler.groupCount()).toBe(0);
    market.applyTick(tick('AAPL', 100, T0));
    vi.advanceTimersByTime(1000);
    expect(out.writes).toEqual([]);
  });

  it('runs deferred work once, right after the named tier flushes', () => {
    const done: [number, number][] = [];
    const a = viewer('a');
    assign(a, { 1000: ['AAPL'] });
    market.applyTick(tick('AAPL', 100, T0));
    throttler.afterNextFlush(throttler.tierIndex(1000), a, () => done.push([Date.now(), out.writes.length]));
    throttler.afterNextFlush(throttler.tierIndex(250), a, () => done.push([Date.now(), -1]));
    vi.advanceTimersByTime(999);
    expect(done).toEqual([[250, -1]]);
    vi.advanceTimersByTime(3000);
    // After the 1000 ms flush had written its frame.
    expect(done).toEqual([
      [250, -1],
      [1000, 1],
    ]);
  });

  it('reports dirtiness per tier and pending trades', () => {
    const i = idx('MSFT');
    const v = viewer('v');
    const fast = throttler.tierIndex(100);
    const slow = throttler.tierIndex(1000);
    expect(throttler.isDirty(fast, i, v)).toBe(false);
    market.applyTick(tick('MSFT', 400, T0));
    expect(throttler.isDirty(fast, i, v)).toBe(true);
    vi.advanceTimersByTime(100);
    expect(throttler.isDirty(fast, i, v)).toBe(false);
    expect(throttler.isDirty(slow, i, v)).toBe(true);
    vi.advanceTimersByTime(900);
    expect(throttler.isDirty(slow, i, v)).toBe(false);

    expect(throttler.hasPendingTrades(i)).toBe(false);
    trade('MSFT');
    expect(throttler.hasPendingTrades(i)).toBe(true);
    throttler.flush(throttler.tierIndex(250)); // no trades at another tier's flush
    expect(throttler.hasPendingTrades(i)).toBe(true);
    vi.advanceTimersByTime(100);
    expect(throttler.hasPendingTrades(i)).toBe(false);
  });

  it('flushes nothing once stopped', () => {
    assign(viewer('a'), { 100: ['AAPL'] }, ['AAPL']);
    throttler.beforeApplicationShutdown();
    market.applyTick(tick('AAPL', 100, T0));
    trade('AAPL');
    vi.advanceTimersByTime(2000);
    expect(out.writes).toEqual([]);
  });
});

describe(`${Throttler.name}: live candles`, () => {
  /** On a second boundary, so a 1s bar starts at S0. */
  const S0 = Date.UTC(2026, 10, 25, 14, 31);
  let market: MarketState;
  let throttler: Throttler<TestViewer>;
  let out: FakeOut;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    market = new MarketState(instruments, { historySeconds: 60, tradeHistory: TRADE_HISTORY });
    throttler = new Throttler(market, [100, 250, 1000]);
    out = new FakeOut();
    throttler.start(out);
  });
  afterEach(() => {
    throttler.stop();
    vi.useRealTimers();
  });

  const idx = (symbol: string) => market.indexOf(symbol);
  const series = (symbol: string, interval: CandleInterval) =>
    candleSeries(idx(symbol), CANDLE_INTERVAL_LIST.indexOf(interval));
  /** Quotes of `symbols` at tier `ms`, their trades, and their bars at `intervals` (all restarting). */
  const holding = (ms: number, symbols: string[], intervals: CandleInterval[]): Holding => {
    const candles = symbols.flatMap((s) => intervals.map((iv) => series(s, iv)));
    return {
      quotes: throttler.tiers.map((t) => (t === ms ? symbols.map(idx) : [])),
      trades: symbols.map(idx),
      candles: throttler.tiers.map((t) => (t === ms ? candles : [])),
      fresh: candles,
    };
  };
  const apply = (symbol: string, last: number, ts: number, volume = 1) =>
    market.applyTick(tick(symbol, last, ts, volume));
  /** The candle batches `name` was written, in order. */
  const batchesOf = (name: string) => out.framesOf(name).flatMap((f) => f.candles ?? []);
  /** The closed bars `name` got for a pair, in order of arrival. */
  const closedOf = (name: string, symbol: string, interval: CandleInterval): Candle[] =>
    batchesOf(name)
      .filter((b) => b.symbol === symbol && b.interval === interval)
      .flatMap((b) => b.bars.filter((c) => c.closed));

  it('sends the live bar exact: a spike inside one window is its high though no quote carried it', () => {
    throttler.assign(viewer('a'), holding(250, ['AAPL'], ['1s', '1m']));
    // Nine ticks within one 250 ms window, a spike in the middle.
    const prices = [100, 100.5, 101, 100.8, 180, 100.9, 100.7, 100.6, 100.4];
    prices.forEach((p, n) => apply('AAPL', p, S0 + 10 + n * 20, 2));
    vi.advanceTimersByTime(250);
    const frames = out.framesOf('a');
    expect(frames).toHaveLength(1);
    const frame = frames[0]!;
    expect(Object.keys(frame)).toEqual(['v', 'quotes', 'candles']);
    expect(frame.quotes!.map((q) => [q.last, q.conflated])).toEqual([[100.4, 9]]);
    const bar = { start: S0, open: 100, high: 180, low: 100, close: 100.4, volume: 18, ticks: 9, closed: false };
    expect(frame.candles).toStrictEqual([
      { symbol: 'AAPL', interval: '1s', bars: [bar] },
      { symbol: 'AAPL', interval: '1m', bars: [bar] },
    ]);
    // Nothing moved: no candles, no frame.
    vi.advanceTimersByTime(1000);
    expect(out.framesOf('a')).toHaveLength(1);
  });

  it('sends every closed bar once, final and in order, across flushes, also several closing in one window', () => {
    const a = viewer('a');
    const b = viewer('b');
    throttler.assign(a, holding(100, ['AAPL'], ['1s']));
    throttler.assign(b, holding(100, ['AAPL'], ['1s']));
    expect(b.group).toBe(a.group);
    let ts = S0;
    const prices: number[] = [];
    // 40 flushes; feed time runs 4 to 12 times faster than the flushes, so 0 to 3 bars close per window.
    for (let f = 0; f < 40; f++) {
      const steps = 1 + (f % 3);
      for (let n = 0; n < steps; n++) {
        ts += 400;
        const p = 100 + ((f * 7 + n * 3) % 11);
        prices.push(p);
        apply('AAPL', p, ts);
      }
      vi.advanceTimersByTime(100);
    }
    const ring = market.candleRing(idx('AAPL'), '1s');
    const all = ring.closed();
    expect(all.length).toBeGreaterThan(30);
    // Exactly the ring's closed bars, each once, in order, whatever the windows.
    expect(closedOf('a', 'AAPL', '1s')).toEqual(all);
    // Shared: both in one write each time.
    expect(out.writes.every((w) => w.count === 2 && w.viewers.join() === 'a,b')).toBe(true);
    // Windows in which two or three bars closed carried them all.
    expect(batchesOf('a').some((x) => x.bars.filter((c) => c.closed).length >= 2)).toBe(true);
    // The open bar comes last in its batch, and is the ring's at that time; the last one is now.
    for (const x of batchesOf('a')) {
      const open = x.bars.filter((c) => !c.closed);
      expect(open.length).toBeLessThanOrEqual(1);
      if (open.length === 1) expect(x.bars.at(-1)!.closed).toBe(false);
    }
    const lastOpen = batchesOf('a')
      .flatMap((x) => x.bars)
      .filter((c) => !c.closed)
      .at(-1);
    expect(lastOpen).toEqual(ring.openBar());
    expect(throttler.stats.candleGaps).toBe(0);
  });

  it('starts a viewer that joins between flushes at its ack: only what came after, then it shares again', () => {
    const a = viewer('a');
    throttler.assign(a, holding(100, ['AAPL'], ['1s']));
    apply('AAPL', 100, S0 + 100);
    vi.advanceTimersByTime(100);
    apply('AAPL', 101, S0 + 1100); // closes S0's bar: a is owed it, b joins after
    const b = viewer('b');
    throttler.assign(b, holding(100, ['AAPL'], ['1s']));
    apply('AAPL', 102, S0 + 1200);
    vi.advanceTimersByTime(100);
    const [forA, forB] = [out.framesOf('a').at(-1)!, out.framesOf('b').at(-1)!];
    expect(forA.candles![0]!.bars.map((c) => [c.start, c.closed])).toEqual([
      [S0, true],
      [S0 + 1000, false],
    ]);
    // b's ack showed the open bar at S0 + 1000: it gets that bar's change only, in its own frame.
    expect(forB.candles).toStrictEqual([
      {
        symbol: 'AAPL',
        interval: '1s',
        bars: [{ start: S0 + 1000, open: 101, high: 102, low: 101, close: 102, volume: 2, ticks: 2, closed: false }],
      },
    ]);
    // Its own write (a's is shared with nobody yet, and carries S0's closed bar).
    expect(out.writes.filter((w) => w.at === 200).map((w) => w.viewers)).toEqual([['b'], ['a']]);
    // Settled: one write for both.
    apply('AAPL', 103, S0 + 2000);
    vi.advanceTimersByTime(100);
    expect(out.writes.at(-1)!.viewers).toEqual(['a', 'b']);
    expect(closedOf('b', 'AAPL', '1s').map((c) => c.start)).toEqual([S0 + 1000]);
    // A fresh re-subscription starts again from the ring as it is now: nothing before it repeats.
    throttler.assign(b, holding(100, ['AAPL'], ['1s']));
    apply('AAPL', 104, S0 + 3000);
    vi.advanceTimersByTime(100);
    expect(closedOf('b', 'AAPL', '1s').map((c) => c.start)).toEqual([S0 + 1000, S0 + 2000]);
  });

  it('keeps sending a lagging viewer its closed bars, holds back its open bar, then catches up once', () => {
    const a = viewer('a');
    const b = viewer('b');
    throttler.assign(a, holding(100, ['AAPL'], ['1s']));
    throttler.assign(b, holding(100, ['AAPL'], ['1s']));
    throttler.setLagging(a, true);
    apply('AAPL', 100, S0 + 10);
    vi.advanceTimersByTime(100);
    expect(out.framesOf('a')).toEqual([]); // an open bar only: it waits
    apply('AAPL', 101, S0 + 1010);
    apply('AAPL', 102, S0 + 2010);
    vi.advanceTimersByTime(100);
    // Both bars that closed, and no open bar, no quotes.
    expect(out.framesOf('a')).toStrictEqual([
      {
        v: FRAME_VERSION,
        candles: [
          {
            symbol: 'AAPL',
            interval: '1s',
            bars: [
              expect.objectContaining({ start: S0, close: 100, closed: true }),
              expect.objectContaining({ start: S0 + 1000, close: 101, closed: true }),
            ],
          },
        ],
      },
    ]);
    expect(out.framesOf('b').at(-1)!.quotes).toHaveLength(1);
    throttler.setLagging(a, false);
    apply('AAPL', 103, S0 + 2020);
    vi.advanceTimersByTime(100);
    expect(out.framesOf('a').at(-1)!.candles).toStrictEqual([
      {
        symbol: 'AAPL',
        interval: '1s',
        bars: [{ start: S0 + 2000, open: 102, high: 103, low: 102, close: 103, volume: 2, ticks: 2, closed: false }],
      },
    ]);
    expect(closedOf('a', 'AAPL', '1s')).toEqual(closedOf('b', 'AAPL', '1s'));
    apply('AAPL', 104, S0 + 3020);
    vi.advanceTimersByTime(100);
    expect(out.writes.at(-1)!.viewers).toEqual(['a', 'b']);
    expect(closedOf('a', 'AAPL', '1s')).toEqual(market.candleRing(idx('AAPL'), '1s').closed());
  });

  it('says gap: true when more bars closed between two frames than the ring keeps', () => {
    throttler.assign(viewer('a'), holding(100, ['KO'], ['1s']));
    const held = market.candleRing(idx('KO'), '1s').capacity;
    for (let n = 0; n <= held + 4; n++) apply('KO', 60 + (n % 5), S0 + n * 1000);
    vi.advanceTimersByTime(100);
    const [batch] = out.framesOf('a')[0]!.candles!;
    expect(batch!.gap).toBe(true);
    expect(batch!.bars.filter((c) => c.closed)).toHaveLength(held);
    expect(batch!.bars[0]!.start).toBe(S0 + 4000);
    expect(throttler.stats.candleGaps).toBe(1);
    apply('KO', 61, S0 + (held + 5) * 1000);
    vi.advanceTimersByTime(100);
    expect(out.framesOf('a')[1]!.candles![0]!.gap).toBeUndefined();
  });

  it('delivers candles at their tier only, each phase of a slow tier on its own flush', () => {
    const slow = viewer('slow', 3);
    throttler.assign(slow, holding(1000, ['MSFT'], ['5s']));
    for (let t = 0; t < 20; t++) {
      apply('MSFT', 400 + t, S0 + t * 500);
      vi.advanceTimersByTime(100);
    }
    // Phase 3 of the 1000 ms tier: at 300 ms, 1300 ms: one frame a second with quotes and candles.
    expect(out.writes.filter((w) => w.viewers.includes('slow')).map((w) => w.at)).toEqual([300, 1300]);
    expect(closedOf('slow', 'MSFT', '5s').map((c) => c.start)).toEqual([S0]);
  });

  it('keeps cursors across cluster syncs: the bars it missed come once, none it had comes again', () => {
    throttler.assign(viewer('a'), holding(100, ['AAPL'], ['1s', '5s']));
    // Another node that has been up longer: its rings hold bars (and counts) this one never had.
    const other = new MarketState(instruments, { historySeconds: 60, tradeHistory: TRADE_HISTORY });
    for (let n = 0; n < 5; n++) other.applyTick(tick('AAPL', 90 + n, S0 - 5000 + n * 1000, 1));
    const sync = (from: MarketState) =>
      market.importState(JSON.parse(JSON.stringify(from.exportState())) as ReturnType<MarketState['exportState']>);
    for (let n = 0; n < 40; n++) {
      const t = tick('AAPL', 100 + (n % 9), S0 + n * 400, 1);
      other.applyTick(t);
      // Ticks 12..19 miss this node (a lost batch); it adopts the other's state at 20.
      if (n < 12 || n >= 20) market.applyTick(t);
      if (n === 20) sync(other);
      if (n % 9 === 4) sync(market); // every node adopts its own sync too
      vi.advanceTimersByTime(100);
    }
    const i = idx('AAPL');
    for (const interval of ['1s', '5s'] as const) {
      const theirs = other.candleRing(i, interval);
      expect(market.candleRing(i, interval).closed()).toEqual(theirs.closed());
      expect(closedOf('a', 'AAPL', interval)).toEqual(theirs.closed().filter((c) => c.start >= S0));
    }
    expect(throttler.stats.candleGaps).toBe(0);
  });

  it('changes nothing for viewers without candles: byte-identical frames, no more encodings', () => {
    const run = (withCandles: boolean) => {
      throttler.stop();
      market = new MarketState(instruments, { historySeconds: 60, tradeHistory: TRADE_HISTORY });
      throttler = new Throttler(market, [100, 250, 1000]);
      out = new FakeOut();
      throttler.start(out);
      const plain = viewer('plain');
      const quotes = throttler.tiers.map((t) => (t === 100 ? [idx('AAPL'), idx('MSFT')] : []));
      throttler.assign(plain, { quotes, trades: [idx('AAPL')] });
      if (withCandles) throttler.assign(viewer('c'), holding(100, ['AAPL', 'MSFT'], ['1s', '5s']));
      const stringify = vi.spyOn(JSON, 'stringify');
      for (let n = 0; n < 30; n++) {
        apply('AAPL', 100 + (n % 4), S0 + n * 300);
        if (n % 2 === 0) apply('MSFT', 400 - (n % 3), S0 + n * 300 + 1);
        if (n % 3 === 0) market.applyTrade({ symbol: 'AAPL', ts: S0 + n * 300 + 2, price: 100, size: 1, side: 'buy' });
        vi.advanceTimersByTime(100);
      }
      const encodings = stringify.mock.calls.length;
      stringify.mockRestore();
      const plainJson = out.writes.filter((w) => w.viewers.includes('plain')).map((w) => w.json);
      return { plainJson, encodings, stats: { ...throttler.stats } };
    };
    const without = run(false);
    const withCandles = run(true);
    expect(without.plainJson.length).toBeGreaterThan(20);
    expect(withCandles.plainJson).toEqual(without.plainJson);
    expect(without.plainJson.every((j) => !j.includes('candles'))).toBe(true);
    // Today's cost: one encoding per changed quote and trade batch, one frame encoding per flush.
    expect(without.stats).toMatchObject({ candlesDelivered: 0, candleGaps: 0 });
    expect(without.encodings).toBe(countPieces(without.plainJson));
    // The candle viewer shares the quote and trade pieces and has candles besides.
    expect(withCandles.stats.candlesDelivered).toBeGreaterThan(0);
  });
});

/** Quotes and trade batches in a list of frame payloads: what one viewer's frames needed serialised. */
function countPieces(frames: string[]): number {
  return frames
    .map((j) => JSON.parse(j) as ViewerFrame)
    .reduce((n, f) => n + (f.quotes?.length ?? 0) + (f.trades?.length ?? 0), 0);
}
