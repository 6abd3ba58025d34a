import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Logger, type Provider } from '@nestjs/common';
import type { AppConfig } from '../config/config.js';
import { FeedHealth } from '../feed/feed-health.js';
import { Ingest } from '../feed/ingest.js';
import { MarketState } from '../market/market-state.js';
import { Throttler } from '../stream/throttler.js';
import { ClusterIngest } from './cluster-ingest.js';
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
 * Cluster mode (`REDIS_URL` set): the feed bus, and an {@link Ingest} that routes every local feed
 * source through it. List these AFTER the local `Ingest` provider: Nest keeps the last provider
 * of a token, so this one replaces it.
 */
export function clusterProviders(config: AppConfig): Provider[] {
  const url = config.redisUrl;
  if (!url) return [];
  return [
    {
      provide: FeedBus,
      useFactory: (market: MarketState) => {
        const logger = new Logger(FeedBus.name);
        const log = (level: 'log' | 'warn' | 'error', message: string) => logger[level](message);
        return new FeedBus(new RedisBusTransport(url, FEED_BUS_CHANNEL, { log }), market, { node: nodeId(), log });
      },
      inject: [MarketState],
    },
    {
      provide: Ingest,
      useFactory: (bus: FeedBus, market: MarketState, throttler: Throttler, health: FeedHealth) =>
        new ClusterIngest(bus, market, throttler, health),
      inject: [FeedBus, MarketState, Throttler, FeedHealth],
    },
    ClusterService,
  ];
}
