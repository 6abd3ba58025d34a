import { Module } from '@nestjs/common';
import { SecurityModule } from '../security/security.module.js';
import { StreamModule } from '../stream/stream.module.js';
import { SseController } from './sse.controller.js';
import { SseService } from './sse.service.js';

/**
 * Server-Sent Events (`GET /api/stream`) for scripts and curl: the socket's frames, from the same
 * throttler and subscriptions, behind the same origin, auth, caps and rate rules.
 */
@Module({
  imports: [SecurityModule, StreamModule],
  controllers: [SseController],
  providers: [SseService],
  exports: [SseService],
})
export class SseModule {}
