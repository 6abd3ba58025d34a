// Shared by the BASELINE peers in this folder (not the product): configuration from the same
// environment variables as the gateway, the same simulator driven the same way as the gateway's
// embedded feed, and a small market book producing the protocol's `Quote` shape. Each peer adds
// only its delivery path, which is the thing being compared.
import {
  DEFAULT_INSTRUMENTS,
  DEFAULT_THROTTLE_MS,
  DEFAULT_THROTTLE_TIERS_MS,
  LIMITS,
  tradeRoom,
} from '@tickdeck/protocol';
import { MarketSimulator } from '@tickdeck/simulator';
import { MarketState } from '../../backend/dist/market/market-state.js';

/** @typedef {import('@tickdeck/protocol').Quote} Quote */
/** @typedef {import('@tickdeck/protocol').Trade} Trade */
/** @typedef {import('@tickdeck/protocol').FeedTick} FeedTick */
/** @typedef {import('@tickdeck/protocol').FeedTrade} FeedTrade */

/** Same cadence as the gateway's embedded feed (backend/src/feed/embedded-feed.service.ts). */
const STEP_MS = 20;

/**
 * Per-symbol quote room name, as a Socket.IO server without subscription-set groups would use
 * (the gateway delivers quotes through `g:{TIER}:{id}` groups instead): the baseline peers' only.
 * @param {string} symbol
 * @param {number} tierMs
 */
export function quoteRoom(symbol, tierMs) {
  return `q:${symbol}:${tierMs}`;
}

/** @param {string} name */
export function peerConfig(name) {
  const env = process.env;
  const num = (/** @type {string} */ key, /** @type {number} */ dflt) => {
    const raw = env[key];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) {
      console.error(`${name}: ${key}=${JSON.stringify(raw)} is not a number >= 0`);
      process.exit(1);
    }
    return n;
  };
  const tiers = (env.THROTTLE_TIERS_MS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  return {
    name,
    port: num('PORT', 0),
    // Baselines listen on loopback only, whatever HOST says otherwise.
    host: '127.0.0.1',
    feedRate: num('FEED_RATE', 300),
    feedSeed: num('FEED_SEED', 1),
    /** Not a gateway variable (yet): the harness sets it only when asked to, for every server alike. */
    tradeProbability: env.FEED_TRADE_PROBABILITY ? num('FEED_TRADE_PROBABILITY', 0.3) : undefined,
    tiers: (tiers.length > 0 && tiers.every((t) => Number.isInteger(t) && t > 0)
      ? tiers
      : [...DEFAULT_THROTTLE_TIERS_MS]
    ).sort((a, b) => a - b),
  };
}

/**
 * The gateway's own MarketState (from backend/dist), so every peer pays exactly what the gateway
 * pays to keep the market; only the delivery path differs.
 */
export class PeerMarket extends MarketState {
  constructor() {
    super(DEFAULT_INSTRUMENTS, { historySeconds: LIMITS.historySeconds, tradeHistory: LIMITS.tradeHistory });
  }

  /** @param {number} i @param {number} conflated @returns {Quote} */
  quote(i, conflated) {
    const q = /** @type {Quote} */ (this.quoteState(i));
    q.conflated = conflated;
    return q;
  }
}

/**
 * Runs the simulator exactly as the gateway's embedded feed does: wall-clock driven, caught up
 * every 20 ms, so every tick's `ts` is the real time it was produced.
 * @param {{ feedRate: number, feedSeed: number, tradeProbability?: number }} cfg
 * @param {{ tick(t: FeedTick): void, trade(t: FeedTrade): void }} sink
 */
export function startFeed(cfg, sink) {
  const start = Date.now();
  const sim = new MarketSimulator({
    seed: cfg.feedSeed,
    rate: cfg.feedRate,
    startTime: start,
    tradeProbability: cfg.tradeProbability,
  });
  const timer = setInterval(() => sim.advanceTo(Date.now() - start, sink), STEP_MS);
  return () => clearInterval(timer);
}

