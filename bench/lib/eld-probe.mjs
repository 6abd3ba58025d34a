// Preloaded into every benchmarked server with `node --import bench/lib/eld-probe.mjs`, so the
// event-loop delay and GC figures are taken the same way for ours and for every peer, without
// depending on the server's own code. It talks to the harness over the IPC channel the harness
// opens when it spawns the server; without one (started by hand) it does nothing.
import { monitorEventLoopDelay } from 'node:perf_hooks';

if (typeof process.send === 'function') {
  const RESOLUTION_MS = 10;
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();

  const delay = (/** @type {number} */ ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);

  /** @param {Record<string, unknown>} msg */
  const reply = (msg) => {
    try {
      process.send?.(msg);
    } catch {
      // the harness is gone; the disconnect handler below ends the process
    }
  };

  process.on('message', (/** @type {any} */ msg) => {
    if (!msg || typeof msg !== 'object' || typeof msg.probe !== 'string') return;
    const id = msg.id;
    switch (msg.probe) {
      case 'eld-reset':
        histogram.reset();
        reply({ probe: 'eld-reset', id });
        break;
      case 'eld-read':
        reply({
          probe: 'eld-read',
          id,
          // The histogram records the time between the sampling timer's runs, so an idle loop
          // reads as the resolution itself: subtract it to get the delay. ns -> ms.
          p50Ms: delay(histogram.percentile(50)),
          p99Ms: delay(histogram.percentile(99)),
          maxMs: delay(histogram.max),
          meanMs: histogram.count > 0 ? delay(histogram.mean) : null,
          samples: histogram.count,
        });
        break;
      case 'gc': {
        const gc = /** @type {undefined | (() => void)} */ (globalThis.gc);
        if (gc) {
          // a few passes: the first can leave weak/finalizable garbage for the next
          for (let i = 0; i < 3; i += 1) gc();
        }
        const m = process.memoryUsage();
        reply({
          probe: 'gc',
          id,
          gc: Boolean(gc),
          rss: m.rss,
          heapUsed: m.heapUsed,
          heapTotal: m.heapTotal,
          external: m.external,
          arrayBuffers: m.arrayBuffers,
        });
        break;
      }
      case 'profile-start':
        // Only with `run.mjs --profile`: a CPU profile of one measurement window, taken in-process
        // so it does not depend on how the server shuts down.
        profileStart().then(
          () => reply({ probe: 'profile-start', id, ok: true }),
          (err) => reply({ probe: 'profile-start', id, ok: false, error: String(err) }),
        );
        break;
      case 'profile-stop':
        profileStop(String(msg.path)).then(
          () => reply({ probe: 'profile-stop', id, ok: true }),
          (err) => reply({ probe: 'profile-stop', id, ok: false, error: String(err) }),
        );
        break;
      default:
        break;
    }
  });

  /** @type {import('node:inspector').Session | null} */
  let session = null;
  /** @param {string} method @param {object} [params] @returns {Promise<any>} */
  const post = (method, params) =>
    new Promise((resolve, reject) => {
      session?.post(method, params, (err, res) => (err ? reject(err) : resolve(res)));
    });
  const profileStart = async () => {
    const { Session } = await import('node:inspector');
    session = new Session();
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
    await post('Profiler.start');
  };
  const profileStop = async (/** @type {string} */ path) => {
    if (!session) throw new Error('no profile running');
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    session = null;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, JSON.stringify(profile));
  };

  // No orphans: if the harness dies, the server it started goes too.
  process.on('disconnect', () => process.exit(0));
  // The channel must not keep a server alive that would otherwise exit (e.g. graceful shutdown).
  process.channel?.unref();
}
