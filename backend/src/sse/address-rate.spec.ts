import { describe, expect, it } from 'vitest';
import { AddressRate } from './address-rate.js';

describe(AddressRate.name, () => {
  it('grants a burst per address, then the rate, and tells how long to wait', () => {
    let t = 0;
    const rate = new AddressRate(2, 3, () => t);
    expect([rate.take('a'), rate.take('a'), rate.take('a')]).toEqual([0, 0, 0]);
    expect(rate.take('a')).toBe(500);
    // Another address has its own bucket.
    expect(rate.take('b')).toBe(0);
    t = 500;
    expect(rate.take('a')).toBe(0);
    expect(rate.take('a')).toBeGreaterThan(0);
  });

  it('forgets addresses idle long enough to be full again, and stays bounded under many', () => {
    let t = 0;
    const rate = new AddressRate(10, 20, () => t, 100);
    for (let n = 0; n < 50; n++) rate.take(`10.0.0.${n}`);
    expect(rate.size).toBe(50);
    t = 2000;
    rate.take('10.0.1.1');
    expect(rate.size).toBe(1);
    for (let n = 0; n < 1000; n++) rate.take(`10.1.${n >> 8}.${n & 255}`);
    expect(rate.size).toBeLessThanOrEqual(100);
    // The most recent keep their state: one just emptied is still refused.
    for (let n = 0; n < 20; n++) rate.take('10.9.9.9');
    expect(rate.take('10.9.9.9')).toBeGreaterThan(0);
  });
});
