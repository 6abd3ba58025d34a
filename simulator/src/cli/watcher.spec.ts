import { describe, expect, it } from 'vitest';
import type { Snapshot, SubscribeAck, SubscribeRequest, Trade } from '@tickdeck/protocol';
import type { WatchOptions } from './args.js';
import { RuntimeError } from './publisher.js';
import { Watcher, type ViewerSocket } from './watcher.js';

type Handler = (...args: unknown[]) => void;

/** Stands in for a socket.io-client socket; the test plays the gateway. */
class FakeSocket {
  connected = false;
  active = false;
  id: string | undefined;
  connects = 0;
  disconnects = 0;
  sent: { request: SubscribeRequest; ack: (err: Error | null, res?: SubscribeAck) => void }[] = [];
  #handlers = new Map<string, Handler[]>();

  on(event: string, handler: Handler): this {
    this.#handlers.set(event, [...(this.#handlers.get(event) ?? []), handler]);
    return this;
  }

  removeAllListeners(): this {
    this.#handlers.clear();
    return this;
  }

  timeout(_ms: number) {
    return {
      emit: (_event: string, request: SubscribeRequest, ack: FakeSocket['sent'][number]['ack']) =>
        this.sent.push({ request, ack }),
    };
  }

  connect(): this {
    this.active = true;
    this.connects++;
    return this;
  }

  disconnect(): this {
    this.disconnects++;
    this.active = false;
    this.connected = false;
    return this;
  }

  open(id: string): void {
    this.connected = true;
    this.id = id;
    this.fire('connect');
  }

  drop(reason: string): void {
    this.connected = false;
    this.id = undefined;
    if (reason === 'io server disconnect') this.active = false;
    this.fire('disconnect', reason);
  }

  fire(event: string, ...args: unknown[]): void {
    for (const handler of this.#handlers.get(event) ?? []) handler(...args);
  }

  lastSent() {
    const sent = this.sent.at(-1);
    if (!sent) throw new Error('nothing sent');
    return sent;
  }
}

const options: WatchOptions = {
  url: 'http://gw:3000',
  token: '',
  throttleMs: undefined,
  json: false,
  symbols: ['AAPL', 'KO'],
};

function setup(overrides: Partial<WatchOptions> = {}) {
  const socket = new FakeSocket();
  const out: string[] = [];
  const err: string[] = [];
  const watcher = new Watcher(
    { ...options, ...overrides },
    { out: (line) => out.push(line), err: (line) => err.push(line) },
    () => socket as unknown as ViewerSocket,
  );
  const settled = watcher.run().then(
    () => 'stopped',
    (e: unknown) => e,
  );
  return { socket, out, err, watcher, settled };
}

const snapshot = (symbol: string, seq: number, tradeSeq: number, epoch = 'e1'): Snapshot => ({
  symbol,
  seq,
  ts: 1_790_000_000_000,
  last: 100,
  bid: 99.99,
  ask: 100.01,
  open: 100,
  high: 100,
  low: 100,
  volume: 0,
  change: 0,
  changePct: 0,
  tradeSeq,
  epoch,
});

const trade = (seq: number): Trade => ({ id: `AAPL-${seq}`, seq, ts: 1, price: 100.5, size: 10, side: 'sell' });

function ok(snapshots: Snapshot[], fields: Partial<Extract<SubscribeAck, { ok: true }>> = {}): SubscribeAck {
  return { ok: true, throttleMs: 250, epoch: snapshots[0]!.epoch, snapshots, trades: [], gaps: [], ...fields };
}

describe(Watcher.name, () => {
  it('subscribes, prints the snapshots, then each quote and each trade once', async () => {
    const { socket, out, err, watcher, settled } = setup({ throttleMs: 100 });
    socket.open('a');
    expect(socket.lastSent().request).toEqual({ symbols: ['AAPL', 'KO'], throttleMs: 100 });
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, 5), snapshot('KO', 0, 0)]));
    expect(err).toEqual(['tickdeck-sim: watching AAPL, KO on http://gw:3000/market every 250 ms']);

    socket.fire('frame', {
      v: 1,
      quotes: [{ ...snapshot('AAPL', 12, 5), conflated: 2 }],
      trades: [{ symbol: 'AAPL', trades: [trade(5), trade(6)] }],
      bars: [{ symbol: 'AAPL' }],
    });
    socket.fire('frame', { v: 1, trades: [{ symbol: 'AAPL', trades: [trade(6), trade(900)], gap: true }] });
    socket.fire('status', { feed: 'stale' });
    expect(out).toEqual([
      'AAPL snapshot 100.00 bid 99.99 ask 100.01 seq 10 trade #5',
      'KO snapshot: no tick yet',
      'AAPL 100.00 bid 99.99 ask 100.01 seq 12 (x2)',
      'AAPL trade sell 10 @ 100.50 #6',
      'warning: AAPL trades were lost before #900 (they came faster than the gateway keeps them)',
      'AAPL trade sell 10 @ 100.50 #900',
      'status: feed stale',
    ]);

