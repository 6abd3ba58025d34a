import type { Quote } from '@tickdeck/protocol';
import { onFrame } from './frame.js';
import { connectViewer, type MarketClient } from './gateway.js';
import { until } from './until.js';

/** How often the watch's timer runs, ms. */
const TICK_MS = 10;
/** How long after a stall what it held up may still be being read, ms. */
const AFTERMATH_MS = 50;

/**
 * Watches this process's own event loop. The gateway shares two cores with the test, so a GC
 * pause or a busy stretch here delays when a frame is *read* though the gateway sent it on
 * time. Arrival times are evidence about the gateway only where this process did not stall;
 * elsewhere the frames' own feed times (`ts`, stamped by the gateway's clock) stand in.
 */
export class StallWatch {
  /** [from, to] of every stretch in which the timer ran more than `toleranceMs` late. */
  private readonly stalls: [number, number][] = [];
  private last = Date.now();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly toleranceMs = 20) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Whether this process stalled (or read what a stall held up) at some point in (`from`, `to`], epoch ms. */
  stalledBetween(from: number, to: number): boolean {
    this.tick();
    return this.stalls.some(([a, b]) => a < to && b + AFTERMATH_MS > from);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.last > TICK_MS + this.toleranceMs) this.stalls.push([this.last, now]);
    this.last = now;
  }
}

/** One `frame` with quotes as received: when it was read (epoch ms) and the newest feed time of its quotes. */
export interface Frame {
  at: number;
  ts: number;
}

export const frameOf = (quotes: readonly Quote[], at = Date.now()): Frame => ({
  at,
  ts: Math.max(...quotes.map((q) => q.ts)),
});

/**
 * The gap before each frame after the first, as a viewer saw it: arrival to arrival, or, where
 * this process stalled in between, feed time to feed time (each frame's newest `ts` is at most
 * its flush time, and the flush follows the tick within one 20 ms simulator step plus the
 * spacing of the symbols' ticks).
 */
export function frameGaps(frames: readonly Frame[], watch: StallWatch): number[] {
  return frames
    .slice(1)
    .map((f, n) => (watch.stalledBetween(frames[n]!.at, f.at) ? f.ts - frames[n]!.ts : f.at - frames[n]!.at));
}

/**
 * A bystander's longest silence while `fn` runs: `socket` must already be subscribed. Measured
 * from its latest frame before `fn` to its first frame stamped `tailMs` after `fn` ends (so the
 * aftermath counts too), by {@link frameGaps}.
 */
export async function longestGap(socket: MarketClient, fn: () => Promise<void>, tailMs: number): Promise<number> {
  const frames: Frame[] = [];
  const watch = new StallWatch();
  const off = onFrame(socket, { quotes: (quotes, at) => frames.push(frameOf(quotes, at)) });
  try {
    if (!(await until(() => frames.length > 0, 2000))) throw new Error('bystander: no quotes within 2 s');
    const from = frames.length - 1;
    await fn();
    const end = Date.now() + tailMs;
    if (!(await until(() => frames.at(-1)!.ts >= end, tailMs + 2000))) {
      throw new Error(`bystander: no quotes stamped ${tailMs} ms after the load, 2 s on`);
    }
    return Math.max(...frameGaps(frames.slice(from), watch));
  } finally {
    off();
    watch.stop();
  }
}

/** The five symbols a bystander holds at the fastest default tier while an attack runs. */
const BYSTANDER_SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'BTC-USD', 'ETH-USD'];

/**
 * Connects a bystander to the gateway at `url`, subscribed at 100 ms, and returns its longest
 * silence while `fn` runs (with a 300 ms tail); throws if it was refused or dropped meanwhile.
 */
export async function bystanderGap(url: string, fn: () => Promise<void>): Promise<number> {
  const b = await connectViewer(url);
  try {
    const ack = await b.emitWithAck('subscribe', { symbols: BYSTANDER_SYMBOLS, throttleMs: 100 });
    if (!ack.ok) throw new Error(`bystander: subscribe refused: ${JSON.stringify(ack.error)}`);
    const gap = await longestGap(b, fn, 300);
    if (!b.connected) throw new Error('bystander: disconnected while the load ran');
    return gap;
  } finally {
    b.close();
  }
}
