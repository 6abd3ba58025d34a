import { Inject, Logger } from '@nestjs/common';
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { ErrorCode, FEED_NAMESPACE, type FeedAck, type FeedClientToServerEvents } from '@tickdeck/protocol';
import type { Namespace, Socket } from 'socket.io';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ConnectionGate, handshakeToken } from '../security/connection-gate.js';
import { FeedService } from './feed.service.js';

export type FeedNamespace = Namespace<FeedClientToServerEvents, Record<string, never>>;
type FeedSocket = Socket<FeedClientToServerEvents, Record<string, never>>;

/** Events a publisher may send; anything else is acked BAD_REQUEST. */
const FEED_EVENTS = new Set<string>(['ticks', 'trades']);

/** The ingest gateway on `/feed`: thin; the token check and validation are in {@link FeedService}. */
@WebSocketGateway({ namespace: FEED_NAMESPACE })
export class FeedGateway implements OnGatewayInit<FeedNamespace>, OnGatewayConnection<FeedSocket> {
  private readonly logger = new Logger(FeedGateway.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly feed: FeedService,
    private readonly gate: ConnectionGate,
  ) {}

  afterInit(nsp: FeedNamespace): void {
    // Guards do not run on connection: the token is decided here, before the socket joins.
    nsp.use((socket, next) => {
      const refusal = this.feed.authorize(handshakeToken(socket));
      if (refusal) return this.gate.refuse(socket, next, refusal.code, refusal.message);
      // An authenticated publisher's connection may carry feed-sized frames.
      this.gate.allowFeedFrames(socket.conn);
      next();
    });
    const { mode, token } = this.config.feed;
    if (mode === 'embedded') this.logger.log(`${FEED_NAMESPACE} shut (FEED=embedded)`);
    else if (token) this.logger.log(`${FEED_NAMESPACE} ready, token required (FEED=${mode})`);
    else this.logger.warn(`${FEED_NAMESPACE} refuses every publisher: FEED=${mode} but FEED_TOKEN is unset`);
  }

  handleConnection(socket: FeedSocket): void {
    socket.use(([event, ...rest], next) => {
      if (typeof event === 'string' && FEED_EVENTS.has(event)) return next();
      const ack: unknown = rest[rest.length - 1];
      if (typeof ack === 'function') {
        (ack as (res: FeedAck) => void)({
          accepted: 0,
          rejectedCount: 1,
          rejected: [{ index: -1, code: ErrorCode.BAD_REQUEST, message: 'unknown event (expected ticks, trades)' }],
        });
      }
    });
  }

  @SubscribeMessage('ticks')
  ticks(@MessageBody() batch: unknown): FeedAck {
    return this.feed.ticks(batch);
  }

  @SubscribeMessage('trades')
  trades(@MessageBody() batch: unknown): FeedAck {
    return this.feed.trades(batch);
  }
}
