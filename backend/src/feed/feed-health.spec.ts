import type { FeedState } from '@tickdeck/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FeedHealth } from './feed-health.js';

describe(FeedHealth.name, () => {
  let health: FeedHealth;
  let changes: FeedState[];

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    health = new FeedHealth(1000);
    changes = [];
    health.onChange((s) => changes.push(s));
    health.start();
  });
  afterEach(() => {
    health.stop();
    vi.useRealTimers();
  });

  it('checks at a tenth of the stale time, between 10 and 250 ms', () => {
    expect(health.checkMs).toBe(100);
    expect(new FeedHealth(100).checkMs).toBe(10);
    expect(new FeedHealth(60_000).checkMs).toBe(250);
  });

  it('stays live while ticks keep coming', () => {
    for (let n = 0; n < 50; n++) {
      health.tick();
      vi.advanceTimersByTime(900);
    }
    expect(health.state).toBe('live');
    expect(changes).toEqual([]);
  });

  it('turns stale no earlier than staleMs after the last tick and within two checks more', () => {
    vi.advanceTimersByTime(350);
    health.tick();
    const lastTickAt = Date.now();
    let staleAt = 0;
    health.onChange(() => (staleAt = Date.now()));
    vi.advanceTimersByTime(3000);
    expect(changes).toEqual(['stale']);
    expect(staleAt - lastTickAt).toBeGreaterThanOrEqual(1000);
    expect(staleAt - lastTickAt).toBeLessThanOrEqual(1000 + 2 * health.checkMs);
  });

  it('counts the silence from start when no tick ever came', () => {
    vi.advanceTimersByTime(999);
    expect(health.state).toBe('live');
    vi.advanceTimersByTime(health.checkMs);
    expect(health.state).toBe('stale');
  });

  it('is live again on the very next tick, without waiting for a check, and says each change once', () => {
    vi.advanceTimersByTime(2000);
    expect(health.state).toBe('stale');
    vi.advanceTimersByTime(5000);
    health.tick();
    expect(health.state).toBe('live');
    health.tick();
    expect(changes).toEqual(['stale', 'live']);
    // The revival counts as a fresh tick: stale again only after another full silence.
    vi.advanceTimersByTime(999);
    expect(health.state).toBe('live');
    vi.advanceTimersByTime(300);
    expect(changes).toEqual(['stale', 'live', 'stale']);
  });

  it('stops watching on shutdown', () => {
    health.beforeApplicationShutdown();
    vi.advanceTimersByTime(10_000);
    expect(changes).toEqual([]);
  });
});
