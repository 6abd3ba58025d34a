import type { FeedState } from '@tickdeck/protocol';

/** Reads a clock in ms; `Date.now` in the gateway, a fake one in specs. */
export type Clock = () => number;

/**
 * Feed staleness: `stale` once no tick has been applied for `staleMs`, `live` again on the next
 * tick. The ingest path only counts ({@link FeedHealth.tick}: an increment and a branch, no clock
 * read); a timer compares the count every `checkMs`, so the hot path stays O(1) and cheap.
 *
 * A tick is only known to have arrived by the check that sees the count move, so `stale` comes
 * between `staleMs` and `staleMs + 2 * checkMs` after the last tick, never earlier. A gateway
 * that has applied no tick at all counts from {@link FeedHealth.start}.
 */
export class FeedHealth {
  /** Current state; `live` until a check finds the feed silent. */
  state: FeedState = 'live';
  /** How often the timer looks, in ms: a tenth of `staleMs`, between 10 and 250. */
  readonly checkMs: number;
  private ticks = 0;
  private checkedTicks = 0;
  /** Clock time of the check that last saw the count move (or of start). */
  private lastMovedAt = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly listeners: ((state: FeedState) => void)[] = [];

  constructor(
    readonly staleMs: number,
    private readonly clock: Clock = Date.now,
  ) {
    this.checkMs = Math.max(10, Math.min(250, Math.floor(staleMs / 10)));
  }

  /** Calls `fn` on every change of state, with the new state. */
  onChange(fn: (state: FeedState) => void): void {
    this.listeners.push(fn);
  }

  /** Counts one applied tick; called by the ingest path for every tick it applies. */
  tick(): void {
    this.ticks++;
    if (this.state !== 'live') this.set('live');
  }

  /** Starts the timer; the silence is counted from now. */
  start(): void {
    this.stop();
    this.lastMovedAt = this.clock();
    this.checkedTicks = this.ticks;
    this.timer = setInterval(() => this.check(), this.checkMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Nest lifecycle (the class itself imports no Nest): watch from the start of the app. */
  onApplicationBootstrap(): void {
    this.start();
  }

  /** Nest lifecycle: a stopping gateway announces shutdown, not a stale feed. */
  beforeApplicationShutdown(): void {
    this.stop();
  }

  /** One look at the count; the timer calls it every `checkMs`. */
  check(): void {
    const now = this.clock();
    if (this.ticks !== this.checkedTicks) {
      this.checkedTicks = this.ticks;
      this.lastMovedAt = now;
    } else if (this.state === 'live' && now - this.lastMovedAt >= this.staleMs) {
      this.set('stale');
    }
  }

  private set(state: FeedState): void {
    this.state = state;
    for (const fn of this.listeners) fn(state);
  }
}
