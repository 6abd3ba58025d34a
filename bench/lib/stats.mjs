// Latency histograms with 1 ms buckets: feed timestamps are whole epoch milliseconds, so a finer
// grid would only pretend. Sparse [ms, count] pairs travel between processes.

/** Highest latency bucket kept exactly, in ms; anything above lands in the last bucket (max is kept exactly). */
export const MAX_BUCKET_MS = 60_000;

export class LatencyHistogram {
  constructor() {
    this.buckets = new Uint32Array(MAX_BUCKET_MS + 1);
    this.count = 0;
    this.max = 0;
    /** Samples whose feed timestamp was later than the receipt time (clamped to 0). */
    this.negative = 0;
  }

  /** @param {number} ms */
  record(ms) {
    if (ms < 0) {
      this.negative += 1;
      ms = 0;
    }
    if (ms > this.max) this.max = ms;
    const k = ms > MAX_BUCKET_MS ? MAX_BUCKET_MS : Math.floor(ms);
    this.buckets[k] = (this.buckets[k] ?? 0) + 1;
    this.count += 1;
  }

  reset() {
    this.buckets.fill(0);
    this.count = 0;
    this.max = 0;
    this.negative = 0;
  }

  /** @returns {{ pairs: number[], count: number, max: number, negative: number }} */
  toSparse() {
    /** @type {number[]} */
    const pairs = [];
    this.buckets.forEach((n, i) => {
      if (n !== 0) pairs.push(i, n);
    });
    return { pairs, count: this.count, max: this.max, negative: this.negative };
  }

  /** @param {{ pairs: number[], count: number, max: number, negative: number }} sparse */
  addSparse(sparse) {
    const { pairs } = sparse;
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const k = /** @type {number} */ (pairs[i]);
      this.buckets[k] = (this.buckets[k] ?? 0) + /** @type {number} */ (pairs[i + 1]);
    }
    this.count += sparse.count;
    this.negative += sparse.negative;
    if (sparse.max > this.max) this.max = sparse.max;
  }

  /** @param {number} p percentile, 0..100 @returns {number | null} ms */
  percentile(p) {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i += 1) {
      seen += this.buckets[i] ?? 0;
      if (seen >= rank) return i;
    }
    return this.max;
  }

  summary() {
    return {
      samples: this.count,
      p50Ms: this.percentile(50),
      p99Ms: this.percentile(99),
      maxMs: this.count === 0 ? null : this.max,
      negativeSamples: this.negative,
    };
  }
}
