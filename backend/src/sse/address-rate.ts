import { TokenBucket } from '../security/rate-limiter.js';

/** Addresses tracked at most; past it the least recently seen are forgotten (they start full again). */
const MAX_ADDRESSES = 10_000;

/**
 * The socket's message rate (`RATE_LIMIT_PER_S`, `RATE_LIMIT_BURST`) applied to SSE requests,
 * per client address: opening a stream is an SSE client's one message, so a script that
 * reconnects in a tight loop is refused like a socket flooding `subscribe`. One token bucket per
 * address, in least-recently-used order; an address idle long enough to be full again is
 * forgotten first, so the map stays bounded whoever asks.
 */
export class AddressRate {
  private readonly buckets = new Map<string, { bucket: TokenBucket; at: number }>();
  /** How long an idle bucket takes to refill: after that, forgetting it changes nothing. */
  private readonly refillMs: number;

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
    private readonly maxAddresses = MAX_ADDRESSES,
  ) {
    this.refillMs = Math.ceil((burst / ratePerS) * 1000);
  }

  /** Takes one token for `address`: 0 when granted, else the ms until one is available. */
  take(address: string): number {
    const t = this.now();
    let entry = this.buckets.get(address);
    if (entry) {
      this.buckets.delete(address);
    } else {
      this.forgetIdle(t);
      entry = { bucket: new TokenBucket(this.ratePerS, this.burst, this.now), at: t };
    }
    entry.at = t;
    this.buckets.set(address, entry);
    return entry.bucket.take();
  }

  /** Addresses tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  private forgetIdle(t: number): void {
    // Oldest first (Map order is last use): full buckets, then, over the bound, whatever is oldest.
    for (const [address, { at }] of this.buckets) {
      if (t - at < this.refillMs && this.buckets.size < this.maxAddresses) break;
      this.buckets.delete(address);
    }
  }
}
