import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, lastValueFrom, type Observable } from 'rxjs';
import type { Server, ServerOptions, Socket } from 'socket.io';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ViewerGuard } from '../security/viewer-guard.js';

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
   * The one Socket.IO server, with the gateway's guard in front of Engine.IO: `allowRequest`
   * (Origin, connection caps) before any session exists, and the frame bound. Engine.IO's
   * `maxHttpBufferSize` is per server, so it is the feed's (larger) bound; viewers' frames are
   * held to theirs per connection by {@link ViewerGuard.watch}.
   */
  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const config = this.appRef?.get<AppConfig>(APP_CONFIG, { strict: false });
    const guard = this.appRef?.get(ViewerGuard, { strict: false });
    const server = super.createIOServer(port, {
      ...options,
      ...(config && { maxHttpBufferSize: config.limits.feedFrameBytes }),
      ...(guard && {
        allowRequest: guard.allowRequest,
        cors: { origin: (origin, cb) => cb(null, guard.allowsOrigin(origin)) },
      }),
    } as ServerOptions) as Server;
    if (guard) server.engine.on('connection', (conn: Socket['conn']) => guard.watch(conn));
    return server;
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
