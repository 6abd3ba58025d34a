#!/usr/bin/env node
// Synthetic history for the gateway's store: `--days` of closed bars of every interval (1s, 5s,
// 1m, 5m, 15m, 1h, 1d) for `--symbols`, written straight through the adapter classes the gateway
// uses (backend/dist/history), in large batches, and the rows/s it took. The bars are a seeded
// random walk at each instrument's own volatility: the 1s bars are drawn, every wider interval is
// rolled up from them (so every interval agrees: open = first open, close = last close, high/low
// the extremes, volume and ticks the sums), each aligned to UTC at its width. Only closed bars
// are written: a bar ending after `--end` is left for the gateway to fold. Used by the `candles`
// scenario (scenarios/candles.mjs), and on its own:
//
//   node bench/seed-history.mjs --store sqlite --dir DIR [--days 7] [--symbols AAPL,MSFT]
//   node bench/seed-history.mjs --store postgres --url postgresql://postgres@127.0.0.1:5432/DB
//
// `--states` also writes each symbol's last state (price, bid/ask, the day's figures), so a
// gateway started on the store restores the seeded prices and its candle rings and continues the
// walk; without it the gateway holds none of the seeded bars in memory and serves them all from
// the store (what the scenario measures). A PostgreSQL table is then vacuumed and analyzed, as
// autovacuum would have done to a table written for days (`--no-vacuum`: left as loaded).
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CANDLE_INTERVALS, DEFAULT_INSTRUMENTS } from '@tickdeck/protocol';

/** @typedef {import('@tickdeck/protocol').Candle} Candle */
/** @typedef {import('@tickdeck/protocol').CandleInterval} CandleInterval */
/** @typedef {import('../backend/dist/history/history-store.js').HistoryStore} HistoryStore */
/** @typedef {import('../backend/dist/history/history-store.js').BarRow} BarRow */
/** @typedef {import('../backend/dist/history/history-store.js').SymbolStateRow} SymbolStateRow */

const DAY_MS = 86_400_000;
/** Every interval, narrowest first. @type {CandleInterval[]} */
export const INTERVALS = /** @type {CandleInterval[]} */ (Object.keys(CANDLE_INTERVALS));

export const USAGE = `usage: node bench/seed-history.mjs --store sqlite --dir DIR | --store postgres --url URL
  [--days 7] [--symbols AAPL,MSFT] [--end EPOCH_MS] [--batch 50000] [--seed 42] [--states] [--no-vacuum] [--json]

  Writes --days of synthetic closed bars of every interval (${INTERVALS.join(', ')}) up to --end
  (default: now) for each symbol, through the gateway's own SqliteHistoryStore (DIR/tickdeck.db)
  or PostgresHistoryStore (migrated on open). 1s bars for 7 days are 604,800 rows per symbol.
  --states: also each symbol's last state (a gateway started on it continues the walk).
  PostgreSQL: then VACUUM (ANALYZE) bars, as autovacuum would have done to a table written for
  days (statistics, visibility map, hint bits); --no-vacuum leaves it as loaded.
  --json: one JSON line of the figures on stdout instead of the text.`;

/**
 * Seeded PRNG (mulberry32): the same seed draws the same history.
 * @param {number} seed @returns {() => number} uniform in [0, 1)
 */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {() => number} rand @returns {number} standard normal (Box-Muller) */
