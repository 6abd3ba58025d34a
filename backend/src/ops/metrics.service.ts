import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry, Summary } from 'prom-client';
import { AlertService } from '../alerts/alert.service.js';
import { HistoryService } from '../history/history.service.js';
import { MarketState } from '../market/market-state.js';
import { RefusalLog } from '../security/refusal-log.js';
import { SlowConsumerGuard } from '../stream/slow-consumer.js';
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
    refusals: RefusalLog,
    private readonly stream: StreamGateway,
    slowConsumers: SlowConsumerGuard,
    history: HistoryService,
    alerts: AlertService,
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
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    counter('tickdeck_ticks_applied_total', 'Ticks applied to market state', () => market.ticksApplied);
    counter('tickdeck_trades_applied_total', 'Trades applied to market state', () => market.tradesApplied);
    counter(
      'tickdeck_frames_total',
      'Frames written to viewer sockets (at most one per viewer per flush)',
      () => throttler.stats.framesWritten,
    );
    counter(
      'tickdeck_frame_encodings_total',
      'Frame payloads encoded: one per group of viewers owed the same frame, per flush',
      () => throttler.stats.frameEncodings,
    );
    counter(
      'tickdeck_quotes_delivered_total',
      'Quotes delivered to viewer sockets',
      () => throttler.stats.quotesDelivered,
    );
    counter(
      'tickdeck_trade_gaps_total',
      'Trade batches sent with gap: true (more trades between two flushes than TRADE_HISTORY holds)',
      () => throttler.stats.tradeGaps,
    );
    counter(
      'tickdeck_trades_delivered_total',
      'Trades delivered to viewer sockets',
      () => throttler.stats.tradesDelivered,
    );
    const h = history.stats;
    counter('tickdeck_history_writes_total', 'Batches written to the history store', () => h.writes);
    counter(
      'tickdeck_history_write_failures_total',
      'History store writes that failed (the rows wait for the next write)',
      () => h.writeFailures,
    );
    counter('tickdeck_history_bars_written_total', 'Closed bars written to the history store', () => h.barsWritten);
    counter('tickdeck_history_trades_written_total', 'Trades written to the history store', () => h.tradesWritten);
    counter(
      'tickdeck_history_dropped_total',
      'Bars and trades never written: the store kept failing past HISTORY_MAX_PENDING rows',
      () => h.dropped,
    );
    counter('tickdeck_history_pruned_total', 'Rows deleted by retention', () => h.pruned);
    gauge('tickdeck_history_pending_rows', 'Bars and trades waiting for the history store', () => history.pending);
    gauge('tickdeck_history_degraded', '1 while history store writes fail or are slow, else 0', () =>
      history.health === 'degraded' ? 1 : 0,
    );
    gauge('tickdeck_history_last_write_seconds', 'Duration of the last history store write', () => h.lastWriteSeconds);
    new Counter({
      name: 'tickdeck_refusals_total',
      help: 'Requests, handshakes, CONNECTs, messages and connections refused or dropped, by error code',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of refusals.counts) this.inc({ code }, n);
      },
    });
    const evicted = new Summary({
      name: 'tickdeck_slow_consumer_evicted_bytes',
      help: 'Bytes queued for each connection dropped as a slow consumer (quantile 0 and 1: smallest and largest)',
      percentiles: [0, 0.5, 1],
      registers,
    });
    slowConsumers.observe((bytes) => evicted.observe(bytes));
    gauge('tickdeck_viewers', 'Viewer sockets connected to /market', () => this.viewers);
    gauge('tickdeck_alerts_held', 'Price alerts held for this node’s viewers', () => alerts.size);
    counter(
      'tickdeck_alerts_fired_total',
      'Price alerts fired (online and found while a viewer was away)',
      () => alerts.fired,
    );
  }
}
