import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import { Ingest } from '../feed/ingest.js';
import type { FeedBus } from './feed-bus.js';

/**
 * Cluster mode's {@link Ingest}: every feed source on this node (the `/feed` namespace, the
 * embedded simulator) hands its validated events to the {@link FeedBus} instead of applying
 * them; the bus applies what Redis delivers through the ordinary local path (`super`).
 */
export class ClusterIngest extends Ingest {
  constructor(
    private readonly bus: FeedBus,
    ...local: ConstructorParameters<typeof Ingest>
  ) {
    super(...local);
    bus.attach({ tick: (t) => super.tick(t), trade: (t) => super.trade(t) });
  }

  /** Queued for the bus; the caller validated it, so it will be applied (true). */
  override tick(tick: FeedTick): boolean {
    this.bus.local(tick);
    return true;
  }

  override trade(trade: FeedTrade): boolean {
    this.bus.local(trade);
    return true;
  }
}
