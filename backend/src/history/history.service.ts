import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { CANDLE_INTERVALS, type Candle, type CandleInterval, type Trade } from '@tickdeck/protocol';
import { FeedBus } from '../cluster/feed-bus.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CANDLE_INTERVAL_LIST, MarketState } from '../market/market-state.js';
import type { BarRow, HistoryStore, RetentionCutoffs, SymbolStateRow, TradeRow } from './history-store.js';
import { PostgresHistoryStore } from './pg-store.js';
import { SqliteHistoryStore } from './sqlite-store.js';

const DAY_MS = 86_400_000;
/** A write taking longer than this marks the store degraded (a slow store), ms. */
const SLOW_WRITE_MS = 5000;

/** `GET /api/health`'s `history`: `off` with HISTORY_STORE=memory. */
export type HistoryHealth = 'ok' | 'degraded' | 'off';

/** The recorder's counters, read by the metrics at scrape time. */
export interface HistoryStats {
  writes: number;
  writeFailures: number;
  barsWritten: number;
  tradesWritten: number;
  /** Bars and trades dropped: the store kept failing and the queue was full, or a ring overwrote them first. */
  dropped: number;
  pruned: number;
  /** Duration of the last write, seconds. */
  lastWriteSeconds: number;
}

/**
 * Keeps the market's history across restarts through a {@link HistoryStore} (SQLite by default,
 * PostgreSQL with DATABASE_URL). Every HISTORY_WRITE_MS it collects the bars closed and the trades
 * made since the previous collection, and each symbol's last state, and writes them in one batch;
 * at start, before the feed, it restores the last states, the recent bars and the recent trades,
 * so prices, the day's figures, charts and the tape continue. Ticks and delivery never wait for
 * the store: a failing or slow store is logged once per outage, counted and shown as degraded,
 * the rows wait (up to HISTORY_MAX_PENDING each, the oldest dropped and counted) and go with the
 * next write that succeeds. On a shared store (PostgreSQL) only the node that owns the feed writes.
 */
