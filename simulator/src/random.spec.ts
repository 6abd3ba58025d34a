import { describe, expect, it } from 'vitest';
import { Random } from './random.js';

function draws(rng: Random, n: number, draw: (r: Random) => number): number[] {
  return Array.from({ length: n }, () => draw(rng));
}

function meanAndVariance(xs: readonly number[]): [number, number] {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [mean, xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length];
}

describe(Random.name, () => {
  it('repeats its sequence for the same seed and differs for neighbouring seeds', () => {
    const a = draws(new Random(42), 1000, (r) => r.uint32());
    expect(draws(new Random(42), 1000, (r) => r.uint32())).toEqual(a);
    expect(draws(new Random(43), 1000, (r) => r.uint32())).not.toEqual(a);
    expect(draws(new Random(42 + 2 ** 32), 1000, (r) => r.uint32())).not.toEqual(a);
    expect(draws(new Random(0), 1000, (r) => r.uint32())).not.toEqual(draws(new Random(-1), 1000, (r) => r.uint32()));
  });

  it('yields uniforms in [0, 1) with mean 1/2 and variance 1/12', () => {
    const xs = draws(new Random(1), 100_000, (r) => r.next());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const [mean, variance] = meanAndVariance(xs);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance).toBeCloseTo(1 / 12, 2);
    // Ten equal bins, each within 3 % of its expected count.
    const bins = new Array<number>(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]!++;
    for (const count of bins) expect(Math.abs(count - 10_000)).toBeLessThan(300);
  });

  it('yields standard normals', () => {
    const xs = draws(new Random(2), 100_000, (r) => r.normal());
    const [mean, variance] = meanAndVariance(xs);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    const beyond2 = xs.filter((x) => Math.abs(x) > 2).length / xs.length;
    expect(beyond2).toBeGreaterThan(0.04);
    expect(beyond2).toBeLessThan(0.051);
  });

  it('yields exponentials with the given mean, all positive', () => {
    const xs = draws(new Random(3), 100_000, (r) => r.exponential(250));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    const [mean, variance] = meanAndVariance(xs);
    expect(Math.abs(mean / 250 - 1)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(variance) / 250 - 1)).toBeLessThan(0.03);
  });

  it('refuses a seed that is not a safe integer', () => {
    expect(() => new Random(1.5)).toThrow(/seed/);
    expect(() => new Random(Number.NaN)).toThrow(/seed/);
  });
});
