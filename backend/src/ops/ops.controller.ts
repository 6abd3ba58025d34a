import { Controller, Get, Header, Inject, Optional } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FeedState } from '@tickdeck/protocol';
import { Public } from '../security/rest-auth.guard.js';
import { ClusterService, type ClusterHealth } from '../cluster/cluster.service.js';
import { APP_CONFIG, type AppConfig, type FeedMode } from '../config/config.js';
import { FeedHealth } from '../feed/feed-health.js';
import { HistoryService, type HistoryHealth } from '../history/history.service.js';
import { MarketState } from '../market/market-state.js';
import { MetricsService } from './metrics.service.js';

/** Health of this gateway, as `GET /api/health` reports it. */
export interface Health {
  status: 'ok';
  /** Seconds since the process started. */
  uptimeS: number;
  /** The epoch this gateway's seqs count in (the cluster's, in cluster mode); see `Snapshot.epoch`. */
  epoch: string;
  /** `state`: `stale` after `FEED_STALE_MS` without a tick, else `live`. */
  feed: { source: FeedMode; state: FeedState; ticks: number; trades: number; lastEventAt: number };
  /**
   * The history store: `degraded` while writes fail or are slow (rows wait, ingest and delivery go
   * on), `off` with HISTORY_STORE=memory.
   */
  history: HistoryHealth;
  viewers: number;
  symbols: number;
  tiersMs: number[];
  /** Cluster mode only (REDIS_URL set). */
  cluster?: ClusterHealth;
}

@ApiTags('ops')
@Controller()
export class OpsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
    private readonly metrics: MetricsService,
    private readonly feedHealth: FeedHealth,
    private readonly historyService: HistoryService,
    @Optional() private readonly cluster?: ClusterService,
  ) {}

  @Public()
  @Get('api/health')
  @ApiOperation({ summary: 'Liveness and feed state' })
  @ApiOkResponse({ description: 'The gateway is up' })
  health(): Health {
    return {
      status: 'ok',
      uptimeS: Math.round(process.uptime()),
      epoch: this.market.epoch,
      feed: {
        source: this.config.feed.mode,
        state: this.feedHealth.state,
        ticks: this.market.ticksApplied,
        trades: this.market.tradesApplied,
        lastEventAt: this.market.lastEventAt,
      },
      history: this.historyService.health,
      viewers: this.metrics.viewers,
      symbols: this.market.size,
      tiersMs: this.config.throttleTiersMs,
      ...(this.cluster ? { cluster: this.cluster.health() } : {}),
    };
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics' })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async prometheus(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
