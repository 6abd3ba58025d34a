import type { CandleInterval } from '@tickdeck/protocol';
import { AlertNotifier, conditionText } from './alert-notify.svelte';
import { AlertStore, type AddResult, type NewAlert } from './alerts.svelte';
import { fetchCandles } from './api';
import { levelsOf, type AlertLevel } from './chart/alert-levels';
import { ChartBook } from './chart/book';
import { formatNotional, formatPrice, formatSize } from './format';
import { market } from './market.svelte';
import { FIRST_VISIT_CHARTS, Prefs, watchedOf } from './prefs.svelte';
import type { Wanted } from './subscriptions';
import { ToastStore } from './toasts.svelte';
import { TradeStore } from './trades.svelte';
import { decimalsOf } from './format';

/** The page's stores, wired together once. Components import these; only main.ts connects. */
export { market };

/** The page's localStorage (none where there is no DOM, as in unit tests). */
const storage = typeof localStorage === 'undefined' ? undefined : localStorage;

export const prefs = new Prefs(storage);

export const toasts = new ToastStore({ ttlMs: 6000, max: 4 });

export const trades = new TradeStore({
  limit: 80,
  largeTrade: () => prefs.largeTrade,
  onLarge: (symbol, trade, notional) => {
    const spec = market.instruments.find((s) => s.symbol === symbol);
    const price = spec ? formatPrice(trade.price, decimalsOf(spec.tickSize)) : String(trade.price);
    toasts.push({
      tone: trade.side === 'buy' ? 'up' : 'down',
      title: `${trade.side === 'buy' ? '\u25B2 Large buy' : '\u25BC Large sell'} \u00B7 ${symbol}`,
      body: `${formatSize(trade.size)} @ ${price} = ${formatNotional(notional)}`,
    });
  },
});

const decimalsFor = (symbol: string) => {
  const spec = market.instruments.find((s) => s.symbol === symbol);
  return spec ? decimalsOf(spec.tickSize) : 2;
};

/** Price alerts: kept in localStorage, registered on every connection. */
export const alerts: AlertStore = new AlertStore({
  storage,
  onFire: (_alert, fired) => notifier.fire(fired, decimalsFor(fired.symbol)),
});

/** Toast, browser notification (page in the background) and sound for a fired alert. */
export const notifier = new AlertNotifier({ toasts, sound: () => alerts.sound });

/** Sets an alert from the user's gesture: the first one asks for permission to notify. */
export function setAlert(input: NewAlert): Promise<AddResult> {
  notifier.askPermission();
  return alerts.add(input);
}

/**
 * Sets an alert at `price` picked on `symbol`'s price axis, at the instrument's tick: above the
 * last price crosses above, below it crosses below.
 */
export async function setAlertAt(symbol: string, price: number): Promise<AddResult> {
  const spec = market.instruments.find((s) => s.symbol === symbol);
  const tick = spec?.tickSize ?? 0.01;
  const decimals = decimalsFor(symbol);
  const level = Number((Math.round(price / tick) * tick).toFixed(decimals));
  const last = market.quote(symbol)?.last;
  const kind = last === undefined || level >= last ? 'above' : 'below';
  const condition = { kind, level } as const;
  const result = await setAlert({ symbol, condition });
  if (result.ok) alerts.notice = `Alert set: ${symbol} ${conditionText(condition, decimals)}`;
  return result;
}

/** The levels of `symbol`'s alerts for its chart (a `move` alert's two, from the day's open). */
export function alertLevelsFor(symbol: string, open: number | undefined): AlertLevel[] {
  return alerts.alerts
    .filter((a) => a.spec.symbol === symbol && a.status !== 'refused')
    .flatMap((a) =>
      levelsOf(a.spec.condition, open).map((price) => ({
        id: a.spec.id,
        price,
        kind: a.spec.condition.kind,
        active: a.status !== 'fired',
      })),
    );
}

/** The bars of the open charts: REST pages and the live stream. */
export const charts = new ChartBook(fetchCandles);

/** What the page shows of the symbols the gateway carries: the watchlist, and its charts' intervals. */
export function wanted(carried: readonly string[]): Wanted {
  const symbols = watchedOf(prefs.watchlist, carried);
  const shown = new Set(symbols);
  const candles: Record<string, CandleInterval[]> = {};
  for (const chart of prefs.open) if (shown.has(chart.symbol)) candles[chart.symbol] = [chart.interval];
  return { symbols, candles };
}

/** Bars of `1m` a first visit wants before it charts at `1m` rather than `1s` (a gateway just started has none). */
const FIRST_VISIT_MINUTES = 30;

/**
 * A first visit opens charts of the first watchlist symbols, so a newcomer sees candles at once:
 * at `1m` when the gateway has half an hour of them, else at `1s`, which fill in at once.
 */
export async function openFirstVisitCharts(carried: readonly string[]): Promise<void> {
  const symbols = watchedOf(prefs.watchlist, carried).slice(0, FIRST_VISIT_CHARTS);
  if (prefs.charts !== null || symbols.length === 0) return;
  let interval: CandleInterval = '1s';
  try {
    const bars = await fetchCandles(symbols[0]!, '1m', { limit: FIRST_VISIT_MINUTES });
    if (bars.length >= FIRST_VISIT_MINUTES) interval = '1m';
  } catch {
    // no history to judge by: the narrow interval
  }
  prefs.openFirstVisit(symbols, interval);
}