/**
 * The gateway's conflating throttler logic, transport-agnostic: one timer per tier; at each
 * flush every symbol that moved since that tier's previous flush and whose room has members gets
 * one quote; trades queue per symbol and go out at every flush of the fastest tier.
 * @param {PeerMarket} market
 * @param {number[]} tiers sorted ascending
 * @param {{ members(room: string): number, quotes(room: string, quotes: Quote[]): void, trades(room: string, batch: { symbol: string, trades: Trade[] }): void }} out
 */
export function startThrottler(market, tiers, out) {
  /** Per symbol, by index: its trade room and the trades applied since the last trade flush. */
  const perSymbol = market.symbols.map((symbol) => ({
    symbol,
    tradeRoom: tradeRoom(symbol),
    /** @type {Trade[] | null} */
    pending: null,
  }));

  const flushTrades = () => {
    for (const s of perSymbol) {
      const trades = s.pending;
      if (!trades) continue;
      s.pending = null;
      if (out.members(s.tradeRoom) === 0) continue;
      out.trades(s.tradeRoom, { symbol: s.symbol, trades });
    }
  };
  const timers = tiers.map((ms, k) => {
    /** Per symbol: its seq at this tier's previous flush. */
    const seen = new Float64Array(perSymbol.length);
    const rooms = market.symbols.map((s) => quoteRoom(s, ms));
    return setInterval(() => {
      if (k === 0) flushTrades();
      rooms.forEach((room, i) => {
        const seq = market.seqAt(i);
        const prev = seen[i] ?? 0;
        if (seq === prev) return;
        seen[i] = seq;
        if (out.members(room) === 0) return;
        out.quotes(room, [market.quote(i, seq - prev)]);
      });
    }, ms);
  });
  return {
    /** @param {number} i @param {Trade} trade */
    tradeApplied(i, trade) {
      const s = perSymbol[i];
      if (!s) return;
      if (s.pending) s.pending.push(trade);
      else s.pending = [trade];
    },
    stop() {
      for (const t of timers) clearInterval(t);
    },
  };
}

/**
 * Checks a subscribe payload the way the gateway does for the cases the harness can hit.
 * @param {unknown} body @param {PeerMarket} market @param {number[]} tiers
 * @returns {{ ok: true, symbols: string[], tierMs: number } | { ok: false, error: { code: string, message: string } }}
 */
export function parseSubscribe(body, market, tiers) {
  const req = /** @type {{ symbols?: unknown, throttleMs?: unknown }} */ (body ?? {});
  if (!Array.isArray(req.symbols) || req.symbols.length === 0 || !req.symbols.every((s) => typeof s === 'string')) {
    return { ok: false, error: { code: 'BAD_REQUEST', message: 'symbols: expected a non-empty array of strings' } };
  }
  const symbols = [...new Set(req.symbols.map((s) => s.trim().toUpperCase()))];
  const unknown = symbols.filter((s) => market.indexOf(s) < 0);
  if (unknown.length > 0)
    return { ok: false, error: { code: 'UNKNOWN_SYMBOL', message: `unknown: ${unknown.join(', ')}` } };
  const tierMs = req.throttleMs === undefined ? DEFAULT_THROTTLE_MS : req.throttleMs;
  if (typeof tierMs !== 'number' || !tiers.includes(tierMs)) {
    return { ok: false, error: { code: 'BAD_THROTTLE', message: `throttleMs must be one of ${tiers.join(', ')}` } };
  }
  return { ok: true, symbols, tierMs };
}

/** Ends the process on the usual signals, after `cleanup`. @param {() => void} cleanup */
export function exitOnSignals(cleanup) {
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(sig, () => {
      try {
        cleanup();
      } finally {
        process.exit(0);
      }
    });
  }
}
