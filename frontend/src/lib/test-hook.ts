import type { Point } from './chart/series';
import { liveCharts } from './chart/price-chart';
import type { MarketStore } from './market.svelte';
import type { ToastStore } from './toasts.svelte';
import type { TradeStore } from './trades.svelte';

/** What the browser tests and the bench read from the page (`window.__tickdeck`); read-only. */
export interface PageHook {
  connection(): string;
  /** Quotes applied for `symbol` since load. */
  quoteCount(symbol: string): number;
  /** Each drawn chart's data, read from the chart.js instance itself. */
  charts(): { symbol: string; points: number; drawn: number; xs: number[] }[];
  toasts(): { title: string; body: string }[];
  tape(): number;
  /** The tape's lines, newest first: trades with their id, seq and feed time; marks with theirs. */
  tapeEntries(): TapeLine[];
  /** The epoch the page's seqs count in (the latest ack's). */
  epoch(): string | undefined;
}

/** One trade-tape line as {@link PageHook.tapeEntries} reports it. */
export type TapeLine =
  { kind: 'trade'; symbol: string; id: string; seq: number; ts: number } | { kind: 'gap' | 'restart'; ts: number };

declare global {
  interface Window {
    __tickdeck?: PageHook;
  }
}

export function installPageHook(stores: { market: MarketStore; toasts: ToastStore; trades: TradeStore }): void {
  window.__tickdeck = {
    connection: () => stores.market.connection.state,
    quoteCount: (symbol) => stores.market.quoteCount(symbol),
    charts: () =>
      [...liveCharts].map(([symbol, chart]) => {
        const dataset = chart.data.datasets[0]!;
        // With decimation on, chart.js keeps the full data in `_data` and draws `data`.
        const raw = (dataset as { _data?: Point[] })._data ?? dataset.data;
        return { symbol, points: raw.length, drawn: chart.getDatasetMeta(0).data.length, xs: raw.map((p) => p.x) };
      }),
    toasts: () => stores.toasts.toasts.map(({ title, body }) => ({ title, body })),
    tape: () => stores.trades.tape.length,
    tapeEntries: () =>
      stores.trades.tape.map((e) =>
        e.kind === 'trade'
          ? { kind: e.kind, symbol: e.symbol, id: e.trade.id, seq: e.trade.seq, ts: e.trade.ts }
          : { kind: e.kind, ts: e.ts },
      ),
    epoch: () => stores.market.epoch,
  };
}
