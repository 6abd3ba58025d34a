import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  FRAME_VERSION,
  type AlertSetAck,
  type AlertSetRequest,
  type Candle,
  type FiredAlert,
  type PingAck,
  type SubscribeAck,
  type SubscribeRequest,
  type Trade,
  type ViewerFrame,
} from '@tickdeck/protocol';
import type { AlertChannel } from './alerts.svelte';
import { ChartBook, type CandleQuery } from './chart/book';
import { MarketStore } from './market.svelte';
import { connectMarket, type ConnectOptions, type MarketSocket } from './socket';
import type { Wanted } from './subscriptions';
import { EPOCH, quote, snapshot, spec } from './test-data';
import { TradeStore } from './trades.svelte';

type Handler = (...args: never[]) => void;

interface Sent {
  event: string;
  request: SubscribeRequest;
  ack: (err: Error | null, res?: SubscribeAck) => void;
}

/** Stands in for a socket.io-client socket; the test plays the gateway and the manager. */
class FakeSocket {
  connected = false;
  active = false;
  id: string | undefined;
  connects = 0;
  sent: Sent[] = [];
  #handlers = new Map<string, Handler[]>();
  #managerHandlers = new Map<string, Handler[]>();

  io = {
    on: (event: string, handler: Handler) => add(this.#managerHandlers, event, handler),
  };

  on(event: string, handler: Handler): this {
    add(this.#handlers, event, handler);
    return this;
  }

  pings: ((err: Error | null, res?: PingAck) => void)[] = [];

  timeout(_ms: number) {
    return {
      emit: (event: string, ...args: unknown[]) => {
        if (event === 'ping') this.pings.push(args[0] as FakeSocket['pings'][number]);
        else this.sent.push({ event, request: args[0] as SubscribeRequest, ack: args[1] as Sent['ack'] });
      },
    };
  }

  connect(): this {
    this.active = true;
    this.connects++;
    return this;
  }

  disconnect(): this {
    this.active = false;
    if (this.connected) this.drop('io client disconnect');
    return this;
  }

  /** The handshake completed with session `id`. */
  open(id: string): void {
    this.connected = true;
    this.id = id;
    this.fire('connect');
  }

  /** The connection ended; a dropped transport keeps the socket `active`, a kick does not. */
  drop(reason: string): void {
    this.connected = false;
    this.id = undefined;
    if (reason === 'io server disconnect') this.active = false;
    this.fire('disconnect', reason);
  }

  fire(event: string, ...args: unknown[]): void {
    for (const handler of this.#handlers.get(event) ?? []) (handler as (...a: unknown[]) => void)(...args);
  }

  /** The gateway's flush: one `frame` of the current version. */
  frame(content: Omit<ViewerFrame, 'v'>): void {
    this.fire('frame', { v: FRAME_VERSION, ...content });
  }

  fireManager(event: string, ...args: unknown[]): void {
    for (const handler of this.#managerHandlers.get(event) ?? []) (handler as (...a: unknown[]) => void)(...args);
  }

  lastSent(): Sent {
    const sent = this.sent.at(-1);
    if (!sent) throw new Error('nothing sent');
    return sent;
  }
}

function add(map: Map<string, Handler[]>, event: string, handler: Handler): void {
  map.set(event, [...(map.get(event) ?? []), handler]);
}

const instruments = [spec('AAPL'), spec('BTC-USD')];

/** Opens session `id` and waits for the subscribe it triggers (after the symbol list loads). */
async function subscribed(socket: FakeSocket, id: string): Promise<Sent> {
  const before = socket.sent.length;
  socket.open(id);
  await vi.waitFor(() => expect(socket.sent).toHaveLength(before + 1), { interval: 1 });
  return socket.lastSent();
}

const connections: { close(): void }[] = [];

function setup(options: Pick<ConnectOptions, 'throttleMs' | 'pingIntervalMs' | 'loadTiers' | 'wanted'> = {}) {
  const store = new MarketStore();
  const trades = new TradeStore({ schedule: (flush) => flush() });
  const history = vi.fn(async (_symbol: string, _interval: string, _query: CandleQuery) => [] as Candle[]);
  const charts = new ChartBook(history);
  const socket = new FakeSocket();
  const loadSymbols = vi.fn(async () => instruments);
  const loadTiers = vi.fn(async () => [100, 250, 1000]);
  const connection = connectMarket(
    { market: store, trades, charts },
    {
      pingIntervalMs: 0,
      rateIntervalMs: 0,
      ...options,
      retryDelayMs: 1000,
      loadSymbols,
      loadTiers: options.loadTiers ?? loadTiers,
      createSocket: () => socket as unknown as MarketSocket,
    },
  );
  connections.push(connection);
  return { store, trades, charts, history, socket, connection, loadSymbols };
}

function trade(seq: number, fields: Partial<Trade> = {}): Trade {
  return { id: `AAPL-${seq}`, seq, ts: 1_700_000_000_000 + seq, price: 228, size: 10, side: 'buy', ...fields };
}

/** Trade seqs on the tape, oldest first. */
function tapeSeqs(trades: TradeStore): number[] {
  return trades.tape.flatMap((e) => (e.kind === 'trade' ? [e.trade.seq] : [])).reverse();
}

function ok(
  snapshots = [snapshot('AAPL', 10, { last: 228 }), snapshot('BTC-USD', 20, { last: 67_000 })],
): Extract<SubscribeAck, { ok: true }> {
  return { ok: true, throttleMs: 250, epoch: snapshots[0]?.epoch ?? EPOCH, snapshots, trades: [], gaps: [] };
}

afterEach(() => {
  for (const c of connections.splice(0)) c.close();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe(connectMarket.name, () => {
  it('subscribes to every symbol once connected and goes live with the snapshots', async () => {
    const { store, socket } = setup();
    expect(socket.connects).toBe(1);
    expect(store.connection.state).toBe('connecting');

    await subscribed(socket, 'a');
    expect(socket.lastSent()).toMatchObject({ event: 'subscribe', request: { symbols: ['AAPL', 'BTC-USD'] } });
    expect(socket.lastSent().request).not.toHaveProperty('throttleMs');
    expect(store.instruments.map((s) => s.symbol)).toEqual(['AAPL', 'BTC-USD']);
    expect(store.connection.state).toBe('connecting');

    socket.lastSent().ack(null, ok());
    expect(store.connection).toEqual({ state: 'live' });
    expect(store.throttleMs).toBe(250);
    expect(store.rows.map((row) => row.quote?.last)).toEqual([228, 67_000]);
  });

  it('asks for the configured throttle tier', async () => {
    const { socket } = setup({ throttleMs: 1000 });
    await subscribed(socket, 'a');
    expect(socket.lastSent().request).toEqual({ symbols: ['AAPL', 'BTC-USD'], throttleMs: 1000 });
  });

  it("offers the gateway's own tiers, and falls back to its default for a tier it does not offer", async () => {
    const { store, socket } = setup({ throttleMs: 1000, loadTiers: async () => [50, 500] });
    await subscribed(socket, 'a');
    expect(store.tiers).toEqual([50, 500]);
    expect(socket.lastSent().request).toEqual({ symbols: ['AAPL', 'BTC-USD'] });
  });

  it('keeps the protocol tiers when the gateway does not say', async () => {
    const { store, socket } = setup({
      throttleMs: 250,
      loadTiers: async () => {
        throw new Error('HTTP 500');
      },
    });
    await subscribed(socket, 'a');
    expect(store.tiers).toEqual([100, 250, 1000]);
    expect(socket.lastSent().request).toMatchObject({ throttleMs: 250 });
  });

  it('routes quotes and status into the store', async () => {
    const { store, socket } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok());

    socket.frame({ quotes: [quote('AAPL', 11, { last: 228.4 }), quote('BTC-USD', 19, { last: 1 })] });
    expect(store.quote('AAPL')?.last).toBe(228.4);
    expect(store.quote('BTC-USD')?.last).toBe(67_000);

    socket.fire('status', { feed: 'stale' });
    expect(store.feed).toBe('stale');
    expect(store.stale).toBe(true);
  });

  it("applies a frame's quotes, then each of its trade batches in order", async () => {
    const { store, socket, trades } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, { tradeSeq: 5 }), snapshot('BTC-USD', 20)]));

    socket.frame({
      quotes: [quote('AAPL', 11, { last: 229 }), quote('BTC-USD', 21, { last: 67_100 })],
      trades: [
        { symbol: 'AAPL', trades: [trade(6), trade(7)] },
        { symbol: 'BTC-USD', trades: [trade(1, { id: 'BTC-USD-1' })], gap: true },
      ],
    });
    expect(store.rows.map((row) => row.quote?.last)).toEqual([229, 67_100]);
    // Newest first, so read from the end: AAPL's batch, then BTC-USD's gap mark and its trade.
    expect(
      trades.tape.map((e) =>
        e.kind === 'trade' ? `${e.symbol}#${e.trade.seq}` : `${e.kind}:${'symbol' in e ? e.symbol : ''}`,
      ),
    ).toEqual(['BTC-USD#1', 'gap:BTC-USD', 'AAPL#7', 'AAPL#6']);
    expect(trades.since()).toEqual({ AAPL: 7, 'BTC-USD': 1 });
  });

  it('ignores frames of another version, with one warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { store, socket, trades } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok());

    const future = {
      v: FRAME_VERSION + 1,
      quotes: [quote('AAPL', 11, { last: 1 })],
      trades: [{ symbol: 'AAPL', trades: [trade(1)] }],
    };
    socket.fire('frame', future);
    socket.fire('frame', future);
    expect(store.quote('AAPL')?.last).toBe(228);
    expect(trades.tape).toEqual([]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain(`version ${FRAME_VERSION + 1}`);

    socket.frame({ quotes: [quote('AAPL', 12, { last: 229 })] });
    expect(store.quote('AAPL')?.last).toBe(229);
  });

  it('ignores the keys of a frame it does not know', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { store, socket, trades } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok());

    socket.fire('frame', {
      v: FRAME_VERSION,
      bars: [{ symbol: 'AAPL', t: 0, open: 1, high: 1, low: 1, close: 1, volume: 1 }],
      quotes: [quote('AAPL', 11, { last: 228.5 })],
      alerts: [{ id: 'a1', symbol: 'AAPL' }],
      trades: [{ symbol: 'AAPL', trades: [trade(1)] }],
    });
    expect(store.quote('AAPL')?.last).toBe(228.5);
    expect(tapeSeqs(trades)).toEqual([1]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('subscribes again after every reconnect, counting the attempts in between', async () => {
    const { store, socket, loadSymbols } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok());

    socket.drop('transport close');
    expect(store.connection).toEqual({ state: 'reconnecting', attempt: 0 });
    expect(store.stale).toBe(true);
    socket.fireManager('reconnect_attempt', 1);
    socket.fireManager('reconnect_attempt', 2);
    expect(store.connection).toEqual({ state: 'reconnecting', attempt: 2 });

    await subscribed(socket, 'b');
    expect(loadSymbols).toHaveBeenCalledTimes(2);
    expect(socket.lastSent().request.symbols).toEqual(['AAPL', 'BTC-USD']);
    // The gateway restarted: a new epoch, whose snapshots win whatever their seq.
    socket
      .lastSent()
      .ack(
        null,
        ok([snapshot('AAPL', 2, { last: 230, epoch: 'e2' }), snapshot('BTC-USD', 3, { last: 68_000, epoch: 'e2' })]),
      );
    expect(store.connection).toEqual({ state: 'live' });
    expect(store.rows.map((row) => row.quote?.last)).toEqual([230, 68_000]);
  });

  it('ignores an ack that arrives after its connection ended', async () => {
    const { store, socket } = setup();
    await subscribed(socket, 'a');
    const first = socket.lastSent();

    socket.drop('ping timeout');
    first.ack(null, ok());
    expect(store.connection).toEqual({ state: 'reconnecting', attempt: 0 });
    expect(store.quote('AAPL')).toBeUndefined();
  });

  it('asks again when the ack times out', async () => {
    vi.useFakeTimers();
    const { store, socket } = setup();
    await subscribed(socket, 'a');

    socket.lastSent().ack(new Error('operation has timed out'));
    expect(store.connection.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(1000);
    expect(socket.sent).toHaveLength(2);
    socket.lastSent().ack(null, ok());
    expect(store.connection.state).toBe('live');
  });

  it('retries a rate-limited subscribe after the delay the gateway names', async () => {
    vi.useFakeTimers();
    const { socket } = setup();
    await subscribed(socket, 'a');

    socket
      .lastSent()
      .ack(null, { ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 5000 } });
    await vi.advanceTimersByTimeAsync(4999);
    expect(socket.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.sent).toHaveLength(2);
  });

  it('goes offline with the reason when the subscribe is refused', async () => {
    const { store, socket } = setup();
    await subscribed(socket, 'a');

    socket.lastSent().ack(null, { ok: false, error: { code: 'TOO_MANY_SYMBOLS', message: 'at most 50 symbols' } });
    expect(store.connection).toEqual({ state: 'offline', reason: 'subscribe refused: at most 50 symbols' });
  });

  it('retries loading the symbols while the connection lasts', async () => {
    vi.useFakeTimers();
    const { store, socket, loadSymbols } = setup();
    loadSymbols.mockRejectedValueOnce(new Error('HTTP 503'));
    socket.open('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(1000);
    expect(loadSymbols).toHaveBeenCalledTimes(2);
    expect(socket.sent).toHaveLength(1);
    expect(store.instruments).toHaveLength(2);
  });

  it('stays offline when the gateway disconnects it, until asked to reconnect', async () => {
    const { store, socket, connection } = setup();
    await subscribed(socket, 'a');

    socket.drop('io server disconnect');
    expect(store.connection).toEqual({ state: 'offline', reason: 'disconnected by the gateway' });
    expect(socket.connects).toBe(1);

    connection.reconnect();
    expect(socket.connects).toBe(2);
    expect(store.connection).toEqual({ state: 'connecting' });
  });

  it('keeps trying after a gateway that announced its shutdown disconnects it', async () => {
    vi.useFakeTimers();
    const { store, socket } = setup();
    await subscribed(socket, 'a');

    socket.fire('status', { server: 'shutdown' });
    socket.drop('io server disconnect');
    expect(store.connection).toEqual({ state: 'reconnecting', attempt: 0 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(socket.connects).toBe(2);
  });

  it('goes offline when a middleware refuses the connection', () => {
    const { store, socket } = setup();
    socket.active = false;
    socket.fire('connect_error', new Error('UNAUTHORIZED'));
    expect(store.connection).toEqual({ state: 'offline', reason: 'UNAUTHORIZED' });
  });
  it('asks for a token when the gateway refuses the handshake as UNAUTHORIZED, and forgets that on connect', () => {
    const { store, socket } = setup();
    socket.active = false;
    const err = Object.assign(new Error('a token is required'), { data: { code: 'UNAUTHORIZED' } });
    socket.fire('connect_error', err);
    expect(store.connection).toEqual({ state: 'offline', reason: 'a token is required' });
    expect(store.authRequired).toBe(true);
    socket.fire('connect');
    expect(store.authRequired).toBe(false);
  });
  it('resubscribes after a reconnect with since, and the ack fills the tape gap exactly once', async () => {
    const { socket, trades } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, { tradeSeq: 5 }), snapshot('BTC-USD', 20)]));
    socket.frame({ trades: [{ symbol: 'AAPL', trades: [trade(6), trade(7)] }] });
    expect(tapeSeqs(trades)).toEqual([6, 7]);

    socket.drop('transport close');
    await subscribed(socket, 'b');
    // BTC-USD had no trade yet but its snapshot said where trades continue (tradeSeq 0).
    expect(socket.lastSent().request).toMatchObject({ epoch: EPOCH, since: { AAPL: 7, 'BTC-USD': 0 } });
    socket.lastSent().ack(null, {
      ...ok([snapshot('AAPL', 14, { tradeSeq: 9 }), snapshot('BTC-USD', 22)]),
      trades: [{ symbol: 'AAPL', trades: [trade(8), trade(9)] }],
    });
    expect(tapeSeqs(trades)).toEqual([6, 7, 8, 9]);

    // A live batch that overlaps what the ack brought adds only what is new.
    socket.frame({ trades: [{ symbol: 'AAPL', trades: [trade(9), trade(10)] }] });
    expect(tapeSeqs(trades)).toEqual([6, 7, 8, 9, 10]);
    expect(trades.lastSeq('AAPL')).toBe(10);
  });

  it('marks a gap on the tape for symbols whose missed trades are gone', async () => {
    const { socket, trades } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, { tradeSeq: 5 }), snapshot('BTC-USD', 20)]));
    socket.drop('transport close');
    await subscribed(socket, 'b');
    socket
      .lastSent()
      .ack(null, { ...ok([snapshot('AAPL', 900, { tradeSeq: 2000 }), snapshot('BTC-USD', 30)]), gaps: ['AAPL'] });

    expect(trades.tape.map((e) => [e.kind, e.kind === 'restart' ? undefined : e.symbol])).toEqual([['gap', 'AAPL']]);
    socket.frame({ trades: [{ symbol: 'AAPL', trades: [trade(2000), trade(2001)] }] });
    expect(tapeSeqs(trades)).toEqual([2001]);
  });

  it('moves every symbol to the new tier on resubscribe, keeping since', async () => {
    let tier = 250;
    const { store, socket, trades, connection } = setup({ throttleMs: () => tier });
    await subscribed(socket, 'a');
    expect(socket.lastSent().request.throttleMs).toBe(250);
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, { tradeSeq: 3 }), snapshot('BTC-USD', 20)]));

    tier = 1000;
    connection.resubscribe();
    expect(socket.sent).toHaveLength(2);
    expect(socket.lastSent().request).toEqual({
      symbols: ['AAPL', 'BTC-USD'],
      throttleMs: 1000,
      epoch: EPOCH,
      since: { AAPL: 3, 'BTC-USD': 0 },
    });
    socket
      .lastSent()
      .ack(null, { ...ok([snapshot('AAPL', 12, { tradeSeq: 3 }), snapshot('BTC-USD', 21)]), throttleMs: 1000 });
    expect(store.throttleMs).toBe(1000);
    expect(store.connection.state).toBe('live');
    expect(trades.lastSeq('AAPL')).toBe(3);
  });

  it('subscribes the watchlist only, one request per set of chart intervals, and follows the page', async () => {
    let watch: Wanted = { symbols: ['AAPL', 'BTC-USD'], candles: { AAPL: ['1m'] } };
    const { socket, connection } = setup({ wanted: () => watch });
    socket.open('a');
    await vi.waitFor(() => expect(socket.sent).toHaveLength(2), { interval: 1 });
    expect(socket.sent.map((s) => [s.event, s.request])).toEqual([
      ['subscribe', { symbols: ['AAPL'], candles: ['1m'] }],
      ['subscribe', { symbols: ['BTC-USD'] }],
    ]);
    socket.sent[0]!.ack(null, ok([snapshot('AAPL', 10)]));
    socket.sent[1]!.ack(null, ok([snapshot('BTC-USD', 20)]));

    // The chart moves to 5m, BTC-USD leaves the watchlist.
    watch = { symbols: ['AAPL'], candles: { AAPL: ['5m'] } };
    connection.sync();
    expect(socket.sent.slice(2).map((s) => [s.event, s.request])).toEqual([
      ['unsubscribe', { symbols: ['BTC-USD'] }],
      ['subscribe', { symbols: ['AAPL'], candles: ['5m'], epoch: EPOCH, since: { AAPL: 0 } }],
    ]);
    // Nothing changed: nothing is sent.
    connection.sync();
    expect(socket.sent).toHaveLength(4);
  });

  it('routes candle acks and batches into the charts, and bridges the outage after a reconnect', async () => {
    const bar = (m: number, fields: Partial<Candle> = {}): Candle => ({
      start: m * 60_000,
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 3,
      ticks: 4,
      closed: true,
      ...fields,
    });
    const { socket, charts, history } = setup({ wanted: () => ({ symbols: ['AAPL'], candles: { AAPL: ['1m'] } }) });
    history.mockResolvedValueOnce([bar(1), bar(2, { closed: false, ticks: 1 })]);
    const series = charts.open('AAPL', '1m');
    await vi.waitFor(() => expect(series.loaded).toBe(true));
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, {
      ...ok([snapshot('AAPL', 10)]),
      candles: [{ symbol: 'AAPL', interval: '1m', bars: [bar(2, { closed: false, ticks: 2 })] }],
    });
    socket.frame({ candles: [{ symbol: 'AAPL', interval: '1m', bars: [bar(2), bar(3, { closed: false })] }] });
    await vi.waitFor(() => expect(series.loading).toBe(false));
    expect(series.store.bars.map((b) => [b.start / 60_000, b.closed])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);

    socket.drop('transport close');
    history.mockResolvedValueOnce([bar(2), bar(3), bar(4), bar(5, { closed: false, ticks: 2 })]);
    await subscribed(socket, 'b');
    expect(socket.lastSent().request).toMatchObject({ symbols: ['AAPL'], candles: ['1m'] });
    socket.lastSent().ack(null, {
      ...ok([snapshot('AAPL', 14)]),
      candles: [{ symbol: 'AAPL', interval: '1m', bars: [bar(5, { closed: false })] }],
    });
    // The same run: the gap is asked for from the newest closed bar, and fills in once.
    expect(history).toHaveBeenLastCalledWith('AAPL', '1m', { from: 2 * 60_000, limit: 5000 });
    await vi.waitFor(() => expect(series.loading).toBe(false));
    expect(series.store.bars.map((b) => b.start / 60_000)).toEqual([1, 2, 3, 4, 5]);
    expect(series.store.unsettled()).toBeUndefined();
  });

  it('sends since only with its epoch, and after a new epoch starts the tape, the seqs and the charts over', async () => {
    const { store, socket, trades, charts, history } = setup();
    const old = { start: 60_000, open: 1, high: 1, low: 1, close: 1, volume: 1, ticks: 1, closed: true };
    history.mockResolvedValueOnce([old]);
    const series = charts.open('AAPL', '1m');
    await vi.waitFor(() => expect(series.loaded).toBe(true));
    await subscribed(socket, 'a');
    expect(socket.lastSent().request).not.toHaveProperty('since');
    expect(socket.lastSent().request).not.toHaveProperty('epoch');
    socket
      .lastSent()
      .ack(null, ok([snapshot('AAPL', 10, { last: 228, ts: 1000, tradeSeq: 5 }), snapshot('BTC-USD', 20)]));
    socket.frame({
      quotes: [quote('AAPL', 11, { last: 229, ts: 2000 })],
      trades: [{ symbol: 'AAPL', trades: [trade(6), trade(7)] }],
    });

    // Killed and restarted: the new run's seqs are past the old ones by the time we are back.
    socket.drop('transport close');
    let resolve!: (bars: Candle[]) => void;
    history.mockImplementationOnce(() => new Promise((r) => (resolve = r)));
    await subscribed(socket, 'b');
    expect(socket.lastSent().request).toMatchObject({ epoch: EPOCH, since: { AAPL: 7, 'BTC-USD': 0 } });
    socket.lastSent().ack(null, {
      ...ok([
        snapshot('AAPL', 40, { last: 300, ts: 9000, tradeSeq: 30, epoch: 'e2' }),
        snapshot('BTC-USD', 50, { epoch: 'e2' }),
      ]),
      gaps: ['AAPL', 'BTC-USD'],
    });
    expect(store.epoch).toBe('e2');
    expect(store.quote('AAPL')).toMatchObject({ seq: 40, last: 300 });
    expect(trades.tape.map((e) => e.kind)).toEqual(['restart']);
    socket.frame({ trades: [{ symbol: 'AAPL', trades: [trade(31, { ts: 9100 })] }] });
    expect(tapeSeqs(trades)).toEqual([31]);

    // The chart is drawn again from the new run's bars: nothing of the old ones stays.
    expect(history).toHaveBeenLastCalledWith('AAPL', '1m', { limit: 500 });
    expect(series.store.bars).toEqual([]);
    resolve([{ ...old, start: 120_000, close: 300 }]);
    await vi.waitFor(() => expect(series.loaded).toBe(true));
    expect(series.store.bars.map((b) => [b.start, b.close])).toEqual([[120_000, 300]]);

    // And the next resubscribe counts in the new epoch.
    socket.drop('transport close');
    await subscribed(socket, 'c');
    expect(socket.lastSent().request).toMatchObject({ epoch: 'e2', since: { AAPL: 31, 'BTC-USD': 0 } });
  });

  it('marks a restart once, and no gap, when several subscribes come back in a new epoch', async () => {
    const { socket, trades } = setup({
      wanted: () => ({ symbols: ['AAPL', 'BTC-USD'], candles: { AAPL: ['1m'] } }),
    });
    socket.open('a');
    await vi.waitFor(() => expect(socket.sent).toHaveLength(2), { interval: 1 });
    socket.sent[0]!.ack(null, ok([snapshot('AAPL', 10, { tradeSeq: 5 })]));
    socket.sent[1]!.ack(null, ok([snapshot('BTC-USD', 20, { tradeSeq: 3 })]));

    socket.drop('transport close');
    socket.open('b');
    await vi.waitFor(() => expect(socket.sent).toHaveLength(4), { interval: 1 });
    // Both asked with the old epoch's since; the gateway restarted, so both list their symbols as gaps.
    expect(socket.sent[2]!.request).toMatchObject({ epoch: EPOCH, since: { AAPL: 5 } });
    expect(socket.sent[3]!.request).toMatchObject({ epoch: EPOCH, since: { 'BTC-USD': 3 } });
    socket.sent[2]!.ack(null, { ...ok([snapshot('AAPL', 2, { tradeSeq: 1, epoch: 'e2' })]), gaps: ['AAPL'] });
    socket.sent[3]!.ack(null, { ...ok([snapshot('BTC-USD', 4, { tradeSeq: 2, epoch: 'e2' })]), gaps: ['BTC-USD'] });
    expect(trades.tape.map((e) => e.kind)).toEqual(['restart']);
    expect(trades.since()).toEqual({ AAPL: 1, 'BTC-USD': 2 });
  });

  it('measures the round trip with ping while connected', async () => {
    vi.useFakeTimers();
    const { store, socket } = setup({ pingIntervalMs: 5000 });
    socket.open('a');
    expect(socket.pings).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(42);
    socket.pings[0]!(null, { serverTime: Date.now() });
    expect(store.latencyMs).toBeGreaterThanOrEqual(40);
    expect(store.latencyMs).toBeLessThan(1000);

    await vi.advanceTimersByTimeAsync(5000);
    expect(socket.pings).toHaveLength(2);
    socket.drop('transport close');
    expect(store.latencyMs).toBeUndefined();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(socket.pings).toHaveLength(2);
  });
});

