import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  FRAME_VERSION,
  type PingAck,
  type SubscribeAck,
  type SubscribeRequest,
  type Trade,
  type ViewerFrame,
} from '@tickdeck/protocol';
import { ChartFeed } from './chart/feed';
import { MarketStore } from './market.svelte';
import { connectMarket, type ConnectOptions, type MarketSocket } from './socket';
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

function setup(options: Pick<ConnectOptions, 'throttleMs' | 'pingIntervalMs' | 'loadTiers'> = {}) {
  const store = new MarketStore();
  const trades = new TradeStore({ schedule: (flush) => flush() });
  const history = vi.fn(async (_symbol: string, _seconds: number) => [] as { x: number; y: number }[]);
  const charts = new ChartFeed(history);
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

  it('feeds the open charts only the quotes the store accepted', async () => {
    const { socket, charts } = setup();
    const series = charts.open('AAPL', 60_000);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, { last: 228, ts: 1000 }), snapshot('BTC-USD', 20)]));

    socket.frame({ quotes: [quote('AAPL', 9, { last: 1, ts: 2000 }), quote('AAPL', 11, { last: 229, ts: 3000 })] });
    expect(series.points).toEqual([
      { x: 1000, y: 228 },
      { x: 3000, y: 229 },
    ]);
  });

  it('bridges the outage in the charts after a reconnect, without backwards points', async () => {
    const { socket, charts, history } = setup();
    const series = charts.open('AAPL', 60_000);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, { last: 228, ts: 1000 }), snapshot('BTC-USD', 20)]));
    expect(history).toHaveBeenCalledTimes(1);

    socket.drop('transport close');
    let resolve!: (points: { x: number; y: number }[]) => void;
    history.mockImplementationOnce(() => new Promise((r) => (resolve = r)));
    await subscribed(socket, 'b');
    // The same run: the line continues, and history fills the outage.
    socket.lastSent().ack(null, ok([snapshot('AAPL', 12, { last: 231, ts: 9000 }), snapshot('BTC-USD', 23)]));
    expect(history).toHaveBeenCalledTimes(2);
    socket.frame({ quotes: [quote('AAPL', 13, { last: 232, ts: 9500 })] });
    resolve([
      { x: 500, y: 1 },
      { x: 4000, y: 229 },
      { x: 8000, y: 230 },
    ]);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    expect(series.points.map((p) => p.x)).toEqual([1000, 4000, 8000, 9000, 9500]);
  });

  it('sends since only with its epoch, and after a new epoch starts the tape, the seqs and the charts over', async () => {
    const { store, socket, trades, charts, history } = setup();
    const series = charts.open('AAPL', 60_000);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
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
    let resolve!: (points: { x: number; y: number }[]) => void;
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

    // The chart is drawn again from the new run's history: nothing of the old line stays.
    expect(history).toHaveBeenLastCalledWith('AAPL', 60);
    expect(series.points).toEqual([]);
    socket.frame({ quotes: [quote('AAPL', 41, { last: 301, ts: 9500 })] });
    resolve([
      { x: 8000, y: 299 },
      { x: 8500, y: 300 },
    ]);
    await vi.waitFor(() => expect(series.backfilling).toBe(false));
    expect(series.points.map((p) => p.x)).toEqual([8000, 8500, 9000, 9500]);

    // And the next resubscribe counts in the new epoch.
    socket.drop('transport close');
    await subscribed(socket, 'c');
    expect(socket.lastSent().request).toMatchObject({ epoch: 'e2', since: { AAPL: 31, 'BTC-USD': 0 } });
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
