import { mount } from 'svelte';
import App from './App.svelte';
import { charts, market, prefs, toasts, trades } from './lib/app';
import { setToken } from './lib/auth';
import { connectMarket } from './lib/socket';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const connection = connectMarket({ market, trades, charts }, { throttleMs: () => prefs.tierMs });
// The read-only view the browser tests and the bench read (`window.__tickdeck`): only in the
// `e2e` build (`vite build --mode e2e`); a production build carries none of it.
if (import.meta.env.MODE === 'e2e') {
  void import('./lib/test-hook').then(({ installPageHook }) => installPageHook({ market, toasts, trades }));
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
