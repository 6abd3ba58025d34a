import { Module, type DynamicModule } from '@nestjs/common';
import { APP_CONFIG, instrumentsOf, type AppConfig } from './config/config.js';
import { EmbeddedFeedService } from './feed/embedded-feed.service.js';
import { FeedGateway } from './feed/feed.gateway.js';
import { FeedService } from './feed/feed.service.js';
import { Ingest } from './feed/ingest.js';
import { MarketState } from './market/market-state.js';
import { MetricsService } from './ops/metrics.service.js';
import { OpsController } from './ops/ops.controller.js';
import { SnapshotController } from './snapshot/snapshot.controller.js';
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
        {
          provide: Ingest,
          useFactory: (market: MarketState, throttler: Throttler) => new Ingest(market, throttler),
          inject: [MarketState, Throttler],
        },
        {
          provide: FeedService,
          useFactory: (ingest: Ingest, market: MarketState) =>
            new FeedService(ingest, {
              isKnown: (symbol) => market.indexOf(symbol) >= 0,
              // FEED=embedded means the simulator is the only source: /feed stays shut.
              token: config.feed.mode === 'embedded' ? undefined : config.feed.token,
              closedMessage:
                config.feed.mode === 'embedded'
                  ? 'feed ingest is off on this gateway (FEED=embedded): start it with FEED=external or FEED=both and FEED_TOKEN=<secret> to enable /feed'
                  : undefined,
            }),
          inject: [Ingest, MarketState],
        },
        SubscriptionService,
        StreamGateway,
        FeedGateway,
        ...(config.feed.mode === 'external' ? [] : [EmbeddedFeedService]),
        MetricsService,
      ],
    };
  }
}
