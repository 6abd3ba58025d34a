import { EventEmitter } from 'node:events';
import type { Namespace } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { ConnectionGate, MAX_REFUSED_CONNECTS, packetNamespace, type EngineConn } from './connection-gate.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { OriginPolicy } from './origin-policy.js';
import { RefusalLog } from './refusal-log.js';

/** An Engine.IO connection as the gate sees it: events, a request, close and write. */
class FakeConn extends EventEmitter {
  readyState = 'open';
  readonly written: string[] = [];
  readonly request = { headers: {}, socket: { remoteAddress: '10.0.0.7' } };
  readonly transport = { name: 'polling', writable: true };
  close(): void {
    this.readyState = 'closed';
    this.emit('close');
  }
  write(data: string): void {
    this.written.push(data);
  }
  /** What Engine.IO does with an incoming message: 'packet' first, as the gate relies on. */
  receive(data: string): void {
    if (this.readyState === 'open') this.emit('packet', { type: 'message', data });
  }
}

function setup(maxPerIp = 10) {
  const limiter = new ConnectionLimiter(100, maxPerIp, false);
  const gate = new ConnectionGate(
    new OriginPolicy(['http://ok.test'], undefined, false),
    limiter,
    new RefusalLog({ warn: () => {} }, 1000),
    { viewerFrameBytes: 1024 },
  );
  // The namespaces the gate fronts, as a gateway's adapter registers them.
  for (const name of ['/market', '/feed']) gate.serve({ name, use: () => {}, on: () => {} } as unknown as Namespace);
  const conn = new FakeConn();
  gate.watch(conn as unknown as EngineConn);
  return { gate, limiter, conn };
}

describe('packetNamespace', () => {
  it('reads the namespace of a raw Socket.IO packet as socket.io-parser does', () => {
    expect(packetNamespace('0/market,{"token":"x"}')).toBe('/market');
    expect(packetNamespace('0/market,')).toBe('/market');
    expect(packetNamespace('0/market')).toBe('/market');
    expect(packetNamespace('0{"token":"x"}')).toBe('/');
    expect(packetNamespace('0')).toBe('/');
  });
});

describe(ConnectionGate.name, () => {
  it('drops a connection on its second CONNECT to one namespace', () => {
    const { gate, conn } = setup();
    conn.receive('0/market,');
    expect(conn.readyState).toBe('open');
    conn.receive('0/market,');
    expect(conn.readyState).toBe('closed');
    expect(gate.size).toBe(0);
  });

  it(`closes a connection at its ${MAX_REFUSED_CONNECTS}th CONNECT to an unknown namespace`, () => {
    const { conn } = setup();
    for (let n = 1; n < MAX_REFUSED_CONNECTS; n++) conn.receive('0/nope,');
    expect(conn.readyState).toBe('open');
    conn.receive('0/nope,');
    expect(conn.readyState).toBe('closed');
  });

  it('answers an oversized CONNECT with a coded CONNECT_ERROR before closing', () => {
    const { conn } = setup();
    conn.receive(`0/market,${JSON.stringify({ token: 'x'.repeat(2000) })}`);
    expect(conn.written).toHaveLength(1);
    expect(conn.written[0]).toMatch(/^4\/market,\{"message":"CONNECT of \d+ bytes/);
    expect(JSON.parse(conn.written[0]!.slice('4/market,'.length)).data.code).toBe('FRAME_TOO_LARGE');
    expect(conn.readyState).toBe('closed');
  });

  it('closes a connection that sends an oversized frame, unless it is a feed publisher', () => {
    const viewer = setup();
    viewer.conn.receive(`2/market,["subscribe",${JSON.stringify('x'.repeat(2000))}]`);
    expect(viewer.conn.readyState).toBe('closed');
    const publisher = setup();
    publisher.gate.allowFeedFrames(publisher.conn as unknown as EngineConn);
    publisher.conn.receive(`2/feed,["ticks",${JSON.stringify('x'.repeat(2000))}]`);
    expect(publisher.conn.readyState).toBe('open');
  });

  it('counts a connection once against the caps, and releases it on close', () => {
    const { limiter, conn } = setup();
    expect(limiter.connections).toBe(1);
    conn.close();
    expect(limiter.connections).toBe(0);
  });
});
