import {
  QuoteSchema,
  TradeSchema,
  ViewerFrameSchema,
  type Quote,
  type Snapshot,
  type SubscribeAck,
  type Trade,
  type ViewerFrame,
} from '@tickdeck/protocol';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { frameGaps, StallWatch } from './support/cadence.js';
import { frameProblem } from './support/frame.js';
import { sleep, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { RawViewer } from './support/raw-viewer.js';
import { until } from './support/until.js';

/** The ten most active symbols: each ticks ~200 times a second at FEED_RATE 4000, so every flush moves all ten. */
const TEN = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'AMD', 'BTC-USD', 'ETH-USD'];
const FASTEST_MS = 100;

async function restSnapshots(gw: RunningGateway, symbols: readonly string[]): Promise<Map<string, Snapshot>> {
  const res = await fetch(`${gw.url}/api/snapshot?symbols=${symbols.join(',')}`);
  return new Map(((await res.json()) as Snapshot[]).map((s) => [s.symbol, s]));
}

/** The trades of `frames` per symbol, in the order they came. */
function tapes(frames: readonly ViewerFrame[]): Map<string, (Trade & { gap?: true })[]> {
  const out = new Map<string, (Trade & { gap?: true })[]>();
  for (const f of frames) {
    for (const b of f.trades ?? []) {
      const tape = out.get(b.symbol) ?? [];
      for (const t of b.trades) tape.push(b.gap ? { ...t, gap: true } : t);
      out.set(b.symbol, tape);
    }
  }
  return out;
}

/**
 * Checks that a symbol's trades came once each and in order, gap-free, right after the
 * subscribe snapshot's `tradeSeq`; returns the last seq received.
 */
function expectWholeTape(tape: readonly (Trade & { gap?: true })[] | undefined, snap: Snapshot): number {
  const seqs = (tape ?? []).map((t) => t.seq);
  expect(seqs.length, `${snap.symbol}: trades`).toBeGreaterThan(0);
  expect(seqs, `${snap.symbol}: consecutive from tradeSeq ${snap.tradeSeq}`).toEqual(
    seqs.map((_, k) => snap.tradeSeq + 1 + k),
  );
  expect(tape!.filter((t) => t.gap)).toEqual([]);
  expect(tape!.filter((t) => t.id !== `${snap.symbol}-${t.seq}`)).toEqual([]);
  return seqs.at(-1)!;
}

/** Until the viewer's tape reaches each REST `tradeSeq` and its quotes each REST `seq` (or later). */
async function caughtUpWith(viewer: RawViewer, rest: Map<string, Snapshot>, timeoutMs: number): Promise<boolean> {
  return until(() => {
    const frames = viewer.frames().map((p) => p.frame);
    const trades = tapes(frames);
    return [...rest.values()].every((s) => {
      const lastTrade = trades.get(s.symbol)?.at(-1)?.seq ?? 0;
      const lastQuote = frames.findLast((f) => f.quotes?.some((q) => q.symbol === s.symbol));
      const seq = lastQuote?.quotes!.find((q) => q.symbol === s.symbol)!.seq ?? 0;
      return lastTrade >= s.tradeSeq && seq >= s.seq;
    });
  }, timeoutMs);
}

