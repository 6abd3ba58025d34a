// BASELINE PEER, not the product: "the limit, one frame per viewer". What limit-ws.mjs is to a
// server that sends a frame per symbol, this is to the gateway's design: at each flush of the
// fastest tier it writes every viewer ONE pre-framed WebSocket frame, the Socket.IO `frame` event
// `{"v":1,"quotes":[...],"trades":[...]}` (a key absent when it has nothing; a viewer with
// nothing due gets nothing), carrying exactly what the gateway's frame carries: the viewer's
// quotes due at its tier (the symbols that moved since that tier's previous flush) and the
// trades of its symbols since the previous flush. Each changed quote and each trade batch is
// serialised once per flush; viewers holding the same symbols at the same tiers are one group,
// whose frame is concatenated from those pieces and framed once, and the same bytes are written
// straight to every member's TCP socket. Tiers that are multiples of the fastest are flushed by
// its timer every n-th tick (so their quotes share the frame with the trades); any other tier
// has its own timer (frames of quotes only). Same Engine.IO v4 / Socket.IO v5 subset as
// limit-ws.mjs (open packet, namespace connect, subscribe with ack, pings); not a Socket.IO server.
import { peerConfig, PeerMarket, startFeed } from './common.mjs';
import { frame, NSP, serveRawWs } from './raw-ws.mjs';

/** @typedef {import('node:net').Socket} NetSocket */
/** @typedef {import('@tickdeck/protocol').Trade} Trade */

const PACKET_HEAD = `42${NSP},["frame",{"v":1`;

const cfg = peerConfig('limit-frame');
const market = new PeerMarket();
const n = market.symbols.length;
const tiers = cfg.tiers;
const fastest = /** @type {number} */ (tiers[0]);
/** Per tier: flushed by the fastest tier's timer every `every`-th tick (0: its own timer). */
const every = tiers.map((ms, k) => (k === 0 ? 1 : ms % fastest === 0 ? ms / fastest : 0));

/**
 * Viewers holding the same symbols at the same tiers: owed the same frame at every flush.
 * @typedef {{ key: string, quotes: number[][], trades: number[], members: Set<NetSocket> }} Group
 */
/** @type {Map<string, Group>} */
const groups = new Map();
/** Per tier, per symbol: groups holding it there (only those quotes are serialised). */
const holders = tiers.map(() => new Int32Array(n));
/** Per symbol: groups getting its trades. */
const tradeHolders = new Int32Array(n);

/** Per tier, per symbol: the seq that tier's previous flush saw. */
const seen = tiers.map(() => new Float64Array(n));
/** Per tier, per symbol: the quote's JSON built by the current flush, or null. */
const built = tiers.map(() => /** @type {(string | null)[]} */ (new Array(n).fill(null)));
/** Per symbol: trades applied since the previous flush of the fastest tier. */
const pending = /** @type {(Trade[] | null)[]} */ (new Array(n).fill(null));
/** Per symbol: the trade batch's JSON built by the current flush, or null. */
const builtTrades = /** @type {(string | null)[]} */ (new Array(n).fill(null));

/**
 * Moves a viewer into the group of its holding (`tierOf`: symbol index -> tier index).
 * @param {NetSocket} socket @param {Map<number, number>} tierOf @param {Group | null} current
 * @returns {Group | null}
 */
function assign(socket, tierOf, current) {
  /** @type {number[][]} */
  const quotes = tiers.map(() => []);
  for (const [i, k] of tierOf) quotes[k]?.push(i);
  for (const q of quotes) q.sort((a, b) => a - b);
  const trades = [...tierOf.keys()].sort((a, b) => a - b);
  const key = `${quotes.map((q) => q.join(',')).join('|')}|t${trades.join(',')}`;
  if (current?.key === key) return current;
  if (current) leave(socket, current);
  if (trades.length === 0) return null;
  let group = groups.get(key);
  if (!group) {
    group = { key, quotes, trades, members: new Set() };
    groups.set(key, group);
    quotes.forEach((symbols, k) => {
      const h = /** @type {Int32Array} */ (holders[k]);
      for (const i of symbols) h[i] = (h[i] ?? 0) + 1;
    });
    for (const i of trades) tradeHolders[i] = (tradeHolders[i] ?? 0) + 1;
  }
  group.members.add(socket);
  return group;
}

/** @param {NetSocket} socket @param {Group} group */
function leave(socket, group) {
  group.members.delete(socket);
  if (group.members.size > 0) return;
  groups.delete(group.key);
  group.quotes.forEach((symbols, k) => {
    const h = /** @type {Int32Array} */ (holders[k]);
    for (const i of symbols) h[i] = (h[i] ?? 1) - 1;
  });
  for (const i of group.trades) tradeHolders[i] = (tradeHolders[i] ?? 1) - 1;
}

