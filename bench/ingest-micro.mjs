#!/usr/bin/env node
// Micro benchmark: ticks per second that market state + the conflating throttler absorb on one
// core, with no network. Ticks come pre-generated from the simulator so the figure is the
// gateway's hot path alone. Usage: node bench/ingest-micro.mjs [--json] [--seconds 3]
import { parseArgs } from 'node:util';
import { DEFAULT_INSTRUMENTS } from '@tickdeck/protocol';
import { MarketSimulator } from '@tickdeck/simulator';
import { MarketState } from '../backend/dist/market/market-state.js';
import { Throttler } from '../backend/dist/stream/throttler.js';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, seconds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);

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
      market.applyTick(/** @type {FeedTick} */ (ticks[k]));
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
const { applied, elapsed } = run(seconds * 1000);
const result = {
  scenario: 'ingest-micro',
  ticksPerSecond: Math.round((applied / elapsed) * 1000),
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
    `| ingest (market state + throttler) | ${result.ticksPerSecond.toLocaleString('en-US')} | ${applied} | ${result.seconds} |`,
  );
}
