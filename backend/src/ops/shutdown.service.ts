import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ConnectionGate } from '../security/connection-gate.js';
import { dropConnection } from '../security/engine-conn.js';
import { StreamGateway } from '../stream/stream.gateway.js';

/** Signals that stop the gateway gracefully. */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** The whole graceful shutdown must be over by then; past it the process exits 1. */
export const SHUTDOWN_DEADLINE_MS = 5000;
/** How long viewers get to read the shutdown notice before their connections are dropped. */
const SOCKETS_GRACE_MS = 1000;
/** How long in-flight REST requests get to finish before their connections are dropped. */
const REST_GRACE_MS = 2500;
const POLL_MS = 20;

/** Resolves once `done()` holds or `ms` have passed; says which. */
async function until(done: () => boolean, ms: number, tick?: () => void): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= end) return false;
    tick?.();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}

/**
 * Arms the hard deadline on the first shutdown signal: if the graceful path (Nest's shutdown hooks,
 * then `process.exit(0)` from `enableShutdownHooks(..., {useProcessExit: true})`) has not ended the
 * process within {@link SHUTDOWN_DEADLINE_MS}, it exits 1 saying so.
 */
export function armShutdownDeadline(): void {
  let armed = false;
  for (const signal of SHUTDOWN_SIGNALS) {
    process.once(signal, () => {
      if (armed) return;
      armed = true;
      setTimeout(() => {
        Logger.error(`graceful shutdown did not finish within ${SHUTDOWN_DEADLINE_MS} ms; exiting 1`, 'tickdeck');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
    });
  }
}

/**
 * Graceful shutdown, run by Nest before it disposes of the servers: stop accepting connections,
 * stop sending quotes, tell every viewer `status {server: 'shutdown'}`, close every Socket.IO
 * connection (a closed transport, not a Socket.IO disconnect, so clients reconnect by themselves,
 * to another node or to this one restarted), and let in-flight REST requests finish. Peers that
 * do not take part (a WebSocket that never answers the close, a request that never ends) are cut
 * off after a grace period, so the process can always exit well within the deadline.
 */
@Injectable()
export class ShutdownService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ShutdownService.name);
  /** Every TCP connection the HTTP server holds; Node's own list forgets upgraded (WebSocket) ones. */
  private readonly connections = new Set<Duplex>();
  /** The upgraded ones among them. */
  private readonly upgraded = new Set<Duplex>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly stream: StreamGateway,
    private readonly gate: ConnectionGate,
  ) {}

  onApplicationBootstrap(): void {
    const http = this.http();
    const track = (set: Set<Duplex>, socket: Duplex) => {
      set.add(socket);
      socket.once('close', () => set.delete(socket));
    };
    http?.on('connection', (socket: Duplex) => track(this.connections, socket));
    http?.on('upgrade', (_req: IncomingMessage, socket: Duplex) => track(this.upgraded, socket));
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const started = Date.now();
    this.logger.log(`${signal ?? 'close()'}: shutting down`);
    const http = this.http();
    // Stop accepting: the listening socket closes now; `closed` turns true once every connection is gone.
    let closed = http === undefined || !http.listening;
    if (http && !closed) http.close(() => (closed = true));

    const nsp = this.stream.nsp;
    if (nsp) {
      // Local: in cluster mode the other nodes keep serving.
      nsp.local.emit('status', { server: 'shutdown' });
      // Every Engine.IO connection, whatever its namespaces (the gate holds them all).
      // close() without discard sends what is queued (the notice) first, then closes the transport.
      const conns = Array.from(this.gate.connections(), (c) => c.conn);
      for (const conn of conns) conn.close();
      if (!(await until(() => this.upgraded.size === 0, SOCKETS_GRACE_MS))) {
        for (const conn of conns) dropConnection(conn);
        for (const socket of this.upgraded) socket.destroy();
      }
    }

    if (http && !closed) {
      // In-flight requests finish; keep-alive connections are closed as soon as they are idle.
      const done = await until(
        () => closed,
        REST_GRACE_MS,
        () => http.closeIdleConnections(),
      );
      if (!done) {
        this.logger.warn(`connections still open after ${REST_GRACE_MS} ms; closing them`);
        for (const socket of this.connections) socket.destroy();
      }
    }
    this.logger.log(`connections closed in ${Date.now() - started} ms`);
  }

  private http(): HttpServer | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as HttpServer | undefined;
  }
}
