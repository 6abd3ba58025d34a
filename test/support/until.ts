export interface UntilOptions {
  /** The deadline, in ms from the call: `cond` is checked last at it. */
  timeoutMs: number;
  /** Pause between checks, in ms (default 50). */
  intervalMs?: number;
}

/** Ends on the next turn of the event loop after `ms`, once I/O that was ready then has been read. */
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(() => setImmediate(resolve), ms));

/**
 * The one way a system test waits for something to happen: polls `cond` until it holds (true)
 * or the deadline passes (false); a throw counts as not yet. Each check runs after the I/O that
 * was pending when the pause ended, so a stall of this process (GC, two shared cores) delays the
 * check but never makes it miss a frame that had already arrived.
 *
 * `until(cond, ms)` is short for `until(cond, { timeoutMs: ms })`.
 */
export async function until(cond: () => boolean | Promise<boolean>, options: number | UntilOptions): Promise<boolean> {
  const { timeoutMs, intervalMs = 50 } = typeof options === 'number' ? { timeoutMs: options } : options;
  const end = Date.now() + timeoutMs;
  const holds = async () => {
    try {
      return await cond();
    } catch {
      return false;
    }
  };
  for (;;) {
    if (await holds()) return true;
    const left = end - Date.now();
    if (left <= 0) return false;
    await pause(Math.min(intervalMs, left));
  }
}
