import type { Publisher } from './publisher.js';

const TTY_REDRAW_MS = 250;
const PLAIN_EVERY_MS = 5000;

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** The progress line: redrawn in place on a TTY, a plain line every few seconds otherwise. */
export class Progress {
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly started = performance.now();
  private lastAt = this.started;
  private lastAccepted = 0;
  private drawn = false;

  constructor(
    private readonly publisher: Publisher,
    private readonly out: NodeJS.WriteStream,
  ) {}

  start(): void {
    const tty = Boolean(this.out.isTTY);
    this.timer = setInterval(() => this.draw(tty), tty ? TTY_REDRAW_MS : PLAIN_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn && this.out.isTTY) this.out.write('\n');
    this.drawn = false;
  }

  line(): string {
    const s = this.publisher.stats;
    const now = performance.now();
    const rate = ((s.accepted - this.lastAccepted) * 1000) / Math.max(1, now - this.lastAt);
    this.lastAt = now;
    this.lastAccepted = s.accepted;
    return (
      `sent ${n(s.sentTicks)} ticks + ${n(s.sentTrades)} trades, accepted ${n(s.accepted)}, rejected ${n(s.rejected)}, ` +
      `${n(rate)}/s, acks in flight ${this.publisher.acksInFlight}, ${this.publisher.state}`
    );
  }

  summary(): string {
    const s = this.publisher.stats;
    const seconds = (performance.now() - this.started) / 1000;
    const codes = Object.entries(s.rejectedByCode)
      .map(([code, count]) => `${code} ${n(count)}`)
      .join(', ');
    const lines = [
      `done in ${seconds.toFixed(seconds < 10 ? 2 : 1)} s: sent ${n(s.sentTicks)} ticks + ${n(s.sentTrades)} trades, accepted ${n(s.accepted)} ` +
        `(${n(s.accepted / Math.max(seconds, 0.001))}/s), rejected ${n(s.rejected)}${codes ? ` (${codes})` : ''}` +
        `${s.unacked ? `, ${n(s.unacked)} unacknowledged (connection lost)` : ''}, reconnects ${s.reconnects}`,
      ...s.firstRejections.map((r) => `  rejected ${r}`),
    ];
    return lines.join('\n');
  }

  private draw(tty: boolean): void {
    const line = this.line();
    if (tty) this.out.write(`\r${line}\x1b[K`);
    else this.out.write(`${line}\n`);
    this.drawn = true;
  }
}
