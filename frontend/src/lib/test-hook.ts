import type { Candle, CandleInterval } from '@tickdeck/protocol';
import type { AlertNotifier } from './alert-notify.svelte';
import type { AlertStore, PageAlert } from './alerts.svelte';
import { drawnAlertLevels, priceAxisPoint, type DrawnLevel } from './chart/alert-levels';
import { liveCharts } from './chart/candle-chart';
import type { ChartMode } from './chart/modes';
import type { MarketStore } from './market.svelte';
import { watchedOf, type Prefs } from './prefs.svelte';
import type { ToastStore } from './toasts.svelte';
import type { TradeStore } from './trades.svelte';

/** One chart as the hook reports it, read from its chart.js instance and its bar store. */
export interface ChartView {
  symbol: string;
  interval: CandleInterval;
  mode: ChartMode;
  /** Bars held. */
  points: number;
  /** Bars drawn: the chart.js elements of the price dataset. */
  drawn: number;
  /** Starts of the bars held, oldest first. */
  xs: number[];
  /** The bars chart.js was given (the ones in view), oldest first, as the price dataset holds them. */
  bars: Candle[];
  /** The x axis range, epoch ms. */
  min: number;
  max: number;
  /** Median distance between neighbouring drawn bars, px. */
  spacingPx: number;
  /** Following the newest bar (false after panning back). */
  follow: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
}

/** What the browser tests and the bench read from the page (`window.__tickdeck`); read-only. */
export interface PageHook {
  connection(): string;
  /** Quotes applied for `symbol` since load. */
  quoteCount(symbol: string): number;
  /** Each drawn chart's data, read from the chart.js instance itself. */
  charts(): ChartView[];
  /** Page coordinates of the centre of `symbol`'s drawn bar starting at `start` (at its close). */
  barPoint(symbol: string, start: number): { x: number; y: number } | undefined;
  /** The watchlist's symbols, in order, as the page shows them. */
  watchlist(): string[];
  toasts(): { title: string; body: string }[];
  tape(): number;
  /** The tape's lines, newest first: trades with their id, seq and feed time; marks with theirs. */
  tapeEntries(): TapeLine[];
  /** The epoch the page's seqs count in (the latest ack's). */
  epoch(): string | undefined;
  /** The page's alerts as its store holds them, oldest first. */
  alerts(): PageAlert[];
  /** The alert levels `symbol`'s chart drew last, read from its alert-levels plugin; undefined without a chart. */
  alertLevels(symbol: string): DrawnLevel[] | undefined;
  /** Page coordinates of `symbol`'s price axis at `price` (undefined when off the axis). */
  axisPoint(symbol: string, price: number): { x: number; y: number } | undefined;
  /** The feed time `since` would say on the next connection. */
  alertsSeen(): number | undefined;
  /** Browser notifications shown, beeps played, and the permission. */
  notifications(): { shown: number; beeps: number; permission: string };
}

/** One trade-tape line as {@link PageHook.tapeEntries} reports it. */
export type TapeLine =
  { kind: 'trade'; symbol: string; id: string; seq: number; ts: number } | { kind: 'gap' | 'restart'; ts: number };

declare global {
  interface Window {
    __tickdeck?: PageHook;
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function installPageHook(stores: {
  market: MarketStore;
  toasts: ToastStore;
  trades: TradeStore;
  prefs: Prefs;
  alerts: AlertStore;
  notifier: AlertNotifier;
}): void {
  window.__tickdeck = {
    connection: () => stores.market.connection.state,
    quoteCount: (symbol) => stores.market.quoteCount(symbol),
    charts: () =>
      [...liveCharts.values()].map((c) => {
        const { chart, series } = c;
        const elements = chart.getDatasetMeta(0).data;
        const x = chart.scales.x;
        return {
          symbol: c.symbol,
          interval: c.interval,
          mode: c.mode,
          points: series.store.length,
          drawn: elements.length,
          xs: series.store.bars.map((b) => b.start),
          bars: chart.data.datasets[0]!.data.map((b) => ({ ...b })),
          min: x?.min ?? 0,
          max: x?.max ?? 0,
          spacingPx: median(elements.slice(1).map((el, i) => el.x - elements[i]!.x)),
          follow: c.viewport.follow,
          hasOlder: series.store.hasOlder,
          loadingOlder: series.loadingOlder,
        };
      }),
    barPoint: (symbol, start) => liveCharts.get(symbol)?.pointOf(start),
    watchlist: () =>
      watchedOf(
        stores.prefs.watchlist,
        stores.market.instruments.map((s) => s.symbol),
      ),
    toasts: () => stores.toasts.toasts.map(({ title, body }) => ({ title, body })),
    tape: () => stores.trades.tape.length,
    tapeEntries: () =>
      stores.trades.tape.map((e) =>
        e.kind === 'trade'
          ? { kind: e.kind, symbol: e.symbol, id: e.trade.id, seq: e.trade.seq, ts: e.trade.ts }
          : { kind: e.kind, ts: e.ts },
      ),
    epoch: () => stores.market.epoch,
    alerts: () => JSON.parse(JSON.stringify(stores.alerts.alerts)) as PageAlert[],
    alertLevels: (symbol) => {
      const c = liveCharts.get(symbol);
      return c ? drawnAlertLevels(c.chart).map((l) => ({ ...l })) : undefined;
    },
    axisPoint: (symbol, price) => {
      const c = liveCharts.get(symbol);
      return c ? priceAxisPoint(c.chart, price) : undefined;
    },
    alertsSeen: () => stores.alerts.seenTs,
    notifications: () => ({
      shown: stores.notifier.notified,
      beeps: stores.notifier.beeps,
      permission: stores.notifier.permission,
    }),
  };
}
