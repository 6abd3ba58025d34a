import { mount } from 'svelte';
import App from './App.svelte';
import { market } from './lib/market.svelte';
import { connectMarket } from './lib/socket';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const connection = connectMarket(market);

export default mount(App, { target, props: { onreconnect: () => connection.reconnect() } });
