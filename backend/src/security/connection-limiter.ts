import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '@tickdeck/protocol';

/** Why a handshake is refused, as a code and a message safe to show. */
export interface Refusal {
  code: ErrorCode;
  message: string;
}

/**
 * Caps Engine.IO connections in total and per client address. Counts what Engine.IO holds (a
 * connection is counted from its handshake to its close, whatever namespaces it joins); checked
 * in `allowRequest`, before a session exists.
 */
export class ConnectionLimiter {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerIp: number,
    private readonly trustProxy: boolean,
  ) {}

  /** The client's address: the socket's peer, or with TRUST_PROXY the last X-Forwarded-For hop. */
  addressOf(req: IncomingMessage): string {
    if (this.trustProxy) {
      const fwd = req.headers['x-forwarded-for'];
      const last = (Array.isArray(fwd) ? fwd.join(',') : (fwd ?? '')).split(',').pop()?.trim();
      if (last) return last;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  /** A refusal when one more connection from `ip` would pass a cap, else null. */
  check(ip: string): Refusal | null {
    if (this.total >= this.maxTotal) {
      return {
        code: ErrorCode.TOO_MANY_CONNECTIONS,
        message: `the gateway is full (MAX_CONNECTIONS=${this.maxTotal})`,
      };
    }
    if ((this.perIp.get(ip) ?? 0) >= this.maxPerIp) {
      return {
        code: ErrorCode.TOO_MANY_CONNECTIONS,
        message: `too many connections from this address (MAX_CONNECTIONS_PER_IP=${this.maxPerIp})`,
      };
    }
    return null;
  }

  /** Counts a connection from `ip` in. */
  opened(ip: string): void {
    this.total++;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

  /** Counts a connection from `ip` out; once per {@link opened} (Engine.IO closes a connection once). */
  closed(ip: string): void {
    const n = this.perIp.get(ip);
    if (n === undefined) return;
    this.total--;
    if (n > 1) this.perIp.set(ip, n - 1);
    else this.perIp.delete(ip);
  }

  get connections(): number {
    return this.total;
  }
}
