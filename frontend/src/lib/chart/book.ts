import type { Candle, CandleBatch, CandleInterval } from '@tickdeck/protocol';
import { BarStore } from './bars';
import { INTERVAL_MS } from './intervals';

/** A `GET /api/candles` query: `from <= start < to`, the newest `limit` bars. */
export interface CandleQuery {
  from?: number;
  to?: number;
  limit: number;
}

/** Loads bars of one pair from REST, oldest first. */
export type CandleLoader = (symbol: string, interval: CandleInterval, query: CandleQuery) => Promise<Candle[]>;

export interface ChartBookOptions {
  /** Bars per page when opening a chart and paging back in time. */
  pageSize?: number;
  /** Bars a refetch after a gap asks for at most. */
  refetchLimit?: number;
  /** First pause before retrying a failed load, in ms (doubles up to 30 s). */
  retryMs?: number;
  /** Timer for retries (tests pass their own). */
  setTimer?: (fn: () => void, ms: number) => unknown;
}

/**
 * One (symbol, interval) pair: its bars and where their loading stands. Opened by a chart,
 * fed by {@link ChartBook}.
 */
export class CandleSeries {
  readonly store = new BarStore();
  readonly intervalMs: number;
  /** A request for the newest bars (the first page or a refetch) is in flight. */
  loading = false;
  /** A page of older bars is in flight. */
  loadingOlder = false;
  /** The first page has landed (since the last reset). */
  loaded = false;
  /** Counts resets: an answer to a request sent before the latest one lands nowhere. */
  ticket = 0;
  /** Counts starts of the live stream (acks naming this pair). */
  liveGen = 0;
  /** `liveGen` when the latest request for the newest bars that landed was sent (-1: none yet). */
  coveredGen = -1;
  /** A refetch from this start is due (the earliest asked for). */
  refetchFrom: number | undefined;
  /** The unsettled bar last refetched for, so one that stays open is not asked for in a loop. */
  settling: number | undefined;
  refs = 0;
  retryMs = 0;
  #listeners = new Set<() => void>();

  constructor(
    readonly symbol: string,
    readonly interval: CandleInterval,
  ) {
    this.intervalMs = INTERVAL_MS[interval];
  }

  /** Calls `listener` after every change of the bars or the loading state; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

const key = (symbol: string, interval: CandleInterval) => `${symbol}/${interval}`;

/**
 * The bars of every open chart. REST gives the history (`GET /api/candles`), the live stream the
 * rest (`subscribe {candles}`: the ack's open bar, then each frame's batch). The rules:
 *
 * - bars merge by `start` and version ({@link BarStore}); live never brings a bar older than the
 *   newest closed one held;
 * - every ack naming a pair (re)starts its live stream: what closed before it and after the
 *   latest REST request was sent is fetched again, from the newest closed bar (a reconnect's gap);
 * - a batch with `gap`, or an open bar left behind a newer one, refetches from that point;
 * - an ack of another epoch clears every pair and loads it again.
 *
 * Plain TypeScript: the charts read the stores and redraw on {@link CandleSeries.onChange}.
 */
export class ChartBook {
  #series = new Map<string, CandleSeries>();
  #load: CandleLoader;
  #epoch: string | undefined;
  readonly pageSize: number;
  readonly refetchLimit: number;
  #retryMs: number;
  #setTimer: (fn: () => void, ms: number) => unknown;

