import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { SecurityModule } from '../security/security.module.js';
import { EmbeddedFeedService } from './embedded-feed.service.js';
import { FeedHealth } from './feed-health.js';
import { FeedGateway } from './feed.gateway.js';
import { FeedService } from './feed.service.js';
import { Ingest } from './ingest.js';
import { LocalSequencer, SEQUENCER, type Sequencer } from './sequencer.js';

/** The default binding of {@link SEQUENCER}: apply every event at once. */
export const localSequencer: Provider = {
  provide: SEQUENCER,
  useFactory: (ingest: Ingest) => new LocalSequencer(ingest),
  inject: [Ingest],
};

/**
 * Market data in: the sources (the embedded simulator unless `FEED=external`, the `/feed`
 * gateway) hand validated events to the {@link SEQUENCER}, which orders them into {@link Ingest}.
 * `sequencer` binds the token: {@link localSequencer}, or the cluster's Redis feed bus. Global,
 * for its exports: {@link FeedHealth} (viewers are told when the feed goes stale) and
 * {@link Ingest} (the bus applies what Redis delivers through it).
 */
@Module({})
export class FeedModule {
  static forRoot(config: AppConfig, sequencer: Provider = localSequencer): DynamicModule {
    return {
      module: FeedModule,
      global: true,
      imports: [SecurityModule],
      providers: [
        { provide: FeedHealth, useFactory: () => new FeedHealth(config.feedStaleMs) },
        {
          provide: Ingest,
          useFactory: (market: MarketState, health: FeedHealth) => new Ingest(market, health),
          inject: [MarketState, FeedHealth],
        },
        sequencer,
        {
          provide: FeedService,
          useFactory: (sequence: Sequencer, market: MarketState, c: AppConfig) =>
            new FeedService(sequence, {
              indexOf: (symbol) => market.indexOf(symbol),
              lastEventTs: (i) => market.lastEventTsAt(i),
              holdsTradeId: (i, id) => market.holdsTradeId(i, id),
              clockSkewMs: c.limits.maxFeedClockSkewMs,
              // FEED=embedded means the simulator is the only source: /feed stays shut.
              token: c.feed.mode === 'embedded' ? undefined : c.feed.token,
              closedMessage:
                c.feed.mode === 'embedded'
                  ? 'feed ingest is off on this gateway (FEED=embedded): start it with FEED=external or FEED=both and FEED_TOKEN=<secret> to enable /feed'
                  : undefined,
            }),
          inject: [SEQUENCER, MarketState, APP_CONFIG],
        },
        FeedGateway,
        ...(config.feed.mode === 'external' ? [] : [EmbeddedFeedService]),
      ],
      exports: [FeedHealth, Ingest, SEQUENCER],
    };
  }
}
