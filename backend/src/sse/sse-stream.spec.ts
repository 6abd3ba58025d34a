import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { DEFAULT_INSTRUMENTS, type Snapshot, type ViewerFrame } from '@tickdeck/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { writeFrames } from '../stream/frame-writer.js';
import { SubscriptionService, type StreamViewer } from '../stream/subscription.service.js';
import { Throttler } from '../stream/throttler.js';
import { parseEventId } from './event-id.js';
import { SseStream, type StreamContext } from './sse-stream.js';

const T0 = Date.UTC(2026, 10, 25, 15);

/** Just enough of an HTTP response: what was written, how much is queued, 'drain'. */
class FakeResponse extends EventEmitter {
  body = '';
  writableLength = 0;
  ended = false;
  destroyed = false;
  write(chunk: string): boolean {
    this.body += chunk;
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

interface Event {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** The events of an SSE body. */
function events(body: string): Event[] {
  return body
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const e: Event = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) e.comment = line.slice(1).trim();
        else {
          const colon = line.indexOf(':');
          (e as Record<string, string>)[line.slice(0, colon)] = line.slice(colon + 2);
        }
      }
      return e;
    });
}

/** A seeded PRNG (mulberry32): the same run every time. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(SseStream.name, () => {
  let market: MarketState;
  let throttler: Throttler<StreamViewer>;
  let subscriptions: SubscriptionService;
  const lagged: [SseStream, boolean][] = [];
  const overflowed: [SseStream, number][] = [];
  const finished: SseStream[] = [];
  let context: StreamContext;
  let ts = T0;
  const tick = (symbol: string, last: number) =>
    market.applyTick({ symbol, ts: ++ts, last, bid: last, ask: last + 0.01 });
  const trade = (symbol: string) => market.applyTrade({ symbol, ts: ++ts, price: 100, size: 1, side: 'buy' });

  /** A stream subscribed as the service subscribes one, with its response. */
  function open(payload: object): { stream: SseStream; res: FakeResponse } {
    const res = new FakeResponse();
    const stream = new SseStream(res as unknown as ServerResponse, '127.0.0.1', context);
    const ack = subscriptions.subscribe(stream, payload);
    if (!ack.ok) throw new Error(ack.error.message);
    stream.start(ack, 'live');
    return { stream, res };
  }

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    ts = T0;
    lagged.length = overflowed.length = finished.length = 0;
    const config = loadConfig({});
    market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 1000 });
    throttler = new Throttler(market, config.throttleTiersMs);
    throttler.start({ write: writeFrames });
    subscriptions = new SubscriptionService(config, market, throttler);
    context = {
      seqs: {
        get epoch() {
          return market.epoch;
        },
        indexOf: (s) => market.indexOf(s),
        tradeSeqAt: (i) => market.tradeSeqAt(i),
        hasPendingTrades: (i) => throttler.hasPendingTrades(i),
      },
      lagBytes: 1000,
      maxBufferedBytes: 5000,
      onLagging: (stream, lagging) => lagged.push([stream, lagging]),
      onOverflow: (stream, bytes) => overflowed.push([stream, bytes]),
      onFinish: (stream) => finished.push(stream),
    };
  });
  afterEach(() => {
    throttler.stop();
    vi.useRealTimers();
  });

  it('starts with the snapshot, whose id is the epoch and each symbol’s tradeSeq', () => {
    trade('AAPL');
    vi.advanceTimersByTime(100);
    const { res } = open({ symbols: ['AAPL', 'MSFT'], throttleMs: 100 });
    const [first] = events(res.body);
    expect(first).toMatchObject({ event: 'snapshot', id: `${market.epoch}:AAPL=1,MSFT=0` });
    const data = JSON.parse(first!.data!) as { epoch: string; feed: string; snapshots: Snapshot[]; ok?: unknown };
    expect(data).toMatchObject({ epoch: market.epoch, feed: 'live', throttleMs: 100, trades: [], gaps: [] });
    expect(data.ok).toBeUndefined();
    expect(data.snapshots.map((s) => [s.symbol, s.tradeSeq])).toEqual([
      ['AAPL', 1],
      ['MSFT', 0],
    ]);
  });

  it("gets the throttler's frames as `frame` events, each id naming the last trade sent per symbol", () => {
    const { res } = open({ symbols: ['AAPL', 'MSFT'], throttleMs: 100 });
    tick('AAPL', 100);
    trade('AAPL');
    trade('AAPL');
    vi.advanceTimersByTime(100);
    trade('MSFT');
    vi.advanceTimersByTime(100);
    const frames = events(res.body).filter((e) => e.event === 'frame');
    expect(frames.map((e) => e.id)).toEqual([`${market.epoch}:AAPL=2,MSFT=0`, `${market.epoch}:AAPL=2,MSFT=1`]);
    const first = JSON.parse(frames[0]!.data!) as ViewerFrame;
    expect(first.quotes?.map((q) => q.symbol)).toEqual(['AAPL']);
    expect(first.trades?.map((b) => [b.symbol, b.trades.map((t) => t.seq)])).toEqual([['AAPL', [1, 2]]]);
  });

  it('never names a trade it has not sent, nor one twice, whatever the tiers and the timing', () => {
    const next = random(17);
    const symbols = ['AAPL', 'MSFT', 'NVDA'];
    const opened: { stream: SseStream; res: FakeResponse; tier: number }[] = [];
    for (let step = 0; step < 1200; step++) {
      const r = next();
      const symbol = symbols[Math.floor(next() * symbols.length)]!;
      if (r < 0.4) trade(symbol);
      else if (r < 0.7) tick(symbol, 100 + next());
      else if (r < 0.72) {
        // Opened at any point: with trades pending and quotes dirty too (the catch-up path).
        const tier = [100, 250, 1000][Math.floor(next() * 3)]!;
        opened.push({ ...open({ symbols, throttleMs: tier }), tier });
      } else vi.advanceTimersByTime(Math.ceil(next() * 120));
    }
    vi.advanceTimersByTime(1000);
    expect(opened.length).toBeGreaterThan(10);
    for (const { res, tier } of opened) {
      // Each event's id against every trade delivered up to and including it.
      const sent = new Map<string, number[]>(symbols.map((s) => [s, []]));
      const all = events(res.body);
      const snapshot = (JSON.parse(all[0]!.data!) as { snapshots: Snapshot[] }).snapshots;
      const from = (s: string) => snapshot.find((x) => x.symbol === s)!.tradeSeq;
      for (const e of all) {
        if (e.event === 'frame') {
          for (const b of (JSON.parse(e.data!) as ViewerFrame).trades ?? []) {
            sent.get(b.symbol)!.push(...b.trades.map((t) => t.seq));
          }
        }
        const id = parseEventId(e.id!)!;
        for (const s of symbols) expect(id.trades.get(s), `${s} at ${tier} ms`).toBe(sent.get(s)!.at(-1) ?? from(s));
      }
      for (const s of symbols) {
        const seqs = sent.get(s)!;
        // Every trade once and in order from the snapshot on, up to the market's last.
        expect(seqs, `${s} at ${tier} ms`).toEqual(seqs.map((_, k) => from(s) + 1 + k));
        expect(seqs.at(-1) ?? from(s)).toBe(market.tradeSeqAt(market.indexOf(s)));
      }
    }
  });

  it('reports its backlog: lagging past lagBytes until it drains, overflow past the bound', () => {
    const { stream, res } = open({ symbols: ['AAPL'], throttleMs: 100 });
    res.writableLength = 2000;
    trade('AAPL');
    vi.advanceTimersByTime(100);
    trade('AAPL');
    vi.advanceTimersByTime(100);
    expect(lagged).toEqual([[stream, true]]);
    res.writableLength = 0;
    res.emit('drain');
    expect(lagged).toEqual([
      [stream, true],
      [stream, false],
    ]);
    res.writableLength = 6000;
    stream.ping();
    expect(overflowed).toEqual([[stream, 6000]]);
  });

  it('ends once, after its final event, and writes nothing more', () => {
    const { stream, res } = open({ symbols: ['AAPL'], throttleMs: 100 });
    stream.finish({ event: 'error', data: { code: 'SLOW_CONSUMER', message: 'x' } });
    stream.finish({ event: 'status', data: { server: 'shutdown' } });
    trade('AAPL');
    vi.advanceTimersByTime(200);
    stream.ping();
    expect(events(res.body).map((e) => e.event ?? e.comment)).toEqual(['snapshot', 'error']);
    expect(res.ended).toBe(true);
    expect(stream.connected).toBe(false);
    expect(finished).toEqual([stream]);
  });
});
