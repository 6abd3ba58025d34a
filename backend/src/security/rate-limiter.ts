/**
 * A token bucket for one socket's messages: `ratePerS` tokens a second, at most `burst` held.
 * Also counts refusals per second, so sustained abuse can be told from a brief burst.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private windowStart: number;
  private refusedInWindow = 0;

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = this.windowStart = now();
  }

  /** Takes one token: 0 when granted, else the ms until one is available. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.ratePerS) / 1000);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.refusedInWindow = 0;
    }
    this.refusedInWindow++;
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerS);
  }

  /** Refusals in the current one-second window. */
  get refused(): number {
    return this.refusedInWindow;
  }
}