describe('alerts over the market socket', () => {
  it('hands the alert store a channel per connection, routes fired alerts and the newest quote time', async () => {
    const market = new MarketStore();
    const socket = new FakeSocket();
    const alerts = { connected: vi.fn(), disconnected: vi.fn(), applyFired: vi.fn(), seen: vi.fn() };
    connections.push(
      connectMarket(
        { market, alerts },
        {
          pingIntervalMs: 0,
          rateIntervalMs: 0,
          loadSymbols: async () => instruments,
          loadTiers: async () => [100, 250, 1000],
          createSocket: () => socket as unknown as MarketSocket,
        },
      ),
    );
    socket.open('a');
    expect(alerts.connected).toHaveBeenCalledTimes(1);
    const channel = alerts.connected.mock.calls[0]![0] as AlertChannel;
    const req: AlertSetRequest = {
      alerts: [{ id: 'x', symbol: 'AAPL', condition: { kind: 'above', level: 230 } }],
      since: 5,
      states: { x: 'armed' },
    };
    const answer = channel.set(req);
    const sent = socket.sent.find((s) => s.event === 'alert:set')!;
    expect(sent.request).toEqual(req);
    const ack: AlertSetAck = { ok: true, alerts: [], offline: [] };
    (sent.ack as unknown as (err: Error | null, res: AlertSetAck) => void)(null, ack);
    await expect(answer).resolves.toEqual(ack);

    const fired: FiredAlert = {
      id: 'x',
      symbol: 'AAPL',
      condition: { kind: 'above', level: 230 },
      price: 230.5,
      ts: 1_700_000_000_900,
      seq: 12,
      epoch: EPOCH,
    };
    socket.frame({
      quotes: [quote('AAPL', 11, { ts: 1_700_000_000_500 }), quote('BTC-USD', 21, { ts: 1_700_000_000_700 })],
      alerts: [fired],
    });
    expect(alerts.applyFired).toHaveBeenCalledWith([fired]);
    expect(alerts.seen).toHaveBeenCalledWith(1_700_000_000_700);

    socket.drop('transport close');
    expect(alerts.disconnected).toHaveBeenCalledTimes(1);
    await expect(channel.clear({ ids: ['x'] })).rejects.toThrow('disconnected');
    socket.open('b');
    expect(alerts.connected).toHaveBeenCalledTimes(2);
    expect(alerts.connected.mock.calls[1]![0]).not.toBe(channel);
  });
});
