import {
  QuoteSchema,
  SnapshotSchema,
  TradeSchema,
  type TradeBatch,
  type History,
  type Quote,
  type Snapshot,
  type SubscribeAck,
} from '@tickdeck/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StallWatch } from './support/cadence.js';
import { onFrame } from './support/frame.js';
import { connectViewer, sleep, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

interface Received {
  /** When it was read, epoch ms: the clock the embedded feed stamps `quote.ts` with. */
  at: number;
  quote: Quote;
}

function collectQuotes(socket: MarketClient): Received[] {
  const got: Received[] = [];
  onFrame(socket, {
    quotes: (quotes, at) => {
      for (const quote of quotes) got.push({ at, quote });
    },
  });
  return got;
}

function okSnapshots(ack: SubscribeAck): Snapshot[] {
  if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
  return ack.snapshots;
}

describe('gateway: /market quotes, REST snapshots', () => {
  let gw: RunningGateway;
  let watch: StallWatch;
  const clients: MarketClient[] = [];
  const viewer = async () => {
    const c = await connectViewer(gw.url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    gw = await startGateway({ FEED_RATE: '2000', FEED_SEED: '42', MAX_SYMBOLS_PER_CLIENT: '3' });
    watch = new StallWatch();
  });
  afterAll(async () => {
    watch?.stop();
    for (const c of clients) c.disconnect();
    await gw?.stop();
  });

  it('streams conflated quotes for exactly the subscribed symbols, at most one per symbol per 250 ms', async () => {
    const socket = await viewer();
    const got = collectQuotes(socket);
    const ack = await socket.emitWithAck('subscribe', { symbols: ['AAPL', 'BTC-USD'], throttleMs: 250 });
    expect(ack).toMatchObject({ ok: true, throttleMs: 250, trades: [], gaps: [] });
    const snapshots = okSnapshots(ack);
    expect(snapshots.map((s) => s.symbol)).toEqual(['AAPL', 'BTC-USD']);
    snapshots.forEach((s) => expect(SnapshotSchema.strict().parse(s)).toEqual(s));
    // Counted over 3 s of feed time (`ts`, the gateway's clock), so that a stall of this process
    // cannot move a quote out of the window. Quotes of a symbol come in `ts` order: the window
    // is complete once each symbol has one stamped after it.
    const start = Date.now();
    const elapsed = 3000;
    const stamped = (g: Received) => g.quote.ts > start && g.quote.ts <= start + elapsed;
    const after = (symbol: string, t: number) => got.some((g) => g.quote.symbol === symbol && g.quote.ts > t);
    expect(await until(() => snapshots.every((s) => after(s.symbol, start + elapsed)), elapsed + 2000)).toBe(true);

    expect(new Set(got.map((g) => g.quote.symbol))).toEqual(new Set(['AAPL', 'BTC-USD']));
    for (const snap of snapshots) {
      const mine = got.filter((g) => g.quote.symbol === snap.symbol);
      // The feed moves every symbol many times a second, so every window has news.
      expect(mine.filter(stamped).length).toBeGreaterThanOrEqual(Math.floor(elapsed / 250) - 2);
      expect(mine.filter(stamped).length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 1);
      let prev: Quote | undefined;
      for (const [k, { at, quote }] of mine.entries()) {
        expect(QuoteSchema.strict().parse(quote)).toEqual(quote);
        expect(quote.seq).toBeGreaterThan(prev?.seq ?? snap.seq);
        if (prev) expect(quote.seq - prev.seq).toBe(quote.conflated);
        expect(quote.bid).toBeLessThanOrEqual(quote.last);
        expect(quote.last).toBeLessThanOrEqual(quote.ask);
        // At most one per 250 ms window, allowing one of slack: any 250 ms holds at most 2. On
        // the gateway's clock always; by arrival too, unless this process stalled in that window.
        const byTs = mine.filter((o) => o.quote.ts > quote.ts - 250 && o.quote.ts <= quote.ts).length;
        expect(byTs, `quote ${k} of ${snap.symbol}, by ts`).toBeLessThanOrEqual(2);
        if (!watch.stalledBetween(at - 250, at)) {
          const byArrival = mine.filter((o) => o.at > at - 250 && o.at <= at).length;
          expect(byArrival, `quote ${k} of ${snap.symbol}, by arrival`).toBeLessThanOrEqual(2);
        }
        prev = quote;
      }
      expect(mine.reduce((n, g) => n + g.quote.conflated, 0)).toBeGreaterThan(mine.length); // ticks were merged
    }

    // Unsubscribe stops BTC-USD within one interval; AAPL goes on.
    const unack = await socket.emitWithAck('unsubscribe', { symbols: ['BTC-USD'] });
    expect(unack).toEqual({ ok: true, symbols: ['BTC-USD'] });
    const cut = Date.now();
    // Until AAPL is stamped 1250 ms on: BTC-USD has had those 1250 ms to stay quiet.
    expect(await until(() => after('AAPL', cut + 1250), 3000)).toBe(true);
    const late = got.filter((g) => g.quote.symbol === 'BTC-USD' && g.at > cut + 250);
    expect(late).toEqual([]);
    const aapl = got.filter((g) => g.quote.symbol === 'AAPL' && g.quote.ts > cut + 250 && g.quote.ts <= cut + 1250);
    expect(aapl.length).toBeGreaterThanOrEqual(3);
  });

  it('delivers every trade of the subscribed symbols once, in order, after the snapshot', async () => {
    const socket = await viewer();
    const batches: TradeBatch[] = [];
    onFrame(socket, { trades: (batch) => batches.push(batch) });
    const start = Date.now();
    const snapshots = okSnapshots(
      await socket.emitWithAck('subscribe', { symbols: ['NVDA', 'TSLA'], throttleMs: 1000 }),
    );
    const tape = (symbol: string) => batches.filter((b) => b.symbol === symbol).flatMap((b) => b.trades);
    // 2 s of trades by their feed time; a symbol's trades come in order, so the first one
    // stamped after that closes the window.
    const end = start + 2000;
    expect(await until(() => snapshots.every((s) => tape(s.symbol).some((t) => t.ts > end)), 4000)).toBe(true);
    expect(new Set(batches.map((b) => b.symbol))).toEqual(new Set(['NVDA', 'TSLA']));
    for (const snap of snapshots) {
      const trades = tape(snap.symbol);
      expect(trades.filter((t) => t.ts <= end).length).toBeGreaterThan(10);
      trades.forEach((t) => expect(TradeSchema.strict().parse(t)).toEqual(t));
      // Gap-free and exactly once: the seqs run on from the snapshot's tradeSeq.
      expect(trades.map((t) => t.seq)).toEqual(trades.map((_, k) => snap.tradeSeq + 1 + k));
      expect(trades.every((t) => t.id === `${snap.symbol}-${t.seq}`)).toBe(true);
    }
    // Trades are batched per flush, not sent one frame each.
    expect(batches.length).toBeLessThan(batches.reduce((n, b) => n + b.trades.length, 0));
  });

  it('honours the tier: 100 ms gets ten times what 1000 ms gets', async () => {
    const fast = await viewer();
    const slow = await viewer();
    const gotFast = collectQuotes(fast);
    const gotSlow = collectQuotes(slow);
    okSnapshots(await fast.emitWithAck('subscribe', { symbols: ['MSFT'], throttleMs: 100 }));
    okSnapshots(await slow.emitWithAck('subscribe', { symbols: ['MSFT'], throttleMs: 1000 }));
    // Counted over 3.1 s of feed time. A quote is flushed within 100 ms of its `ts` (MSFT ticks
    // ~120 times a second), so once the fast viewer has one stamped 100 ms past the window, the
    // gateway has sent both viewers every quote stamped in it.
    const start = Date.now();
    const end = start + 3100;
    const stamped = (got: Received[]) => got.filter((g) => g.quote.ts > start && g.quote.ts <= end).length;
    expect(await until(() => gotFast.some((g) => g.quote.ts > end + 100), 5000)).toBe(true);
    expect(stamped(gotSlow)).toBeGreaterThanOrEqual(2);
    expect(stamped(gotSlow)).toBeLessThanOrEqual(4);
    expect(stamped(gotFast)).toBeGreaterThanOrEqual(25);
    expect(stamped(gotFast)).toBeLessThanOrEqual(33);
  });

  it('packs a subscription set into one frame per flush and keeps seq rising across tier moves', async () => {
    const socket = await viewer();
    const frames: { at: number; quotes: Quote[] }[] = [];
    onFrame(socket, { quotes: (quotes, at) => frames.push({ at, quotes }) });
    const first = okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['AAPL', 'MSFT'], throttleMs: 100 }));
    okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['GOOGL'], throttleMs: 100 }));
    // One frame per flush carries every changed symbol of the set: five of them within 1 s.
    const full = () => frames.filter((f) => f.quotes.length === 3);
    expect(await until(() => full().length >= 5, 1000)).toBe(true);
    expect(full().every((f) => new Set(f.quotes.map((q) => q.symbol)).size === 3)).toBe(true);

    // Move AAPL to the slow tier, then back; its seq never repeats or goes back, at most one per 100 ms.
    const aapl = (from: number, to = Infinity) =>
      frames.flatMap((f) => f.quotes.filter((q) => q.symbol === 'AAPL' && q.ts > from && q.ts <= to));
    /** Whether a frame of this socket (all in order) has a quote stamped after `t`. */
    const stampedAfter = (t: number) => frames.some((f) => f.quotes.some((q) => q.ts > t));
    const moved = okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 1000 }));
    const movedAt = Date.now();
    // 2 s of AAPL on the slow tier by feed time; a quote is flushed within 100 ms of its `ts`.
    expect(await until(() => stampedAfter(movedAt + 2100 + 100), 4000)).toBe(true);
    const slowAapl = aapl(movedAt + 100, movedAt + 2100);
    expect(slowAapl.length).toBeGreaterThanOrEqual(1);
    expect(slowAapl.length).toBeLessThanOrEqual(3);
    expect(slowAapl[0]!.seq).toBeGreaterThan(moved[0]!.seq);
    okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 100 }));
    const backAt = Date.now();
    expect(await until(() => aapl(backAt + 600).length > 0, 3000), 'AAPL on the fast tier again').toBe(true);

    for (const snap of first) {
      const seqs = frames.flatMap((f) => f.quotes.filter((q) => q.symbol === snap.symbol).map((q) => q.seq));
      expect(seqs[0]).toBeGreaterThan(snap.seq);
      seqs.forEach((seq, n) => n > 0 && expect(seq, `${snap.symbol} quote ${n}`).toBeGreaterThan(seqs[n - 1]!));
    }
    const perFrame = frames.map((f) => f.quotes.map((q) => q.symbol));
    expect(perFrame.every((symbols) => new Set(symbols).size === symbols.length)).toBe(true);
  });

  it('agrees with the REST snapshot', async () => {
    const socket = await viewer();
    const got = collectQuotes(socket);
    okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['ETH-USD'], throttleMs: 1000 }));
    // Fetch right after each quote until the REST snapshot has caught exactly that quote's seq.
    let matched: [Quote, Snapshot] | undefined;
    for (let attempt = 0; attempt < 8 && !matched; attempt++) {
      const before = got.length;
      expect(await until(() => got.length > before, { timeoutMs: 3000, intervalMs: 5 })).toBe(true);
      const quote = got.at(-1)!.quote;
      const rest = (await (await fetch(`${gw.url}/api/snapshot/ETH-USD`)).json()) as Snapshot;
      expect(rest.seq).toBeGreaterThanOrEqual(quote.seq);
      if (rest.seq === quote.seq) matched = [quote, rest];
    }
    expect(matched, 'a REST snapshot taken between two ticks').toBeDefined();
    const [quote, rest] = matched!;
    const { conflated: _c, ...state } = quote;
    const { tradeSeq: _t, epoch: _e, ...restState } = rest;
    expect(restState).toEqual(state);

    const all = (await (await fetch(`${gw.url}/api/snapshot`)).json()) as Snapshot[];
    expect(all).toHaveLength(20);
    const some = (await (await fetch(`${gw.url}/api/snapshot?symbols=aapl,KO`)).json()) as Snapshot[];
    expect(some.map((s) => s.symbol)).toEqual(['AAPL', 'KO']);
  });

  it('answers bad requests with coded errors and the socket stays usable', async () => {
    const socket = await viewer();
    const other = await viewer();
    const otherGot = collectQuotes(other);
    okSnapshots(await other.emitWithAck('subscribe', { symbols: ['KO'], throttleMs: 100 }));
    const got = collectQuotes(socket);
    const send = (payload: unknown) => socket.emitWithAck('subscribe', payload as never);

    expect(await send({ symbols: ['AAPL', 'NOPE'] })).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_SYMBOL', symbols: ['NOPE'] },
    });
    for (const bad of [
      'garbage',
      null,
      42,
      [],
      { symbols: 'AAPL' },
      { symbols: [1] },
      { symbols: [] },
      { symbols: ['AAPL'], throttleMs: 'fast' },
      { symbols: ['AAPL'], extra: 1 },
      { symbols: ['x'.repeat(10_000)] },
    ]) {
      const res = await send(bad);
      expect(res, JSON.stringify(bad).slice(0, 40)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    expect(await send({ symbols: ['AAPL'], throttleMs: 300 })).toMatchObject({
      ok: false,
      error: { code: 'BAD_THROTTLE', tiers: [100, 250, 1000] },
    });
    expect(await send({ symbols: ['AAPL', 'MSFT', 'KO', 'V'] })).toMatchObject({
      ok: false,
      error: { code: 'TOO_MANY_SYMBOLS' },
    });
    expect(await socket.emitWithAck('unsubscribe', { symbols: ['NOPE'] })).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_SYMBOL' },
    });
    // Without an ack callback, with extra arguments, or an event nobody handles: no reply, no harm.
    (socket as unknown as { emit: (...args: unknown[]) => void }).emit('subscribe', { symbols: ['NOPE'] });
    (socket as unknown as { emit: (...args: unknown[]) => void }).emit('subscribe', { symbols: ['NOPE'] }, 1, () => {});
    (socket as unknown as { emit: (...args: unknown[]) => void }).emit('nonsense', { a: 1 });
    // Nothing arrives within 300 ms: nothing refused was subscribed.
    await sleep(300);
    expect(got).toEqual([]);

    expect(socket.connected).toBe(true);
    okSnapshots(await send({ symbols: ['V'], throttleMs: 100 }));
    expect(await until(() => got.length > 0 && otherGot.length > 5, 500)).toBe(true);
    expect(got.every((g) => g.quote.symbol === 'V')).toBe(true);
    expect(other.connected).toBe(true);
    expect(otherGot.length).toBeGreaterThan(5);
  });

  it('refuses unknown and malformed REST requests with JSON errors', async () => {
    const get = async <T = unknown>(path: string) => {
      const res = await fetch(`${gw.url}${path}`);
      return [res.status, (await res.json()) as T] as const;
    };
    expect(await get('/api/snapshot/NOPE')).toEqual([
      404,
      { error: { code: 'UNKNOWN_SYMBOL', message: 'unknown symbol: NOPE', symbols: ['NOPE'] } },
    ]);
    expect((await get('/api/snapshot/%24%24'))[0]).toBe(400);
    expect((await get('/api/snapshot?symbols=,,'))[0]).toBe(400);
    expect((await get('/api/history/AAPL?seconds=0'))[0]).toBe(400);
    expect((await get('/api/history/AAPL?seconds=abc'))[1]).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect((await get('/api/history/NOPE'))[0]).toBe(404);
    const [status, history] = await get<History>('/api/history/AAPL?seconds=60');
    expect(status).toBe(200);
    expect(history.points.length).toBeGreaterThan(3);
    const [, health] = await get<{ status: string; symbols: number; feed: { ticks: number } }>('/api/health');
    expect(health).toMatchObject({ status: 'ok', symbols: 20 });
    expect(health.feed.ticks).toBeGreaterThan(1000);
    expect(gw.output()).not.toMatch(/ERROR|Unhandled/i);
  });
});
