import type { Status } from '@tickdeck/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { queuedBytes, type EngineConn } from '../security/engine-conn.js';
import { SlowConsumerGuard, type GuardedConnection, type GuardedSocket } from './slow-consumer.js';

/** An Engine.IO connection as the guard sees it: a write buffer, and a `ws` socket on WebSocket. */
class FakeConn implements EngineConn {
  readyState = 'open';
  closedWith: boolean | undefined | null = null;
  terminated = false;
  writeBuffer: { data?: string | Buffer }[] = [];
  readonly transport: { name: string; writable: boolean; socket?: { bufferedAmount: number; terminate(): void } };

  constructor(name: 'websocket' | 'polling', writable: boolean, bufferedAmount = 0) {
    this.transport = { name, writable };
    if (name === 'websocket') {
      this.transport.socket = {
        bufferedAmount,
        terminate: () => {
          this.terminated = true;
          this.readyState = 'closed';
        },
      };
    }
  }

  close(discard?: boolean): void {
    this.closedWith = discard;
  }
}

class FakeSocket implements GuardedSocket {
  connected = true;
  readonly log: string[] = [];
  readonly statuses: Status[] = [];
  constructor(
    readonly id: string,
    readonly conn: FakeConn,
  ) {}
  emit(_event: 'status', status: Status): void {
    this.statuses.push(status);
    this.log.push('status');
  }
  disconnect(close: boolean): void {
    this.connected = false;
    this.log.push(`disconnect(${close})`);
  }
}

/** A connection carrying the given sockets (all on its own conn). */
const on = (...sockets: FakeSocket[]): GuardedConnection[] => sockets.map((s) => ({ conn: s.conn, sockets: [s] }));

describe('queuedBytes', () => {
  it('adds the write buffer to what the WebSocket holds', () => {
    const conn = new FakeConn('websocket', false, 5000);
    conn.writeBuffer = [{ data: 'x'.repeat(300) }, { data: Buffer.alloc(200) }, {}];
    expect(queuedBytes(conn)).toBe(5000 + 300 + 200 + 1);
  });

  it('counts only the write buffer on polling', () => {
    const conn = new FakeConn('polling', false);
    conn.writeBuffer = [{ data: 'y'.repeat(1234) }];
    expect(queuedBytes(conn)).toBe(1234);
  });
});

