import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { MarketSimulator } from '../market-simulator.js';
import type { Pending } from './publisher.js';
import { ModelSource, RecordingSource, type Recorded } from './sources.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const empty = (): Pending => ({ ticks: [], trades: [] });

describe(ModelSource.name, () => {
  it('ends at exactly the ticks the model has at the duration, however the pulls were sliced', async () => {
    const options = { seed: 5, rate: 20_000, startTime: 0 };
    const source = new ModelSource(new MarketSimulator(options), 20_000, 100, 60);
    const got: FeedTick[] = [];
    while (!source.done()) {
      const batch = empty();
      source.pull(batch, 100);
      got.push(...batch.ticks);
      await sleep(5);
    }
    const want: FeedTick[] = [];
    new MarketSimulator(options).advanceTo(60, { tick: (t) => want.push(t), trade: () => undefined });
    expect(got).toEqual(want);
    expect(source.caughtUp()).toBe(true);
  });

  it('resumes from the present after a resync: no burst of the ticks due while away', async () => {
    const source = new ModelSource(new MarketSimulator({ seed: 5, rate: 10_000 }), 10_000, 100_000, Infinity);
    await sleep(200);
    source.resync();
    const got = empty();
    source.pull(got, 100_000);
    // 200 ms at 10,000 ticks/s would be ~2,000 ticks; after the resync only the last moment is due.
    expect(got.ticks.length).toBeLessThan(300);
  });
});

describe(RecordingSource.name, () => {
  const tick = (ts: number): Recorded => ({ type: 'tick', symbol: 'AAPL', ts, last: 1, bid: 1, ask: 1, volume: 0 });
  const trade = (ts: number): Recorded => ({ type: 'trade', symbol: 'AAPL', ts, price: 1, size: 1, side: 'buy' });

  it('at max speed yields everything in order, ticks and trades apart, then is done', () => {
    const source = new RecordingSource([trade(1000), tick(1000), tick(1005)], Infinity, false);
    const got = empty();
    source.pull(got, 10);
    expect(got.ticks.map((t) => t.ts)).toEqual([1000, 1005]);
    expect(got.trades).toEqual([{ symbol: 'AAPL', ts: 1000, price: 1, size: 1, side: 'buy' } satisfies FeedTrade]);
    expect(got.ticks[0]).not.toHaveProperty('type');
    expect(source.done()).toBe(true);
  });

  it('loops with timestamps shifted by the span, so feed time keeps moving forward', () => {
    const source = new RecordingSource([tick(1000), tick(1005)], Infinity, true);
    const got = empty();
    source.pull(got, 6);
    expect(got.ticks.map((t) => t.ts)).toEqual([1000, 1005, 1006, 1011, 1012, 1017]);
    expect(source.done()).toBe(false);
  });

  it('keeps the recorded spacing divided by the speed', async () => {
    const source = new RecordingSource([tick(0), tick(1000), tick(100_000)], 10, false);
    const got = empty();
    source.pull(got, 10);
    expect(got.ticks.map((t) => t.ts)).toEqual([0]);
    await sleep(120);
    source.pull(got, 10);
    expect(got.ticks.map((t) => t.ts)).toEqual([0, 1000]);
    expect(source.caughtUp()).toBe(true);
    expect(source.done()).toBe(false);
  });
});
