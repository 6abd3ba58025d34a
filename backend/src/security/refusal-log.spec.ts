import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefusalLog } from './refusal-log.js';

describe(RefusalLog.name, () => {
  let lines: string[];
  let log: RefusalLog;
  beforeEach(() => {
    vi.useFakeTimers();
    lines = [];
    log = new RefusalLog({ warn: (m) => lines.push(m) }, 1000);
  });
  afterEach(() => {
    log.beforeApplicationShutdown();
    vi.useRealTimers();
  });

  it('writes the first refusal of an address and reason at once, then one line with the count per interval', () => {
    for (let n = 0; n < 50_000; n++) log.refuse('UNAUTHORIZED', '10.0.0.1', `bad token #${n}`);
    log.refuse('UNAUTHORIZED', '10.0.0.2', 'bad token');
    log.refuse('FORBIDDEN_ORIGIN', '10.0.0.1', 'evil.test');
    expect(lines).toEqual([
      'refused 10.0.0.1: UNAUTHORIZED: bad token #0',
      'refused 10.0.0.2: UNAUTHORIZED: bad token',
      'refused 10.0.0.1: FORBIDDEN_ORIGIN: evil.test',
    ]);
    vi.advanceTimersByTime(1000);
    expect(lines.slice(3)).toEqual(['refused 10.0.0.1: UNAUTHORIZED: 49999 more in 1 s (last: bad token #49999)']);
    expect(log.counts.get('UNAUTHORIZED')).toBe(50_001);
    // A new interval starts afresh: the next refusal is written at once again.
    log.refuse('UNAUTHORIZED', '10.0.0.1', 'again');
    expect(lines.at(-1)).toBe('refused 10.0.0.1: UNAUTHORIZED: again');
  });

  it('folds a flood from many addresses into one line per reason once it tracks 1,000 of them', () => {
    for (let n = 0; n < 5000; n++) log.refuse('TOO_MANY_CONNECTIONS', `10.0.${n >> 8}.${n & 255}`, 'full');
    expect(lines).toHaveLength(1000);
    vi.advanceTimersByTime(1000);
    expect(lines.at(-1)).toBe('refused 4000 more from other addresses in 1 s: TOO_MANY_CONNECTIONS');
    expect(lines).toHaveLength(1001);
  });

  it('counts without logging, and stops its timer when nothing is refused', () => {
    log.count('RATE_LIMITED');
    expect(lines).toEqual([]);
    expect(log.counts.get('RATE_LIMITED')).toBe(1);
    log.refuse('BAD_REQUEST', '::1', 'x');
    vi.advanceTimersByTime(5000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
