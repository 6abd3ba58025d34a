import { DEFAULT_INSTRUMENTS, tradeRoom, type FeedTick, type Quote, type TradeBatch } from '@tickdeck/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { SubscriptionService, type ViewerSocket } from './subscription.service.js';
import { Throttler } from './throttler.js';

const T0 = Date.UTC(2026, 10, 25, 15);

/** Just enough of a Socket.IO socket: rooms, emits, connected. */
function fakeSocket() {
  const rooms = new Set<string>();
  const emitted: { event: string; payload: unknown }[] = [];
  const socket = {
    connected: true,
    data: { subs: new Map(), groups: new Map() },
    rooms,
    join: (room: string) => void rooms.add(room),
    leave: (room: string) => void rooms.delete(room),
    emit: (event: string, payload: unknown) => emitted.push({ event, payload }),
  };
  return { socket: socket as unknown as ViewerSocket, rooms, emitted };
}

describe(SubscriptionService.name, () => {
  let market: MarketState;
  let throttler: Throttler;
  let service: SubscriptionService;
  const sent: { room: string; quotes: Quote[] }[] = [];
  const tick = (symbol: string, last: number): FeedTick => ({ symbol, ts: T0, last, bid: last, ask: last + 0.01 });

  beforeEach(() => {
    vi.useFakeTimers();
    sent.length = 0;
    const config = loadConfig({ MAX_SYMBOLS_PER_CLIENT: '3' });
    market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 10 });
    throttler = new Throttler(market, config.throttleTiersMs);
    throttler.start({
      members: () => 1,
      quotes: (room, quotes) => sent.push({ room, quotes }),
      trades: (_room: string, _batch: TradeBatch) => {},
    });
    service = new SubscriptionService(config, market, throttler);
  });
  afterEach(() => {
    throttler.stop();
    vi.useRealTimers();
  });

  it('joins the group at once when the next flush cannot repeat the snapshot', () => {
    const { socket, rooms } = fakeSocket();
    const ack = service.subscribe(socket, { symbols: ['AAPL', 'MSFT'], throttleMs: 100 });
    expect(ack.ok).toBe(true);
    const group = socket.data.groups.get(100)!;
    expect(group.symbols).toEqual([market.indexOf('AAPL'), market.indexOf('MSFT')]);
    expect([...rooms].sort()).toEqual([group.room, tradeRoom('AAPL'), tradeRoom('MSFT')].sort());
  });

  it('defers a dirty symbol until after the flush, then sends only what moved past the snapshot', () => {
    market.applyTick(tick('AAPL', 100)); // seq 1, not yet flushed: the next flush would repeat it
    const { socket, emitted } = fakeSocket();
    const ack = service.subscribe(socket, { symbols: ['AAPL'], throttleMs: 100 });
    expect(ack.ok && ack.snapshots[0]!.seq).toBe(1);
    expect(socket.data.groups.size).toBe(0);
    vi.advanceTimersByTime(100); // the flush that would have repeated seq 1
    expect(socket.data.groups.get(100)).toBeDefined();
    expect(emitted).toEqual([]); // nothing moved past the snapshot

    const { socket: late, emitted: lateEmitted } = fakeSocket();
    market.applyTick(tick('AAPL', 101)); // seq 2
    service.subscribe(late, { symbols: ['AAPL'], throttleMs: 100 }); // snapshot at seq 2
    market.applyTick(tick('AAPL', 102)); // seq 3 lands before the flush
    vi.advanceTimersByTime(100);
    expect(lateEmitted).toEqual([
      { event: 'quotes', payload: [expect.objectContaining({ seq: 3, conflated: 1, last: 102 })] },
    ]);
  });

  it('drops a deferred join when the symbol is unsubscribed or the socket leaves first', () => {
    market.applyTick(tick('KO', 70));
    const { socket, rooms, emitted } = fakeSocket();
    service.subscribe(socket, { symbols: ['KO'], throttleMs: 250 });
    expect(service.unsubscribe(socket, { symbols: ['KO'] })).toEqual({ ok: true, symbols: ['KO'] });
    market.applyTick(tick('KO', 71));
    vi.advanceTimersByTime(250);
    expect(socket.data.groups.size).toBe(0);
    expect(rooms.size).toBe(0);
    expect(emitted).toEqual([]);
    expect(throttler.groupCount(throttler.tierIndex(250))).toBe(0);
  });

  describe('recovery with since', () => {
    const trade = (symbol: string, ts = T0) => ({ symbol, ts, price: 100, size: 1, side: 'buy' as const });
    beforeEach(() => {
      for (let n = 0; n < 4; n++) market.applyTrade(trade('AAPL'));
      for (let n = 0; n < 2; n++) market.applyTrade(trade('MSFT'));
    });

    it('recovers the trades after since in the same epoch, and says which epoch it answers in', () => {
      const { socket } = fakeSocket();
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

    it('answers a since from another epoch with a gap for every symbol it names, and no trades', () => {
      const { socket } = fakeSocket();
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
      const { socket } = fakeSocket();
      const ack = service.subscribe(socket, { symbols: ['AAPL'], since: { AAPL: 2 } });
      expect(ack).toMatchObject({
        ok: false,
        error: { code: 'BAD_REQUEST', message: expect.stringMatching(/^epoch: /) },
      });
      expect(socket.data.subs.size).toBe(0);
      expect(service.subscribe(socket, { symbols: ['AAPL'], epoch: 'x'.repeat(65) })).toMatchObject({
        ok: false,
        error: { code: 'BAD_REQUEST' },
      });
      // An epoch alone is fine (nothing to recover).
      expect(service.subscribe(socket, { symbols: ['AAPL'], epoch: 'whatever' })).toMatchObject({ ok: true, gaps: [] });
    });
  });

  it('moves a symbol between tiers and releases every group on disconnect', () => {
    const { socket } = fakeSocket();
    service.subscribe(socket, { symbols: ['AAPL', 'MSFT'], throttleMs: 100 });
    service.subscribe(socket, { symbols: ['MSFT'], throttleMs: 1000 });
    expect(socket.data.groups.get(100)!.symbols).toEqual([market.indexOf('AAPL')]);
    expect(socket.data.groups.get(1000)!.symbols).toEqual([market.indexOf('MSFT')]);
    expect(service.subscribe(socket, { symbols: ['V', 'KO'] })).toMatchObject({
      ok: false,
      error: { code: 'TOO_MANY_SYMBOLS' },
    });
    service.release(socket);
    expect(throttler.groupCount(0) + throttler.groupCount(1) + throttler.groupCount(2)).toBe(0);
    market.applyTick(tick('AAPL', 1));
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([]);
  });
});
