import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Logger, Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { AppConfig } from '../config/config.js';
import { Ingest } from '../feed/ingest.js';
import { SEQUENCER } from '../feed/sequencer.js';
import { MarketState } from '../market/market-state.js';
import { StreamModule } from '../stream/stream.module.js';
import { ClusterService } from './cluster.service.js';
import { FeedBus } from './feed-bus.js';
import { RedisBusTransport } from './redis-bus.transport.js';

/** Redis channel of the feed bus. */
export const FEED_BUS_CHANNEL = 'tickdeck:feed';

/** This process's id in the cluster: host (the container id under Docker), pid and a nonce. */
export function nodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

/**
 * Cluster mode (`REDIS_URL` set): the Redis feed bus, which orders every node's feed events (a
 * {@link SEQUENCER}: bind it with {@link ClusterModule.sequencer}), and the cluster status
 * (heartbeats, viewer counts, degraded notices). Global, for the bus the sequencer binding and
 * `/api/health` use.
 */
@Module({})
export class ClusterModule {
  static forRoot(config: AppConfig): DynamicModule {
    const url = config.redisUrl;
    if (!url) return { module: ClusterModule };
    return {
      module: ClusterModule,
      global: true,
      imports: [StreamModule],
      providers: [
        {
          provide: FeedBus,
          useFactory: (market: MarketState) => {
            const logger = new Logger(FeedBus.name);
            const log = (level: 'log' | 'warn' | 'error', message: string) => logger[level](message);
            return new FeedBus(new RedisBusTransport(url, FEED_BUS_CHANNEL, { log }), market, {
              node: nodeId(),
              log,
            });
          },
          inject: [MarketState],
        },
        ClusterService,
      ],
      exports: [FeedBus, ClusterService],
    };
  }

  /** The {@link SEQUENCER} binding for cluster mode: local events go through the bus, which applies what Redis delivers through {@link Ingest}. */
  static sequencer(): Provider {
    return {
      provide: SEQUENCER,
      useFactory: (bus: FeedBus, ingest: Ingest) => {
        bus.attach(ingest);
        return bus;
      },
      inject: [FeedBus, Ingest],
    };
  }
}
