// Scenario `memory`: cfg.memory.clients subscribed, idle clients on a quiet feed; RSS after GC
// minus RSS after GC before connecting, per connection.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * @param {import('../lib/bench-run.mjs').BenchRun} run
 * @param {import('../lib/config.mjs').ServerKey} key
 */
export async function runMemory(run, key) {
  const { cfg } = run;
  run.log(`${key} memory: starting (feed ${cfg.memory.feedRate} ticks/s)`);
  const server = await run.startServer(key, { feedRate: cfg.memory.feedRate });
  const pool = run.newPool();
  try {
    await sleep(cfg.memory.settleMs / 2);
    const before = await server.probe('gc', 15_000);
    await sleep(200);
    const baseKB = server.rssKB();
    const c = await run.addClients(pool, server, cfg.memory.clients, cfg.memory.tierMs);
    await sleep(cfg.memory.settleMs);
    const after = await server.probe('gc', 15_000);
    await sleep(200);
    const rssKB = server.rssKB();
    const connected = pool.total;
    if (baseKB === null || rssKB === null || connected === 0) throw new Error(`${key}: no memory reading`);
    /** @type {import('../lib/results.mjs').MemoryResult} */
    const m = {
      clients: connected,
      connectFailures: c.failed,
      gc: Boolean(after?.gc),
      baselineRssMB: Math.round(baseKB / 102.4) / 10,
      rssMB: Math.round(rssKB / 102.4) / 10,
      perConnKB: Math.round(((rssKB - baseKB) / connected) * 10) / 10,
      // a broker peer's probe answers for its publisher, whose heap the subscribers do not touch
      heapPerConnKB:
        before && after && !server.broker
          ? Math.round(((after.heapUsed - before.heapUsed) / 1024 / connected) * 10) / 10
          : null,
    };
    run.results.memory[key] = m;
    run.log(
      `${key} memory: ${connected} idle clients, RSS ${m.baselineRssMB} -> ${m.rssMB} MB = ${m.perConnKB} KB/conn (heap ${m.heapPerConnKB} KB/conn)`,
    );
  } finally {
    await run.closePool(pool);
    await run.stopServer(server);
  }
}