    watcher.stop();
    expect(await settled).toBe('stopped');
    expect(socket.disconnects).toBe(1);
    expect(socket.connects).toBe(1);
  });

  it('ignores frames of another version, with one warning', () => {
    const { socket, out, err } = setup();
    socket.open('a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, 5)]));
    err.length = 0;
    out.length = 0;

    const future = { v: 2, quotes: [{ ...snapshot('AAPL', 12, 5), conflated: 1 }] };
    socket.fire('frame', future);
    socket.fire('frame', future);
    expect(out).toEqual([]);
    expect(err).toEqual(['tickdeck-sim: ignoring frames of version 2 (this version reads 1)']);
  });

  it('with --json, prints each frame as received on stdout and the rest on stderr', () => {
    const { socket, out, err } = setup({ json: true });
    socket.open('a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, 5)]));
    const frame = { v: 1, trades: [{ symbol: 'AAPL', trades: [trade(6)] }], alerts: [] };
    socket.fire('frame', frame);
    socket.fire('status', { cluster: 'degraded' });

    expect(out.map((line) => JSON.parse(line) as unknown)).toEqual([frame]);
    expect(err.slice(1)).toEqual([
      'AAPL snapshot 100.00 bid 99.99 ask 100.01 seq 10 trade #5',
      'status: cluster degraded',
    ]);
  });

  it('after a dropped connection subscribes again with since, printing the missed trades once', () => {
    const { socket, out, err } = setup();
    socket.open('a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, 5), snapshot('KO', 3, 2)]));
    socket.fire('frame', { v: 1, trades: [{ symbol: 'AAPL', trades: [trade(6)] }] });
    out.length = 0;

    socket.drop('transport close');
    expect(err.at(-1)).toBe('tickdeck-sim: disconnected (transport close), reconnecting');
    socket.open('b');
    expect(socket.connects).toBe(1);
    expect(socket.lastSent().request).toEqual({ symbols: ['AAPL', 'KO'], epoch: 'e1', since: { AAPL: 6, KO: 2 } });
    socket.lastSent().ack(
      null,
      ok([snapshot('AAPL', 20, 8), snapshot('KO', 9, 40)], {
        trades: [{ symbol: 'AAPL', trades: [trade(6), trade(7), trade(8)] }],
        gaps: ['KO'],
      }),
    );
    socket.fire('frame', { v: 1, trades: [{ symbol: 'AAPL', trades: [trade(8), trade(9)] }] });
    expect(out.filter((line) => !line.includes('snapshot'))).toEqual([
      'AAPL trade sell 10 @ 100.50 #7',
      'AAPL trade sell 10 @ 100.50 #8',
      'warning: KO trades missed while disconnected are no longer held; the tape has a gap',
      'AAPL trade sell 10 @ 100.50 #9',
    ]);
    expect(err.at(-1)).toMatch(/^tickdeck-sim: subscribed again to AAPL, KO/);
  });

  it('starts the seqs over when the gateway restarted', () => {
    const { socket, out, err } = setup();
    socket.open('a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, 500)]));
    socket.drop('transport close');
    socket.open('b');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 3, 2, 'e2')], { gaps: ['AAPL'] }));
    out.length = 0;

    socket.fire('frame', { v: 1, trades: [{ symbol: 'AAPL', trades: [trade(3)] }] });
    expect(out).toEqual(['AAPL trade sell 10 @ 100.50 #3']);
    expect(err).toContain('tickdeck-sim: the gateway restarted (epoch e2): seqs start over');
  });

  it('fails with the code when the subscribe is refused', async () => {
    const { socket, settled } = setup({ throttleMs: 7 });
    socket.open('a');
    socket.lastSent().ack(null, {
      ok: false,
      error: { code: 'BAD_THROTTLE', message: 'throttleMs must be one of the tiers', tiers: [100, 250] },
    });
    const e = await settled;
    expect(e).toBeInstanceOf(RuntimeError);
    expect((e as Error).message).toBe(
      'subscribe refused: BAD_THROTTLE: throttleMs must be one of the tiers (tiers: 100, 250 ms)',
    );
    expect(socket.disconnects).toBe(1);
  });

  it('fails with the message and code when the connection is refused or unreachable', async () => {
    const refused = setup();
    refused.socket.active = false;
    refused.socket.fire(
      'connect_error',
      Object.assign(new Error('a token is required'), { data: { code: 'UNAUTHORIZED' } }),
    );
    expect(((await refused.settled) as Error).message).toBe(
      'cannot connect to http://gw:3000/market: a token is required (UNAUTHORIZED)',
    );

    const unreachable = setup();
    unreachable.socket.fire(
      'connect_error',
      Object.assign(new Error('websocket error'), { description: { message: 'connect ECONNREFUSED 127.0.0.1:3000' } }),
    );
    expect(((await unreachable.settled) as Error).message).toBe(
      'cannot connect to http://gw:3000/market: websocket error: connect ECONNREFUSED 127.0.0.1:3000',
    );
  });

  it('keeps trying through transport errors once it was connected', () => {
    const { socket, err } = setup();
    socket.open('a');
    socket.drop('transport close');
    socket.fire('connect_error', new Error('websocket error'));
    expect(err.at(-1)).toBe('tickdeck-sim: reconnecting: websocket error');
    expect(socket.disconnects).toBe(0);
  });

  it('fails with the notice the gateway sent before it disconnected us', async () => {
    const { socket, out, settled } = setup();
    socket.open('a');
    socket.lastSent().ack(null, ok([snapshot('AAPL', 10, 5)]));
    socket.fire('status', { notice: { code: 'TOKEN_EXPIRED', message: 'the token expired' } });
    socket.drop('io server disconnect');
    expect(((await settled) as Error).message).toBe(
      'the gateway closed the connection: TOKEN_EXPIRED: the token expired',
    );
    expect(out.at(-1)).toBe('status: notice TOKEN_EXPIRED (the token expired)');
  });
});
