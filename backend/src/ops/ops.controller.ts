import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig, type FeedMode } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { MetricsService } from './metrics.service.js';

/** Health of this gateway, as `GET /api/health` reports it. */
export interface Health {
  status: 'ok';
  /** Seconds since the process started. */
  uptimeS: number;
  feed: { source: FeedMode; ticks: number; trades: number; lastEventAt: number };
  viewers: number;
  symbols: number;
  tiersMs: number[];
}

@ApiTags('ops')
@Controller()
export class OpsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
    private readonly metrics: MetricsService,
  ) {}

  @Get('api/health')
  @ApiOperation({ summary: 'Liveness and feed state' })
  @ApiOkResponse({ description: 'The gateway is up' })
  health(): Health {
    return {
      status: 'ok',
      uptimeS: Math.round(process.uptime()),
      feed: {
        source: this.config.feed.mode,
        ticks: this.market.ticksApplied,
        trades: this.market.tradesApplied,
        lastEventAt: this.market.lastEventAt,
      },
      viewers: this.metrics.viewers,
      symbols: this.market.size,
      tiersMs: this.config.throttleTiersMs,
    };
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics' })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async prometheus(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
