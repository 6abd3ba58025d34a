import { Module } from '@nestjs/common';
import { SecurityModule } from '../security/security.module.js';
import { StreamModule } from '../stream/stream.module.js';
import { MetricsService } from './metrics.service.js';
import { OpsController } from './ops.controller.js';
import { ShutdownService } from './shutdown.service.js';

/** Health, Prometheus metrics and graceful shutdown. */
@Module({
  imports: [SecurityModule, StreamModule],
  controllers: [OpsController],
  providers: [MetricsService, ShutdownService],
})
export class OpsModule {}
