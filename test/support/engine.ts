import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import type { RunningGateway } from './gateway.js';

/** Engine.IO v4 separates packets in a polling payload with the record separator. */
const SEPARATOR = '\x1e';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with chosen headers (fetch may not set Origin); never reuses a connection. */
export function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false, localAddress: options.localAddress },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const engineUrl = (gw: RunningGateway, query: string) => `${gw.url}/socket.io/?EIO=4&transport=polling${query}`;

/** A long-polling Engine.IO session opened by hand: its sid, and POST/GET on it. */
export class PollingSession {
  private constructor(
    private readonly gw: RunningGateway,
    readonly sid: string,
  ) {}

  static async open(gw: RunningGateway, headers: Record<string, string> = {}): Promise<PollingSession> {
    const res = await http(engineUrl(gw, ''), { headers });
    if (res.status !== 200) throw new Error(`handshake refused: ${res.status} ${res.body}`);
    const { sid } = JSON.parse(res.body.slice(1)) as { sid: string };
    return new PollingSession(gw, sid);
  }

  /** POSTs Socket.IO packets (each an Engine.IO message: `4` + packet) in one payload. */
  post(packets: readonly string[], headers: Record<string, string> = {}): Promise<RawResponse> {
    const body = packets.map((p) => `4${p}`).join(SEPARATOR);
    return http(engineUrl(this.gw, `&sid=${this.sid}`), {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers },
      body,
    });
  }

  get(headers: Record<string, string> = {}): Promise<RawResponse> {
    return http(engineUrl(this.gw, `&sid=${this.sid}`), { headers });
  }
}

/** A raw Engine.IO websocket (no Socket.IO client): resolves once the server's open packet came. */
export function rawWebSocket(gw: RunningGateway, query = '', origin?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/socket.io/?EIO=4&transport=websocket${query}`, {
      ...(origin === undefined ? {} : { origin }),
    });
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
  });
}

/** The gateway's JS heap in use, from its Prometheus metrics. */
export async function gatewayHeapBytes(gw: RunningGateway): Promise<number> {
  const res = await http(`${gw.url}/metrics`);
  const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(res.body);
  if (!m) throw new Error('no nodejs_heap_size_used_bytes in /metrics');
  return Number(m[1]);
}

/**
 * The smallest heap reading over `ms`: garbage is collected in between (the gateway allocates
 * all the time), memory that stays reachable is not, so the minimum is what is pinned.
 */
export async function settledHeapBytes(gw: RunningGateway, ms = 2000): Promise<number> {
  let min = Infinity;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    min = Math.min(min, await gatewayHeapBytes(gw));
    await new Promise((r) => setTimeout(r, 100));
  }
  return min;
}

/** `/api/health`'s viewer count (sockets on /market). */
export async function viewers(gw: RunningGateway): Promise<number> {
  const res = await http(`${gw.url}/api/health`);
  return (JSON.parse(res.body) as { viewers: number }).viewers;
}

/** A refusal counter from `/metrics` (`tickdeck_refusals_total{code}`). */
export async function refusals(gw: RunningGateway, code: string): Promise<number> {
  const res = await http(`${gw.url}/metrics`);
  const m = new RegExp(`^tickdeck_refusals_total\\{code="${code}"\\} (\\S+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : 0;
}
