import type { Quote, Status } from '@tickdeck/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameGaps, StallWatch } from './support/cadence.js';
import { onFrame } from './support/frame.js';
import { connectViewer, sleep, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { RawViewer } from './support/raw-viewer.js';
import { until } from './support/until.js';

const MAX_BUFFERED_BYTES = 65_536;
const TIER_MS = 100;
/** Growth of the gateway's resident memory allowed while slow consumers come and go. */
const RSS_GROWTH_BOUND = 64 * 1024 * 1024;
/** And its absolute bound: several times an idle gateway (~130 MB here), far below a leak. */
const RSS_BOUND = 400 * 1024 * 1024;

async function metric(gw: RunningGateway, name: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}."]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

async function viewers(gw: RunningGateway): Promise<number> {
  return ((await (await fetch(`${gw.url}/api/health`)).json()) as { viewers: number }).viewers;
}

/** A quote of the normal viewer, with when it was read (epoch ms). */
interface Arrival {
  at: number;
  quote: Quote;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('slow consumers', () => {
  let gw: RunningGateway;
  let watch: StallWatch;
  const raws: RawViewer[] = [];
  const clients: MarketClient[] = [];

  beforeAll(async () => {
    // Every tick is a trade: ~20,000 trades/s over the 20 symbols, ~2 MB/s of trade frames to a
    // viewer holding all of them.
    gw = await startGateway({
      FEED_RATE: '20000',
      FEED_TRADE_PROBABILITY: '1',
      FEED_SEED: '11',
      MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
      LOG_LEVEL: 'warn',
    });
    watch = new StallWatch();
  });
  afterAll(async () => {
    watch?.stop();
    for (const r of raws) r.terminate();
    for (const c of clients) c.disconnect();
    await gw?.stop();
  });

  it('disconnects a viewer that stops reading with a SLOW_CONSUMER notice, and no one else', async () => {
    const all = (await (await fetch(`${gw.url}/api/symbols`)).json()) as { symbol: string }[];
    const symbols = all.map((s) => s.symbol);

    // A normal viewer, reading as it should, for the whole episode.
    const normal = await connectViewer(gw.url);
    clients.push(normal);
    const arrivals: Arrival[] = [];
    let normalTrades = 0;
    onFrame(normal, {
      quotes: (quotes, at) => {
        for (const quote of quotes) arrivals.push({ at, quote });
      },
      trades: (batch) => (normalTrades += batch.trades.length),
    });
    const normalStatus: Status[] = [];
    normal.on('status', (s) => normalStatus.push(s));
    const ack = await normal.emitWithAck('subscribe', { symbols: ['AAPL', 'BTC-USD'], throttleMs: TIER_MS });
    expect(ack.ok).toBe(true);

    // The normal viewer is being fed: quotes of both symbols, and trades.
    const fed = () => ['AAPL', 'BTC-USD'].every((s) => arrivals.some((a) => a.quote.symbol === s)) && normalTrades > 0;
    expect(await until(fed, 2000), 'the normal viewer is fed within 2 s').toBe(true);
    const rssBefore = await metric(gw, 'process_resident_memory_bytes');

    // Three viewers of every symbol that stop reading right after subscribing.
    const slow = await Promise.all([0, 1, 2].map(() => RawViewer.connect(gw.port, symbols, TIER_MS)));
    raws.push(...slow);
    expect(await viewers(gw)).toBe(4);
    const pausedAt = Date.now();
    for (const r of slow) r.pause();

    // Each is disconnected once over the bound; the kernel's buffers (a few MB) fill first.
    await until(async () => (await viewers(gw)) <= 1, 20_000);
    const evictedAfterMs = Date.now() - pausedAt;
    expect(await viewers(gw), `slow viewers still connected after ${evictedAfterMs} ms`).toBe(1);
    // Each eviction is measured in /metrics (the log line per address is rate-limited).
    expect(await metric(gw, 'tickdeck_slow_consumer_evicted_bytes_count')).toBe(3);
    expect(await metric(gw, 'tickdeck_slow_consumer_evicted_bytes{quantile="0"}')).toBeGreaterThan(MAX_BUFFERED_BYTES);
    // Caught within one sweep of going over: at most one flush of trades (~200 KB at this rate) more.
    expect(await metric(gw, 'tickdeck_slow_consumer_evicted_bytes{quantile="1"}')).toBeLessThan(
      MAX_BUFFERED_BYTES + 512 * 1024,
    );
    expect(gw.output()).toMatch(/refused 127\.0\.0\.1: SLOW_CONSUMER: socket \S+: \d+ bytes queued/);

    // Trades keep flowing; memory does not grow past its bounds within those 2 s.
    await sleep(2000);
    const rssAfter = await metric(gw, 'process_resident_memory_bytes');
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);
    expect(rssAfter).toBeLessThan(RSS_BOUND);

    // A slow viewer that reads again (within the grace period) finds the notice, then the close.
    slow[0]!.resume();
    expect(await until(() => slow[0]!.closedAt !== null, 5000), 'the slow connection was closed').toBe(true);
    const packets = slow[0]!.packets;
    const frames = slow[0]!.frames().map((p) => p.frame);
    // What the kernel held was delivered: frames, each with trades (every tick is a trade, every
    // symbol ticks between two flushes), then the notice and the close.
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.filter((f) => !f.trades)).toEqual([]);
    expect(packets.at(-2)).toMatchObject({
      kind: 'status',
      status: { notice: { code: 'SLOW_CONSUMER', message: expect.stringMatching(/MAX_BUFFERED_BYTES/) } },
    });
    expect(packets.at(-1)!.kind).toBe('disconnect');
    // Before them only frames, and the feed's state sent on connect.
    const others = packets.slice(0, -2).filter((p) => p.kind !== 'frame');
    expect(others.map((p) => (p.kind === 'status' ? p.status : p.kind))).toEqual([{ feed: 'live' }]);
    // Quotes stop once the connection lags and never come back before the close: the frames
    // without quotes, if the gateway saw the lag before the bound, are the last ones.
    const firstBare = frames.findIndex((f) => !f.quotes);
    if (firstBare >= 0) expect(frames.slice(firstBare).filter((f) => f.quotes)).toEqual([]);

    // The normal viewer never noticed: still connected, no notice, quotes at every interval, fresh.
    expect(normal.connected).toBe(true);
    expect(normalStatus.filter((s) => s.notice)).toEqual([]);
    expect(normalTrades).toBeGreaterThan(1000);
    // Where this process stalled, arrival times say nothing about the gateway: a gap a stall may
    // have stretched is taken on the feed clock (`ts`, see support/cadence.ts), and an age it may
    // have added to is left out.
    const delayed = (a: Arrival) => watch.stalledBetween(a.quote.ts, a.at);
    const episode = arrivals.filter((a) => a.at >= pausedAt);
    for (const symbol of ['AAPL', 'BTC-USD']) {
      const mine = episode.filter((a) => a.quote.symbol === symbol);
      const [first, last] = [mine[0]!, mine.at(-1)!];
      const span = Math.max(last.quote.ts - first.quote.ts, delayed(first) || delayed(last) ? 0 : last.at - first.at);
      // One quote per interval, allowing for a few late timer ticks on a shared machine.
      expect(mine.length).toBeGreaterThanOrEqual(Math.floor((span / TIER_MS) * 0.8));
      const gaps = frameGaps(
        mine.map((a) => ({ at: a.at, ts: a.quote.ts })),
        watch,
      );
      expect(percentile(gaps, 95), `${symbol} inter-arrival p95`).toBeLessThanOrEqual(2 * TIER_MS);
      // The embedded feed stamps ticks with the wall clock, shared with this process.
      const ages = mine.filter((a) => !delayed(a)).map((a) => a.at - a.quote.ts);
      expect(ages.length, `${symbol}: quotes read without a stall of this process`).toBeGreaterThan(mine.length / 2);
      expect(percentile(ages, 95), `${symbol} quote age p95`).toBeLessThanOrEqual(TIER_MS);
    }
  });
});
