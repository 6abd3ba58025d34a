import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { REDIS_MAX_RETRY_MS, retryDelay, watchRedisErrors } from './redis-options.js';

describe('retryDelay', () => {
  it('backs off exponentially from 100 ms, caps at REDIS_MAX_RETRY_MS, adds under 100 ms of jitter and never gives up', () => {
    const none = () => 0;
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, none))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(retryDelay(1000, none)).toBe(REDIS_MAX_RETRY_MS);
    expect(retryDelay(1, () => 0.999)).toBe(199);
  });
});

describe('watchRedisErrors', () => {
  it('logs the first error of an outage only, and again after the client was ready', () => {
    const client = new EventEmitter();
    const logged: string[] = [];
    let backs = 0;
    watchRedisErrors(
      client,
      'bus',
      (m) => logged.push(m),
      () => backs++,
    );
    client.emit('error', new Error('ECONNREFUSED'));
    client.emit('error', new Error('ECONNREFUSED'));
    expect(logged).toEqual([expect.stringMatching(/^bus: ECONNREFUSED; reconnecting/)]);
    client.emit('ready');
    expect(backs).toBe(1);
    client.emit('error', new Error('Socket timeout'));
    expect(logged).toHaveLength(2);
    // An emitter with a listener never throws on `error`.
    expect(() => client.emit('error', new Error('x'))).not.toThrow();
  });
});
