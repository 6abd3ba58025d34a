import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { NodeEvents, Status } from '@tickdeck/protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { StreamGateway, type MarketNamespace } from '../stream/stream.gateway.js';
import { FeedBus, type BusState } from './feed-bus.js';

/** How often each node tells the others how many viewers it holds, ms. */
export const HEARTBEAT_MS = 1000;
/** A node not heard from for this long no longer counts, ms. */
export const PEER_TIMEOUT_MS = 3500;
const HEARTBEAT_EVENT = 'tickdeck:node' satisfies keyof NodeEvents;

interface Heartbeat {
  node: string;
  viewers: number;
}

/** Cluster part of `GET /api/health`. */
export interface ClusterHealth {
  /** This node's id. */
  node: string;
  /** This node's link to Redis: `degraded` while it is lost (the node serves its own feed locally). */
  redis: BusState;
  /** Whether this node received feed events of its own lately (it answers resync requests). */
  ownsFeed: boolean;
  /** Nodes heard from lately, this one included. */
  nodes: number;
  /** Viewer sockets on `/market`: on this node, and across the nodes heard from. */
  viewers: { node: number; cluster: number };
  /** Feed batches this node published and received; market states it sent and adopted. */
  bus: { published: number; received: number; appliedLocally: number; syncsSent: number; syncsAdopted: number };
}

/**
 * Cluster mode's glue: runs the {@link FeedBus}, tells this node's viewers when Redis is lost and
 * back (`status {cluster}`), and counts viewers across nodes with a heartbeat each node sends
 * through the Socket.IO Redis adapter (`serverSideEmit`), so `/api/health` never waits on Redis.
 */
@Injectable()
export class ClusterService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterService.name);
  private readonly peers = new Map<string, { viewers: number; seenAt: number }>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly bus: FeedBus,
    private readonly stream: StreamGateway,
  ) {}

  private get nsp(): MarketNamespace | undefined {
    return this.stream.nsp;
  }

  onApplicationBootstrap(): void {
    const nsp = this.nsp;
    if (nsp) {
      nsp.on(HEARTBEAT_EVENT, (beat: Heartbeat) => {
        if (beat && typeof beat.node === 'string' && beat.node !== this.bus.node && typeof beat.viewers === 'number') {
          this.peers.set(beat.node, { viewers: beat.viewers, seenAt: Date.now() });
        }
      });
      nsp.on('connection', (socket) => {
        if (this.bus.state === 'degraded') socket.emit('status', { cluster: 'degraded' } satisfies Status);
      });
    }
    this.bus.onState((state) => {
      if (state === 'degraded') this.peers.clear();
      this.nsp?.local.emit('status', { cluster: state === 'ok' ? 'ok' : 'degraded' } satisfies Status);
    });
    this.bus.onSync((_from, lowered) => {
      if (lowered.length > 0) this.resetViewers(new Set(lowered));
    });
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
    this.bus.start();
    this.logger.log(`cluster mode: node ${this.bus.node}, feed ${this.config.feed.mode}`);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.bus.stop();
  }

  health(): ClusterHealth {
    const now = Date.now();
    const local = this.nsp?.sockets.size ?? 0;
    let cluster = local;
    let nodes = 1;
    for (const [id, peer] of this.peers) {
      if (now - peer.seenAt > PEER_TIMEOUT_MS) {
        this.peers.delete(id);
        continue;
      }
      nodes++;
      cluster += peer.viewers;
    }
    return {
      node: this.bus.node,
      redis: this.bus.state,
      ownsFeed: this.bus.ownsFeed,
      nodes,
      viewers: { node: local, cluster },
      bus: { ...this.bus.stats },
    };
  }

  /**
   * A seq never goes backwards for a viewer: when an adopted state is behind what this node had
   * sent (two nodes were fed at once while Redis was away), the viewers holding those symbols lose
   * their connection, reconnect like after any network blip and subscribe afresh.
   */
  private resetViewers(symbols: Set<string>): void {
    let n = 0;
    for (const socket of this.stream.nsp.sockets.values()) {
      // Unset until the gateway's connection handler ran.
      const subs: ReadonlyMap<string, unknown> | undefined = socket.data.subs;
      if (!subs || ![...subs.keys()].some((s) => symbols.has(s))) continue;
      socket.conn.close();
      n++;
    }
    this.logger.warn(`closed ${n} viewer connection(s) so their seq cannot go backwards`);
  }

  private heartbeat(): void {
    const nsp = this.nsp;
    // While Redis is away the adapter would only queue these; the peers time out instead.
    if (!nsp || this.bus.state !== 'ok') return;
    try {
      nsp.serverSideEmit(HEARTBEAT_EVENT, { node: this.bus.node, viewers: nsp.sockets.size } satisfies Heartbeat);
    } catch (err) {
      // Only the Redis adapter supports serverSideEmit; without it there are no peers to tell.
      this.logger.debug(`heartbeat not sent: ${(err as Error).message}`);
    }
  }
}
