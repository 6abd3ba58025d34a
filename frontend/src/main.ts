import { mount } from 'svelte';
import App from './App.svelte';
import { alerts, charts, market, notifier, openFirstVisitCharts, prefs, toasts, trades, wanted } from './lib/app';
import { setToken } from './lib/auth';
import { watch } from './lib/effects.svelte';
import { connectMarket } from './lib/socket';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const connection = connectMarket(
  { market, trades, charts, alerts },
  { throttleMs: () => prefs.tierMs, wanted: (instruments) => wanted(instruments.map((s) => s.symbol)) },
);
// The last-seen time is saved every few seconds; a reload or a closed tab saves it at once.
addEventListener('pagehide', () => alerts.flush());
const carried = () => market.instruments.map((s) => s.symbol);
// The page subscribes to what it shows: the watchlist and the open charts' intervals, as they change.
watch(
  () => JSON.stringify(wanted(carried())),
  () => connection.sync(),
);
watch(carried, (symbols) => void openFirstVisitCharts(symbols));
// The read-only view the browser tests and the bench read (`window.__tickdeck`): only in the
// `e2e` build (`vite build --mode e2e`); a production build carries none of it.
if (import.meta.env.MODE === 'e2e') {
  void import('./lib/test-hook').then(({ installPageHook }) =>
    installPageHook({ market, toasts, trades, prefs, alerts, notifier }),
  );
}

export default mount(App, {
  target,
  props: {
    onreconnect: () => connection.reconnect(),
    ontoken: (token: string) => {
      setToken(token);
      connection.reconnect();
    },
    ontier: (tierMs: number) => {
      prefs.setTier(tierMs);
      connection.resubscribe();
    },
  },
});
