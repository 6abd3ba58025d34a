import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import type { MarketSimulator } from '../market-simulator.js';
import type { FeedSource, Pending } from './publisher.js';

/** The live model, paced by the wall clock: model time = time since start, up to `durationMs`. */
export class ModelSource implements FeedSource {
  private readonly started = performance.now();
  /** Model ms that yield about one batch at the configured rate. */
  private readonly chunkMs: number;
  /** Model time the last pull aimed for; "caught up" is judged against it, not against a clock that moved on. */
  private pulledTo = 0;

  constructor(
    private readonly sim: MarketSimulator,
    rate: number,
    batch: number,
    private readonly durationMs: number,
  ) {
    this.chunkMs = Math.max(1, (batch * 1000) / rate);
  }

  private target(): number {
    return Math.min(performance.now() - this.started, this.durationMs);
  }

  pull(out: Pending, max: number): void {
    const target = (this.pulledTo = this.target());
    const sink = { tick: (t: FeedTick) => out.ticks.push(t), trade: (t: FeedTrade) => out.trades.push(t) };
    while (out.ticks.length < max && this.sim.time < target) {
      this.sim.advanceTo(Math.min(target, this.sim.time + this.chunkMs), sink);
    }
  }

  caughtUp(): boolean {
    return this.sim.time >= this.pulledTo;
  }

  done(): boolean {
    return this.sim.time >= this.durationMs;
  }

  resync(): void {
    this.sim.skipTo(this.target());
  }
}

/** One line of a recording. */
export type Recorded = ({ type: 'tick' } & FeedTick) | ({ type: 'trade' } & FeedTrade);

/**
 * A recording, paced by its own timestamps divided by `speed` (Infinity = as fast as acks allow).
 * Each loop shifts the timestamps by the recording's span plus 1 ms so feed time never goes back.
 */
export class RecordingSource implements FeedSource {
  private readonly firstTs: number;
  private readonly span: number;
  private started = performance.now();
  private next = 0;
  private shift = 0;
  private pulledTo = -Infinity;

  constructor(
    private readonly events: readonly Recorded[],
    private readonly speed: number,
    private readonly loop: boolean,
  ) {
    this.firstTs = events[0]?.ts ?? 0;
    this.span = (events.at(-1)?.ts ?? 0) - this.firstTs + 1;
  }

  /** Feed time (recorded, before the loop shift) that is due now. */
  private due(): number {
    return this.speed === Infinity
      ? Infinity
      : this.firstTs + (performance.now() - this.started) * this.speed - this.shift;
  }

  pull(out: Pending, max: number): void {
    const due = (this.pulledTo = this.due());
    const events = this.events;
    while (out.ticks.length < max && out.trades.length < max) {
      if (this.next >= events.length) {
        if (!this.loop || events.length === 0) return;
        this.next = 0;
        this.shift += this.span;
      }
      const e = events[this.next]!;
      if (e.ts > due) return;
      this.next++;
      if (e.type === 'tick') {
        out.ticks.push({
          symbol: e.symbol,
          ts: e.ts + this.shift,
          last: e.last,
          bid: e.bid,
          ask: e.ask,
          volume: e.volume ?? 0,
        });
      } else {
        const trade: FeedTrade = {
          symbol: e.symbol,
          ts: e.ts + this.shift,
          price: e.price,
          size: e.size,
          side: e.side,
        };
        if (e.id !== undefined) trade.id = e.id;
        out.trades.push(trade);
      }
    }
  }

  caughtUp(): boolean {
    const e = this.events[this.next];
    return e === undefined || e.ts > this.pulledTo;
  }

  done(): boolean {
    return !this.loop && this.next >= this.events.length;
  }

  resync(): void {
    // As fast as acks allow, nothing is ever overdue.
    if (this.speed === Infinity) return;
    const due = this.due();
    while (this.next < this.events.length && this.events[this.next]!.ts <= due) this.next++;
  }
}
