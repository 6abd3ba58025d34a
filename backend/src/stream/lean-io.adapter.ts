import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, lastValueFrom, type Observable } from 'rxjs';
import type { Socket } from 'socket.io';

/**
 * Nest's IoAdapter with plain listeners instead of an rxjs pipeline per socket and event: the
 * same dispatch (handler result -> ack, `{event, data}` -> emit, errors logged, never thrown), at
 * a fraction of the memory each idle connection holds.
 */
export class LeanIoAdapter extends IoAdapter {
  private readonly log = new Logger('LeanIoAdapter');

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
