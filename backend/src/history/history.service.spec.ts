import { DEFAULT_INSTRUMENTS, type Candle, type CandleInterval, type Trade } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import type { FeedBus } from '../cluster/feed-bus.js';
import { loadConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import type {
  BarRow,
  HistoryBatch,
  HistoryStore,
  RetentionCutoffs,
  SymbolStateRow,
  TradeRow,
} from './history-store.js';
import { HistoryService } from './history.service.js';

const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);

/** A store in memory whose writes can be made to fail or to hang. */
class FakeStore implements HistoryStore {
  readonly kind = 'sqlite';
  readonly where = 'fake';
  batches: HistoryBatch[] = [];
  fail = false;
  hang: Promise<void> | null = null;
  writesStarted = 0;
  constructor(readonly shared = false) {}
  async write(batch: HistoryBatch): Promise<void> {
    this.writesStarted++;
    if (this.hang) await this.hang;
    if (this.fail) throw new Error('disk I/O error');
    this.batches.push(structuredClone(batch));
  }
  async bars(_s: string, _i: CandleInterval, _f: number, _t: number, _l: number): Promise<Candle[]> {
    return [];
  }
  async trades(): Promise<Trade[]> {
    return [];
  }
  async states(): Promise<SymbolStateRow[]> {
    return [];
  }
  async prune(_c: RetentionCutoffs): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {}
  writtenBars(): BarRow[] {
    return this.batches.flatMap((b) => b.bars);
  }
  writtenTrades(): TradeRow[] {
    return this.batches.flatMap((b) => b.trades);
  }
}

function setup(opts: { maxPending?: number; shared?: boolean; owns?: boolean } = {}) {
  const config = loadConfig({ SYMBOLS: 'AAPL', HISTORY_MAX_PENDING: String(opts.maxPending ?? 1000) });
  const market = new MarketState(
    DEFAULT_INSTRUMENTS.filter((i) => i.symbol === 'AAPL'),
    { historySeconds: 60, tradeHistory: 100 },
  );
  const bus = opts.owns === undefined ? undefined : ({ ownsFeed: opts.owns } as FeedBus);
  const service = new HistoryService(config, market, bus);
  const store = new FakeStore(opts.shared);
  // As onModuleInit leaves it, without opening a real store or starting timers.
  Object.assign(service, { store, barCursors: [[0, 0, 0, 0, 0, 0, 0]], tradeCursors: [0] });
  let ts = T0;
  /** `n` seconds of ticks (one per 250 ms) and a trade per second. */
  const run = (n: number) => {
    for (let k = 0; k < n * 4; k++) {
      ts += 250;
      market.applyTick({ symbol: 'AAPL', ts, last: 100 + k, bid: 99, ask: 101, volume: 1 });
      if (k % 4 === 0) market.applyTrade({ symbol: 'AAPL', ts, price: 100, size: 1, side: 'buy' });
    }
  };
  return { service, store, market, run };
}

describe(HistoryService.name, () => {
  it('writes every closed 1s bar and every trade once, in order, with the last state', async () => {
    const { service, store, run } = setup();
    run(3);
    await service.flush();
    run(2);
    await service.flush();
    await service.flush();
    const starts = store
      .writtenBars()
      .filter((b) => b.interval === '1s')
      .map((b) => b.bar.start);
    expect(starts).toEqual([0, 1, 2, 3, 4].map((k) => T0 + k * 1000));
    expect(store.writtenTrades().map((t) => t.trade.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(store.batches.at(-1)!.states[0]).toMatchObject({ symbol: 'AAPL', volume: 20 });
    expect(service.health).toBe('ok');
  });

  it('keeps the rows of a failed write and writes them, in order, with the next one; degraded meanwhile', async () => {
    const { service, store, run } = setup();
    run(2);
    store.fail = true;
    await service.flush();
    expect(service.health).toBe('degraded');
    expect(service.stats.writeFailures).toBe(1);
    run(2);
    await service.flush();
    expect(service.pending).toBeGreaterThan(0);
    store.fail = false;
    await service.flush();
    expect(service.health).toBe('ok');
    expect(service.pending).toBe(0);
    expect(store.writtenTrades().map((t) => t.trade.seq)).toEqual([1, 2, 3, 4]);
    const starts = store
      .writtenBars()
      .filter((b) => b.interval === '1s')
      .map((b) => b.bar.start);
    expect(starts).toEqual([0, 1, 2, 3].map((k) => T0 + k * 1000));
  });

  it('drops the oldest rows past HISTORY_MAX_PENDING and counts them', async () => {
    const { service, store, run } = setup({ maxPending: 1000 });
    store.fail = true;
    // 1,500 trades, while the store fails.
    for (let k = 0; k < 15; k++) {
      run(100);
      await service.flush();
    }
    expect(service.pending).toBeLessThanOrEqual(2000);
    store.fail = false;
    await service.flush();
    const seqs = store.writtenTrades().map((t) => t.trade.seq);
    expect(seqs).toHaveLength(1000);
    expect(seqs[0]).toBe(501);
    expect(seqs.at(-1)).toBe(1500);
    expect(service.stats.dropped).toBeGreaterThanOrEqual(500);
  });

  it('starts one write at a time: rows collected meanwhile go with the next', async () => {
    const { service, store, run } = setup();
    let release!: () => void;
    store.hang = new Promise((r) => (release = r));
    run(2);
    const first = service.flush();
    run(2);
    await service.flush();
    expect(store.writesStarted).toBe(1);
    store.hang = null;
    release();
    await first;
    await service.flush();
    expect(store.writesStarted).toBe(2);
    expect(store.writtenTrades().map((t) => t.trade.seq)).toEqual([1, 2, 3, 4]);
  });

  it('on a shared store writes only while this node owns the feed', async () => {
    const follower = setup({ shared: true, owns: false });
    follower.run(3);
    await follower.service.flush();
    expect(follower.store.writesStarted).toBe(0);
    expect(follower.service.pending).toBe(0);
    const owner = setup({ shared: true, owns: true });
    owner.run(3);
    await owner.service.flush();
    expect(owner.store.writesStarted).toBe(1);
  });
});
