import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import type { MarketState } from '../market/market-state.js';
import type { FeedHealth } from './feed-health.js';

/**
 * The one door into market state: validated ticks and trades, in the order the
 * sequencer decided, and the feed's health. Knows nothing of who reads the market (the
 * throttler pulls from it by seq); the one reader that must see every tick as it is applied
 * (price alerts) listens with {@link onTick}.
 */
export class Ingest {
  private tickListener: ((i: number) => void) | null = null;

  constructor(
    private readonly market: MarketState,
    private readonly health: FeedHealth,
  ) {}

  tick(tick: FeedTick): boolean {
    const i = this.market.applyTick(tick);
    if (i < 0) return false;
    this.health.tick();
    this.tickListener?.(i);
    return true;
  }

  /** `fn` runs after every tick applied, with its symbol's index (one listener: the alerts). */
  onTick(fn: (i: number) => void): void {
    this.tickListener = fn;
  }

  trade(input: FeedTrade): boolean {
    return this.market.applyTrade(input) !== null;
  }
}
