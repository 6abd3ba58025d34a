const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 50 ms until it holds (true) or `ms` pass (false); a throw counts as not yet. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await Promise.resolve(cond()).catch(() => false)) return true;
    if (Date.now() > end) return false;
    await pause(50);
  }
}
