import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Candle, CandleInterval } from '@tickdeck/protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CANDLE_INTERVAL_LIST, MarketState } from '../market/market-state.js';
import { SqliteHistoryStore, type BarRow, type SymbolStateRow } from './sqlite-store.js';

/** Rows waiting for the store at most (a store that keeps failing): past it the oldest go, counted. */
const MAX_PENDING_BARS = 200_000;

/**
 * Keeps the market's history across restarts (HISTORY_STORE=sqlite, the default): every
 * HISTORY_WRITE_MS it writes the bars closed since the previous write and each symbol's last
 * state in one transaction; at start, before the feed, it restores the last state and the recent
 * bars, so prices, the day's figures and charts continue. A failing write is logged once per
 * outage and retried with the next batch; ticks and delivery never wait for it.
 */
@Injectable()
export class HistoryService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(HistoryService.name);
  private store: SqliteHistoryStore | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Per symbol, per interval: the ring's closedCount at the previous collection. */
  private cursors: number[][] = [];
  private pending: BarRow[] = [];
  private failing = false;
  /** Bars dropped because the store kept failing and the queue was full (told when it recovers). */
  private dropped = 0;
  /** Symbols restored at start. */
  private restored = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
  ) {}

  onModuleInit(): void {
    const { store, dataDir, writeMs } = this.config.history;
    if (store === 'memory') return;
    try {
      this.store = new SqliteHistoryStore(dataDir);
    } catch (err) {
      throw new Error(`DATA_DIR=${dataDir}: cannot open the history store: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.restore(this.store);
    this.cursors = this.market.symbols.map((_, i) =>
      CANDLE_INTERVAL_LIST.map((interval) => this.market.candleRing(i, interval).closedCount),
    );
    this.timer = setInterval(() => this.flush(), writeMs);
    this.timer.unref();
    this.logger.log(`history in ${this.store.path} (restored ${this.restored} symbols), written every ${writeMs} ms`);
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
    if (!this.store) return;
    this.flush();
    this.store.close();
  }

  /** Closed bars from the store and the rings, oldest first, the newest `limit`. */
  closedBars(i: number, interval: CandleInterval, from: number, to: number, limit: number): Candle[] {
    const ring = this.market.candleRing(i, interval).closed(from, to, limit);
    if (!this.store || limit <= 0) return ring;
    const stored = this.store.bars(this.market.symbols[i]!, interval, from, to, limit);
    const byStart = new Map(stored.map((b) => [b.start, b]));
    for (const b of ring) byStart.set(b.start, b);
    return [...byStart.values()].sort((a, b) => a.start - b.start).slice(-limit);
  }

  /** Writes what closed since the previous write, and the last states (the recorder's tick). */
  flush(): void {
    const store = this.store;
    if (!store) return;
    const market = this.market;
    const states: SymbolStateRow[] = [];
    market.symbols.forEach((symbol, i) => {
      CANDLE_INTERVAL_LIST.forEach((interval, k) => {
        const ring = market.candleRing(i, interval);
        const cursor = this.cursors[i]![k]!;
        const bars = ring.closedAfter(cursor) ?? ring.closed();
        for (const bar of bars) this.pending.push({ symbol, interval, bar });
        this.cursors[i]![k] = ring.closedCount;
      });
      const q = market.quoteState(i);
      if (q.seq > 0 || q.ts > 0) {
        states.push({
          symbol,
          ts: q.ts,
          last: q.last,
          bid: q.bid,
          ask: q.ask,
          open: q.open,
          high: q.high,
          low: q.low,
          volume: q.volume,
          dayEnd: market.dayEndAt(i),
        });
      }
    });
    if (this.pending.length > MAX_PENDING_BARS) {
      const over = this.pending.length - MAX_PENDING_BARS;
      this.pending.splice(0, over);
      this.dropped += over;
    }
    try {
      store.write({ bars: this.pending, states });
      this.pending = [];
      if (this.failing) {
        this.logger.log(`history store ${store.path} writes again; ${this.dropped} bars dropped meanwhile`);
        this.dropped = 0;
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing)
        this.logger.error(`history store ${store.path}: write failed, retrying: ${(err as Error).message}`);
      this.failing = true;
    }
  }

  private restore(store: SqliteHistoryStore): void {
    const market = this.market;
    for (const state of store.states()) {
      const i = market.indexOf(state.symbol);
      if (i < 0) continue;
      market.restoreSymbol(i, state);
      for (const interval of CANDLE_INTERVAL_LIST) {
        const ring = market.candleRing(i, interval);
        ring.load(store.bars(state.symbol, interval, -Infinity, Infinity, ring.capacity));
      }
      this.restored++;
    }
  }
}
