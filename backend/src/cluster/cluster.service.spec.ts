import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { DEFAULT_INSTRUMENTS, type Status } from '@tickdeck/protocol';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import type { StreamGateway } from '../stream/stream.gateway.js';
import { ClusterService, PEER_TIMEOUT_MS } from './cluster.service.js';
import { FeedBus, type BusTransport, type BusTransportEvents } from './feed-bus.js';

// The service's start-up log line is not what these specs look at.
beforeAll(() => Logger.overrideLogger(false));

class Transport implements BusTransport {
  events: BusTransportEvents | null = null;
  start(events: BusTransportEvents): void {
    this.events = events;
  }
  publish(): Promise<unknown> {
    return Promise.resolve(1);
  }
  recycle(): void {}
  async close(): Promise<void> {}
}

/** The parts of the `/market` namespace the service touches. */
class FakeNamespace extends EventEmitter {
  readonly sockets = new Map<string, unknown>();
  readonly sent: Status[] = [];
  readonly beats: unknown[] = [];
  readonly local = { emit: (_event: 'status', status: Status) => this.sent.push(status) };
  serverSideEmit(_event: string, beat: unknown): void {
    this.beats.push(beat);
  }
}

function setup() {
  const transport = new Transport();
  const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 10 });
  const bus = new FeedBus(transport, market, { node: 'me' });
  const nsp = new FakeNamespace();
  const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1' });
  const service = new ClusterService(config, bus, { nsp } as unknown as StreamGateway);
  service.onApplicationBootstrap();
  return { service, nsp, transport, bus };
}

afterEach(() => {
  vi.useRealTimers();
});

describe(ClusterService.name, () => {
  it('tells this node’s viewers when Redis is lost and back, and greets new viewers with `degraded` meanwhile', () => {
    const { service, nsp, transport } = setup();
    transport.events!.up();
    transport.events!.down('gone');
    expect(nsp.sent).toEqual([{ cluster: 'ok' }, { cluster: 'degraded' }]);
    const greeted: Status[] = [];
    nsp.emit('connection', { emit: (_e: string, s: Status) => greeted.push(s) });
    expect(greeted).toEqual([{ cluster: 'degraded' }]);
    expect(service.health()).toMatchObject({ node: 'me', redis: 'degraded', nodes: 1 });
    transport.events!.up();
    expect(nsp.sent.at(-1)).toEqual({ cluster: 'ok' });
    void service.onApplicationShutdown();
  });

  it('counts viewers across the nodes it hears from, and forgets a node that went silent', () => {
    vi.useFakeTimers();
    const { service, nsp, transport } = setup();
    transport.events!.up();
    nsp.sockets.set('a', {}).set('b', {});
    nsp.emit('tickdeck:node', { node: 'other', viewers: 5 });
    nsp.emit('tickdeck:node', { node: 'me', viewers: 99 }); // its own echo: ignored
    nsp.emit('tickdeck:node', { nonsense: true });
    expect(service.health()).toMatchObject({ nodes: 2, viewers: { node: 2, cluster: 7 } });
    vi.advanceTimersByTime(1000);
    expect(nsp.beats).toEqual([{ node: 'me', viewers: 2 }]);
    vi.advanceTimersByTime(PEER_TIMEOUT_MS);
    expect(service.health()).toMatchObject({ nodes: 1, viewers: { node: 2, cluster: 2 } });
    void service.onApplicationShutdown();
  });
});
