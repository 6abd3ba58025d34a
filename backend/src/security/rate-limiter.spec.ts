import { describe, expect, it } from 'vitest';
import { TokenBucket } from './rate-limiter.js';

describe(TokenBucket.name, () => {
  it('grants a burst, then refuses with the wait until the next token, and refills over time', () => {
    let now = 1_000_000;
    const bucket = new TokenBucket(10, 5, () => now);
    for (let i = 0; i < 5; i++) expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(100);
    now += 50;
    expect(bucket.take()).toBe(50);
    now += 50;
    expect(bucket.take()).toBe(0);
    now += 10_000;
    for (let i = 0; i < 5; i++) expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBeGreaterThan(0);
  });

  it('counts refusals per one-second window', () => {
    let now = 0;
    const bucket = new TokenBucket(1, 1, () => now);
    bucket.take();
    for (let i = 0; i < 7; i++) bucket.take();
    expect(bucket.refused).toBe(7);
    now += 1500;
    bucket.take(); // a token is back
    bucket.take();
    expect(bucket.refused).toBe(1);
  });
});
