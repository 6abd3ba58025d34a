import {
  CandleBatchSchema,
  CandlesSchema,
  ViewerFrameSchema,
  type Candle,
  type CandleBatch,
  type CandleInterval,
  type FeedAck,
  type FeedTick,
  type SubscribeAck,
  type ViewerFrame,
} from '@tickdeck/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectViewer,
  sleep,
  startGateway,
  type MarketClient,
  type RunningGateway,
  connectPublisher,
  type FeedClient,
} from './support/gateway.js';
import { until } from './support/until.js';

const TOKEN = 'live-candles-token-0123';
/** Far above anything AAPL trades at in the run (~228): the spike. */
const SPIKE = 400;

/** A viewer on `/market` and every frame it received, parsed. */
interface Collector {
  socket: MarketClient;
  frames: ViewerFrame[];
}

/** The batches of one pair, in order of arrival. */
const batchesOf = (frames: readonly ViewerFrame[], symbol: string, interval: CandleInterval): CandleBatch[] =>
  frames.flatMap((f) => (f.candles ?? []).filter((b) => b.symbol === symbol && b.interval === interval));
const closedOf = (frames: readonly ViewerFrame[], symbol: string, interval: CandleInterval): Candle[] =>
  batchesOf(frames, symbol, interval).flatMap((b) => b.bars.filter((c) => c.closed));

/** What is wrong with a frame that may carry candles, or undefined (key order, nothing empty, the schema). */
function candleFrameProblem(frame: ViewerFrame): string | undefined {
  const keys = Object.keys(frame);
  const order = ['v', 'quotes', 'trades', 'candles'];
  if (keys[0] !== 'v' || keys.some((k, n) => n > 0 && order.indexOf(k) <= order.indexOf(keys[n - 1]!))) {
    return `keys ${keys.join(',')}`;
  }
  if (keys.length === 1) return 'an empty frame';
  if (frame.candles?.length === 0) return 'an empty candles list';
  for (const b of frame.candles ?? []) {
    if (b.bars.length === 0) return `an empty batch of ${b.symbol}/${b.interval}`;
    const open = b.bars.filter((c) => !c.closed);
    if (open.length > 1 || (open.length === 1 && b.bars.at(-1)!.closed)) {
      return `${b.symbol}/${b.interval}: the open bar is not alone and last`;
    }
    const starts = b.bars.map((c) => c.start);
    if (starts.some((s, n) => n > 0 && s <= starts[n - 1]!)) return `${b.symbol}/${b.interval}: bars out of order`;
  }
  const pairs = (frame.candles ?? []).map((b) => `${b.symbol}/${b.interval}`);
  if (new Set(pairs).size !== pairs.length) return `two batches of one pair: ${pairs.join(',')}`;
  if (!ViewerFrameSchema.safeParse(frame).success) return 'not a ViewerFrame';
  if (!(frame.candles ?? []).every((b) => CandleBatchSchema.strict().safeParse(b).success)) return 'a foreign key';
  return undefined;
}

