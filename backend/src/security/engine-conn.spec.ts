// The Engine.IO and `ws` internals engine-conn.ts reads, checked on a real Socket.IO server with
// real clients: these tests fail when a library update moves them.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preEncode, queuedBytes, writeMessage, type EngineConn } from './engine-conn.js';

let http: HttpServer;
let server: Server;
let url: string;
const clients: ClientSocket[] = [];

beforeAll(async () => {
  http = createServer();
  server = new Server(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/market`;
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server.close();
});

/** A client on `transport`, and the server's socket for it once connected and (on WebSocket) upgraded. */
async function pair(transport: 'websocket' | 'polling'): Promise<[ClientSocket, Socket]> {
  const serverSide = new Promise<Socket>((resolve) => server.of('/market').once('connection', resolve));
  const client = connect(url, { transports: [transport], forceNew: true });
  clients.push(client);
  const socket = await serverSide;
  await new Promise<void>((resolve) => (client.connected ? resolve() : client.once('connect', () => resolve())));
  return [client, socket];
}

/** Every `e` event the client gets, in order, until `count` have come. */
function received(client: ClientSocket, count: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((resolve) =>
    client.on('e', (payload: unknown) => {
      got.push(payload);
      if (got.length === count) resolve(got);
    }),
  );
}

const packet = (n: number) => `2/market,["e",${JSON.stringify({ n, text: 'é'.repeat(n) })}]`;

describe('writeMessage', () => {
  it('writes a pre-built frame to a websocket connection straight to its TCP socket, in order with Socket.IO emits', async () => {
    const [client, socket] = await pair('websocket');
    const conn = socket.conn as unknown as EngineConn & { on(e: 'packetCreate', f: () => void): void };
    let engineWrites = 0;
    conn.on('packetCreate', () => engineWrites++);
    const got = received(client, 7);
    writeMessage(conn, packet(1), preEncode(packet(1)));
    socket.emit('e', { n: 2, text: 'éé' });
    socket.emit('e', { n: 2.5, text: '' });
    // Engine.IO sent the first emit and holds the second until its write is done: the next frame
    // must wait behind it.
    writeMessage(conn, packet(3), preEncode(packet(3)));
    writeMessage(conn, packet(40_000), preEncode(packet(40_000)));
    writeMessage(conn, packet(5), undefined);
    writeMessage(conn, packet(6), preEncode(packet(6)));
    const all = (await got) as { n: number; text: string }[];
    expect(all.map((p) => p.n)).toEqual([1, 2, 2.5, 3, 40_000, 5, 6]);
    expect(all[4]!.text).toBe('é'.repeat(40_000));
    // The first frame went below Engine.IO; at least the emit and the un-framed one went through it.
    expect(engineWrites).toBeGreaterThanOrEqual(2);
    expect(engineWrites).toBeLessThan(7);
    expect(queuedBytes(conn)).toBeGreaterThanOrEqual(0);
  });

  it('writes through Engine.IO on long-polling, the pre-built frame ignored', async () => {
    const [client, socket] = await pair('polling');
    const got = received(client, 3);
    writeMessage(socket.conn as unknown as EngineConn, packet(1), preEncode(packet(1)));
    writeMessage(socket.conn as unknown as EngineConn, packet(2), undefined);
    writeMessage(socket.conn as unknown as EngineConn, packet(3), preEncode(packet(3)));
    expect(((await got) as { n: number }[]).map((p) => p.n)).toEqual([1, 2, 3]);
  });

  it('reads the internals it relies on where engine.io and ws keep them', async () => {
    const [, socket] = await pair('websocket');
    const internals = socket.conn as unknown as {
      writeBuffer: unknown[];
      upgrading: boolean;
      transport: {
        name: string;
        socket: { readyState: number; _socket: unknown; _sender: { _state: number; _queue: unknown[] } };
      };
    };
    expect(internals.transport.name).toBe('websocket');
    expect(Array.isArray(internals.writeBuffer)).toBe(true);
    expect(internals.upgrading).toBe(false);
    const ws = internals.transport.socket;
    expect(ws.readyState).toBe(1);
    expect(ws._sender._state).toBe(0);
    expect(Array.isArray(ws._sender._queue)).toBe(true);
    expect(typeof (ws._socket as { write?: unknown }).write).toBe('function');
  });
});
