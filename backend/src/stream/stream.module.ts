import { Module } from '@nestjs/common';
import { ErrorCode } from '@tickdeck/protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { ConnectionGate } from '../security/connection-gate.js';
import { RefusalLog } from '../security/refusal-log.js';
import { SecurityModule } from '../security/security.module.js';
import { AlertService } from '../alerts/alert.service.js';
import { SlowConsumerGuard } from './slow-consumer.js';
import { StreamGateway } from './stream.gateway.js';
import { SubscriptionService, type SocketViewer } from './subscription.service.js';
import { Throttler } from './throttler.js';

/**
 * Market data out: the `/market` gateway, subscriptions, the throttler (which pulls from the
 * market by seq and writes each viewer one frame per flush) and the slow-consumer sweep. The gateway binds the throttler's output and
 * starts it when its namespace exists; both stop in their own shutdown hooks. The throttler and
 * the subscriptions are exported for the SSE streams (sse/), which are viewers like sockets.
 */
@Module({
  imports: [SecurityModule],
  providers: [
    {
      provide: Throttler,
      useFactory: (market: MarketState, config: AppConfig) => new Throttler(market, config.throttleTiersMs),
      inject: [MarketState, APP_CONFIG],
    },
    {
      provide: SlowConsumerGuard,
      useFactory: (
        config: AppConfig,
        throttler: Throttler<SocketViewer>,
        subscriptions: SubscriptionService,
        refusals: RefusalLog,
        gate: ConnectionGate,
      ) => {
        const max = config.limits.maxBufferedBytes;
        return new SlowConsumerGuard({
          maxBufferedBytes: max,
          periodMs: throttler.tiers[0]!,
          onLagging: (socket, lagging) => {
            const viewer = subscriptions.viewerOf(socket);
            if (viewer) throttler.setLagging(viewer, lagging);
          },
          onEvict: (conn, ids, bytes) =>
            refusals.refuse(
              ErrorCode.SLOW_CONSUMER,
              gate.stateOf(conn)?.ip ?? 'unknown',
              `${ids.length > 0 ? `socket ${ids.join(',')}` : 'a connection with no socket'}: ${bytes} bytes queued (MAX_BUFFERED_BYTES=${max}), dropped`,
            ),
        });
      },
      inject: [APP_CONFIG, Throttler, SubscriptionService, RefusalLog, ConnectionGate],
    },
    SubscriptionService,
    AlertService,
    StreamGateway,
  ],
  exports: [Throttler, SlowConsumerGuard, StreamGateway, AlertService, SubscriptionService],
})
export class StreamModule {}
