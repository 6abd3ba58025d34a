import * as http from 'node:http';
import * as https from 'node:https';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';

/** Server options Node takes only when the server is created (or that belong together with those). */
export interface ServerTimeouts {
  /** How often Node looks for requests past the two timeouts below, ms (Node's default: 30 s). */
  connectionsCheckingInterval: number;
  /** Time a client has to send its request headers, ms; past it Node answers 408 and closes. */
  headersTimeout: number;
  /** Time a client has to send its whole request (not to receive the response), ms. */
  requestTimeout: number;
  /** https only: time a client has to finish the TLS handshake, ms (Node's default: 120 s). */
  handshakeTimeout: number;
}

/**
 * Nest's ExpressAdapter, creating its http(s) server with {@link ServerTimeouts}. Node enforces
 * `headersTimeout` and `requestTimeout` only every `connectionsCheckingInterval`, which only
 * `createServer` takes, and Nest's own `initHttpServer` passes no options for http (and only
 * `httpsOptions` for https). Nest's `initHttpServer` does nothing else this gateway uses: its two
 * extras are refused below rather than silently lost.
 */
export class ExpressServerAdapter extends ExpressAdapter {
  constructor(private readonly timeouts: ServerTimeouts) {
    super();
  }

  override initHttpServer(options: NestApplicationOptions): void {
    // Nest implements these inside its own initHttpServer, on its private state. ShutdownService
    // does both jobs here (closes idle connections, drops the rest after a grace period).
    if (options.forceCloseConnections || options.return503OnClosing) {
      throw new Error(`${ExpressServerAdapter.name} does not support forceCloseConnections or return503OnClosing`);
    }
    const app = this.getInstance<http.RequestListener>();
    const { handshakeTimeout, ...httpTimeouts } = this.timeouts;
    this.setHttpServer(
      options.httpsOptions
        ? https.createServer({ ...options.httpsOptions, ...httpTimeouts, handshakeTimeout }, app)
        : http.createServer(httpTimeouts, app),
    );
  }
}
