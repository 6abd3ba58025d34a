import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { MarketState } from '../market/market-state.js';
import { ViewerGuard } from '../security/viewer-guard.js';
import { StreamGateway } from '../stream/stream.gateway.js';
import { Throttler } from '../stream/throttler.js';

/** Prometheus metrics; read from the hot path's own counters at scrape time, never updated per tick. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  /** Viewer sockets connected to this node's `/market`. */
  get viewers(): number {
    return this.stream.viewers;
  }
  constructor(
    market: MarketState,
    throttler: Throttler,
    guard: ViewerGuard,
    private readonly stream: StreamGateway,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter('tickdeck_ticks_applied_total', 'Ticks applied to market state', () => market.ticksApplied);
    counter('tickdeck_trades_applied_total', 'Trades applied to market state', () => market.tradesApplied);
    counter(
      'tickdeck_quote_broadcasts_total',
      'Quote room broadcasts (one per symbol, tier and flush)',
      () => throttler.stats.quoteBroadcasts,
    );
    counter(
      'tickdeck_quotes_delivered_total',
      'Quotes delivered to viewer sockets',
      () => throttler.stats.quotesDelivered,
    );
    counter(
      'tickdeck_trades_delivered_total',
      'Trades delivered to viewer sockets',
      () => throttler.stats.tradesDelivered,
    );
    new Counter({
      name: 'tickdeck_refusals_total',
      help: 'Handshakes, messages and sockets refused or disconnected by the guard, by error code',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of guard.refusals) this.inc({ code }, n);
      },
    });
    const viewers = () => this.viewers;
    new Gauge({
      name: 'tickdeck_viewers',
      help: 'Viewer sockets connected to /market',
      registers,
      collect() {
        this.set(viewers());
      },
    });
  }
}
