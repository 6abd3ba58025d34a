import { DEFAULT_INSTRUMENTS, FRAME_VERSION, type FeedTick, type ViewerFrame } from '@tickdeck/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { SubscriptionService, type SocketViewer, type ViewerSocket } from './subscription.service.js';
import { Throttler } from './throttler.js';

const T0 = Date.UTC(2026, 10, 25, 15);

/** Just enough of a Socket.IO socket: data, emits (`frame`s also to `onFrame`), connected. */
function fakeSocket(onFrame: (frame: ViewerFrame) => void = () => {}) {
  const emitted: { event: string; payload: unknown }[] = [];
  const socket = {
    connected: true,
    data: {},
    emit: (event: string, payload: unknown) => {
      emitted.push({ event, payload });
      if (event === 'frame') onFrame(payload as ViewerFrame);
      return true;
    },
  };
  return { socket: socket as unknown as ViewerSocket, emitted };
}

/** [symbol, seq, conflated] of each quote of a frame. */
const quoteSeqs = (frame: ViewerFrame) => (frame.quotes ?? []).map((q) => [q.symbol, q.seq, q.conflated]);
/** [symbol, trade seqs] of each batch of a frame. */
const tradeSeqs = (frame: ViewerFrame) => (frame.trades ?? []).map((b) => [b.symbol, b.trades.map((t) => t.seq)]);

