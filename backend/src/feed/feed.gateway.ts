import { Inject, Logger } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { FEED_NAMESPACE, type FeedAck, type FeedClientToServerEvents } from '@tickdeck/protocol';
import type { Namespace } from 'socket.io';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { markFeedPublisher } from '../security/viewer-guard.js';
import { FeedService } from './feed.service.js';

export type FeedNamespace = Namespace<FeedClientToServerEvents, Record<string, never>>;

/** The ingest gateway on `/feed`: thin; the token check and validation are in {@link FeedService}. */
@WebSocketGateway({ namespace: FEED_NAMESPACE })
export class FeedGateway implements OnGatewayInit<FeedNamespace> {
  private readonly logger = new Logger(FeedGateway.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly feed: FeedService,
  ) {}

  afterInit(nsp: FeedNamespace): void {
    // Guards do not run on connection: the token is decided here, before the socket joins.
    nsp.use((socket, next) => {
      const auth: unknown = socket.handshake.auth;
      const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
      const refusal = this.feed.authorize(token);
      if (!refusal) {
        // An authenticated publisher's connection may carry feed-sized frames.
        markFeedPublisher(socket.conn);
        return next();
      }
      this.logger.warn(`refused a feed publisher from ${socket.handshake.address}: ${refusal.message}`);
      const err = new Error(refusal.message) as Error & { data?: unknown };
      err.data = { code: refusal.code };
      next(err);
    });
    const { mode, token } = this.config.feed;
    if (mode === 'embedded') this.logger.log(`${FEED_NAMESPACE} shut (FEED=embedded)`);
    else if (token) this.logger.log(`${FEED_NAMESPACE} ready, token required (FEED=${mode})`);
    else this.logger.warn(`${FEED_NAMESPACE} refuses every publisher: FEED=${mode} but FEED_TOKEN is unset`);
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