/**
 * Serialises, once, the quote of every symbol of tier `k` that moved and that a group holds there.
 * @param {number} k @returns {number} quotes built
 */
function buildQuotes(k) {
  const s = /** @type {Float64Array} */ (seen[k]);
  const h = /** @type {Int32Array} */ (holders[k]);
  const b = /** @type {(string | null)[]} */ (built[k]);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const seq = market.seqAt(i);
    const prev = /** @type {number} */ (s[i]);
    if (seq === prev) continue;
    s[i] = seq;
    if (h[i] === 0) continue;
    b[i] = JSON.stringify(market.quote(i, seq - prev));
    changed++;
  }
  return changed;
}

/** Serialises, once, each held symbol's trades since the previous flush. @returns {number} batches built */
function buildTrades() {
  let batches = 0;
  for (let i = 0; i < n; i++) {
    const trades = pending[i];
    if (!trades) continue;
    pending[i] = null;
    if (tradeHolders[i] === 0) continue;
    builtTrades[i] = JSON.stringify({ symbol: market.symbols[i], trades });
    batches++;
  }
  return batches;
}

/**
 * One flush: the tiers `due`, and the trades with the fastest tier's.
 * @param {boolean[]} due @param {boolean} withTrades
 */
function flush(due, withTrades) {
  let news = 0;
  for (let k = 0; k < due.length; k++) if (due[k]) news += buildQuotes(k);
  if (withTrades) news += buildTrades();
  if (news === 0) return;
  for (const group of groups.values()) {
    let quotes = '';
    for (let k = 0; k < due.length; k++) {
      if (!due[k]) continue;
      const b = /** @type {(string | null)[]} */ (built[k]);
      for (const i of /** @type {number[]} */ (group.quotes[k])) {
        const json = b[i];
        if (json) quotes = quotes === '' ? json : `${quotes},${json}`;
      }
    }
    let trades = '';
    if (withTrades) {
      for (const i of group.trades) {
        const json = builtTrades[i];
        if (json) trades = trades === '' ? json : `${trades},${json}`;
      }
    }
    if (quotes === '' && trades === '') continue;
    const bytes = frame(
      `${PACKET_HEAD}${quotes === '' ? '' : `,"quotes":[${quotes}]`}${trades === '' ? '' : `,"trades":[${trades}]`}}]`,
    );
    for (const socket of group.members) {
      // Below ws's Sender on purpose, as in limit-ws.mjs: one write of the complete frame.
      if (socket.writable) socket.write(bytes);
    }
  }
  for (let k = 0; k < due.length; k++) if (due[k]) built[k]?.fill(null);
  if (withTrades) builtTrades.fill(null);
}

let ticks = 0;
const due = tiers.map(() => false);
const only = tiers.map(() => false);
const timers = [
  setInterval(() => {
    ticks++;
    for (let k = 0; k < due.length; k++) due[k] = every[k] !== 0 && ticks % /** @type {number} */ (every[k]) === 0;
    flush(due, true);
  }, fastest),
  ...tiers.flatMap((ms, k) =>
    every[k] === 0
      ? [
          setInterval(() => {
            for (let j = 0; j < only.length; j++) only[j] = j === k;
            flush(only, false);
          }, ms),
        ]
      : [],
  ),
];

const stopFeed = startFeed(cfg, {
  tick: (t) => market.applyTick(t),
  trade: (t) => {
    const applied = market.applyTrade(t);
    if (!applied) return;
    const list = pending[applied.index];
    if (list) list.push(applied.trade);
    else pending[applied.index] = [applied.trade];
  },
});

serveRawWs({
  name: cfg.name,
  host: cfg.host,
  port: cfg.port,
  market,
  tiers,
  onConnection: (socket) => {
    /** Symbol index -> tier index: re-subscribing a held symbol moves it to the new tier. */
    const tierOf = new Map();
    /** @type {Group | null} */
    let group = null;
    return {
      subscribe: (req) => {
        const k = tiers.indexOf(req.tierMs);
        const snapshots = req.symbols.map((symbol) => {
          const i = market.indexOf(symbol);
          tierOf.set(i, k);
          return market.snapshot(i);
        });
        group = assign(socket, tierOf, group);
        return snapshots;
      },
      close: () => {
        if (group) leave(socket, group);
        group = null;
      },
    };
  },
  stop: () => {
    stopFeed();
    for (const t of timers) clearInterval(t);
  },
});
