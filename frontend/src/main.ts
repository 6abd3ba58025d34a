import { mount } from 'svelte';
import App from './App.svelte';
import { charts, market, prefs, toasts, trades } from './lib/app';
import { setToken } from './lib/auth';
import { connectMarket } from './lib/socket';
import { installPageHook } from './lib/test-hook';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const connection = connectMarket({ market, trades, charts }, { throttleMs: () => prefs.tierMs });
installPageHook({ market, toasts, trades });

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