describe(SubscriptionService.name, () => {
  let market: MarketState;
  let throttler: Throttler<SocketViewer>;
  let service: SubscriptionService;
  /** What the throttler wrote: the sockets and the frame. */
  const written: { sockets: ViewerSocket[]; frame: ViewerFrame }[] = [];
  const tick = (symbol: string, last: number): FeedTick => ({ symbol, ts: T0, last, bid: last, ask: last + 0.01 });
  const trade = (symbol: string) => market.applyTrade({ symbol, ts: T0, price: 100, size: 1, side: 'buy' });
  /** Frames the throttler wrote to `socket`. */
  const framesTo = (socket: ViewerSocket) => written.filter((w) => w.sockets.includes(socket)).map((w) => w.frame);
  /** Frames each socket got, from the throttler or a catch-up, in order of arrival. */
  const arrivals = new Map<ViewerSocket, ViewerFrame[]>();
  const connect = () => {
    const frames: ViewerFrame[] = [];
    const s = fakeSocket((frame) => frames.push(frame));
    arrivals.set(s.socket, frames);
    service.attach(s.socket);
    return s;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    written.length = 0;
    arrivals.clear();
    const config = loadConfig({ MAX_SYMBOLS_PER_CLIENT: '3' });
    market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 10 });
    throttler = new Throttler(market, config.throttleTiersMs);
    throttler.start({
      write: (viewers, _count, json) => {
        const sockets = [...viewers].map((v) => v.socket);
        const frame = JSON.parse(json) as ViewerFrame;
        written.push({ sockets, frame });
        for (const s of sockets) arrivals.get(s)?.push(frame);
      },
    });
    service = new SubscriptionService(config, market, throttler);
  });
  afterEach(() => {
    throttler.stop();
    vi.useRealTimers();
  });

  it('knows the viewer of each socket it attached, and no other', () => {
    const { socket } = connect();
    expect(service.viewerOf(socket)).toBe(socket.data.viewer);
    expect(socket.data.viewer).toMatchObject({ socket, group: null, lagging: false, owed: null });
    expect(service.viewerOf(fakeSocket().socket)).toBeUndefined();
  });

  it('puts the socket in its group at once when the next flush cannot repeat the snapshot', () => {
    const { socket, emitted } = connect();
    const ack = service.subscribe(socket, { symbols: ['MSFT', 'AAPL'], throttleMs: 100 });
    expect(ack).toMatchObject({ ok: true, throttleMs: 100, epoch: market.epoch, trades: [], gaps: [] });
    if (!ack.ok) return;
    expect(ack.snapshots.map((s) => [s.symbol, s.seq, s.tradeSeq])).toEqual([
      ['MSFT', 0, 0],
      ['AAPL', 0, 0],
    ]);
    const both = [market.indexOf('AAPL'), market.indexOf('MSFT')];
    expect(socket.data.viewer.group).toMatchObject({ quotes: [both, [], []], trades: both });
    market.applyTick(tick('AAPL', 100));
    trade('MSFT');
    vi.advanceTimersByTime(100);
    expect(framesTo(socket).map((f) => [quoteSeqs(f), tradeSeqs(f)])).toEqual([[[['AAPL', 1, 1]], [['MSFT', [1]]]]]);
    expect(emitted).toEqual([]);
  });

  it('defers a dirty symbol until after the flush, then sends once what moved past the snapshot', () => {
    market.applyTick(tick('AAPL', 100)); // seq 1, not yet flushed: the next flush would repeat it
    const { socket, emitted } = connect();
    const ack = service.subscribe(socket, { symbols: ['AAPL'], throttleMs: 100 });
    expect(ack.ok && ack.snapshots[0]!.seq).toBe(1);
    // Its trades may start (none pending), its quotes not yet.
    expect(socket.data.viewer.group).toMatchObject({ quotes: [[], [], []], trades: [market.indexOf('AAPL')] });
    vi.advanceTimersByTime(100); // the flush that would have repeated seq 1
    expect(framesTo(socket)).toEqual([]);
    expect(emitted).toEqual([]); // nothing moved past the snapshot
    expect(socket.data.viewer.group).toMatchObject({ quotes: [[market.indexOf('AAPL')], [], []] });

    const { socket: late, emitted: lateEmitted } = connect();
    market.applyTick(tick('AAPL', 101)); // seq 2
    // Another symbol, clean, in the same request: it waits with the dirty one.
    service.subscribe(late, { symbols: ['AAPL', 'MSFT'], throttleMs: 100 }); // snapshots at seq 2 and 0
    market.applyTick(tick('AAPL', 102)); // seq 3 lands before the flush
    market.applyTick(tick('MSFT', 400)); // MSFT seq 1
    trade('MSFT');
    vi.advanceTimersByTime(100);
    // The flush wrote seq 3 to the first socket; the late one had it in its one catch-up frame.
    expect(framesTo(socket).map(quoteSeqs)).toEqual([[['AAPL', 3, 2]]]);
    // None of their trades was pending at the snapshot: MSFT's came with the flush.
    expect(framesTo(late)).toEqual([{ v: FRAME_VERSION, trades: [expect.objectContaining({ symbol: 'MSFT' })] }]);
    expect(lateEmitted).toEqual([
      {
        event: 'frame',
        payload: {
          v: FRAME_VERSION,
          quotes: [
            expect.objectContaining({ symbol: 'AAPL', seq: 3, conflated: 1, last: 102 }),
            expect.objectContaining({ symbol: 'MSFT', seq: 1, conflated: 1, last: 400 }),
          ],
        },
      },
    ]);
    expect(arrivals.get(late)!.flatMap(tradeSeqs)).toEqual([['MSFT', [1]]]);

    market.applyTick(tick('AAPL', 103)); // seq 4
    vi.advanceTimersByTime(100);
    // Every quote it got newer than its snapshot, each once.
    expect(arrivals.get(late)!.flatMap(quoteSeqs)).toEqual([
      ['AAPL', 3, 1],
      ['MSFT', 1, 1],
      ['AAPL', 4, 1],
    ]);
  });

  it('defers trades queued for the next flush, then sends once those after the snapshot', () => {
    const { socket: early } = connect();
    service.subscribe(early, { symbols: ['AAPL'], throttleMs: 250 });
    trade('AAPL');
    trade('AAPL'); // 1 and 2 wait for the next flush: the snapshot counts them
    const { socket, emitted } = connect();
    const ack = service.subscribe(socket, { symbols: ['AAPL'], throttleMs: 250 });
    expect(ack.ok && ack.snapshots[0]!.tradeSeq).toBe(2);
    expect(socket.data.viewer.group).toMatchObject({ quotes: [[], [market.indexOf('AAPL')], []], trades: [] });
    trade('AAPL'); // 3, after the snapshot
    vi.advanceTimersByTime(100);
    expect(framesTo(early).flatMap(tradeSeqs)).toEqual([['AAPL', [1, 2, 3]]]);
    expect(framesTo(socket)).toEqual([]);
    expect(emitted).toEqual([
      {
        event: 'frame',
        payload: { v: FRAME_VERSION, trades: [{ symbol: 'AAPL', trades: [expect.objectContaining({ seq: 3 })] }] },
      },
    ]);
    trade('AAPL');
    vi.advanceTimersByTime(100);
    expect(arrivals.get(socket)!.flatMap(tradeSeqs)).toEqual([
      ['AAPL', [3]],
      ['AAPL', [4]],
    ]);
  });

  it('at a slow tier, catches up the trades after the fastest flush and the quotes after its own, one frame each', () => {
    market.applyTick(tick('KO', 70)); // dirty at 1000 until its first flush
    trade('KO'); // pending
    const { socket, emitted } = connect();
    const ack = service.subscribe(socket, { symbols: ['KO'], throttleMs: 1000 });
    expect(ack.ok && [ack.snapshots[0]!.seq, ack.snapshots[0]!.tradeSeq]).toEqual([1, 1]);
    market.applyTick(tick('KO', 71)); // seq 2
    trade('KO'); // 2
    vi.advanceTimersByTime(100);
    expect(emitted.map((e) => e.payload as ViewerFrame).map((f) => [quoteSeqs(f), tradeSeqs(f)])).toEqual([
      [[], [['KO', [2]]]],
    ]);
    trade('KO'); // 3: its trades now come with every flush of the fastest tier
    market.applyTick(tick('KO', 72)); // seq 3
    vi.advanceTimersByTime(900);
    expect(framesTo(socket).map((f) => [quoteSeqs(f), tradeSeqs(f)])).toEqual([[[], [['KO', [3]]]]]);
    expect(emitted.slice(1)).toEqual([
      {
        event: 'frame',
        payload: {
          v: FRAME_VERSION,
          quotes: [expect.objectContaining({ symbol: 'KO', seq: 3, conflated: 2, last: 72 })],
        },
      },
    ]);
    market.applyTick(tick('KO', 73));
    vi.advanceTimersByTime(1000);
    expect(arrivals.get(socket)!.flatMap(quoteSeqs)).toEqual([
      ['KO', 3, 2],
      ['KO', 4, 1],
    ]);
    expect(emitted).toHaveLength(2);
  });

  it('at a tier on its own timer that flushes first, catches up its quotes but leaves the trades to the fastest flush', () => {
    // The 250 ms tier has its own timer: subscribed at 210 ms, its flush (250) comes before the
    // fastest one (300). Trades queued then must not reach the socket from that 300 ms flush:
    // the ack's snapshot (and a `since` replay) already counts them.
    vi.advanceTimersByTime(210);
    market.applyTick(tick('AAPL', 200)); // dirty at 250
    trade('AAPL'); // 1, queued for the 300 ms flush
    const { socket } = connect();
    const ack = service.subscribe(socket, { symbols: ['AAPL'], throttleMs: 250 });
    expect(ack.ok && [ack.snapshots[0]!.seq, ack.snapshots[0]!.tradeSeq]).toEqual([1, 1]);
    market.applyTick(tick('AAPL', 201)); // seq 2
    vi.advanceTimersByTime(40); // 250: the tier's flush and its catch-up
    expect(arrivals.get(socket)!.map((f) => [quoteSeqs(f), tradeSeqs(f)])).toEqual([[[['AAPL', 2, 1]], []]]);
    trade('AAPL'); // 2
    vi.advanceTimersByTime(50); // 300: the fastest flush settles the trades
    trade('AAPL'); // 3
    vi.advanceTimersByTime(100);
    expect(arrivals.get(socket)!.flatMap(tradeSeqs)).toEqual([
      ['AAPL', [2]],
      ['AAPL', [3]],
    ]);
  });

  it('drops deferred work when the symbol is unsubscribed or the socket disconnects first', () => {
    market.applyTick(tick('KO', 70));
    market.applyTick(tick('AAPL', 100));
    const { socket, emitted } = connect();
    service.subscribe(socket, { symbols: ['KO'], throttleMs: 250 });
    expect(service.unsubscribe(socket, { symbols: ['KO', 'MSFT'] })).toEqual({ ok: true, symbols: ['KO'] });
    const { socket: gone, emitted: goneEmitted } = connect();
    service.subscribe(gone, { symbols: ['AAPL'], throttleMs: 250 });
    const { socket: partial, emitted: partialEmitted } = connect();
    service.subscribe(partial, { symbols: ['AAPL', 'KO'], throttleMs: 250 });
    service.unsubscribe(partial, { symbols: ['KO'] });
    const { socket: closing, emitted: closingEmitted } = connect();
    service.subscribe(closing, { symbols: ['AAPL'], throttleMs: 250 });
    (gone as { connected: boolean }).connected = false;
    service.release(gone);
    (closing as { connected: boolean }).connected = false; // its release is still to come
    market.applyTick(tick('KO', 71));
    market.applyTick(tick('AAPL', 101));
    vi.advanceTimersByTime(250);
    expect(emitted).toEqual([]);
    expect(goneEmitted).toEqual([]);
    expect(closingEmitted).toEqual([]);
    expect(partialEmitted.map((e) => quoteSeqs(e.payload as ViewerFrame))).toEqual([[['AAPL', 2, 1]]]);
    expect(socket.data.viewer.group).toBeNull();
    expect(gone.data.viewer.group).toBeNull();
    service.release(closing);
    expect(throttler.groupCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(written.flatMap((w) => w.sockets)).toEqual([]);
  });

  describe('live candles', () => {
    const tickAt = (symbol: string, last: number, ts: number) =>
      market.applyTick({ symbol, ts, last, bid: last, ask: last + 0.01, volume: 1 });
    /** [symbol, interval, [start - T0, closed]] of each candle batch a socket received. */
    const candleBars = (socket: ViewerSocket) =>
      arrivals
        .get(socket)!
        .flatMap((f) =>
          (f.candles ?? []).map((b) => [b.symbol, b.interval, b.bars.map((c) => [c.start - T0, c.closed])]),
        );

    it('acks the open bars of the pairs asked for, then streams their bars in the frames at the tier', () => {
      tickAt('AAPL', 100, T0 + 10);
      tickAt('AAPL', 130, T0 + 20); // a spike
      tickAt('AAPL', 101, T0 + 30);
      const { socket } = connect();
      const ack = service.subscribe(socket, {
        symbols: ['AAPL', 'MSFT'],
        throttleMs: 100,
        candles: ['1s', '1m', '1s'],
      });
      if (!ack.ok) throw new Error(ack.error.message);
      const open = { start: T0, open: 100, high: 130, low: 100, close: 101, volume: 3, ticks: 3, closed: false };
      expect(ack.candles).toStrictEqual([
        { symbol: 'AAPL', interval: '1s', bars: [open] },
        { symbol: 'AAPL', interval: '1m', bars: [open] },
        { symbol: 'MSFT', interval: '1s', bars: [] },
        { symbol: 'MSFT', interval: '1m', bars: [] },
      ]);
      // Without candles the ack is as it always was.
      const { socket: plain } = connect();
      expect(service.subscribe(plain, { symbols: ['AAPL'], throttleMs: 100 })).not.toHaveProperty('candles');

      vi.advanceTimersByTime(100); // the flush after the ack: AAPL was dirty, its bars did not move
      expect(candleBars(socket)).toEqual([]);
      tickAt('AAPL', 102, T0 + 1005); // closes the 1s bar the ack showed
      tickAt('MSFT', 400, T0 + 1010);
      vi.advanceTimersByTime(100);
      expect(candleBars(socket)).toEqual([
        [
          'AAPL',
          '1s',
          [
            [0, true],
            [1000, false],
          ],
        ],
        ['AAPL', '1m', [[0, false]]],
        ['MSFT', '1s', [[1000, false]]],
        ['MSFT', '1m', [[0, false]]],
      ]);
      expect(arrivals.get(socket)!.at(-1)!.candles![0]!.bars[0]).toMatchObject({ high: 130, close: 101 });
      expect(arrivals.get(plain)!.every((f) => f.candles === undefined)).toBe(true);
    });

    it('refuses a malformed candles value as BAD_REQUEST and changes nothing', () => {
      const { socket } = connect();
      expect(service.subscribe(socket, { symbols: ['AAPL'], throttleMs: 100, candles: ['1s'] })).toMatchObject({
        ok: true,
      });
      const sub = socket.data.subs.get('AAPL');
      const group = socket.data.viewer.group;
      for (const candles of [
        ['2m'],
        '1m',
        [1000],
        ['1s', '5s', '1m', '5m', '15m'],
        [{ symbol: 'AAPL', interval: '1m' }],
      ]) {
        const ack = service.subscribe(socket, { symbols: ['AAPL', 'MSFT'], throttleMs: 250, candles });
        expect(ack, JSON.stringify(candles)).toMatchObject({
          ok: false,
          error: { code: 'BAD_REQUEST', message: expect.stringMatching(/^candles/) },
        });
      }
      expect([...socket.data.subs.keys()]).toEqual(['AAPL']);
      expect(socket.data.subs.get('AAPL')).toBe(sub);
      expect(socket.data.viewer.group).toBe(group);
      tickAt('AAPL', 100, T0 + 10);
      vi.advanceTimersByTime(100);
      expect(candleBars(socket)).toEqual([['AAPL', '1s', [[0, false]]]]);
    });

    it('replaces the intervals of the symbols a subscribe names, and drops them on unsubscribe', () => {
      const { socket } = connect();
      service.subscribe(socket, { symbols: ['AAPL', 'MSFT'], throttleMs: 100, candles: ['1s'] });
      service.subscribe(socket, { symbols: ['MSFT'], throttleMs: 100, candles: ['5s'] });
      tickAt('AAPL', 100, T0 + 10);
      tickAt('MSFT', 400, T0 + 10);
      vi.advanceTimersByTime(100);
      expect(candleBars(socket).map(([s, i]) => `${s}/${i}`)).toEqual(['AAPL/1s', 'MSFT/5s']);
      // Named without candles: none for it; the others keep theirs.
      service.subscribe(socket, { symbols: ['AAPL'], throttleMs: 100 });
      tickAt('AAPL', 101, T0 + 20);
      tickAt('MSFT', 401, T0 + 20);
      vi.advanceTimersByTime(100);
      expect(
        arrivals
          .get(socket)!
          .at(-1)!
          .candles!.map((b) => `${b.symbol}/${b.interval}`),
      ).toEqual(['MSFT/5s']);
      expect(service.unsubscribe(socket, { symbols: ['MSFT'] })).toEqual({ ok: true, symbols: ['MSFT'] });
      expect(socket.data.viewer.group).toMatchObject({ candles: null });
      tickAt('MSFT', 402, T0 + 30);
      tickAt('AAPL', 102, T0 + 30);
      vi.advanceTimersByTime(100);
      expect(arrivals.get(socket)!.at(-1)).toStrictEqual({
        v: FRAME_VERSION,
        quotes: [expect.objectContaining({ symbol: 'AAPL', seq: 3 })],
      });
    });
  });

  describe('recovery with since', () => {
    beforeEach(() => {
      for (let n = 0; n < 4; n++) trade('AAPL');
      for (let n = 0; n < 2; n++) trade('MSFT');
    });

    it('recovers the trades after since in the same epoch, and says which epoch it answers in', () => {
      const { socket } = connect();
      const ack = service.subscribe(socket, {
        symbols: ['AAPL', 'MSFT'],
        epoch: market.epoch,
        since: { AAPL: 2, MSFT: 2 },
      });
      expect(ack).toMatchObject({ ok: true, epoch: market.epoch, gaps: [] });
      if (!ack.ok) return;
      expect(ack.trades.map((b) => [b.symbol, b.trades.map((t) => t.seq)])).toEqual([['AAPL', [3, 4]]]);
      expect(ack.snapshots.map((s) => [s.symbol, s.epoch, s.tradeSeq])).toEqual([
        ['AAPL', market.epoch, 4],
        ['MSFT', market.epoch, 2],
      ]);
    });

    it('answers a since older than the ring holds with a gap', () => {
      for (let n = 0; n < 20; n++) trade('AAPL');
      const { socket } = connect();
      const ack = service.subscribe(socket, { symbols: ['AAPL'], epoch: market.epoch, since: { AAPL: 2 } });
      expect(ack).toMatchObject({ ok: true, trades: [], gaps: ['AAPL'] });
    });

    it('answers a since from another epoch with a gap for every symbol it names, and no trades', () => {
      const { socket } = connect();
      const other = market.epoch === 'aaaaaaaaaaaa' ? 'bbbbbbbbbbbb' : 'aaaaaaaaaaaa';
      const ack = service.subscribe(socket, {
        symbols: ['AAPL', 'MSFT', 'KO'],
        epoch: other,
        // Seqs the other run reached too: in this epoch they would look like a continuation.
        since: { AAPL: 1, MSFT: 2 },
      });
      expect(ack).toMatchObject({ ok: true, epoch: market.epoch, trades: [], gaps: ['AAPL', 'MSFT'] });
      if (!ack.ok) return;
      expect(ack.snapshots.every((s) => s.epoch === market.epoch)).toBe(true);
      // It is subscribed all the same: live trades follow from the snapshot.
      expect([...socket.data.subs.keys()]).toEqual(['AAPL', 'MSFT', 'KO']);
    });

    it('refuses a since without its epoch as BAD_REQUEST, and holds nothing', () => {
      const { socket } = connect();
      const ack = service.subscribe(socket, { symbols: ['AAPL'], since: { AAPL: 2 } });
      expect(ack).toMatchObject({
        ok: false,
        error: { code: 'BAD_REQUEST', message: expect.stringMatching(/^epoch: /) },
      });
      expect(socket.data.subs.size).toBe(0);
      expect(socket.data.viewer.group).toBeNull();
      expect(service.subscribe(socket, { symbols: ['AAPL'], epoch: 'x'.repeat(65) })).toMatchObject({
        ok: false,
        error: { code: 'BAD_REQUEST' },
      });
      // An epoch alone is fine (nothing to recover).
      expect(service.subscribe(socket, { symbols: ['AAPL'], epoch: 'whatever' })).toMatchObject({ ok: true, gaps: [] });
    });
  });

  it('refuses an unknown symbol or tier, and holds nothing', () => {
    const { socket } = connect();
    expect(service.subscribe(socket, { symbols: ['AAPL', 'NOPE'] })).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_SYMBOL', symbols: ['NOPE'] },
    });
    expect(service.subscribe(socket, { symbols: ['AAPL'], throttleMs: 500 })).toMatchObject({
      ok: false,
      error: { code: 'BAD_THROTTLE', tiers: [100, 250, 1000] },
    });
    expect(service.unsubscribe(socket, { symbols: ['NOPE'] })).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_SYMBOL' },
    });
    expect(socket.data.subs.size).toBe(0);
    expect(throttler.groupCount()).toBe(0);
  });

  it('moves a symbol between tiers and releases everything on disconnect', () => {
    const { socket } = connect();
    expect(service.subscribe(socket, { symbols: ['AAPL', 'MSFT'], throttleMs: 100 })).toMatchObject({ ok: true });
    expect(service.subscribe(socket, { symbols: ['MSFT'], throttleMs: 1000 })).toMatchObject({ ok: true });
    const [aapl, msft] = [market.indexOf('AAPL'), market.indexOf('MSFT')];
    expect(socket.data.viewer.group).toMatchObject({ quotes: [[aapl], [], [msft]], trades: [aapl, msft] });
    market.applyTick(tick('AAPL', 100));
    market.applyTick(tick('MSFT', 400));
    vi.advanceTimersByTime(1000);
    expect(framesTo(socket).map(quoteSeqs)).toEqual([[['AAPL', 1, 1]], [['MSFT', 1, 1]]]);
    expect(service.subscribe(socket, { symbols: ['V', 'KO'] })).toMatchObject({
      ok: false,
      error: { code: 'TOO_MANY_SYMBOLS' },
    });
    expect([...socket.data.subs.keys()]).toEqual(['AAPL', 'MSFT']);

    service.release(socket);
    expect(socket.data.subs.size).toBe(0);
    expect(socket.data.viewer.group).toBeNull();
    expect(throttler.groupCount()).toBe(0);
    written.length = 0;
    market.applyTick(tick('AAPL', 101));
    trade('AAPL');
    vi.advanceTimersByTime(1000);
    expect(written).toEqual([]);
  });
});
