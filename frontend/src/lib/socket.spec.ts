import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SubscribeAck, SubscribeRequest } from '@tickdeck/protocol';
import { MarketStore } from './market.svelte';
import { connectMarket, type MarketSocket } from './socket';
import { quote, snapshot, spec } from './test-data';

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

  timeout(_ms: number) {
    return {
      emit: (event: string, request: SubscribeRequest, ack: Sent['ack']) => this.sent.push({ event, request, ack }),
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

function setup(options: { throttleMs?: number } = {}) {
  const store = new MarketStore();
  const socket = new FakeSocket();
  const loadSymbols = vi.fn(async () => instruments);
  const connection = connectMarket(store, {
    ...options,
    retryDelayMs: 1000,
    loadSymbols,
    createSocket: () => socket as unknown as MarketSocket,
  });
  return { store, socket, connection, loadSymbols };
}

function ok(
  snapshots = [snapshot('AAPL', 10, { last: 228 }), snapshot('BTC-USD', 20, { last: 67_000 })],
): SubscribeAck {
  return { ok: true, throttleMs: 250, snapshots, trades: [], gaps: [] };
}

afterEach(() => {
  vi.useRealTimers();
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

  it('routes quotes and status into the store', async () => {
    const { store, socket } = setup();
    await subscribed(socket, 'a');
    socket.lastSent().ack(null, ok());

    socket.fire('quotes', [quote('AAPL', 11, { last: 228.4 }), quote('BTC-USD', 19, { last: 1 })]);
    expect(store.quote('AAPL')?.last).toBe(228.4);
    expect(store.quote('BTC-USD')?.last).toBe(67_000);

    socket.fire('status', { feed: 'stale' });
    expect(store.feed).toBe('stale');
    expect(store.stale).toBe(true);
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
    // The gateway restarted: its seq starts again, and the new snapshot still wins.
    socket.lastSent().ack(null, ok([snapshot('AAPL', 2, { last: 230 }), snapshot('BTC-USD', 3, { last: 68_000 })]));
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
});
