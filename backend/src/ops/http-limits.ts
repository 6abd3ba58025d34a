import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode } from '@tickdeck/protocol';
import type { AppConfig } from '../config/config.js';
import type { RefusalLog } from '../security/refusal-log.js';

/** Descriptors kept free of HTTP connections: files, Redis, PostgreSQL, logs, Node's own. */
export const FD_RESERVE = 256;
/** The smallest global HTTP cap (MAX_HTTP_CONNECTIONS' own minimum). */
export const MIN_HTTP_CONNECTIONS = 16;
/**
 * How often Node looks for connections past `headersTimeout` / `requestTimeout`, ms. Node's
 * default (30 s) lets a half-open request live up to 30 s past its timeout.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/**
 * The soft "Max open files" limit in the text of `/proc/<pid>/limits`; undefined when the line is
 * missing or says `unlimited`.
 */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const m = /^Max open files\s+(\S+)/m.exec(limits);
  if (!m?.[1] || !/^\d+$/.test(m[1])) return undefined;
  return Number(m[1]);
}

/** This process's soft open-files limit (`ulimit -n`) on Linux; undefined elsewhere or unreadable. */
export function readOpenFilesLimit(path = '/proc/self/limits'): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The HTTP connection caps in force, and what is worth a warning at start. */
export interface HttpCaps {
  /** `server.maxConnections`; undefined = no global cap (no descriptor limit known, none set). */
  maxConnections: number | undefined;
  /** Per client address; undefined = not applied (TRUST_PROXY: every peer is the proxy). */
  maxConnectionsPerIp: number | undefined;
  warnings: string[];
}

/**
 * Derives the caps from the configuration and the descriptor limit (`fdLimit`, undefined =
 * unknown). The global cap stays {@link FD_RESERVE} below the limit, so a flood is refused by
 * Node (the socket closed at once) before `accept` fails with EMFILE and starves everything else.
 * A MAX_HTTP_CONNECTIONS above that is lowered to it, with a warning: a cap the process cannot
 * reach protects nothing, and refusing to start would turn a small `ulimit -n` into an outage.
 */
export function httpCaps(
  config: Pick<AppConfig, 'http' | 'limits' | 'security'>,
  fdLimit: number | undefined,
  reserve = FD_RESERVE,
): HttpCaps {
  const warnings: string[] = [];
  const ceiling = fdLimit === undefined ? undefined : Math.max(MIN_HTTP_CONNECTIONS, fdLimit - reserve);
  if (fdLimit !== undefined && fdLimit - reserve < MIN_HTTP_CONNECTIONS) {
    warnings.push(
      `the open-files limit is ${fdLimit} (ulimit -n): too few for ${MIN_HTTP_CONNECTIONS} connections ` +
        `and ${reserve} spare descriptors; raise it (e.g. ulimit -n 65536)`,
    );
  }
  let maxConnections = config.http.maxConnections ?? ceiling;
  if (config.http.maxConnections !== undefined && ceiling !== undefined && config.http.maxConnections > ceiling) {
    warnings.push(
      `MAX_HTTP_CONNECTIONS=${config.http.maxConnections} is above the open-files limit ${fdLimit} (ulimit -n) ` +
        `less ${reserve} spare descriptors; capping at ${ceiling}. Raise ulimit -n or lower MAX_HTTP_CONNECTIONS`,
    );
    maxConnections = ceiling;
  }
  if (maxConnections !== undefined && config.limits.maxConnections > maxConnections) {
    const why =
      maxConnections === config.http.maxConnections
        ? 'MAX_HTTP_CONNECTIONS'
        : `the open-files limit ${fdLimit} (ulimit -n) less ${reserve}`;
    warnings.push(
      `MAX_CONNECTIONS=${config.limits.maxConnections} (Socket.IO) cannot be reached: HTTP connections ` +
        `are capped at ${maxConnections} by ${why}`,
    );
  }
  return {
    maxConnections,
    maxConnectionsPerIp: config.security.trustProxy ? undefined : config.http.maxConnectionsPerIp,
    warnings,
  };
}

/** Open connections per address, within a cap; an address is forgotten when its count drops to 0. */
export class AddressCounter {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts one more connection from `address`, or returns false (and counts nothing) at the cap. */
  tryOpen(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  /** Counts one out; once per successful {@link tryOpen}. */
  close(address: string): void {
    const n = this.open.get(address);
    if (n === undefined) return;
    if (n > 1) this.open.set(address, n - 1);
    else this.open.delete(address);
  }

  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /** Addresses with an open connection (the map's size: memory is bounded by live connections). */
  get addresses(): number {
    return this.open.size;
  }
}

/**
 * Applies the caps to the server, before it listens: `maxConnections` (Node closes the socket
 * past it and emits `drop`), and the per-address cap on every TCP connection (`connection` is the
 * raw socket, before TLS and before any request, websockets included). A refused socket is
 * destroyed at once, without a response: it costs a descriptor for microseconds. Both refusals
 * are logged through `refusals`.
 */
export function applyHttpCaps(server: HttpServer, caps: HttpCaps, refusals: RefusalLog): void {
  if (caps.maxConnections !== undefined) {
    const max = caps.maxConnections;
    server.maxConnections = max;
    server.on('drop', (data?: { remoteAddress?: string }) =>
      refusals.refuse(
        ErrorCode.TOO_MANY_CONNECTIONS,
        data?.remoteAddress ?? 'unknown',
        `the gateway holds its maximum of HTTP connections (MAX_HTTP_CONNECTIONS=${max}); connection closed`,
        'HTTP_CONNECTIONS',
      ),
    );
  }
  if (caps.maxConnectionsPerIp === undefined) return;
  const counter = new AddressCounter(caps.maxConnectionsPerIp);
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    // Already gone (reset before Node got to it): nothing to count.
    if (address === undefined) return;
    if (!counter.tryOpen(address)) {
      socket.destroy();
      refusals.refuse(
        ErrorCode.TOO_MANY_CONNECTIONS,
        address,
        `too many HTTP connections from this address (MAX_HTTP_CONNECTIONS_PER_IP=${counter.max}); connection closed`,
        'HTTP_CONNECTIONS_PER_IP',
      );
      return;
    }
    socket.once('close', () => counter.close(address));
  });
}

/** One line for the start log: the descriptor limit and the caps in force. */
export function describeHttpLimits(
  caps: HttpCaps,
  fdLimit: number | undefined,
  http: Pick<AppConfig['http'], 'headersTimeoutMs' | 'requestTimeoutMs'>,
): string {
  const perIp =
    caps.maxConnectionsPerIp === undefined
      ? 'no cap per address (TRUST_PROXY: every peer is the proxy; cap clients there, e.g. nginx limit_conn)'
      : `${caps.maxConnectionsPerIp} per address`;
  return (
    `HTTP limits: open-files limit ${fdLimit ?? 'unknown'}; connections ${caps.maxConnections ?? 'uncapped'} in all, ` +
    `${perIp}; headers within ${http.headersTimeoutMs} ms, whole request within ${http.requestTimeoutMs} ms`
  );
}
