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
 * market store accepted (so never one at or below a snapshot's seq), and topped up from history
 * after a reconnect so the line bridges the outage. Plain TypeScript: chart data is not state.
 */
export class ChartFeed {
  #series = new Map<string, PriceSeries>();
  #loadHistory: HistoryLoader;
  #now: () => number;

  constructor(loadHistory: HistoryLoader, now: () => number = Date.now) {
    this.#loadHistory = loadHistory;
    this.#now = now;
  }

  /** Opens (or re-windows) the chart of `symbol` and starts its backfill. */
  open(symbol: string, windowMs: number): PriceSeries {
    let series = this.#series.get(symbol);
    if (series) {
      const grew = windowMs > series.windowMs;
      series.setWindow(windowMs);
      if (grew) this.#backfill(symbol, series, windowMs);
      return series;
    }
    series = new PriceSeries(windowMs);
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

  #backfill(symbol: string, series: PriceSeries, windowMs: number): void {
    if (series.backfilling) return;
    series.beginBackfill();
    const seconds = Math.max(1, Math.ceil(windowMs / 1000));
    this.#loadHistory(symbol, seconds).then(
      (points) => series.completeBackfill(points),
      // No history (gateway gone again): the live points continue the line anyway.
      () => series.completeBackfill([]),
    );
  }
}
