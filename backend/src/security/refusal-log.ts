/** Where refusal lines go (Nest's Logger in the gateway, an array in tests). */
export interface RefusalSink {
  warn(message: string): void;
}

interface Pending {
  /** Refusals of this key since its last line. */
  count: number;
  /** The latest message of this key (the one a line shows). */
  message: string;
}

/** Keys tracked within one interval; past it, new keys fold into one line per reason. */
const MAX_KEYS = 1000;

/**
 * Counts every refusal by error code (for `/metrics`) and logs them at a bounded rate: the first
 * refusal of an (address, reason) pair in an interval is logged at once; later ones in the same
 * interval are only counted, and one line with the count is written when the interval ends. A
 * flood of refusals from one connection therefore writes at most two lines per address and
 * reason per interval, and a flood from many addresses at most {@link MAX_KEYS} plus one per reason.
 */
export class RefusalLog {
  /** Refusals by error code since start. */
  readonly counts = new Map<string, number>();
  private pending = new Map<string, Pending>();
  /** Refusals beyond MAX_KEYS in this interval, by reason. */
  private overflow = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly sink: RefusalSink,
    private readonly intervalMs: number,
  ) {}

  /** Counts a refusal without logging it (one that is answered in an ack, e.g. RATE_LIMITED). */
  count(code: string): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + 1);
  }

  /**
   * Records one refusal. `reason` is the error code (or a finer reason), `address` the client's,
   * `message` says what happened and must never carry a token or a message body.
   */
  refuse(code: string, address: string, message: string, reason: string = code): void {
    this.count(code);
    const key = `${reason} ${address}`;
    const seen = this.pending.get(key);
    if (seen) {
      seen.count++;
      seen.message = message;
      return;
    }
    if (this.pending.size >= MAX_KEYS) {
      this.overflow.set(reason, (this.overflow.get(reason) ?? 0) + 1);
      return;
    }
    this.pending.set(key, { count: 0, message });
    this.sink.warn(`refused ${address}: ${reason}: ${message}`);
    this.timer ??= setInterval(() => this.flush(), this.intervalMs).unref();
  }

  /** Writes one line per key refused again since its first line, and starts a new interval. */
  flush(): void {
    const seconds = Math.round(this.intervalMs / 100) / 10;
    for (const [key, p] of this.pending) {
      if (p.count === 0) continue;
      const space = key.indexOf(' ');
      const reason = key.slice(0, space);
      this.sink.warn(
        `refused ${key.slice(space + 1)}: ${reason}: ${p.count} more in ${seconds} s (last: ${p.message})`,
      );
    }
    for (const [reason, n] of this.overflow) {
      this.sink.warn(`refused ${n} more from other addresses in ${seconds} s: ${reason}`);
    }
    if (this.pending.size === 0 && this.overflow.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.pending = new Map();
    this.overflow = new Map();
  }

  /** Nest lifecycle (the class imports no Nest): writes what is pending and stops the timer. */
  beforeApplicationShutdown(): void {
    this.flush();
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