@Injectable()
export class HistoryService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(HistoryService.name);
  private store: HistoryStore | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  /** Per symbol, per interval: the ring's closedCount at the previous collection. */
  private barCursors: number[][] = [];
  /** Per symbol: the trade seq at the previous collection. */
  private tradeCursors: number[] = [];
  private pendingBars: BarRow[] = [];
  private pendingTrades: TradeRow[] = [];
  private pendingStates = new Map<string, SymbolStateRow>();
  /** The write in flight, if any: one at a time. */
  private writing: Promise<void> | null = null;
  private writeStartedAt = 0;
  private failing = false;
  private slow = false;
  /** Dropped since the outage began (told when it ends). */
  private droppedInOutage = 0;
  private pruning = false;
  readonly stats: HistoryStats = {
    writes: 0,
    writeFailures: 0,
    barsWritten: 0,
    tradesWritten: 0,
    dropped: 0,
    pruned: 0,
    lastWriteSeconds: 0,
  };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
    @Optional() private readonly bus?: FeedBus,
  ) {}

  /** `sqlite`, `postgres` or `memory`. */
  get kind(): string {
    return this.store?.kind ?? 'memory';
  }

  /** Rows waiting for the store. */
  get pending(): number {
    return this.pendingBars.length + this.pendingTrades.length;
  }

  get health(): HistoryHealth {
    if (!this.store) return 'off';
    const stuck = this.writing !== null && Date.now() - this.writeStartedAt > SLOW_WRITE_MS;
    return this.failing || this.slow || stuck ? 'degraded' : 'ok';
  }

  async onModuleInit(): Promise<void> {
    const { writeMs, pruneMs } = this.config.history;
    this.store = await this.open();
    if (!this.store) return;
    try {
      await this.restore(this.store);
    } catch (err) {
      throw new Error(`${this.setting()}: cannot read the history store: ${(err as Error).message}`, { cause: err });
    }
    this.barCursors = this.market.symbols.map((_, i) =>
      CANDLE_INTERVAL_LIST.map((interval) => this.market.candleRing(i, interval).closedCount),
    );
    this.tradeCursors = this.market.symbols.map((_, i) => this.market.tradeSeqAt(i));
    this.timers.push(setInterval(() => void this.flush(), writeMs));
    this.timers.push(setInterval(() => void this.prune(), pruneMs));
    setTimeout(() => void this.prune(), Math.min(pruneMs, 5000)).unref();
    for (const t of this.timers) t.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const store = this.store;
    if (!store) return;
    await this.writing;
    await this.flush();
    await store.close();
  }

  /** Closed bars from the store and the rings, oldest first, the newest `limit`. */
  async closedBars(i: number, interval: CandleInterval, from: number, to: number, limit: number): Promise<Candle[]> {
    const ring = this.market.candleRing(i, interval).closed(from, to, limit);
    if (!this.store || limit <= 0) return ring;
    // The ring holds the newest bars: when it has `limit` of them (or reaches back to `from`), they are the answer.
    if (ring.length >= limit) return ring;
    const stored = await this.store.bars(this.market.symbols[i]!, interval, from, to, limit);
    if (ring.length === 0) return stored;
    const byStart = new Map(stored.map((b) => [b.start, b]));
    for (const b of ring) byStart.set(b.start, b);
    return [...byStart.values()].sort((a, b) => a.start - b.start).slice(-limit);
  }

  /** Trades with `seq < before`, newest first, the newest `limit`: the ring, then the store. */
  async trades(i: number, before: number, limit: number): Promise<Trade[]> {
    const held = this.market.recentTrades(i, Number.MAX_SAFE_INTEGER);
    const fromRing: Trade[] = [];
    for (let k = held.length - 1; k >= 0 && fromRing.length < limit; k--) {
      if (held[k]!.seq < before) fromRing.push(held[k]!);
    }
    if (!this.store || fromRing.length >= limit) return fromRing;
    const below = fromRing.length > 0 ? fromRing[fromRing.length - 1]!.seq : before;
    const stored = await this.store.trades(this.market.symbols[i]!, below, limit - fromRing.length);
    return fromRing.concat(stored);
  }

  /**
   * The recorder's tick: collects what closed and traded since the previous one (always, so the
   * rings never overwrite rows not yet taken), then writes it unless a write is still in flight.
   */
  async flush(): Promise<void> {
    const store = this.store;
    if (!store) return;
    this.collect();
    // A shared store is written by the node that owns the feed; the others only read it.
    if (store.shared && this.bus && !this.bus.ownsFeed) {
      this.pendingBars = [];
      this.pendingTrades = [];
      this.pendingStates.clear();
      return;
    }
    if (this.writing) {
      if (!this.slow && Date.now() - this.writeStartedAt > SLOW_WRITE_MS) {
        this.slow = true;
        this.logger.warn(`history store ${store.where}: a write has taken over ${SLOW_WRITE_MS} ms; rows wait`);
      }
      return;
    }
    const bars = this.pendingBars;
    const trades = this.pendingTrades;
    const states = [...this.pendingStates.values()];
    if (bars.length === 0 && trades.length === 0 && states.length === 0) return;
    this.pendingBars = [];
    this.pendingTrades = [];
    this.pendingStates.clear();
    this.writeStartedAt = Date.now();
    const started = performance.now();
    this.writing = store
      .write({ bars, trades, states })
      .then(
        () => {
          const ms = performance.now() - started;
          this.stats.writes++;
          this.stats.barsWritten += bars.length;
          this.stats.tradesWritten += trades.length;
          this.stats.lastWriteSeconds = ms / 1000;
          if (this.failing) {
            this.logger.log(
              `history store ${store.where} writes again; ${this.droppedInOutage} rows dropped meanwhile`,
            );
          }
          this.failing = false;
          this.slow = ms > SLOW_WRITE_MS;
          this.droppedInOutage = 0;
        },
        (err: unknown) => {
          this.stats.writeFailures++;
          if (!this.failing) {
            this.logger.error(`history store ${store.where}: write failed, retrying: ${(err as Error).message}`);
          }
          this.failing = true;
          // Back in front of what came meanwhile, in order; states newer than these stay.
          this.pendingBars = this.bound(bars.concat(this.pendingBars));
          this.pendingTrades = this.bound(trades.concat(this.pendingTrades));
          for (const s of states) if (!this.pendingStates.has(s.symbol)) this.pendingStates.set(s.symbol, s);
        },
      )
      .finally(() => {
        this.writing = null;
      });
    await this.writing;
  }

  /** Deletes what retention no longer keeps (HISTORY_RETENTION_*). */
  async prune(): Promise<void> {
    const store = this.store;
    if (!store || this.pruning || (store.shared && this.bus && !this.bus.ownsFeed)) return;
    const now = Date.now();
    const { retentionDays } = this.config.history;
    const cutoffs: RetentionCutoffs = { symbols: this.market.symbols, bars: {} };
    for (const interval of CANDLE_INTERVAL_LIST) {
      const days = retentionDays[interval];
      // A bar is kept while any of it is inside the window.
      if (days > 0) cutoffs.bars[interval] = now - days * DAY_MS - CANDLE_INTERVALS[interval];
    }
    if (retentionDays.trades > 0) cutoffs.trades = now - retentionDays.trades * DAY_MS;
    this.pruning = true;
    try {
      const n = await store.prune(cutoffs);
      this.stats.pruned += n;
      if (n > 0) this.logger.debug(`history retention deleted ${n} rows`);
    } catch (err) {
      this.logger.warn(`history store ${store.where}: retention failed, retrying later: ${(err as Error).message}`);
    } finally {
      this.pruning = false;
    }
  }

  private collect(): void {
    const market = this.market;
    for (let i = 0; i < market.size; i++) {
      const symbol = market.symbols[i]!;
      const cursors = this.barCursors[i]!;
      for (let k = 0; k < CANDLE_INTERVAL_LIST.length; k++) {
        const interval = CANDLE_INTERVAL_LIST[k]!;
        const ring = market.candleRing(i, interval);
        const cursor = cursors[k]!;
        // Past the cursor: the ring was replaced (a cluster sync); take what it holds.
        let bars = cursor <= ring.closedCount ? ring.closedAfter(cursor) : ring.closed();
        if (bars === null) {
          bars = ring.closed();
          this.stats.dropped += ring.closedCount - cursor - bars.length;
        }
        for (const bar of bars) this.pendingBars.push({ symbol, interval, bar });
        cursors[k] = ring.closedCount;
      }
      const seq = market.tradeSeqAt(i);
      const prev = this.tradeCursors[i]!;
      if (seq !== prev) {
        let trades = seq > prev ? market.tradesAfter(i, prev) : null;
        if (trades === null) {
          trades = market.recentTrades(i, Number.MAX_SAFE_INTEGER);
          if (seq > prev) this.stats.dropped += Math.max(0, seq - prev - trades.length);
        }
        for (const trade of trades) this.pendingTrades.push({ symbol, trade });
        this.tradeCursors[i] = seq;
      }
      const q = market.quoteState(i);
      if (q.seq > 0 || q.ts > 0) {
        const { ts, last, bid, ask, open, high, low, volume } = q;
        this.pendingStates.set(symbol, {
          symbol,
          ts,
          last,
          bid,
          ask,
          open,
          high,
          low,
          volume,
          dayEnd: market.dayEndAt(i),
        });
      }
    }
    this.pendingBars = this.bound(this.pendingBars);
    this.pendingTrades = this.bound(this.pendingTrades);
  }

  /** Keeps the newest HISTORY_MAX_PENDING rows, counting the rest as dropped. */
  private bound<T>(rows: T[]): T[] {
    const over = rows.length - this.config.history.maxPending;
    if (over <= 0) return rows;
    this.stats.dropped += over;
    this.droppedInOutage += over;
    return rows.slice(over);
  }

  /** The setting an unusable store is named by (never the URL itself: it may hold a password). */
  private setting(): string {
    return this.config.history.store === 'postgres' ? 'DATABASE_URL' : `DATA_DIR=${this.config.history.dataDir}`;
  }

  private async open(): Promise<HistoryStore | null> {
    const { store, dataDir, databaseUrl, writeMs } = this.config.history;
    if (store === 'memory') return null;
    let opened: HistoryStore;
    try {
      opened =
        store === 'postgres' ? await PostgresHistoryStore.open(databaseUrl!) : await SqliteHistoryStore.open(dataDir);
    } catch (err) {
      throw new Error(`${this.setting()}: cannot open the history store: ${(err as Error).message}`, { cause: err });
    }
    this.logger.log(`history in ${store} ${opened.where}, written every ${writeMs} ms`);
    return opened;
  }

  private async restore(store: HistoryStore): Promise<void> {
    const market = this.market;
    const { tradeHistory } = this.config;
    let restored = 0;
    for (const state of await store.states()) {
      const i = market.indexOf(state.symbol);
      if (i < 0) continue;
      market.restoreSymbol(i, state);
      for (const interval of CANDLE_INTERVAL_LIST) {
        const ring = market.candleRing(i, interval);
        ring.load(await store.bars(state.symbol, interval, -Infinity, Infinity, ring.capacity));
      }
      market.restoreTrades(i, (await store.trades(state.symbol, Infinity, tradeHistory)).reverse());
      restored++;
    }
    this.logger.log(`restored ${restored} symbols from ${store.where}`);
  }
}
