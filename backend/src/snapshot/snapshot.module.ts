import { Module } from '@nestjs/common';
import { SnapshotController } from './snapshot.controller.js';

/** REST reads of the market: symbols, snapshots, history. */
@Module({ controllers: [SnapshotController] })
export class SnapshotModule {}
