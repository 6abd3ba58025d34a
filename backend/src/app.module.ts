import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ErrorCode } from '@tickdeck/protocol';
import { clusterProviders } from './cluster/cluster.providers.js';
import { APP_CONFIG, instrumentsOf, type AppConfig } from './config/config.js';
import { EmbeddedFeedService } from './feed/embedded-feed.service.js';
import { FeedHealth } from './feed/feed-health.js';
import { FeedGateway } from './feed/feed.gateway.js';
import { FeedService } from './feed/feed.service.js';
import { Ingest } from './feed/ingest.js';
import { MarketState } from './market/market-state.js';
import { MetricsService } from './ops/metrics.service.js';
import { OpsController } from './ops/ops.controller.js';
import { ShutdownService } from './ops/shutdown.service.js';
import { ConnectionGate } from './security/connection-gate.js';
import { ConnectionLimiter } from './security/connection-limiter.js';
import { OriginPolicy } from './security/origin-policy.js';
import { RefusalLog } from './security/refusal-log.js';
import { RestAuthGuard } from './security/rest-auth.guard.js';
import { ViewerAuth } from './security/viewer-auth.js';
import { ViewerGuard } from './security/viewer-guard.js';
import { SnapshotController } from './snapshot/snapshot.controller.js';
import { SlowConsumerGuard } from './stream/slow-consumer.js';
import { StreamGateway } from './stream/stream.gateway.js';
import { SubscriptionService } from './stream/subscription.service.js';
import { Throttler } from './stream/throttler.js';

@Module({})
export class AppModule {
  /** The whole gateway for one validated configuration. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      controllers: [SnapshotController, OpsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        {
          provide: MarketState,
          useFactory: () =>
            new MarketState(instrumentsOf(config), {
              historySeconds: config.historySeconds,
              tradeHistory: config.tradeHistory,
            }),
        },
        {
          provide: Throttler,
          useFactory: (market: MarketState) => new Throttler(market, config.throttleTiersMs),
          inject: [MarketState],
        },
        { provide: FeedHealth, useFactory: () => new FeedHealth(config.feedStaleMs) },
        {
          provide: Ingest,
          useFactory: (market: MarketState, throttler: Throttler, health: FeedHealth) =>
            new Ingest(market, throttler, health),
          inject: [MarketState, Throttler, FeedHealth],
        },
        {
          provide: FeedService,
          useFactory: (ingest: Ingest, market: MarketState) =>
            new FeedService(ingest, {
              indexOf: (symbol) => market.indexOf(symbol),
              lastEventTs: (i) => market.lastEventTsAt(i),
              clockSkewMs: config.limits.maxFeedClockSkewMs,
              // FEED=embedded means the simulator is the only source: /feed stays shut.
              token: config.feed.mode === 'embedded' ? undefined : config.feed.token,
              closedMessage:
                config.feed.mode === 'embedded'
                  ? 'feed ingest is off on this gateway (FEED=embedded): start it with FEED=external or FEED=both and FEED_TOKEN=<secret> to enable /feed'
                  : undefined,
            }),
          inject: [Ingest, MarketState],
        },
        {
          provide: OriginPolicy,
          useFactory: () => new OriginPolicy(config.security.allowedOrigins, config.host, config.tls !== undefined),
        },
        {
          provide: ViewerAuth,
          useFactory: () => new ViewerAuth(config.security.authTokens, config.security.jwtSecret),
        },
        {
          provide: RefusalLog,
          useFactory: () => {
            const logger = new Logger('Refusals');
            return new RefusalLog({ warn: (m) => logger.warn(m) }, config.refusalLogIntervalMs);
          },
        },
        {
          provide: ConnectionGate,
          useFactory: (origins: OriginPolicy, refusals: RefusalLog) =>
            new ConnectionGate(
              origins,
              new ConnectionLimiter(
                config.limits.maxConnections,
                config.limits.maxConnectionsPerIp,
                config.security.trustProxy,
              ),
              refusals,
              config.limits,
            ),
          inject: [OriginPolicy, RefusalLog],
        },
        {
          provide: ViewerGuard,
          useFactory: (gate: ConnectionGate, auth: ViewerAuth, refusals: RefusalLog) =>
            new ViewerGuard(gate, auth, refusals, config.limits),
          inject: [ConnectionGate, ViewerAuth, RefusalLog],
        },
        { provide: APP_GUARD, useClass: RestAuthGuard },
        {
          provide: SlowConsumerGuard,
          useFactory: (throttler: Throttler, refusals: RefusalLog, gate: ConnectionGate) => {
            const max = config.limits.maxBufferedBytes;
            return new SlowConsumerGuard({
              maxBufferedBytes: max,
              periodMs: throttler.tiers[0]!,
              onEvict: (conn, ids, bytes) =>
                refusals.refuse(
                  ErrorCode.SLOW_CONSUMER,
                  gate.stateOf(conn)?.ip ?? 'unknown',
                  `${ids.length > 0 ? `socket ${ids.join(',')}` : 'a connection with no socket'}: ${bytes} bytes queued (MAX_BUFFERED_BYTES=${max}), dropped`,
                ),
            });
          },
          inject: [Throttler, RefusalLog, ConnectionGate],
        },
        SubscriptionService,
        StreamGateway,
        ShutdownService,
        FeedGateway,
        ...(config.feed.mode === 'external' ? [] : [EmbeddedFeedService]),
        MetricsService,
        // Cluster mode: the Redis feed bus; its Ingest replaces the local one above (last wins).
        ...clusterProviders(config),
      ],
    };
  }
}
