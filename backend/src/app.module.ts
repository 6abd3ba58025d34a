import { Module, type DynamicModule } from '@nestjs/common';
import { ClusterModule } from './cluster/cluster.module.js';
import { ConfigModule } from './config/config.module.js';
import { instrumentsOf, type AppConfig } from './config/config.js';
import { FeedModule } from './feed/feed.module.js';
import { HistoryModule } from './history/history.module.js';
import { MarketModule } from './market/market.module.js';
import { OpsModule } from './ops/ops.module.js';
import { SecurityModule } from './security/security.module.js';
import { SnapshotModule } from './snapshot/snapshot.module.js';
import { SseModule } from './sse/sse.module.js';
import { StreamModule } from './stream/stream.module.js';

/**
 * The whole gateway for one validated configuration: one module per folder. The one choice made
 * here is the feed's {@link FeedModule sequencer}: local, or the cluster's Redis bus.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MarketModule.forRoot(instrumentsOf(config), {
          historySeconds: config.historySeconds,
          tradeHistory: config.tradeHistory,
        }),
        HistoryModule,
        SecurityModule,
        FeedModule.forRoot(config, config.redisUrl ? ClusterModule.sequencer() : undefined),
        StreamModule,
        SnapshotModule,
        OpsModule,
        SseModule,
        ClusterModule.forRoot(config),
      ],
    };
  }
}
