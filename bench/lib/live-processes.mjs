// No orphans, ever: every server, client pool and helper process a run starts is registered
// here until it is stopped, and killed synchronously when the harness exits for any reason.

/** @typedef {import('./server-proc.mjs').ServerProc} ServerProc */
/** @typedef {import('./client-pool.mjs').ClientPool} ClientPool */
/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

export class LiveProcesses {
  constructor() {
    /** @type {Set<ServerProc>} */
    this.servers = new Set();
    /** @type {Set<ClientPool>} */
    this.pools = new Set();
    /** @type {Set<ChildProcess>} anything else: tickdeck-sim, ingest-micro, redis-server */
    this.others = new Set();
    /**
     * Synchronous clean-ups of what is not a process (a scenario's PostgreSQL database), run
     * after the kills when the harness exits before the scenario removed it itself.
     * @type {Set<() => void>}
     */
    this.cleanups = new Set();
  }

  /** SIGKILL to everything still registered (the exit path: synchronous, no waiting), then the clean-ups. */
  killAll() {
    for (const s of this.servers) s.killNow();
    for (const p of this.pools) p.killNow();
    for (const c of this.others) if (c.exitCode === null) c.kill('SIGKILL');
    for (const fn of this.cleanups) {
      try {
        fn();
      } catch {
        // best effort on the way out
      }
    }
    this.cleanups.clear();
  }

  /**
   * Kills everything on process exit and on SIGINT/SIGTERM/SIGHUP (exit 130).
   * @param {() => void} [onExit] also run on exit (after the kill)
   */
  killOnExit(onExit) {
    process.on('exit', () => {
      this.killAll();
      onExit?.();
    });
    for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
      process.on(sig, () => {
        console.error(`\nbench: ${sig}, stopping every client and server`);
        this.killAll();
        process.exit(130);
      });
    }
  }
}
