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
import { connectViewer, sleep, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';

interface Received {
  at: number;
  quote: Quote;
}

function collectQuotes(socket: MarketClient): Received[] {
  const got: Received[] = [];
  socket.on('quotes', (quotes) => {
    const at = performance.now();
    for (const quote of quotes) got.push({ at, quote });
  });
  return got;
}

function okSnapshots(ack: SubscribeAck): Snapshot[] {
  if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
  return ack.snapshots;
}

describe('gateway: /market quotes, REST snapshots', () => {
  let gw: RunningGateway;
  const clients: MarketClient[] = [];
  const viewer = async () => {
    const c = await connectViewer(gw.url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    gw = await startGateway({ FEED_RATE: '2000', FEED_SEED: '42', MAX_SYMBOLS_PER_CLIENT: '3' });
  });
  afterAll(async () => {
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
    const start = performance.now();
    await sleep(3000);
    const elapsed = performance.now() - start;

    expect(new Set(got.map((g) => g.quote.symbol))).toEqual(new Set(['AAPL', 'BTC-USD']));
    for (const snap of snapshots) {
      const mine = got.filter((g) => g.quote.symbol === snap.symbol);
      // The feed moves every symbol many times a second, so every window has news.
      expect(mine.length).toBeGreaterThanOrEqual(Math.floor(elapsed / 250) - 2);
      expect(mine.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 1);
      let prev: Quote | undefined;
      for (const [k, { at, quote }] of mine.entries()) {
        expect(QuoteSchema.strict().parse(quote)).toEqual(quote);
        expect(quote.seq).toBeGreaterThan(prev?.seq ?? snap.seq);
        if (prev) expect(quote.seq - prev.seq).toBe(quote.conflated);
        expect(quote.bid).toBeLessThanOrEqual(quote.last);
        expect(quote.last).toBeLessThanOrEqual(quote.ask);
        // At most one per 250 ms window, allowing one of slack: any 250 ms holds at most 2.
        const inWindow = mine.filter((o) => o.at > at - 250 && o.at <= at).length;
        expect(inWindow, `quote ${k} of ${snap.symbol}`).toBeLessThanOrEqual(2);
        prev = quote;
      }
      expect(mine.reduce((n, g) => n + g.quote.conflated, 0)).toBeGreaterThan(mine.length); // ticks were merged
    }

    // Unsubscribe stops BTC-USD within one interval; AAPL goes on.
    const unack = await socket.emitWithAck('unsubscribe', { symbols: ['BTC-USD'] });
    expect(unack).toEqual({ ok: true, symbols: ['BTC-USD'] });
    const cut = performance.now();
    await sleep(1250);
    const late = got.filter((g) => g.quote.symbol === 'BTC-USD' && g.at > cut + 250);
    expect(late).toEqual([]);
    expect(got.filter((g) => g.quote.symbol === 'AAPL' && g.at > cut + 250).length).toBeGreaterThanOrEqual(3);
  });

  it('delivers every trade of the subscribed symbols once, in order, after the snapshot', async () => {
    const socket = await viewer();
    const batches: TradeBatch[] = [];
    socket.on('trades', (batch) => batches.push(batch));
    const snapshots = okSnapshots(
      await socket.emitWithAck('subscribe', { symbols: ['NVDA', 'TSLA'], throttleMs: 1000 }),
    );
    await sleep(2000);
    expect(new Set(batches.map((b) => b.symbol))).toEqual(new Set(['NVDA', 'TSLA']));
    for (const snap of snapshots) {
      const trades = batches.filter((b) => b.symbol === snap.symbol).flatMap((b) => b.trades);
      expect(trades.length).toBeGreaterThan(10);
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
    await sleep(3100);
    expect(gotSlow.length).toBeGreaterThanOrEqual(2);
    expect(gotSlow.length).toBeLessThanOrEqual(4);
    expect(gotFast.length).toBeGreaterThanOrEqual(25);
    expect(gotFast.length).toBeLessThanOrEqual(33);
  });

  it('packs a subscription set into one frame per flush and keeps seq rising across tier moves', async () => {
    const socket = await viewer();
    const frames: { at: number; quotes: Quote[] }[] = [];
    socket.on('quotes', (quotes) => frames.push({ at: performance.now(), quotes }));
    const first = okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['AAPL', 'MSFT'], throttleMs: 100 }));
    okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['GOOGL'], throttleMs: 100 }));
    await sleep(1000);
    // One frame per flush carries every changed symbol of the set.
    const full = frames.filter((f) => f.quotes.length === 3);
    expect(full.length).toBeGreaterThanOrEqual(5);
    expect(full.every((f) => new Set(f.quotes.map((q) => q.symbol)).size === 3)).toBe(true);

    // Move AAPL to the slow tier, then back; its seq never repeats or goes back, at most one per 100 ms.
    const moved = okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 1000 }));
    const movedAt = performance.now();
    await sleep(2100);
    const slowAapl = frames
      .filter((f) => f.at > movedAt + 100)
      .flatMap((f) => f.quotes.filter((q) => q.symbol === 'AAPL'));
    expect(slowAapl.length).toBeGreaterThanOrEqual(1);
    expect(slowAapl.length).toBeLessThanOrEqual(3);
    expect(slowAapl[0]!.seq).toBeGreaterThan(moved[0]!.seq);
    okSnapshots(await socket.emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 100 }));
    await sleep(600);

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
      while (got.length === before) await sleep(5);
      const quote = got.at(-1)!.quote;
      const rest = (await (await fetch(`${gw.url}/api/snapshot/ETH-USD`)).json()) as Snapshot;
      expect(rest.seq).toBeGreaterThanOrEqual(quote.seq);
      if (rest.seq === quote.seq) matched = [quote, rest];
    }
    expect(matched, 'a REST snapshot taken between two ticks').toBeDefined();
    const [quote, rest] = matched!;
    const { conflated: _c, ...state } = quote;
    const { tradeSeq: _t, ...restState } = rest;
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
    await sleep(300);
    expect(got).toEqual([]); // nothing refused was subscribed

    expect(socket.connected).toBe(true);
    okSnapshots(await send({ symbols: ['V'], throttleMs: 100 }));
    await sleep(500);
    expect(got.length).toBeGreaterThan(0);
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
