import type { EventEmitter } from 'node:events';
import type { RedisOptions } from 'ioredis';

/** Longest wait between two reconnection attempts, ms. */
export const REDIS_MAX_RETRY_MS = 1000;

/**
 * Reconnection with exponential backoff from 100 ms, capped at {@link REDIS_MAX_RETRY_MS}, with up
 * to 100 ms of jitter so the nodes of a cluster do not knock on a restarting Redis in step. It
 * never gives up: a gateway without Redis keeps serving its own viewers and keeps trying.
 */
export function retryDelay(times: number, random: () => number = Math.random): number {
  return Math.min(100 * 2 ** Math.max(0, times - 1), REDIS_MAX_RETRY_MS) + Math.floor(random() * 100);
}

/** Options every tickdeck Redis client shares. */
export function redisOptions(name: string): RedisOptions {
  return {
    connectionName: name,
    retryStrategy: (times) => retryDelay(times),
    // A hung Redis (SIGSTOP, a dead network path) answers nothing: treat 3 s of silence on a
    // connection with a command outstanding as a broken connection and reconnect.
    socketTimeout: 3000,
    connectTimeout: 3000,
  };
}

/**
 * Logs a Redis client's trouble without flooding: the first error of an outage at `warn`, then
 * nothing until the client is ready again. Attaching it is also what keeps an `error` event from
 * ever being unhandled.
 */
export function watchRedisErrors(
  client: EventEmitter,
  what: string,
  warn: (message: string) => void,
  onReady?: () => void,
): void {
  let quiet = false;
  client.on('error', (err: Error) => {
    if (quiet) return;
    quiet = true;
    warn(`${what}: ${err.message}; reconnecting with backoff (further errors muted until it is back)`);
  });
  client.on('ready', () => {
    if (quiet) onReady?.();
    quiet = false;
  });
}
