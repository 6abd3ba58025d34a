#!/usr/bin/env node
// Micro benchmark: ticks per second that market state + the conflating throttler absorb on one
// core, with no network. Ticks come pre-generated from the simulator so the figure is the
// gateway's hot path alone. Usage: node bench/ingest-micro.mjs [--json] [--seconds 3] [--alerts N]
// With --alerts N, the same run measures twice: every tick also through the price alerts' book
// as the gateway does it, first empty, then with N re-arming alerts 0.05-10 % from the price (a few
// hundred of them inside the range the ticks wander through fire and re-arm as it goes).
import { parseArgs } from 'node:util';
import { DEFAULT_INSTRUMENTS } from '@tickdeck/protocol';
import { MarketSimulator } from '@tickdeck/simulator';
import { AlertBook } from '../backend/dist/alerts/alert-book.js';
import { MarketState } from '../backend/dist/market/market-state.js';
import { Throttler } from '../backend/dist/stream/throttler.js';

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, seconds: { type: 'string', default: '3' }, alerts: { type: 'string' } },
});
const seconds = Number(values.seconds);
const alertCount = values.alerts === undefined ? null : Number(values.alerts);

// One million ticks, with their trades, as the simulator makes them (at a high rate, so ts moves
// by microseconds per tick as in a storm).
/** @typedef {import('@tickdeck/protocol').FeedTick} FeedTick */
/** @typedef {import('@tickdeck/protocol').FeedTrade} FeedTrade */
/** @type {FeedTick[]} */
const ticks = [];
/** @type {FeedTrade[]} */
const trades = [];
new MarketSimulator({ seed: 7, rate: 1_000_000, startTime: Date.UTC(2026, 0, 5, 15) }).emit(1_000_000, {
  tick: (t) => ticks.push(t),
  trade: (t) => trades.push(t),
});

const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 900, tradeHistory: 1000 });
const throttler = new Throttler(market, [100, 250, 1000]);
// Somebody holds every symbol at every tier (one viewer group per tier, each also getting every
// symbol's trades), so every flush builds and "writes" a frame with a quote per changed symbol.
const everySymbol = DEFAULT_INSTRUMENTS.map((_, i) => i);
throttler.tiers.forEach((_, k) => {
  /** @type {import('../backend/dist/stream/throttler.js').Viewer} */
  const viewer = { group: null, lagging: false, owed: null };
  throttler.assign(viewer, {
    quotes: throttler.tiers.map((_t, j) => (j === k ? everySymbol : [])),
    trades: everySymbol,
  });
});
let fired = 0;
/** @type {AlertBook<number> | null} */
let book = null;
/**
 * A book of `n` re-arming alerts over every symbol, from the market's current prices: levels
 * 0.05 % to 10 % away, half above, half below, so that a few hundred sit inside the range the
 * ticks wander through (about 0.1 %) and fire and re-arm (0.05 % hysteresis) as it goes.
 * @param {number} n
 */
function alertBook(n) {
  const b = new AlertBook(DEFAULT_INSTRUMENTS.length, () => fired++);
  for (let a = 0; a < n; a++) {
    const i = a % DEFAULT_INSTRUMENTS.length;
    const last = market.lastAt(i);
    const pct = 0.05 + 9.95 * (((a * 7919) % 10_000) / 10_000);
    const up = a % 2 === 0;
    const level = last * (1 + ((up ? 1 : -1) * pct) / 100);
    const spec = {
      id: String(a),
      condition: { kind: up ? 'above' : 'below', level },
      rearm: true,
      hysteresis: last * 0.0005,
    };
    b.set(a, i, /** @type {import('../backend/dist/alerts/alert-book.js').AlertSpec} */ (spec), last, market.openAt(i));
  }
  return b;
}
throttler.start({ write: () => {} });
throttler.stop(); // flushes are driven below, by simulated time, not by timers

/**
 * Applies ticks for `ms` of wall time, flushing each tier every time its interval of feed time
 * passes (the throttler pulls the trades from the market at the fastest tier's flush).
 * @param {number} ms
 */
function run(ms) {
  const deadline = performance.now() + ms;
  const tiers = throttler.tiers;
  const nextFlush = tiers.map((t) => t);
  let applied = 0;
  let k = 0;
  let j = 0;
  const start = performance.now();
  while (performance.now() < deadline) {
    for (let n = 0; n < 10_000; n++) {
      const i = market.applyTick(/** @type {FeedTick} */ (ticks[k]));
      if (book !== null && i >= 0) book.onTick(i, market.lastAt(i), market.tsAt(i), market.seqAt(i), market.openAt(i));
      // One trade per ~3 ticks, as the simulator produces them.
      if ((k & 3) === 0 && j < trades.length) {
        market.applyTrade(/** @type {FeedTrade} */ (trades[j++]));
        if (j === trades.length) j = 0;
      }
      k = k + 1 === ticks.length ? 0 : k + 1;
    }
    applied += 10_000;
    // 1,000,000 ticks/s of feed time = 1,000 ticks per ms: flush on that clock.
    const feedTime = applied / 1000;
    tiers.forEach((interval, t) => {
      const due = /** @type {number} */ (nextFlush[t]);
      if (feedTime >= due) {
        // The fastest tier's tick also flushes the tiers that are its multiples, when due.
        if (t === 0) throttler.tick();
        else if (interval % /** @type {number} */ (tiers[0]) !== 0) throttler.flush(t);
        nextFlush[t] = due + interval;
      }
    });
  }
  return { applied, elapsed: performance.now() - start };
}

run(500); // warm-up
if (alertCount !== null) book = alertBook(0);
const { applied, elapsed } = run(seconds * 1000);
/** @type {{ alerts: number, held: number, fired: number, ticksPerSecond: number } | undefined} */
let withAlerts;
if (alertCount !== null) {
  book = alertBook(alertCount);
  fired = 0;
  const measured = run(seconds * 1000);
  withAlerts = {
    alerts: alertCount,
    held: book.size,
    fired,
    ticksPerSecond: Math.round((measured.applied / measured.elapsed) * 1000),
  };
}
const result = {
  scenario: 'ingest-micro',
  ticksPerSecond: Math.round((applied / elapsed) * 1000),
  ...(withAlerts ? { withAlerts } : {}),
  ticks: applied,
  seconds: Math.round(elapsed) / 1000,
  framesWritten: throttler.stats.framesWritten,
  quotesBuilt: throttler.stats.quotesDelivered,
  symbols: DEFAULT_INSTRUMENTS.length,
  tiersMs: [...throttler.tiers],
  node: process.version,
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log('| scenario | ticks/s (one core) | ticks | seconds |');
  console.log('| --- | ---: | ---: | ---: |');
  console.log(
    `| ingest (market state + throttler${withAlerts ? ' + alert book, empty' : ''}) | ${result.ticksPerSecond.toLocaleString('en-US')} | ${applied} | ${result.seconds} |`,
  );
  if (withAlerts) {
    console.log(
      `| ... with ${withAlerts.alerts.toLocaleString('en-US')} armed alerts (${withAlerts.fired} fired) | ${withAlerts.ticksPerSecond.toLocaleString('en-US')} | | |`,
    );
  }
}