function gaussian(rand) {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * The time range seeded: `days` of 1s bars ending at `end` (rounded down to the second).
 * @param {number} end epoch ms @param {number} days
 */
export function seedRange(end, days) {
  const to = Math.floor(end / 1000) * 1000;
  return { from: to - Math.round(days * DAY_MS), to };
}

/**
 * Bars of `interval` the seed of [from, to) writes, with `start < before`: the first bar holds
 * `from` (partial when `from` is not aligned), the last ends at or before `to`.
 * @param {{ from: number, to: number }} range @param {CandleInterval} interval @param {number} [before]
 */
export function seededBarCount(range, interval, before = Infinity) {
  const w = CANDLE_INTERVALS[interval];
  const first = Math.floor(range.from / w) * w;
  const last = Math.floor(range.to / w) * w - w; // the last closed bar's start
  const top = Math.min(last, Math.ceil(before / w) * w - w); // the last start < before
  return top < first ? 0 : (top - first) / w + 1;
}

/** @param {number} x @param {number} tick @param {number} digits */
function toTick(x, tick, digits) {
  return Number((Math.round(x / tick) * tick).toFixed(digits));
}

/**
 * One symbol's bars of every interval over `range`, yielded as they close (in time order per
 * interval); its state at `range.to` is put in `out.state` at the end.
 * @param {import('@tickdeck/protocol').InstrumentSpec} spec
 * @param {{ from: number, to: number }} range @param {() => number} rand
 * @param {{ state?: SymbolStateRow }} out
 * @returns {Generator<[CandleInterval, Candle]>}
 */
function* walkSymbol(spec, range, rand, out) {
  const digits = Math.max(0, Math.ceil(-Math.log10(spec.tickSize) - 1e-9));
  const volDigits = spec.kind === 'crypto' ? 4 : 0;
  const sigma = spec.volatility / Math.sqrt(3600); // per second, from the per-hour figure
  const tick = spec.tickSize;
  let price = spec.startPrice;
  /** Per wider interval (index 1 on), the bar being rolled up. @type {(Candle | null)[]} */
  const acc = INTERVALS.map(() => null);
  const widths = INTERVALS.map((i) => CANDLE_INTERVALS[i]);
  /** @param {Candle} a @returns {Candle} */
  const done = (a) => ({ ...a, volume: Number(a.volume.toFixed(volDigits)) });
  for (let t = range.from; t < range.to; t += 1000) {
    const ticks = 1 + Math.floor(rand() * 12);
    const open = toTick(price, tick, digits);
    price *= Math.exp(sigma * gaussian(rand));
    const close = toTick(price, tick, digits);
    const high = toTick(Math.max(open, close) * (1 + Math.abs(gaussian(rand)) * sigma * 0.3), tick, digits);
    const low = toTick(Math.min(open, close) * (1 - Math.abs(gaussian(rand)) * sigma * 0.3), tick, digits);
    const volume = Number((ticks * spec.typicalSize * (0.2 + rand() * 1.6)).toFixed(volDigits));
    /** @type {Candle} */
    const bar = { start: t, open, high, low, close, volume, ticks, closed: true };
    yield ['1s', bar];
    for (let k = 1; k < INTERVALS.length; k++) {
      const w = /** @type {number} */ (widths[k]);
      const start = Math.floor(t / w) * w;
      const a = acc[k];
      if (a && a.start === start) {
        if (high > a.high) a.high = high;
        if (low < a.low) a.low = low;
        a.close = close;
        a.volume += volume;
        a.ticks += ticks;
        continue;
      }
      if (a) yield [/** @type {CandleInterval} */ (INTERVALS[k]), done(a)];
      acc[k] = { ...bar, start };
    }
  }
  for (let k = 1; k < INTERVALS.length; k++) {
    const a = acc[k];
    if (a && a.start + /** @type {number} */ (widths[k]) <= range.to)
      yield [/** @type {CandleInterval} */ (INTERVALS[k]), done(a)];
  }
  const last = toTick(price, tick, digits);
  const half = Math.max(tick, toTick((last * spec.spread) / 2, tick, digits));
  const dayStart = Math.floor((range.to - 1) / DAY_MS) * DAY_MS;
  const day = acc[INTERVALS.indexOf('1d')];
  const today = day && day.start === dayStart ? done(day) : null;
  out.state = {
    symbol: spec.symbol,
    ts: range.to - 1,
    last,
    bid: Number((last - half).toFixed(digits)),
    ask: Number((last + half).toFixed(digits)),
    open: today?.open ?? last,
    high: today?.high ?? last,
    low: today?.low ?? last,
    volume: today?.volume ?? 0,
    dayEnd: dayStart + DAY_MS,
  };
}

/**
 * @typedef {object} SeedResult
 * @property {string} store     `sqlite` or `postgres`
 * @property {string} where     the file or database (no password)
 * @property {string[]} symbols
 * @property {number} days
 * @property {number} from      epoch ms, the first 1s bar's start
 * @property {number} to        epoch ms, the last 1s bar's end
 * @property {Record<string, number>} rowsPerInterval  per symbol
 * @property {number} rows      all bars written
 * @property {number} seconds   wall time, drawing and writing
 * @property {number} writeSeconds  time inside store.write
 * @property {number} rowsPerSec     rows / seconds
 * @property {number} writeRowsPerSec rows / writeSeconds
 * @property {number} batch
 * @property {boolean} states
 * @property {number} [vacuumSeconds]  PostgreSQL, from the command line: the VACUUM (ANALYZE) after
 */

/**
 * Writes the synthetic history into an open store.
 * @param {HistoryStore} store
 * @param {{ symbols: string[], days: number, end: number, batch?: number, seed?: number, states?: boolean }} o
 * @returns {Promise<SeedResult>}
 */
export async function seedHistory(store, { symbols, days, end, batch = 50_000, seed = 42, states = false }) {
  const specs = symbols.map((s) => {
    const spec = DEFAULT_INSTRUMENTS.find((i) => i.symbol === s);
    if (!spec) throw new Error(`unknown symbol ${s} (one of ${DEFAULT_INSTRUMENTS.map((i) => i.symbol).join(', ')})`);
    return spec;
  });
  const range = seedRange(end, days);
  const t0 = performance.now();
  let writeMs = 0;
  let rows = 0;
  /** @type {Record<string, number>} */
  const perInterval = Object.fromEntries(INTERVALS.map((i) => [i, 0]));
  /** @type {BarRow[]} */
  let pending = [];
  /** @type {SymbolStateRow[]} */
  const lastStates = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const w0 = performance.now();
    await store.write({ bars: pending, trades: [], states: [] });
    writeMs += performance.now() - w0;
    rows += pending.length;
    pending = [];
  };
  let k = 0;
  for (const spec of specs) {
    /** @type {{ state?: SymbolStateRow }} */
    const out = {};
    for (const [interval, bar] of walkSymbol(spec, range, mulberry32(seed * 1000 + k++), out)) {
      pending.push({ symbol: spec.symbol, interval, bar });
      if (spec === specs[0]) perInterval[interval] = (perInterval[interval] ?? 0) + 1;
      if (pending.length >= batch) await flush();
    }
    if (out.state) lastStates.push(out.state);
  }
  await flush();
  if (states) await store.write({ bars: [], trades: [], states: lastStates });
  const seconds = (performance.now() - t0) / 1000;
  return {
    store: store.kind,
    where: store.where,
    symbols,
    days,
    from: range.from,
    to: range.to,
    rowsPerInterval: perInterval,
    rows,
    seconds: Math.round(seconds * 100) / 100,
    writeSeconds: Math.round(writeMs / 10) / 100,
    rowsPerSec: Math.round(rows / seconds),
    writeRowsPerSec: Math.round(rows / (writeMs / 1000)),
    batch,
    states,
  };
}

