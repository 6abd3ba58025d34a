import { Logger, type INestApplicationContext } from '@nestjs/common';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import { LeanIoAdapter } from '../stream/lean-io.adapter.js';
import { redisOptions, watchRedisErrors } from './redis-options.js';

/** Prefix of the Socket.IO Redis adapter's channels. */
export const IO_CHANNEL_PREFIX = 'tickdeck:io';

/**
 * {@link LeanIoAdapter} with the Socket.IO Redis adapter attached (NestJS's documented pattern),
 * for what crosses nodes: non-local broadcasts such as a feed or server `status`,
 * `serverSideEmit`, `fetchSockets`. Quotes and trades never go through it (the gateway emits
 * them with `nsp.local`). Commands issued while Redis is away wait for it (no retry limit), so a
 * broadcast is delayed, never thrown.
 */
export class RedisIoAdapter extends LeanIoAdapter {
  private readonly redisLog = new Logger(RedisIoAdapter.name);
  private readonly pub: Redis;
  private readonly sub: Redis;

  constructor(app: INestApplicationContext, url: string) {
    super(app);
    const options = { ...redisOptions('tickdeck-io'), maxRetriesPerRequest: null };
    this.pub = new Redis(url, options);
    this.sub = new Redis(url, options);
    const warn = (m: string) => this.redisLog.warn(m);
    const back = () => this.redisLog.log('Socket.IO Redis adapter: Redis is back');
    watchRedisErrors(this.pub, 'Socket.IO Redis adapter (publish)', warn, back);
    watchRedisErrors(this.sub, 'Socket.IO Redis adapter (subscribe)', warn);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, options) as Server;
    server.adapter(createAdapter(this.pub, this.sub, { key: IO_CHANNEL_PREFIX }));
    return server;
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
