import type { Socket as NetSocket } from 'node:net';
import type { Snapshot, Status, SubscribeAck, ViewerFrame } from '@tickdeck/protocol';
import WebSocket from 'ws';

/** One Socket.IO packet a {@link RawViewer} read. */
export type RawPacket =
  | { kind: 'frame'; at: number; chars: number; frame: ViewerFrame }
  | { kind: 'status'; at: number; chars: number; status: Status }
  | { kind: 'disconnect'; at: number; chars: number }
  | { kind: 'other'; at: number; chars: number; text: string };

const EVENT = '42/market,';

/**
 * A viewer that speaks Engine.IO/Socket.IO by hand over a `ws` WebSocket: every WebSocket
 * message is seen as it came (one Engine.IO packet each), and its TCP socket can stop reading
 * (`pause()`), so that the kernel buffers fill and what the gateway sends has to wait in the
 * gateway. It answers pings, and keeps every packet it reads, parsed.
 */
export class RawViewer {
  /** Every Socket.IO packet but the connect and the subscribe ack, in order. */
  readonly packets: RawPacket[] = [];
  /** Every WebSocket message read but those of the handshake (pings included), with when. */
  readonly messages: { at: number; chars: number }[] = [];
  closedAt: number | null = null;
  readonly closed: Promise<void>;
  private readonly ws: WebSocket;
  private ackValue: Extract<SubscribeAck, { ok: true }> | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) =>
      ws.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  /** Connects to `/market` on `port` and subscribes to `symbols` at `throttleMs`; resolves on the ack. */
  static connect(port: number, symbols: string[], throttleMs: number): Promise<RawViewer> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
    });
    const viewer = new RawViewer(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('raw viewer: no subscribe ack in 10 s')), 10_000);
      ws.on('error', reject);
      ws.on('message', (raw: Buffer) => {
        const text = raw.toString();
        if (text.startsWith('0{')) return ws.send('40/market,');
        if (text.startsWith('40/market,')) {
          return ws.send(`${EVENT}1${JSON.stringify(['subscribe', { symbols, throttleMs }])}`);
        }
        if (text.startsWith('43/market,1')) {
          const [ack] = JSON.parse(text.slice('43/market,1'.length)) as [SubscribeAck];
          clearTimeout(timer);
          if (!ack.ok) return reject(new Error(`raw viewer: subscribe refused: ${text.slice(0, 200)}`));
          viewer.ackValue = ack;
          return resolve(viewer);
        }
        viewer.read(text);
        if (text === '2') ws.send('3');
      });
    });
  }

  /** The subscribe ack's snapshots, in request order. */
  get snapshots(): Snapshot[] {
    return this.ackValue!.snapshots;
  }

  /** The frames read so far, with when each was read (epoch ms). */
  frames(from = 0, to = Infinity): { at: number; chars: number; frame: ViewerFrame }[] {
    return this.packets.flatMap((p) => (p.kind === 'frame' && p.at >= from && p.at <= to ? [p] : []));
  }

  /** Stops reading from the kernel: the TCP window closes and the gateway's writes back up. */
  pause(): void {
    this.net.pause();
  }

  resume(): void {
    this.net.resume();
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** The TCP socket under the WebSocket: `ws` keeps it in `_socket`. */
  private get net(): NetSocket {
    return (this.ws as unknown as { _socket: NetSocket })._socket;
  }

  private read(text: string): void {
    const at = Date.now();
    const chars = text.length;
    this.messages.push({ at, chars });
    if (text === '2') return;
    if (text.startsWith(`${EVENT}["frame",`)) {
      const [, frame] = JSON.parse(text.slice(EVENT.length)) as [string, ViewerFrame];
      this.packets.push({ kind: 'frame', at, chars, frame });
    } else if (text.startsWith(`${EVENT}["status",`)) {
      const [, status] = JSON.parse(text.slice(EVENT.length)) as [string, Status];
      this.packets.push({ kind: 'status', at, chars, status });
    } else if (text.startsWith('41/market')) {
      this.packets.push({ kind: 'disconnect', at, chars });
    } else {
      this.packets.push({ kind: 'other', at, chars, text: text.slice(0, 200) });
    }
  }
}
