import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { MarketSimulator } from '@tickdeck/simulator';
import { APP_CONFIG, instrumentsOf, type AppConfig } from '../config/config.js';
import { MarketState } from '../market/market-state.js';
import { SEQUENCER, type Sequencer } from './sequencer.js';

/** How often the embedded simulator catches up with the wall clock, in ms. */
const STEP_MS = 20;

/**
 * The default feed: the simulator in-process, driven by the wall clock, so every tick's `ts`
 * is the real time it was produced. It starts from the market's prices, so after a restart with
 * history it continues where the previous run left off.
 */
@Injectable()
export class EmbeddedFeedService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(EmbeddedFeedService.name);
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SEQUENCER) private readonly sequencer: Sequencer,
    private readonly market: MarketState,
  ) {}

  onApplicationBootstrap(): void {
    const { rate, seed, volatility, tradeProbability } = this.config.feed;
    const start = Date.now();
    const sim = new MarketSimulator({
      seed,
      rate,
      volatility,
      tradeProbability,
      // From the market's prices: the reference prices, or what the history store restored.
      instruments: instrumentsOf(this.config).map((inst) => {
        const i = this.market.indexOf(inst.symbol);
        return i < 0 ? inst : { ...inst, startPrice: this.market.quoteState(i).last };
      }),
      startTime: start,
    });
    this.timer = setInterval(() => sim.advanceTo(Date.now() - start, this.sequencer), STEP_MS);
    this.logger.log(`embedded simulator: ${rate} ticks/s over ${sim.instruments.length} symbols, seed ${seed}`);
  }

  /** Stops before the servers close: no ticks while the gateway shuts down. */
  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
