import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import type { MarketState } from '../market/market-state.js';
import type { FeedHealth } from './feed-health.js';

/**
 * The one door into market state: validated ticks and trades, in the order the
 * sequencer decided, and the feed's health. Knows nothing of who reads the market (the
 * throttler pulls from it by seq).
 */
export class Ingest {
  constructor(
    private readonly market: MarketState,
    private readonly health: FeedHealth,
  ) {}

  tick(tick: FeedTick): boolean {
    if (this.market.applyTick(tick) < 0) return false;
    this.health.tick();
    return true;
  }

  trade(input: FeedTrade): boolean {
    return this.market.applyTrade(input) !== null;
  }
}