describe(SlowConsumerGuard.name, () => {
  const MAX = 64 * 1024;
  let evicted: [string[], number][];
  /** [socket id, lagging] per onLagging call. */
  let lagged: [string, boolean][];
  let guard: SlowConsumerGuard;

  beforeEach(() => {
    vi.useFakeTimers();
    evicted = [];
    lagged = [];
    guard = new SlowConsumerGuard({
      maxBufferedBytes: MAX,
      periodMs: 100,
      graceMs: 2000,
      onEvict: (_conn, ids, bytes) => evicted.push([ids, bytes]),
      onLagging: (socket, lagging) => lagged.push([socket.id, lagging]),
    });
  });
  afterEach(() => {
    guard.stop();
    vi.useRealTimers();
  });

  it('leaves sockets at or under the bound, and never measures a writable polling one', () => {
    const writable = new FakeConn('polling', true);
    Object.defineProperty(writable, 'writeBuffer', {
      get: () => {
        throw new Error('measured a writable polling socket');
      },
    });
    const atBound = new FakeConn('websocket', false, MAX);
    const writableAtBound = new FakeConn('websocket', true, MAX);
    const sockets = [new FakeSocket('a', writable), new FakeSocket('b', atBound), new FakeSocket('c', writableAtBound)];
    expect(guard.sweep(on(...sockets))).toBe(0);
    expect(sockets.flatMap((s) => s.log)).toEqual([]);
  });

  it('measures a writable websocket too: the frame writer writes to its TCP socket directly', () => {
    const conn = new FakeConn('websocket', true, MAX + 1);
    const socket = new FakeSocket('w', conn);
    expect(guard.sweep(on(socket))).toBe(1);
    expect(socket.log).toEqual(['status', 'disconnect(true)']);
    expect(evicted).toEqual([[['w'], MAX + 1]]);
  });

  it('tells when a backed-up connection starts lagging (past lagBytes) and when it has caught up, once each', () => {
    const conn = new FakeConn('websocket', false, 10);
    const socket = new FakeSocket('s', conn);
    const ws = conn.transport.socket!;
    guard.sweep(on(socket));
    ws.bufferedAmount = MAX / 4; // the default lagBytes, min(64 KiB, max / 4): not past it
    guard.sweep(on(socket));
    expect(lagged).toEqual([]);
    ws.bufferedAmount = MAX / 4 + 1;
    guard.sweep(on(socket));
    guard.sweep(on(socket));
    expect(lagged).toEqual([['s', true]]);
    ws.bufferedAmount = 100;
    guard.sweep(on(socket));
    guard.sweep(on(socket));
    expect(lagged).toEqual([
      ['s', true],
      ['s', false],
    ]);
    // A writable websocket is judged by what it holds: lagging while that is past lagBytes.
    ws.bufferedAmount = MAX / 4 + 1;
    conn.transport.writable = true;
    guard.sweep(on(socket));
    guard.sweep(on(socket));
    expect(lagged).toHaveLength(3);
    ws.bufferedAmount = 0;
    guard.sweep(on(socket));
    guard.sweep(on(socket));
    expect(lagged).toEqual([
      ['s', true],
      ['s', false],
      ['s', true],
      ['s', false],
    ]);
    expect(socket.log).toEqual([]);
  });

  it('tells every socket of a lagging connection, counts a polling write buffer, and honours lagBytes', () => {
    guard = new SlowConsumerGuard({
      maxBufferedBytes: MAX,
      lagBytes: 1000,
      periodMs: 100,
      onLagging: (socket, lagging) => lagged.push([socket.id, lagging]),
    });
    const conn = new FakeConn('polling', false);
    conn.writeBuffer = [{ data: 'q'.repeat(1001) }];
    const fine = new FakeConn('polling', false);
    fine.writeBuffer = [{ data: 'q'.repeat(1000) }];
    const conns: GuardedConnection[] = [
      { conn, sockets: [new FakeSocket('a', conn), new FakeSocket('b', conn)] },
      { conn: fine, sockets: [new FakeSocket('c', fine)] },
    ];
    guard.start(() => conns);
    vi.advanceTimersByTime(100);
    expect(lagged).toEqual([
      ['a', true],
      ['b', true],
    ]);
    conn.writeBuffer = [];
    vi.advanceTimersByTime(100);
    expect(lagged.slice(2)).toEqual([
      ['a', false],
      ['b', false],
    ]);
  });

  it('does not tell a lagging connection it caught up once it was evicted, and still tells the others', () => {
    const slowConn = new FakeConn('websocket', false, MAX / 2);
    const otherConn = new FakeConn('websocket', false, MAX / 2);
    const slow = new FakeSocket('slow', slowConn);
    const other = new FakeSocket('other', otherConn);
    guard.sweep(on(slow, other));
    slowConn.transport.socket!.bufferedAmount = MAX + 1;
    guard.sweep(on(slow, other));
    expect(slow.log).toEqual(['status', 'disconnect(true)']);
    slowConn.transport.socket!.bufferedAmount = 0;
    otherConn.transport.socket!.bufferedAmount = 0;
    guard.sweep(on(slow, other));
    expect(lagged).toEqual([
      ['slow', true],
      ['other', true],
      ['other', false],
    ]);
  });

  it('tells a socket over the bound why, disconnects it, and drops its connection after the grace period', () => {
    const ws = new FakeConn('websocket', false, MAX);
    ws.writeBuffer = [{ data: 'z' }];
    const polling = new FakeConn('polling', false);
    polling.writeBuffer = [{ data: 'p'.repeat(MAX + 10) }];
    const fine = new FakeSocket('fine', new FakeConn('websocket', false, 10));
    const slowWs = new FakeSocket('slow-ws', ws);
    const slowPolling = new FakeSocket('slow-polling', polling);
    const conns = on(fine, slowWs, slowPolling);
    guard.start(() => conns);
    vi.advanceTimersByTime(100);

    expect(evicted).toEqual([
      [['slow-ws'], MAX + 1],
      [['slow-polling'], MAX + 10],
    ]);
    expect(guard.evicted).toBe(2);
    for (const s of [slowWs, slowPolling]) {
      expect(s.log).toEqual(['status', 'disconnect(true)']);
      expect(s.statuses[0]!.notice).toMatchObject({ code: 'SLOW_CONSUMER' });
      expect(s.statuses[0]!.notice!.message).toContain(`limit of ${MAX} (MAX_BUFFERED_BYTES)`);
    }
    expect(fine.log).toEqual([]);

    vi.advanceTimersByTime(1999);
    expect(ws.terminated).toBe(false);
    expect(polling.closedWith).toBeNull();
    vi.advanceTimersByTime(1);
    expect(ws.terminated).toBe(true);
    expect(polling.closedWith).toBe(true);
  });

  it('does not drop a connection that closed by itself within the grace period', () => {
    const conn = new FakeConn('websocket', false, MAX + 1);
    guard.sweep(on(new FakeSocket('s', conn)));
    conn.readyState = 'closed';
    vi.advanceTimersByTime(5000);
    expect(conn.terminated).toBe(false);
  });

  it('drops a backed-up connection with no socket at once, and a publisher like a viewer', () => {
    const bare = new FakeConn('polling', false);
    bare.writeBuffer = Array.from({ length: 2000 }, () => ({ data: '44/nope,{"message":"Invalid namespace"}' }));
    const publisherConn = new FakeConn('websocket', false, MAX + 5);
    const publisher = new FakeSocket('pub', publisherConn);
    expect(guard.sweep([{ conn: bare, sockets: [] }, ...on(publisher)])).toBe(2);
    expect(bare.closedWith).toBe(true);
    expect(publisher.log).toEqual(['status', 'disconnect(true)']);
    expect(evicted.map(([ids]) => ids)).toEqual([[], ['pub']]);
    // Evicted once: the next sweep, still within the grace period, leaves it alone.
    expect(guard.sweep(on(publisher))).toBe(0);
    expect(publisher.log).toEqual(['status', 'disconnect(true)']);
  });

  it('stops sweeping on shutdown', () => {
    const socket = new FakeSocket('s', new FakeConn('websocket', false, MAX + 1));
    guard.start(() => on(socket));
    guard.beforeApplicationShutdown();
    vi.advanceTimersByTime(1000);
    expect(socket.log).toEqual([]);
  });
});
