// One benchmark per machine. Two runs on the same 2 cores measure each other: a lock in the temp
// dir makes a second run (from any checkout) wait for the first; load from anything else is
// measured before the run and per window.
import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { machineBusyMs } from './server-proc.mjs';

export const LOCK = join(os.tmpdir(), 'tickdeck-bench.lock');

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

let lockHeld = false;

/** @returns {number} 0 once this process holds the lock, else the pid of the run that does */
function tryLock() {
  try {
    const fd = openSync(LOCK, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    lockHeld = true;
    return 0;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
    const pid = Number(readFileSync(LOCK, 'utf8').trim());
    try {
      if (pid > 0) process.kill(pid, 0);
      return pid;
    } catch {
      unlinkSync(LOCK); // stale: its run is gone
      return tryLock();
    }
  }
}

/** Gives the lock back (if this process holds it); synchronous, for the exit path. */
export function releaseLock() {
  if (!lockHeld) return;
  try {
    if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) unlinkSync(LOCK);
  } catch {
    // already gone
  }
  lockHeld = false;
}

/**
 * Waits (bounded) for the lock, then (bounded by `quietWaitMs`) for the machine to be quiet.
 * @param {{ waitMs: number, quietWaitMs: number, otherLoadWarnPct: number, log: (msg: string) => void }} o
 * @returns {Promise<{ otherLoadPct: number, quiet: boolean }>} the load other processes put on the
 *   machine (% of one core) when the run started, and whether it was under the warning level
 */
export async function waitForMachine({ waitMs, quietWaitMs, otherLoadWarnPct, log }) {
  const deadline = Date.now() + waitMs;
  let said = 0;
  for (let holder = tryLock(); holder !== 0; holder = tryLock()) {
    if (Date.now() > deadline) throw new Error(`another benchmark (pid ${holder}, ${LOCK}) still runs; giving up`);
    if (Date.now() - said > 30_000) {
      log(`waiting for another benchmark run (pid ${holder}) to finish`);
      said = Date.now();
    }
    await sleep(2000);
  }
  const quietDeadline = Date.now() + quietWaitMs;
  for (;;) {
    const b0 = machineBusyMs();
    const o0 = process.cpuUsage();
    await sleep(2000);
    const o1 = process.cpuUsage(o0);
    const other = ((machineBusyMs() - b0 - (o1.user + o1.system) / 1000) / 2000) * 100;
    if (other <= otherLoadWarnPct) return { otherLoadPct: Math.round(other), quiet: true };
    if (Date.now() > quietDeadline) return { otherLoadPct: Math.round(other), quiet: false };
    if (Date.now() - said > 30_000) {
      log(`waiting for a quiet machine: other processes use ${Math.round(other)} % of a core`);
      said = Date.now();
    }
  }
}