  constructor(load: CandleLoader, options: ChartBookOptions = {}) {
    this.#load = load;
    this.pageSize = options.pageSize ?? 500;
    this.refetchLimit = options.refetchLimit ?? 5000;
    this.#retryMs = options.retryMs ?? 2000;
    this.#setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  }

  /** The epoch of the latest ack, which the bars held belong to. */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** Opens (or shares) the series of a pair and starts loading it. Pair with {@link release}. */
  open(symbol: string, interval: CandleInterval): CandleSeries {
    let series = this.#series.get(key(symbol, interval));
    if (!series) {
      series = new CandleSeries(symbol, interval);
      this.#series.set(key(symbol, interval), series);
      this.#forward(series);
    }
    series.refs++;
    return series;
  }

  release(series: CandleSeries): void {
    if (--series.refs > 0) return;
    if (this.#series.get(key(series.symbol, series.interval)) === series) {
      this.#series.delete(key(series.symbol, series.interval));
    }
    series.ticket++;
  }

  get(symbol: string, interval: CandleInterval): CandleSeries | undefined {
    return this.#series.get(key(symbol, interval));
  }

  /** Every open series. */
  all(): CandleSeries[] {
    return [...this.#series.values()];
  }

  /** A subscribe ack: its epoch, and the open bars of the pairs it names. */
  applyAck(ack: { epoch: string; candles?: readonly CandleBatch[] }): void {
    if (this.#epoch !== undefined && ack.epoch !== this.#epoch) {
      // Another run: its bars may differ from what is held (a store that lost the last writes, or
      // none at all). Drop everything and load it again.
      for (const series of this.#series.values()) this.#reset(series);
    }
    this.#epoch = ack.epoch;
    for (const batch of ack.candles ?? []) {
      const series = this.get(batch.symbol, batch.interval);
      if (!series) continue;
      series.liveGen++;
      series.store.mergeLive(batch.bars);
      series.changed();
    }
    for (const series of this.#series.values()) {
      if (!series.loaded || series.coveredGen < series.liveGen) this.#forward(series);
    }
  }

  /** One live batch of a frame. */
  applyBatch(batch: CandleBatch): void {
    const series = this.get(batch.symbol, batch.interval);
    if (!series) return;
    const floor = series.store.newestClosed;
    const { changed } = series.store.mergeLive(batch.bars);
    if (batch.gap) this.#refetch(series, floor);
    this.#settle(series);
    if (changed) series.changed();
  }

  /** Loads the page of bars before the oldest held, if there may be one and none is in flight. */
  loadOlder(series: CandleSeries): void {
    const oldest = series.store.oldest;
    if (series.loadingOlder || !series.loaded || !series.store.hasOlder || !oldest) return;
    series.loadingOlder = true;
    const ticket = series.ticket;
    const limit = this.pageSize;
    series.changed();
    this.#load(series.symbol, series.interval, { to: oldest.start, limit }).then(
      (page) => {
        if (ticket !== series.ticket) return;
        series.loadingOlder = false;
        series.store.mergeOlder(page, limit);
        series.changed();
      },
      () => {
        if (ticket !== series.ticket) return;
        // Asked again the next time the chart nears its oldest bar.
        series.loadingOlder = false;
        series.changed();
      },
    );
  }

  #reset(series: CandleSeries): void {
    series.store.clear();
    series.ticket++;
    series.loading = false;
    series.loadingOlder = false;
    series.loaded = false;
    series.coveredGen = -1;
    series.refetchFrom = undefined;
    series.settling = undefined;
    series.changed();
  }

  /**
   * A bar left open behind a newer one closed unseen: fetch from it. While a request is in flight
   * this waits for its answer, which may settle the bar; a bar still open in the answer to a
   * request sent for it is not asked for again (no loop on a gateway that keeps it open).
   */
  #settle(series: CandleSeries): void {
    if (series.loading) return;
    const unsettled = series.store.unsettled();
    if (unsettled === undefined) series.settling = undefined;
    else if (unsettled !== series.settling) {
      series.settling = unsettled;
      this.#refetch(series, unsettled);
    }
  }

  #refetch(series: CandleSeries, from: number | undefined): void {
    const start = from ?? series.store.oldest?.start;
    if (start !== undefined) series.refetchFrom = Math.min(series.refetchFrom ?? start, start);
    else series.coveredGen = -1;
    this.#forward(series);
  }

  /**
   * The one request toward the present a series has in flight: its first page, or a refetch from
   * the newest closed bar (or an earlier start asked for). When it lands, another follows if the
   * live stream restarted after it was sent or a refetch was asked for meanwhile.
   */
  #forward(series: CandleSeries): void {
    if (series.loading) return;
    const store = series.store;
    const from = series.loaded ? (series.refetchFrom ?? store.newestClosed ?? store.oldest?.start) : undefined;
    series.refetchFrom = undefined;
    const latest = from === undefined;
    const limit = latest ? this.pageSize : this.refetchLimit;
    const query: CandleQuery = latest ? { limit } : { from, limit };
    const ticket = series.ticket;
    const gen = series.liveGen;
    series.loading = true;
    this.#load(series.symbol, series.interval, query).then(
      (page) => {
        if (ticket !== series.ticket) return;
        series.loading = false;
        series.retryMs = 0;
        if (latest) store.mergeLatest(page, limit);
        else store.mergeSince(from, page, limit);
        series.loaded = true;
        series.coveredGen = Math.max(series.coveredGen, gen);
        this.#settle(series);
        if (series.refetchFrom !== undefined || series.coveredGen < series.liveGen) this.#forward(series);
        series.changed();
      },
      () => {
        if (ticket !== series.ticket) return;
        series.loading = false;
        if (!latest) series.refetchFrom = Math.min(series.refetchFrom ?? from, from);
        series.retryMs = Math.min(30_000, series.retryMs === 0 ? this.#retryMs : series.retryMs * 2);
        this.#setTimer(() => {
          if (ticket === series.ticket && series.refs > 0) this.#forward(series);
        }, series.retryMs);
        series.changed();
      },
    );
  }
}
