import { PriceSeries, type Point } from './series';

/** Loads the last `seconds` of one symbol's price history, oldest first. */
export type HistoryLoader = (symbol: string, seconds: number) => Promise<Point[]>;

/** The fields of a quote or snapshot a chart plots. */
export interface PricePoint {
  symbol: string;
  ts: number;
  last: number;
}

/**
 * The series of every open chart: backfilled from history when opened, fed by the quotes the
 * market store accepted (so never one at or below a snapshot's seq), topped up from history
 * after a reconnect so the line bridges the outage, and drawn again from history when the
 * gateway's epoch changed. Plain TypeScript: chart data is not state.
 */
export class ChartFeed {
  #series = new Map<string, PriceSeries>();
  #loadHistory: HistoryLoader;
  #now: () => number;

  constructor(loadHistory: HistoryLoader, now: () => number = Date.now) {
    this.#loadHistory = loadHistory;
    this.#now = now;
  }

  /**
   * Opens the chart of `symbol` (a new series, replacing any) and starts its backfill. A window
   * change closes the chart and opens it again, so it refetches.
   */
  open(symbol: string, windowMs: number): PriceSeries {
    const series = new PriceSeries(windowMs);
    this.#series.set(symbol, series);
    this.#backfill(symbol, series, windowMs);
    return series;
  }

  close(symbol: string): void {
    this.#series.delete(symbol);
  }

  get(symbol: string): PriceSeries | undefined {
    return this.#series.get(symbol);
  }

  /** Symbols with an open chart. */
  symbols(): string[] {
    return [...this.#series.keys()];
  }

  /** Plots accepted quotes (or snapshots) of the open charts. */
  apply(points: readonly PricePoint[]): void {
    for (const p of points) this.#series.get(p.symbol)?.push(p.ts, p.last);
  }

  /** After a reconnect: fetch what happened since each line's newest point. */
  resync(): void {
    for (const [symbol, series] of this.#series) {
      const lastX = series.lastX;
      if (lastX === undefined) continue;
      const gapMs = Math.min(series.windowMs, Math.max(0, this.#now() - lastX));
      this.#backfill(symbol, series, gapMs + 1000);
    }
  }

  /**
   * A new epoch: every line held (and any backfill in flight) is another run's. Each chart starts
   * over from the new run's history, and from the quotes applied after this.
   */
  reset(): void {
    for (const [symbol, series] of this.#series) {
      series.clear();
      this.#backfill(symbol, series, series.windowMs);
    }
  }

  #backfill(symbol: string, series: PriceSeries, windowMs: number): void {
    if (series.backfilling) return;
    const ticket = series.beginBackfill();
    const seconds = Math.max(1, Math.ceil(windowMs / 1000));
    this.#loadHistory(symbol, seconds).then(
      (points) => series.completeBackfill(points, ticket),
      // No history (gateway gone again): the live points continue the line anyway.
      () => series.completeBackfill([], ticket),
    );
  }
}
