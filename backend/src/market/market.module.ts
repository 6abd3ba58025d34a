import { Module, type DynamicModule } from '@nestjs/common';
import type { InstrumentSpec } from '@tickdeck/protocol';
import { MarketState, type MarketStateOptions } from './market-state.js';

/**
 * The one {@link MarketState} of the process, for every module (global: there is exactly one
 * market). Takes plain values, so market/ still imports nothing of ours but the protocol.
 */
@Module({})
export class MarketModule {
  static forRoot(instruments: readonly InstrumentSpec[], options: MarketStateOptions): DynamicModule {
    return {
      module: MarketModule,
      global: true,
      providers: [{ provide: MarketState, useFactory: () => new MarketState(instruments, options) }],
      exports: [MarketState],
    };
  }
}