/**
 * Opens the gateway's own adapter (the compiled one in backend/dist).
 * @param {{ store: 'sqlite', dir: string } | { store: 'postgres', url: string }} o
 * @returns {Promise<HistoryStore>}
 */
export async function openStore(o) {
  if (o.store === 'sqlite') {
    const { SqliteHistoryStore } = await import('../backend/dist/history/sqlite-store.js');
    return SqliteHistoryStore.open(o.dir);
  }
  const { PostgresHistoryStore } = await import('../backend/dist/history/pg-store.js');
  return PostgresHistoryStore.open(o.url);
}

/**
 * `VACUUM (ANALYZE) bars` on a seeded PostgreSQL database: a table filled in one go has no
 * planner statistics, no visibility map and no hint bits yet (its first reads would write every
 * page they touch), which a table written for days has, by autovacuum. Resolves to the seconds.
 * @param {string} url
 */
async function vacuum(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, application_name: 'tickdeck-seed' });
  client.on('error', () => {});
  await client.connect();
  const t0 = performance.now();
  try {
    await client.query('VACUUM (ANALYZE) bars');
  } finally {
    await client.end().catch(() => {});
  }
  return Math.round((performance.now() - t0) / 10) / 100;
}

async function main() {
  const { values } = parseArgs({
    options: {
      store: { type: 'string' },
      dir: { type: 'string' },
      url: { type: 'string' },
      days: { type: 'string', default: '7' },
      symbols: { type: 'string', default: 'AAPL,MSFT' },
      end: { type: 'string' },
      batch: { type: 'string', default: '50000' },
      seed: { type: 'string', default: '42' },
      states: { type: 'boolean', default: false },
      'no-vacuum': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const days = Number(values.days);
  const batch = Number(values.batch);
  const end = values.end === undefined ? Date.now() : Number(values.end);
  const symbols = (values.symbols ?? '').split(',').filter(Boolean);
  const bad =
    !(days > 0 && days <= 3650) ||
    !(batch >= 1 && Number.isInteger(batch)) ||
    !Number.isFinite(end) ||
    symbols.length === 0 ||
    !(
      (values.store === 'sqlite' && values.dir && !values.url) ||
      (values.store === 'postgres' && values.url && !values.dir)
    );
  if (bad) {
    console.error(`seed-history: bad arguments\n\n${USAGE}`);
    process.exit(1);
  }
  const store = await openStore(
    values.store === 'sqlite'
      ? { store: 'sqlite', dir: /** @type {string} */ (values.dir) }
      : { store: 'postgres', url: /** @type {string} */ (values.url) },
  );
  try {
    const r = await seedHistory(store, { symbols, days, end, batch, seed: Number(values.seed), states: values.states });
    if (values.store === 'postgres' && !values['no-vacuum']) {
      r.vacuumSeconds = await vacuum(/** @type {string} */ (values.url));
    }
    if (values.json) console.log(JSON.stringify(r));
    else {
      console.log(
        `seeded ${r.where}: ${r.rows.toLocaleString('en-US')} bars (${symbols.join(', ')}, ${days} days to ${new Date(r.to).toISOString()}; per symbol ${INTERVALS.map((i) => `${i} ${(r.rowsPerInterval[i] ?? 0).toLocaleString('en-US')}`).join(', ')})`,
      );
      console.log(
        `  ${r.seconds} s: ${r.rowsPerSec.toLocaleString('en-US')} rows/s (${r.writeRowsPerSec.toLocaleString('en-US')} rows/s inside write(), ${r.writeSeconds} s, batches of ${batch.toLocaleString('en-US')})`,
      );
      if (r.vacuumSeconds !== undefined) console.log(`  then VACUUM (ANALYZE) bars: ${r.vacuumSeconds} s`);
    }
  } finally {
    await store.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(`seed-history: ${/** @type {Error} */ (err).message}`);
    process.exit(1);
  });
}
