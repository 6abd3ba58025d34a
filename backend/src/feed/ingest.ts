import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import type { MarketState } from '../market/market-state.js';
import type { Throttler } from '../stream/throttler.js';
import type { FeedHealth } from './feed-health.js';

/**
 * The one door every feed source goes through: validated ticks and trades into market state,
 * trades on to the throttler's trade queue. Implements the simulator's sink interface, so the
 * embedded simulator writes straight into it.
 */
export class Ingest {
  constructor(
    private readonly market: MarketState,
    private readonly throttler: Throttler,
    private readonly health: FeedHealth,
  ) {}

  tick(tick: FeedTick): boolean {
    if (this.market.applyTick(tick) < 0) return false;
    this.health.tick();
    return true;
  }

  trade(input: FeedTrade): boolean {
    const applied = this.market.applyTrade(input);
    if (!applied) return false;
    this.throttler.tradeApplied(applied.index, applied.trade);
    return true;
  }

  /**
   * True when the market holds a trade of symbol `i` with the feed-assigned id `id`: what the
   * feed validator asks before letting another trade with that id in.
   */
  holdsTradeId(i: number, id: string): boolean {
    return this.market.holdsTradeId(i, id);
  }
}
