import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, lastValueFrom, type Observable } from 'rxjs';
import { Namespace, type Server, type ServerOptions, type Socket } from 'socket.io';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ConnectionGate } from '../security/connection-gate.js';

/**
 * Nest's IoAdapter with plain listeners instead of an rxjs pipeline per socket and event: the
 * same dispatch (handler result -> ack, `{event, data}` -> emit, errors logged, never thrown), at
 * a fraction of the memory each idle connection holds.
 */
export class LeanIoAdapter extends IoAdapter {
  private readonly log = new Logger('LeanIoAdapter');

  constructor(private readonly appRef?: INestApplicationContext) {
    super(appRef);
  }

  /**
   * The one Socket.IO server, with the {@link ConnectionGate} in front of Engine.IO: a middleware
   * for every HTTP request and upgrade (Origin, no JSONP), `allowRequest` (caps) before any
   * session exists, and the per-connection frame and CONNECT checks. Engine.IO's
   * `maxHttpBufferSize` is per server, so it is the feed's (larger) bound; viewers' frames are
   * held to theirs per connection by the gate. The main namespace serves nothing and refuses.
   */
  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const config = this.appRef?.get<AppConfig>(APP_CONFIG, { strict: false });
    const gate = this.gate();
    const server = super.createIOServer(port, {
      ...options,
      ...(config && { maxHttpBufferSize: config.limits.feedFrameBytes }),
      ...(gate && {
        allowRequest: gate.allowRequest,
        cors: { origin: (origin, cb) => cb(null, gate.allowsOrigin(origin)) },
      }),
    } as ServerOptions) as Server;
    if (gate) {
      server.engine.use(gate.httpMiddleware);
      server.engine.on('connection', (conn: Socket['conn']) => gate.watch(conn));
      gate.serve(server.of('/'), false);
    }
    return server;
  }

  /** Every gateway's namespace goes through the gate, ahead of the gateway's own middleware. */
  override create(port: number, options?: Parameters<IoAdapter['create']>[1]): Server {
    const created = super.create(port, options) as Server | Namespace;
    if (created instanceof Namespace) this.gate()?.serve(created);
    return created as Server;
  }

  private gate(): ConnectionGate | undefined {
    return this.appRef?.get(ConnectionGate, { strict: false });
  }

  override bindMessageHandlers(
    socket: Socket,
    handlers: MessageMappingProperties[],
    _transform: (data: unknown) => Observable<unknown>,
  ): void {
    for (const { message, callback, isAckHandledManually } of handlers) {
      socket.on(String(message), (...args: unknown[]) => {
        const { data, ack } = this.mapPayload(args) as { data: unknown; ack?: (res: unknown) => void };
        const reply = (response: unknown) => {
          if (response === undefined || response === null) return;
          const r = response as { event?: string; data?: unknown };
          if (r.event) socket.emit(r.event, r.data);
          else if (!isAckHandledManually && typeof ack === 'function') ack(response);
        };
        const fail = (err: unknown) => this.log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
        try {
          const result: unknown = callback(data, ack);
          if (isObservable(result)) lastValueFrom(result, { defaultValue: undefined }).then(reply, fail);
          else if (result instanceof Promise) result.then(reply, fail);
          else reply(result);
        } catch (err) {
          fail(err);
        }
      });
    }
  }
}