describe('delivery: one frame per viewer per flush, with its quotes and all its trades', () => {
  let gw: RunningGateway;
  let watch: StallWatch;
  const raws: RawViewer[] = [];
  const clients: MarketClient[] = [];

  beforeAll(async () => {
    // 4000 ticks/s, 30 % of them trades: ~1,200 trades/s, ~600 of them of the ten symbols.
    gw = await startGateway({ FEED_RATE: '4000', FEED_SEED: '5' });
    watch = new StallWatch();
  });
  afterEach(() => {
    for (const r of raws.splice(0)) r.terminate();
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(async () => {
    watch?.stop();
    await gw?.stop();
  });

  it('a websocket viewer of ten symbols at 100 ms gets one message per flush with everything in it', async () => {
    const viewer = await RawViewer.connect(gw.port, TEN, FASTEST_MS);
    raws.push(viewer);
    const mine = new Set(TEN);
    // Counted over 3 s, from 300 ms after the ack (past any catch-up frame of the subscribe).
    const start = Date.now() + 300;
    const end = start + 3000;
    await until(() => Date.now() > end + 200, 5000);
    const rest = await restSnapshots(gw, TEN);

    const inWindow = viewer.messages.filter((m) => m.at >= start && m.at <= end);
    const frames = viewer.frames(start, end);
    // One WebSocket message per flush: ~30 in 3 s (before frames, ~108 a second went to this viewer).
    expect(inWindow.length, 'WebSocket messages in 3 s').toBeLessThan(45);
    expect(frames.length, 'frames in 3 s').toBeGreaterThanOrEqual(24);
    expect(inWindow.length, 'every message in the window is a frame').toBe(frames.length);
    // Each frame has every one of the ten (all move within 100 ms), and nothing of other symbols.
    for (const { frame } of frames) {
      expect(frame.quotes?.map((q) => q.symbol).sort()).toEqual([...TEN].sort());
    }
    const all = viewer.frames().map((p) => p.frame);
    for (const frame of all) {
      expect(frameProblem(frame, mine)).toBeUndefined();
      expect(ViewerFrameSchema.parse(frame)).toEqual(frame);
      frame.quotes?.forEach((q) => expect(QuoteSchema.strict().parse(q)).toEqual(q));
      frame.trades?.forEach((b) => b.trades.forEach((t) => expect(TradeSchema.strict().parse(t)).toEqual(t)));
    }
    expect(frames.filter((f) => f.frame.trades).length, 'frames with trades').toBeGreaterThan(frames.length / 2);

    // Quote seqs only rise, and `conflated` counts the ticks in between.
    for (const snap of viewer.snapshots) {
      const quotes = all.flatMap((f) => f.quotes?.filter((q) => q.symbol === snap.symbol) ?? []);
      quotes.forEach((q, n) => {
        const prev = n === 0 ? snap.seq : quotes[n - 1]!.seq;
        expect(q.seq - prev, `${snap.symbol} quote ${n}`).toBe(q.conflated);
      });
    }
    // Every trade once, in order; and nothing missing: the tape reaches what REST said at the end.
    const trades = tapes(all);
    for (const snap of viewer.snapshots) expectWholeTape(trades.get(snap.symbol), snap);
    expect(await caughtUpWith(viewer, rest, 500), 'the viewer reaches the REST snapshot within 500 ms').toBe(true);
    const final = tapes(viewer.frames().map((p) => p.frame));
    for (const snap of viewer.snapshots) {
      expect(expectWholeTape(final.get(snap.symbol), snap)).toBeGreaterThanOrEqual(rest.get(snap.symbol)!.tradeSeq);
      // ~60 trades a second each.
      expect(rest.get(snap.symbol)!.tradeSeq - snap.tradeSeq, `${snap.symbol}: trades in 3.5 s`).toBeGreaterThan(50);
    }
  });

  it('a long-polling viewer gets the same trades and the same quotes as a websocket viewer', async () => {
    const ws = await RawViewer.connect(gw.port, TEN, FASTEST_MS);
    raws.push(ws);
    const polling: MarketClient = io(`${gw.url}/market`, {
      transports: ['polling'],
      reconnection: false,
      forceNew: true,
    });
    clients.push(polling);
    const polled: { at: number; frame: ViewerFrame }[] = [];
    polling.on('frame', (frame) => polled.push({ at: Date.now(), frame }));
    await new Promise<void>((resolve, reject) => {
      polling.once('connect', resolve);
      polling.once('connect_error', reject);
    });
    const ack: SubscribeAck = await polling
      .timeout(5000)
      .emitWithAck('subscribe', { symbols: TEN, throttleMs: FASTEST_MS });
    if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
    const polledSnaps = new Map(ack.snapshots.map((s) => [s.symbol, s]));
    // 3 s of both, then until each has caught up with what REST says.
    await sleep(3000);
    const rest = await restSnapshots(gw, TEN);
    expect(await caughtUpWith(ws, rest, 500), 'the websocket viewer caught up').toBe(true);
    const polledTapes = () => tapes(polled.map((p) => p.frame));
    const polledUpTo = (s: Snapshot) => (polledTapes().get(s.symbol)?.at(-1)?.seq ?? 0) >= s.tradeSeq;
    expect(await until(() => [...rest.values()].every(polledUpTo), 1000), 'the polling viewer caught up').toBe(true);

    const mine = new Set(TEN);
    for (const { frame } of polled) expect(frameProblem(frame, mine)).toBeUndefined();
    const a = tapes(ws.frames().map((p) => p.frame));
    const b = polledTapes();
    for (const symbol of TEN) {
      expectWholeTape(b.get(symbol), polledSnaps.get(symbol)!);
      expectWholeTape(
        a.get(symbol),
        ws.snapshots.find((s) => s.symbol === symbol)!,
      );
      // The same trades, field for field, over the span both hold.
      const lo = Math.max(a.get(symbol)![0]!.seq, b.get(symbol)![0]!.seq);
      const hi = rest.get(symbol)!.tradeSeq;
      const span = (tape: Trade[]) => tape.filter((t) => t.seq >= lo && t.seq <= hi);
      expect(span(b.get(symbol)!).length, `${symbol}: trades both hold`).toBeGreaterThan(50);
      expect(span(b.get(symbol)!), symbol).toEqual(span(a.get(symbol)!));
    }

    // Quotes: the same shape, and the same quote at the same flush. Past the first second (the
    // two subscribed a few ms apart), nearly every quote of one is also a quote of the other.
    const from = Date.now() - 2500;
    const key = (q: Quote) => `${q.symbol}/${q.seq}`;
    const wsQuotes = new Map(ws.frames().flatMap((p) => (p.frame.quotes ?? []).map((q) => [key(q), q] as const)));
    const polledQuotes = polled.filter((p) => p.at > from).flatMap((p) => p.frame.quotes ?? []);
    expect(polledQuotes.length).toBeGreaterThan(150);
    polledQuotes.forEach((q) => expect(QuoteSchema.strict().parse(q)).toEqual(q));
    const shared = polledQuotes.filter((q) => wsQuotes.has(key(q)));
    expect(shared.length, 'polled quotes the websocket viewer also got').toBeGreaterThanOrEqual(
      0.9 * polledQuotes.length,
    );
    for (const q of shared) expect(q).toEqual(wsQuotes.get(key(q)));
  });

  it('a 1000 ms viewer gets each trade within 150 ms of its feed time, and quotes once a second', async () => {
    const symbols = ['AAPL', 'NVDA', 'TSLA', 'BTC-USD', 'ETH-USD'];
    const viewer = await RawViewer.connect(gw.port, symbols, 1000);
    raws.push(viewer);
    // Past the subscribe's catch-up (at the tier's first flush), 3.5 s.
    const start = Date.now() + 1200;
    const end = start + 3500;
    await until(() => Date.now() > end + 200, 6000);
    const frames = viewer.frames(start, end);

    // Trades every flush of the fastest tier, whatever the quote tier.
    const trades = frames.flatMap(({ at, frame }) =>
      (frame.trades ?? []).flatMap((b) => b.trades.map((t) => ({ at, t }))),
    );
    expect(trades.length, 'trades in 3.5 s').toBeGreaterThan(500);
    // The embedded feed stamps trades with this machine's clock. Where this process stalled, the
    // arrival time says nothing about the gateway; those trades are left out.
    const timed = trades.filter(({ at, t }) => !watch.stalledBetween(t.ts, at));
    expect(timed.length, 'trades read without a stall of this process').toBeGreaterThan(trades.length / 2);
    const late = timed.filter(({ at, t }) => at - t.ts > 150).map(({ at, t }) => `${t.id} after ${at - t.ts} ms`);
    expect(late, 'trades read more than 150 ms after their feed time').toEqual([]);

    // Quotes once a second, in the frame that carries that flush's trades: no separate message.
    const quoted = frames.filter((f) => f.frame.quotes);
    expect(quoted.length, 'frames with quotes in 3.5 s').toBeGreaterThanOrEqual(3);
    expect(quoted.length, 'frames with quotes in 3.5 s').toBeLessThanOrEqual(4);
    expect(quoted.filter((f) => !f.frame.trades)).toEqual([]);
    const gaps = frameGaps(
      quoted.map((f) => ({ at: f.at, ts: Math.max(...f.frame.quotes!.map((q) => q.ts)) })),
      watch,
    );
    for (const gap of gaps) {
      expect(gap).toBeGreaterThan(800);
      expect(gap).toBeLessThan(1300);
    }
    // In between, frames of trades only, one per flush.
    expect(frames.length - quoted.length, 'trade-only frames in 3.5 s').toBeGreaterThanOrEqual(25);
    expect(viewer.messages.filter((m) => m.at >= start && m.at <= end).length).toBeLessThan(3.5 * 15);
    for (const { frame } of viewer.frames()) expect(frameProblem(frame, new Set(symbols))).toBeUndefined();
    const all = tapes(viewer.frames().map((p) => p.frame));
    for (const snap of viewer.snapshots) expectWholeTape(all.get(snap.symbol), snap);
  });
});

describe('delivery: a viewer whose connection backs up', () => {
  let gw: RunningGateway;
  let viewer: RawViewer | undefined;

  beforeAll(async () => {
    // Every tick a trade: ~2 MB/s of frames to a viewer of all 20 symbols, so the kernel's
    // buffers (~4 MB on loopback) fill within seconds and frames then wait in the gateway. Quotes
    // stop at 64 KiB queued (min(64 KiB, MAX_BUFFERED_BYTES / 4)); trades go on queueing at
    // ~2 MB/s, so the bound is set far above what a second of lagging adds: this viewer lags,
    // it must not be dropped.
    gw = await startGateway({
      FEED_RATE: '20000',
      FEED_TRADE_PROBABILITY: '1',
      FEED_SEED: '9',
      MAX_BUFFERED_BYTES: String(32 * 1024 * 1024),
    });
  });
  afterAll(async () => {
    viewer?.terminate();
    await gw?.stop();
  });

  const metric = async (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${gw.url}/metrics`)).text());
    if (!m) throw new Error(`no ${name} in /metrics`);
    return Number(m[1]);
  };

  it('while it lags its frames carry trades only; once drained, the latest quotes, and it stays connected', async () => {
    const symbols = ((await (await fetch(`${gw.url}/api/symbols`)).json()) as { symbol: string }[]).map(
      (s) => s.symbol,
    );
    viewer = await RawViewer.connect(gw.port, symbols, FASTEST_MS);
    viewer.pause();
    // The gateway skips this viewer's quotes (its only viewer): quotes delivered stand still
    // while frames keep being written.
    let last = { quotes: -1, frames: -1, still: 0 };
    const lagging = await until(
      async () => {
        const now = {
          quotes: await metric('tickdeck_quotes_delivered_total'),
          frames: await metric('tickdeck_frames_total'),
        };
        const still = now.quotes === last.quotes && now.frames > last.frames ? last.still + 1 : 0;
        last = { ...now, still };
        return still >= 3;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(lagging, 'quotes stopped for the paused viewer within 10 s').toBe(true);
    // Lagging for a second: the scenario itself, not a wait.
    await sleep(1000);
    const beforeResume = await restSnapshots(gw, symbols);
    viewer.resume();

    // It drains what was queued, then the first frame with quotes after the bare ones.
    const frames = () => viewer!.frames().map((p) => p.frame);
    /** The longest run of frames without quotes, [first, back), back being the next frame with quotes (-1: none yet). */
    const bareRun = () => {
      const all = frames();
      let [first, back] = [-1, -1];
      for (let n = 0, from = -1; n < all.length; n++) {
        if (!all[n]!.quotes) {
          if (from < 0) from = n;
        } else if (from >= 0) {
          if (first < 0 || n - from > back - first) [first, back] = [from, n];
          from = -1;
        }
      }
      return { all, first, back };
    };
    expect(await until(() => bareRun().back > 0, 5000), 'quotes again after the lag').toBe(true);
    const { all, first, back } = bareRun();
    const bare = all.slice(first, back);
    // ~10 flushes of lagging, and more while the kernel's backlog was being read.
    expect(bare.length, 'frames without quotes').toBeGreaterThanOrEqual(8);
    expect(bare.filter((f) => !f.trades)).toEqual([]);
    // Before the lag (what the kernel held), frames with quotes of all 20: each ticks every ms or two.
    expect(first, 'frames before the lag').toBeGreaterThan(2);
    expect(all.slice(2, first).filter((f) => f.quotes?.length !== symbols.length)).toEqual([]);

    // The first quotes after: the latest state of every symbol, as new as REST was when it resumed;
    // the seq jump is the ticks it missed, and `conflated` says so.
    const lastBefore = new Map(all[first - 1]!.quotes!.map((q) => [q.symbol, q]));
    const caughtUp = all[back]!.quotes!;
    expect(caughtUp.map((q) => q.symbol).sort()).toEqual([...symbols].sort());
    for (const q of caughtUp) {
      const prev = lastBefore.get(q.symbol)!;
      expect(q.seq, q.symbol).toBeGreaterThanOrEqual(beforeResume.get(q.symbol)!.seq);
      expect(q.conflated, q.symbol).toBe(q.seq - prev.seq);
      // A second and more of ticks missed: the least active symbol ticks ~450 times a second.
      expect(q.seq - prev.seq, q.symbol).toBeGreaterThan(200);
    }
    // Within a few flushes its quotes are those REST has now, or newer.
    const now = await restSnapshots(gw, symbols);
    const latest = (symbol: string) =>
      frames()
        .findLast((f) => f.quotes?.some((q) => q.symbol === symbol))!
        .quotes!.find((q) => q.symbol === symbol)!.seq;
    expect(
      await until(() => symbols.every((s) => latest(s) >= now.get(s)!.seq), 500),
      'quotes as new as REST within 500 ms',
    ).toBe(true);

    // Trades were never skipped: every one once, in order, through the whole episode.
    const trades = tapes(frames());
    for (const snap of viewer.snapshots) expectWholeTape(trades.get(snap.symbol), snap);
    // And it was never treated as a slow consumer.
    expect(viewer.closedAt).toBeNull();
    expect(viewer.packets.filter((p) => p.kind === 'status' && p.status.notice)).toEqual([]);
    expect(await metric('tickdeck_viewers')).toBe(1);
    expect(gw.output()).not.toMatch(/SLOW_CONSUMER/);
  });
});
