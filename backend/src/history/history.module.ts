import { Global, Module } from '@nestjs/common';
import { HistoryService } from './history.service.js';

/** The market's history across restarts (global: REST and the feed read it). */
@Global()
@Module({ providers: [HistoryService], exports: [HistoryService] })
export class HistoryModule {}