describe('live candles on /market against a real gateway fed through /feed', () => {
  let gw: RunningGateway;
  let publisher: FeedClient;
  const sockets: MarketClient[] = [];
  /** Feed time of the last tick sent: the gateway refuses a symbol's time going backwards. */
  let lastTs = 0;
  let price = 228;

  beforeAll(async () => {
    gw = await startGateway({ FEED: 'external', FEED_TOKEN: TOKEN });
    publisher = await connectPublisher(gw.url, TOKEN);
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    publisher?.disconnect();
    await gw?.stop();
  });

  const viewer = async (): Promise<Collector> => {
    const socket = await connectViewer(gw.url);
    sockets.push(socket);
    const frames: ViewerFrame[] = [];
    socket.on('frame', (f) => frames.push(f));
    return { socket, frames };
  };
  const subscribe = async (c: Collector, req: Record<string, unknown>): Promise<SubscribeAck> =>
    c.socket.timeout(5000).emitWithAck('subscribe', req as never);
  const tickAt = (symbol: string, last: number, ts: number): FeedTick => ({
    symbol,
    ts,
    last,
    bid: Math.round((last - 0.01) * 100) / 100,
    ask: Math.round((last + 0.01) * 100) / 100,
    volume: 10,
  });
  /** The next feed time: now, or just after the last one sent. */
  const nextTs = () => (lastTs = Math.max(Date.now(), lastTs + 1));
  const push = async (ticks: FeedTick[]): Promise<void> => {
    const ack: FeedAck = await publisher.timeout(5000).emitWithAck('ticks', ticks);
    expect(ack, JSON.stringify(ack.rejected)).toMatchObject({ accepted: ticks.length, rejectedCount: 0 });
  };
  const walk = () => (price = Math.round((price + (Math.random() - 0.5) * 0.2) * 100) / 100);
  const rest = async (interval: CandleInterval): Promise<Candle[]> => {
    const res = await fetch(`${gw.url}/api/candles/AAPL?interval=${interval}&limit=5000`);
    expect(res.status).toBe(200);
    return CandlesSchema.parse(await res.json()).candles;
  };

  it('streams every closed bar once, in order, equal to REST, and the live bar exact: the spike is its high', async () => {
    await push([tickAt('AAPL', price, nextTs())]);
    const live = await viewer();
    const plain = await viewer();
    const plainAck = await subscribe(plain, { symbols: ['AAPL'], throttleMs: 100 });
    expect(plainAck).toMatchObject({ ok: true });
    expect(plainAck).not.toHaveProperty('candles');
    const ack = await subscribe(live, { symbols: ['AAPL', 'MSFT'], throttleMs: 100, candles: ['1s', '5s'] });
    if (!ack.ok) throw new Error(JSON.stringify(ack.error));

    // The ack: one batch per pair in request order, AAPL's open bars (it ticked), none for MSFT.
    expect(ack.candles!.map((b) => [b.symbol, b.interval, b.bars.length])).toEqual([
      ['AAPL', '1s', 1],
      ['AAPL', '5s', 1],
      ['MSFT', '1s', 0],
      ['MSFT', '5s', 0],
    ]);
    const [ack1s, ack5s] = [ack.candles![0]!.bars[0]!, ack.candles![1]!.bars[0]!];
    expect(ack1s).toMatchObject({ closed: false, start: lastTs - (lastTs % 1000) });
    expect(ack5s).toMatchObject({ closed: false, start: lastTs - (lastTs % 5000) });

    // 6.5 s of ticks every ~40 ms, across several 1s and at least one 5s boundary; a spike once.
    let spikeAt = 0;
    let refused: SubscribeAck | undefined;
    const end = Date.now() + 6500;
    while (Date.now() < end) {
      const now = Date.now();
      if (spikeAt === 0 && now > end - 4500 && now % 1000 < 300) {
        // One batch, one flush: the quote that follows carries the last price, never the spike.
        const ts = nextTs();
        spikeAt = ts;
        await push([
          tickAt('AAPL', walk(), ts),
          tickAt('AAPL', SPIKE, nextTs()),
          tickAt('AAPL', walk(), nextTs()),
          tickAt('AAPL', walk(), nextTs()),
        ]);
        await sleep(250); // flushes see the bar open, with the spike in it
        // A malformed request mid-stream: refused, and it changes nothing of what the socket holds.
        refused = await subscribe(live, { symbols: ['AAPL'], throttleMs: 250, candles: ['2m'] });
        continue;
      }
      const batch = [tickAt('AAPL', walk(), nextTs())];
      if (Math.random() < 0.3) batch.push(tickAt('MSFT', 410 + Math.random(), nextTs()));
      await push(batch);
      await sleep(40);
    }
    expect(spikeAt).toBeGreaterThan(0);
    expect(refused).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });

    // Close the open bars: a tick in a later second, then until the viewer has the last bar closed.
    const lastOpen = lastTs - (lastTs % 1000);
    await sleep(1000 - (Date.now() % 1000) + 20);
    await push([tickAt('AAPL', walk(), nextTs())]);
    expect(
      await until(() => closedOf(live.frames, 'AAPL', '1s').at(-1)?.start === lastOpen, 3000),
      'the last 1s bar arrives closed',
    ).toBe(true);

    for (const frame of live.frames) expect(candleFrameProblem(frame)).toBeUndefined();
    const [rest1s, rest5s] = await Promise.all([rest('1s'), rest('5s')]);
    for (const [interval, restBars, fromAck] of [
      ['1s', rest1s, ack1s],
      ['5s', rest5s, ack5s],
    ] as const) {
      const got = closedOf(live.frames, 'AAPL', interval);
      expect(got.length, `closed ${interval} bars`).toBeGreaterThanOrEqual(interval === '1s' ? 6 : 1);
      // From the bar the ack showed open, every bar once and in order, final: exactly REST's.
      expect(got[0]!.start, interval).toBe(fromAck.start);
      const wanted = restBars.filter((c) => c.closed && c.start >= fromAck.start && c.start <= got.at(-1)!.start);
      expect(got, interval).toEqual(wanted);
      expect(batchesOf(live.frames, 'AAPL', interval).filter((b) => b.gap)).toEqual([]);
    }

    // The spike: no quote carried it, the live bars did (1s and 5s), and so does the closed 1s bar.
    const quotes = [...live.frames, ...plain.frames].flatMap((f) => f.quotes ?? []).filter((q) => q.symbol === 'AAPL');
    expect(quotes.length).toBeGreaterThan(40);
    expect(quotes.filter((q) => q.last === SPIKE)).toEqual([]);
    const spikeSecond = spikeAt - (spikeAt % 1000);
    for (const interval of ['1s', '5s'] as const) {
      const opens = batchesOf(live.frames, 'AAPL', interval).flatMap((b) => b.bars.filter((c) => !c.closed));
      expect(
        opens.some((c) => c.high === SPIKE && c.start <= spikeAt),
        `a live ${interval} bar with the spike as its high`,
      ).toBe(true);
    }
    expect(closedOf(live.frames, 'AAPL', '1s').find((c) => c.start === spikeSecond)).toMatchObject({
      high: SPIKE,
      closed: true,
    });
    // MSFT's pairs stream too; the viewer without candles never gets any.
    expect(closedOf(live.frames, 'MSFT', '1s').length).toBeGreaterThan(0);
    expect(plain.frames.length).toBeGreaterThan(40);
    expect(plain.frames.every((f) => f.candles === undefined)).toBe(true);
  });

  it('refuses a malformed candles value with a coded error; the socket and the others keep working', async () => {
    const bad = await viewer();
    const other = await viewer();
    expect(await subscribe(other, { symbols: ['AAPL'], throttleMs: 100, candles: ['1s'] })).toMatchObject({
      ok: true,
    });
    for (const candles of [
      ['2m'],
      '1s',
      [1000],
      ['1s', '5s', '1m', '5m', '15m'],
      [{ symbol: 'AAPL', interval: '1s' }],
    ]) {
      const ack = await subscribe(bad, { symbols: ['AAPL'], throttleMs: 100, candles });
      expect(ack, JSON.stringify(candles)).toMatchObject({
        ok: false,
        error: { code: 'BAD_REQUEST', message: expect.stringMatching(/^candles/) },
      });
    }
    expect(bad.socket.connected).toBe(true);
    const pong = await bad.socket.timeout(5000).emitWithAck('ping');
    expect(pong.serverTime).toBeGreaterThan(0);
    // The refused socket holds nothing: a tick reaches the other one only.
    await push([tickAt('AAPL', walk(), nextTs())]);
    expect(await until(() => other.frames.some((f) => f.candles !== undefined), 2000)).toBe(true);
    await sleep(300);
    expect(bad.frames).toEqual([]);
    // The same socket subscribes fine afterwards, with candles; unsubscribing drops them.
    const ack = await subscribe(bad, { symbols: ['AAPL'], throttleMs: 100, candles: ['1s'] });
    expect(ack).toMatchObject({ ok: true, candles: [{ symbol: 'AAPL', interval: '1s' }] });
    await push([tickAt('AAPL', walk(), nextTs())]);
    expect(await until(() => batchesOf(bad.frames, 'AAPL', '1s').length > 0, 2000)).toBe(true);
    expect(await bad.socket.timeout(5000).emitWithAck('unsubscribe', { symbols: ['AAPL'] })).toEqual({
      ok: true,
      symbols: ['AAPL'],
    });
    const seen = bad.frames.length;
    await push([tickAt('AAPL', walk(), nextTs())]);
    expect(await until(() => other.frames.length > 0 && other.frames.at(-1)!.quotes !== undefined, 2000)).toBe(true);
    await sleep(300);
    expect(bad.frames.slice(seen)).toEqual([]);
  });
});
