// Scenario `ingest-feed`: ticks/s accepted end to end through /feed. `tickdeck-sim record`, then
// `tickdeck-sim replay --speed max` over loopback into ours started with FEED=external.
import { unlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/**
 * @typedef {object} IngestFeedResult
 * @property {'ok'} status
 * @property {number} ticksPerSecond  ticks the gateway applied over the replay's own elapsed time
 * @property {number} itemsPerSecond  ticks + trades accepted, per second
 * @property {number} ticks
 * @property {number} trades
 * @property {number} rejected
 * @property {number} seconds         the replay's elapsed time
 * @property {number} batch
 * @property {number} inFlight
 * @property {number | null} serverCpuPct
 */

/** @param {import('../lib/bench-run.mjs').BenchRun} run */
export async function runIngestFeed(run) {
  const { cfg } = run;
  const f = cfg.ingestFeed;
  const file = join(os.tmpdir(), `tickdeck-bench-feed-${process.pid}.ndjson`);
  const token = `bench-${process.pid}-${Date.now()}`;
  const model = ['--rate', String(f.rate), '--duration', `${f.seconds}s`, '--seed', String(f.seed)];
  run.log(`ingest /feed: recording ${f.seconds} s at ${f.rate.toLocaleString('en-US')} ticks/s`);
  await run.sim(['record', '--out', file, ...model], cfg.ingestTimeoutMs);
  const server = await run.startServer('ours', { feedRate: 1, env: { FEED: 'external', FEED_TOKEN: token } });
  try {
    const cpu0 = server.cpuMs();
    const out = await run.sim(
      [
        'replay',
        file,
        '--url',
        `http://${cfg.host}:${server.port}`,
        '--token',
        token,
        '--speed',
        'max',
        '--batch',
        String(f.batch),
        '--in-flight',
        String(f.inFlight),
      ],
      cfg.ingestTimeoutMs,
    );
    const cpu1 = server.cpuMs();
    const m = /done in ([\d.]+) s: sent ([\d,]+) ticks \+ ([\d,]+) trades, accepted ([\d,]+).*rejected ([\d,]+)/.exec(
      out,
    );
    if (!m) throw new Error(`no summary in tickdeck-sim's output: ${out.slice(0, 200)}`);
    const num = (/** @type {string | undefined} */ x) => Number((x ?? '').replace(/,/g, ''));
    const seconds = Number(m[1]);
    const res = await fetch(`http://${cfg.host}:${server.port}/api/health`);
    const health = /** @type {{ feed: { ticks: number, trades: number } }} */ (await res.json());
    const ticks = health.feed.ticks;
    /** @type {IngestFeedResult} */
    const result = {
      status: 'ok',
      ticksPerSecond: Math.round(ticks / seconds),
      itemsPerSecond: Math.round(num(m[4]) / seconds),
      ticks,
      trades: health.feed.trades,
      rejected: num(m[5]),
      seconds,
      batch: f.batch,
      inFlight: f.inFlight,
      serverCpuPct: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / (seconds * 1000)) * 100) : null,
    };
    run.results.ingestFeed = result;
    run.log(`ingest /feed: ${JSON.stringify(result)}`);
  } finally {
    await run.stopServer(server);
    try {
      unlinkSync(file);
    } catch {
      // never written
    }
  }
}
