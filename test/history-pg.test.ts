import type { Candle } from '@tickdeck/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getJson, startRedis, type RedisServer } from './support/cluster.js';
import { onFrame } from './support/frame.js';
import { connectViewer, startGateway, type RunningGateway } from './support/gateway.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './support/pg.js';
import { requireSystemCommand } from './support/system.js';
import { closedBars, expectHistoryAcrossSigkill } from './support/history.js';
import { until } from './support/until.js';

const HAS_PG = await requirePostgres('history in PostgreSQL');
const REDIS = requireSystemCommand('redis-server', 'redis-server', 'history in PostgreSQL (cluster)');
const WRITE_MS = 300;
const TOKEN = 'history-pg-test-token-0123';

const gateways: RunningGateway[] = [];
const databases: TestDatabase[] = [];
const redises: RedisServer[] = [];
afterEach(async () => {
  for (const gw of gateways.splice(0)) await gw.stop();
  for (const r of redises.splice(0)) await r.stop();
  for (const db of databases.splice(0)) await db.drop();
});
afterAll(async () => {
  for (const db of databases.splice(0)) await db.drop();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

async function start(db: TestDatabase, env: Record<string, string> = {}): Promise<RunningGateway> {
  const gw = await startGateway({
    HISTORY_STORE: 'postgres',
    DATABASE_URL: db.url,
    HISTORY_WRITE_MS: String(WRITE_MS),
    FEED_RATE: '2000',
    ...env,
  });
  gateways.push(gw);
  return gw;
}

interface Health {
  history: string;
  cluster?: { redis: string; nodes: number; ownsFeed: boolean };
}
const health = (gw: RunningGateway) => getJson<Health>(`${gw.url}/api/health`);
const metric = async (gw: RunningGateway, name: string) => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
};

describe.skipIf(!HAS_PG)('history in PostgreSQL', () => {
  it('keeps the bars older than the write interval across a SIGKILL, identical, and continues the day', async () => {
    const db = await database();
    await expectHistoryAcrossSigkill(() => start(db), WRITE_MS);
    // Migrated once, by the first gateway.
    expect(await db.query('SELECT version FROM tickdeck_migrations ORDER BY version')).toEqual([
      { version: 1 },
      { version: 2 },
    ]);
  });

  it.skipIf(!REDIS)('two gateways over Redis sharing one database answer /api/candles identically', async () => {
    const db = await database();
    const redis = await startRedis(REDIS!);
    redises.push(redis);
    const cluster = { REDIS_URL: redis.url, FEED_TOKEN: TOKEN };
    const a = await start(db, { ...cluster, FEED: 'embedded' });
    // B joins later: what A closed before it came is in the database, not in B's own feed.
    expect(await until(async () => (await closedBars(a, '1s')).length >= 3, 10_000)).toBe(true);
    const b = await start(db, { ...cluster, FEED: 'external' });
    const formed = await until(async () => {
      const [ha, hb] = await Promise.all([health(a), health(b)]);
      return (
        ha.cluster?.redis === 'ok' && hb.cluster?.redis === 'ok' && ha.cluster.nodes === 2 && hb.cluster.nodes === 2
      );
    }, 10_000);
    expect(formed, `cluster did not form:\n${a.output()}\n${b.output()}`).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));

    for (const interval of ['1s', '5s']) {
      const settled = Date.now() - 2000;
      const old = (bars: Candle[]) => bars.filter((c) => c.start + (interval === '1s' ? 1000 : 5000) <= settled);
      const [fromA, fromB] = await Promise.all([closedBars(a, interval), closedBars(b, interval)]);
      expect(old(fromA).length, interval).toBeGreaterThanOrEqual(interval === '1s' ? 4 : 1);
      expect(old(fromB), interval).toEqual(old(fromA));
    }
    // One writer: the node that owns the feed.
    expect((await health(a)).cluster?.ownsFeed).toBe(true);
    expect(await metric(a, 'tickdeck_history_writes_total')).toBeGreaterThan(0);
    expect(await metric(b, 'tickdeck_history_writes_total')).toBe(0);
  });

  it('keeps delivering while its database sessions are ended, says degraded, and writes again after', async () => {
    const db = await database();
    const gw = await start(db);
    expect(
      await until(async () => (await health(gw)).history === 'ok' && (await closedBars(gw, '1s')).length >= 2, 10_000),
    ).toBe(true);
    const viewer = await connectViewer(gw.url);
    let quotes = 0;
    onFrame(viewer, { quotes: (q) => (quotes += q.length) });
    await viewer.timeout(5000).emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 100 });

    // The outage: every session of the gateway ended, and no new one let in until it is over.
    let outageAt = 0;
    try {
      await db.admin(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
      expect(await db.terminate()).toBeGreaterThanOrEqual(1);
      outageAt = Date.now();
      expect(await until(async () => (await health(gw)).history === 'degraded', 5000)).toBe(true);
      const quotesBefore = quotes;
      await new Promise((r) => setTimeout(r, 1500));
      expect(quotes - quotesBefore).toBeGreaterThanOrEqual(8);
      expect(viewer.connected).toBe(true);
      expect(await metric(gw, 'tickdeck_history_write_failures_total')).toBeGreaterThan(0);
      expect(await metric(gw, 'tickdeck_history_degraded')).toBe(1);
    } finally {
      await db.admin(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
    }
    expect(await until(async () => (await health(gw)).history === 'ok', 10_000)).toBe(true);
    const backAt = Date.now();

    // What closed during the outage reached the database once it was back, and so do newer bars.
    const count = async (from: number, to: number) =>
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM bars WHERE "interval" = '1s' AND symbol = 'AAPL' AND start >= $1 AND start < $2`,
          [from, to],
        )
      )[0]!.n;
    expect(await until(async () => (await count(outageAt, outageAt + 1000)) === 1, 5000)).toBe(true);
    expect(await until(async () => (await count(backAt, Number.MAX_SAFE_INTEGER)) >= 2, 5000)).toBe(true);
    // A single termination, the server taking new sessions at once: at most one write fails.
    expect(await db.terminate()).toBeGreaterThanOrEqual(1);
    const againAt = Date.now();
    expect(await until(async () => (await count(againAt, Number.MAX_SAFE_INTEGER)) >= 2, 5000)).toBe(true);
    expect((await health(gw)).history).toBe('ok');
    expect(gw.child.exitCode).toBe(null);
    expect(viewer.connected).toBe(true);
    viewer.close();
  });

  it('stops at start with a message naming DATABASE_URL, not its password, when PostgreSQL is unreachable', async () => {
    const err = await startGateway({
      HISTORY_STORE: 'postgres',
      DATABASE_URL: 'postgresql://tickdeck:s3cret-Pa55@127.0.0.1:1/tickdeck',
    }).then(
      (gw) => (gateways.push(gw), null),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(
      /DATABASE_URL: cannot open the history store: cannot reach PostgreSQL at postgresql:\/\/127\.0\.0\.1:1\/tickdeck: .*ECONNREFUSED/,
    );
    expect(err!.message).not.toContain('s3cret-Pa55');
  });
});
