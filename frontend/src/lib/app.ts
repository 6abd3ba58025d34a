import { fetchHistory } from './api';
import { ChartFeed } from './chart/feed';
import { formatNotional, formatPrice, formatSize } from './format';
import { market } from './market.svelte';
import { Prefs } from './prefs.svelte';
import { ToastStore } from './toasts.svelte';
import { TradeStore } from './trades.svelte';
import { decimalsOf } from './format';

/** The page's stores, wired together once. Components import these; only main.ts connects. */
export { market };

export const prefs = new Prefs(typeof localStorage === 'undefined' ? undefined : localStorage);

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

export const charts = new ChartFeed(fetchHistory);
