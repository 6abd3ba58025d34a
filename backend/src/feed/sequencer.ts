import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import type { Ingest } from './ingest.js';

/**
 * Where feed sources (the embedded simulator, `/feed` publishers) hand validated events: it
 * decides the order in which they reach {@link Ingest}. Bound by the {@link SEQUENCER} token to
 * the {@link LocalSequencer} (apply now) or, in cluster mode, to the Redis feed bus (publish, then
 * apply in bus order on every node).
 */
export interface Sequencer {
  tick(tick: FeedTick): void;
  trade(trade: FeedTrade): void;
}

/** Injection token of the {@link Sequencer} in force. */
export const SEQUENCER = Symbol('SEQUENCER');

/** A standalone gateway's sequencer: every event is applied at once, in arrival order. */
export class LocalSequencer implements Sequencer {
  constructor(private readonly ingest: Ingest) {}

  tick(tick: FeedTick): void {
    this.ingest.tick(tick);
  }

  trade(trade: FeedTrade): void {
    this.ingest.trade(trade);
  }
}
