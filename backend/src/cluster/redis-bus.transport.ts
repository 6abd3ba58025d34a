import { Redis } from 'ioredis';
import type { BusTransport, BusTransportEvents } from './feed-bus.js';
import { redisOptions, watchRedisErrors } from './redis-options.js';

export interface RedisBusTransportOptions {
  /** How often each connection is pinged, so a hung Redis is noticed (ms). */
  pingMs?: number;
  log?: (level: 'log' | 'warn', message: string) => void;
}

/**
 * The feed bus over Redis pub/sub: one connection publishes, one subscribes. Up only while both
 * are ready and the subscription is confirmed; commands are never queued while a connection is
 * down (they fail at once, and the bus applies the events locally instead).
 */
export class RedisBusTransport implements BusTransport {
  private pub: Redis | null = null;
  private sub: Redis | null = null;
  private subscribed = false;
  private isUp = false;
  private events: BusTransportEvents | null = null;
  private pinger: ReturnType<typeof setInterval> | undefined;
  private readonly pingMs: number;
  private readonly log: NonNullable<RedisBusTransportOptions['log']>;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    options: RedisBusTransportOptions = {},
  ) {
    this.pingMs = options.pingMs ?? 1000;
    this.log = options.log ?? (() => undefined);
  }

  start(events: BusTransportEvents): void {
    this.events = events;
    const options = { ...redisOptions('tickdeck-bus'), enableOfflineQueue: false, autoResubscribe: false };
    const pub = new Redis(this.url, options);
    const sub = new Redis(this.url, options);
    this.pub = pub;
    this.sub = sub;
    const warn = (m: string) => this.log('warn', m);
    watchRedisErrors(pub, 'feed bus (publish)', warn);
    watchRedisErrors(sub, 'feed bus (subscribe)', warn);
    pub.on('ready', () => this.evaluate('publisher ready'));
    pub.on('close', () => this.evaluate('publisher connection closed'));
    sub.on('close', () => {
      this.subscribed = false;
      this.evaluate('subscriber connection closed');
    });
    sub.on('ready', () => {
      sub.subscribe(this.channel).then(
        () => {
          this.subscribed = true;
          this.evaluate('subscribed');
        },
        (err: unknown) => {
          warn(`feed bus: subscribe failed: ${err instanceof Error ? err.message : String(err)}`);
          sub.disconnect(true);
        },
      );
    });
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.events?.message(message);
    });
    this.pinger = setInterval(() => {
      // Keeps a command outstanding on each connection, so `socketTimeout` notices a hung Redis.
      for (const c of [pub, sub]) if (c.status === 'ready') c.ping().catch(() => undefined);
    }, this.pingMs);
    this.pinger.unref();
  }

  publish(message: string): Promise<unknown> {
    if (!this.pub || !this.isUp) return Promise.reject(new Error('feed bus is not connected'));
    return this.pub.publish(this.channel, message);
  }

  recycle(): void {
    this.pub?.disconnect(true);
    this.sub?.disconnect(true);
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    this.events = null;
    this.pub?.disconnect();
    this.sub?.disconnect();
  }

  private evaluate(reason: string): void {
    const up = this.pub?.status === 'ready' && this.sub?.status === 'ready' && this.subscribed;
    if (up === this.isUp) return;
    this.isUp = up;
    if (up) this.events?.up();
    else this.events?.down(reason);
  }
}
