import { Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import {
  MARKET_NAMESPACE,
  type AlertClearAck,
  type AlertListAck,
  type AlertSetAck,
  type ClientToServerEvents,
  type NodeEvents,
  type PingAck,
  type ServerToClientEvents,
  type SubscribeAck,
  type UnsubscribeAck,
} from '@tickdeck/protocol';
import type { Namespace } from 'socket.io';
import { AlertService } from '../alerts/alert.service.js';
import { FeedHealth } from '../feed/feed-health.js';
import { ConnectionGate } from '../security/connection-gate.js';
import { ViewerSession } from '../security/viewer-session.js';
import { SlowConsumerGuard } from './slow-consumer.js';
import { writeFrames } from './frame-writer.js';
import { SubscriptionService, type StreamViewer, type ViewerData, type ViewerSocket } from './subscription.service.js';
import { Throttler } from './throttler.js';

export type MarketNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, NodeEvents, ViewerData>;

/** The viewer gateway on `/market`: thin; the rooms logic is in {@link SubscriptionService}. */
@WebSocketGateway({ namespace: MARKET_NAMESPACE })
export class StreamGateway
  implements OnGatewayInit<MarketNamespace>, OnGatewayConnection<ViewerSocket>, OnGatewayDisconnect<ViewerSocket>
{
  private readonly logger = new Logger(StreamGateway.name);
  @WebSocketServer() nsp!: MarketNamespace;

  constructor(
    private readonly subscriptions: SubscriptionService,
    private readonly throttler: Throttler<StreamViewer>,
    private readonly guard: ViewerSession,
    private readonly gate: ConnectionGate,
    private readonly feedHealth: FeedHealth,
    private readonly slowConsumers: SlowConsumerGuard,
    private readonly alerts: AlertService,
  ) {}

  /** Viewer sockets connected to this node's `/market`. */
  get viewers(): number {
    return this.nsp?.sockets.size ?? 0;
  }

  afterInit(nsp: MarketNamespace): void {
    // Auth is decided before the socket connects (Nest guards do not run on connection).
    nsp.use(this.guard.authenticate);
    // In cluster mode every node runs its own throttler over the whole feed and writes only to
    // its own sockets (and SSE streams, which the writer tells apart).
    this.throttler.start({ write: writeFrames });
    // Every connection, not only viewers': publishers and socket-less connections queue too.
    this.slowConsumers.start(() => this.gate.connections());
    this.feedHealth.onChange((feed) => nsp.local.emit('status', { feed }));
    this.logger.log(`${MARKET_NAMESPACE} ready, tiers ${this.throttler.tiers.join('/')} ms`);
  }

  handleConnection(socket: ViewerSocket): void {
    this.subscriptions.attach(socket);
    this.guard.attach(socket);
    socket.emit('status', { feed: this.feedHealth.state });
  }

  handleDisconnect(socket: ViewerSocket): void {
    this.subscriptions.release(socket);
    const viewer = socket.data.viewer;
    if (viewer) {
      this.alerts.release(viewer);
      this.throttler.forget(viewer);
    }
  }

  @SubscribeMessage('subscribe')
  subscribe(@ConnectedSocket() socket: ViewerSocket, @MessageBody() body: unknown): SubscribeAck {
    return this.subscriptions.subscribe(socket, body);
  }

  @SubscribeMessage('ping')
  ping(): PingAck {
    return { serverTime: Date.now() };
  }

  @SubscribeMessage('alert:set')
  setAlerts(@ConnectedSocket() socket: ViewerSocket, @MessageBody() body: unknown): Promise<AlertSetAck> {
    return this.alerts.set(socket.data.viewer, body);
  }

  @SubscribeMessage('alert:clear')
  clearAlerts(@ConnectedSocket() socket: ViewerSocket, @MessageBody() body: unknown): AlertClearAck {
    return this.alerts.clear(socket.data.viewer, body);
  }

  @SubscribeMessage('alert:list')
  listAlerts(@ConnectedSocket() socket: ViewerSocket): AlertListAck {
    return this.alerts.listAck(socket.data.viewer);
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(@ConnectedSocket() socket: ViewerSocket, @MessageBody() body: unknown): UnsubscribeAck {
    return this.subscriptions.unsubscribe(socket, body);
  }
}
