import type { Candle, CandleInterval, Trade } from '@tickdeck/protocol';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/support/until.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../../../test/support/pg.js';
import type { BarRow, HistoryBatch, HistoryStore, SymbolStateRow, TradeRow } from './history-store.js';
import { PG_MIGRATIONS } from './migrations/postgres/index.js';
import { PostgresHistoryStore } from './pg-store.js';
import { SqliteHistoryStore } from './sqlite-store.js';

const HAS_PG = await requirePostgres('history store contract (PostgreSQL)');

/** 2026-01-05T14:30:00Z */
const T0 = Date.UTC(2026, 0, 5, 14, 30);
const SEC = 1_000;
const range = (n: number) => Array.from({ length: n }, (_, k) => k);

/** A closed bar whose figures are awkward doubles, so a lossy round trip shows. */
const bar = (start: number, k: number): Candle => ({
  start,
  open: 100 + k / 3,
  high: 101 + k / 7 + 0.1 + 0.2,
  low: 99.000000001 - k * 1e-9,
  close: 100.5 + k / 11,
  volume: 1234.5678 + k * 1e6,
  ticks: k + 1,
  closed: true,
});
const bars = (symbol: string, interval: CandleInterval, list: Candle[]): BarRow[] =>
  list.map((b) => ({ symbol, interval, bar: b }));
/** A trade; its feed `ts` carries a fraction of a ms, as an external feed may send. */
const trade = (symbol: string, seq: number): Trade => ({
  id: `${symbol}-${seq}`,
  seq,
  ts: T0 + seq * 137 + 0.25,
  price: 250 + seq / 3,
  size: seq * 0.001,
  side: seq % 2 ? 'buy' : 'sell',
});
const trades = (symbol: string, list: Trade[]): TradeRow[] => list.map((t) => ({ symbol, trade: t }));
const state = (symbol: string, k: number): SymbolStateRow => ({
  symbol,
  ts: T0 + k + 0.5,
  last: 100 + k / 3,
  bid: 100 + k / 3 - 0.01,
  ask: 100 + k / 3 + 0.01,
  open: 99.5,
  high: 101 + k,
  low: 98 - k / 9,
  volume: 1e7 + k / 7,
  dayEnd: Date.UTC(2026, 0, 6),
});
const batch = (b: Partial<HistoryBatch>): HistoryBatch => ({ bars: [], trades: [], states: [], ...b });
/** Fisher-Yates with a fixed seed: the store must order, not the writer. */
function shuffled<T>(list: T[]): T[] {
  const out = [...list];
  let seed = 7;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 48271) % 2147483647;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
function expectJsNumbers(rows: object[], keys: string[]): void {
  for (const row of rows) {
    for (const key of keys) expect(typeof (row as Record<string, unknown>)[key], key).toBe('number');
  }
}

/** Where one adapter keeps a history: fresh and empty for each case. */
interface Place {
  open(): Promise<HistoryStore>;
  /** The schema as the store recorded it (SQLite: user_version; PostgreSQL: tickdeck_migrations). */
  recordedSchema(): Promise<unknown>;
  /** Marks the store as migrated to `version` by some future gateway. */
  forgeVersion(version: number): Promise<void>;
  cleanup(): Promise<void>;
}

function sqlitePlace(): Place {
  const dir = mkdtempSync(join(tmpdir(), 'tickdeck-store-contract-'));
  const opened: HistoryStore[] = [];
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(join(dir, 'tickdeck.db'));
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    open: async () => {
      const store = await SqliteHistoryStore.open(dir);
      opened.push(store);
      return store;
    },
    recordedSchema: async () => withDb((db) => db.pragma('user_version', { simple: true })),
    forgeVersion: async (version) => withDb((db) => void db.pragma(`user_version = ${version}`)),
    cleanup: async () => {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pgPlace(db: TestDatabase): Promise<Place> {
  const opened: HistoryStore[] = [];
  return {
    open: async () => {
      const store = await PostgresHistoryStore.open(db.url);
      opened.push(store);
      return store;
    },
    recordedSchema: () => db.query('SELECT version, name, applied_at::text AS at FROM tickdeck_migrations ORDER BY 1'),
    forgeVersion: async (version) => {
      await db.query(`INSERT INTO tickdeck_migrations (version, name) VALUES ($1, 'from the future')`, [version]);
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
      await db.drop();
    },
  };
}

/** The cases every HistoryStore passes, whatever keeps the rows. */
function contract(fresh: () => Promise<Place>): void {
  let place: Place;
  beforeEach(async () => {
    place = await fresh();
  });
  afterEach(async () => {
    await place.cleanup();
  });

  it('reads bars per symbol and interval with from inclusive, to exclusive, the newest `limit`, oldest first', async () => {
    const store = await place.open();
    const s1 = range(10).map((k) => bar(T0 + k * SEC, k));
    const s5 = range(4).map((k) => bar(T0 + k * 5 * SEC, 20 + k));
    const m1 = range(2).map((k) => bar(T0 + k * 60 * SEC, 40 + k));
    const other = [bar(T0, 60)];
    await store.write(
      batch({
        bars: shuffled([
          ...bars('AAA', '1s', s1),
          ...bars('AAA', '5s', s5),
          ...bars('AAA', '1m', m1),
          ...bars('BBB', '1s', other),
        ]),
      }),
    );

    const all = await store.bars('AAA', '1s', -Infinity, Infinity, Infinity);
    expect(all).toEqual(s1);
    expectJsNumbers(all, ['start', 'open', 'high', 'low', 'close', 'volume', 'ticks']);
    expect(all.every((b) => b.closed === true)).toBe(true);
    expect(await store.bars('AAA', '5s', -Infinity, Infinity, Infinity)).toEqual(s5);
    expect(await store.bars('AAA', '1m', -Infinity, Infinity, Infinity)).toEqual(m1);
    expect(await store.bars('BBB', '1s', -Infinity, Infinity, Infinity)).toEqual(other);
    expect(await store.bars('BBB', '5s', -Infinity, Infinity, Infinity)).toEqual([]);
    expect(await store.bars('CCC', '1s', -Infinity, Infinity, Infinity)).toEqual([]);

    expect(await store.bars('AAA', '1s', T0 + 2 * SEC, T0 + 5 * SEC, Infinity)).toEqual(s1.slice(2, 5));
    expect(await store.bars('AAA', '1s', T0 + 2 * SEC + 0.5, T0 + 5 * SEC + 0.5, Infinity)).toEqual(s1.slice(3, 6));
    expect(await store.bars('AAA', '1s', T0 + 7 * SEC, Infinity, Infinity)).toEqual(s1.slice(7));
    expect(await store.bars('AAA', '1s', -Infinity, T0 + 3 * SEC, Infinity)).toEqual(s1.slice(0, 3));
    expect(await store.bars('AAA', '1s', T0 + 4 * SEC, T0 + 4 * SEC, Infinity)).toEqual([]);

    expect(await store.bars('AAA', '1s', -Infinity, Infinity, 3)).toEqual(s1.slice(7));
    expect(await store.bars('AAA', '1s', T0 + 2 * SEC, T0 + 8 * SEC, 2)).toEqual(s1.slice(6, 8));
    expect(await store.bars('AAA', '1s', -Infinity, Infinity, 100)).toEqual(s1);
    expect(await store.bars('AAA', '1s', -Infinity, Infinity, 0)).toEqual([]);
  });

  it('upserts bars by (symbol, interval, start): a later write replaces, the last of one batch wins', async () => {
    const store = await place.open();
    await store.write(batch({ bars: bars('AAA', '1s', [bar(T0, 1), bar(T0 + SEC, 2)]) }));
    await store.write(batch({ bars: [...bars('AAA', '1s', [bar(T0, 3)]), ...bars('AAA', '5s', [bar(T0, 4)])] }));
    expect(await store.bars('AAA', '1s', -Infinity, Infinity, Infinity)).toEqual([bar(T0, 3), bar(T0 + SEC, 2)]);
    expect(await store.bars('AAA', '5s', -Infinity, Infinity, Infinity)).toEqual([bar(T0, 4)]);

    await store.write(batch({ bars: bars('AAA', '1s', [bar(T0 + SEC, 5), bar(T0 + SEC, 6), bar(T0 + SEC, 7)]) }));
    expect(await store.bars('AAA', '1s', -Infinity, Infinity, Infinity)).toEqual([bar(T0, 3), bar(T0 + SEC, 7)]);
  });

  it('reads trades newest first by seq, pages by `before`, and upserts them by (symbol, seq)', async () => {
    const store = await place.open();
    const tape = range(10).map((k) => trade('AAA', k + 1));
    const theirs = range(3).map((k) => trade('BBB', k + 1));
    await store.write(batch({ trades: trades('AAA', shuffled(tape.slice(0, 6))) }));
    await store.write(batch({ trades: [...trades('AAA', shuffled(tape.slice(6))), ...trades('BBB', theirs)] }));

    const newest = await store.trades('AAA', Infinity, 3);
    expect(newest).toEqual([tape[9], tape[8], tape[7]]);
    expectJsNumbers(newest, ['seq', 'ts', 'price', 'size']);
    expect(await store.trades('AAA', 8, 3)).toEqual([tape[6], tape[5], tape[4]]);
    expect(await store.trades('AAA', 5, 10)).toEqual(tape.slice(0, 4).reverse());
    expect(await store.trades('AAA', 1, 10)).toEqual([]);
    expect(await store.trades('AAA', Infinity, 0)).toEqual([]);
    expect(await store.trades('BBB', Infinity, 10)).toEqual([...theirs].reverse());
    expect(await store.trades('CCC', Infinity, 10)).toEqual([]);

    const replaced = { ...trade('AAA', 10), price: 1 / 3, size: 42 };
    await store.write(batch({ trades: trades('AAA', [replaced]) }));
    expect(await store.trades('AAA', Infinity, 2)).toEqual([replaced, tape[8]]);
  });

  it('keeps a feed’s own trade ids and both sides exactly', async () => {
    const store = await place.open();
    const own = [
      { ...trade('AAA', 1), id: 'X-9f3a', side: 'sell' as const },
      trade('AAA', 2),
      { ...trade('AAA', 3), id: 'exchange:17', side: 'buy' as const },
      // Not an id a feed may send today, but nothing the store should mangle: array-literal syntax.
      { ...trade('AAA', 4), id: 'a"b\\c{d,e} NULL' },
      { ...trade('AAA', 5), id: 'tab\there\\n' },
    ];
    await store.write(batch({ trades: trades('AAA', own) }));
    expect(await store.trades('AAA', Infinity, 10)).toEqual([...own].reverse());
  });

  it('replaces each symbol’s state and reads them all back', async () => {
    const store = await place.open();
    await store.write(batch({ states: [state('AAA', 1), state('BBB', 2)] }));
    await store.write(batch({ states: [state('AAA', 3)] }));
    const states = (await store.states()).sort((a, b) => a.symbol.localeCompare(b.symbol));
    expect(states).toEqual([state('AAA', 3), state('BBB', 2)]);
    expectJsNumbers(states, ['ts', 'last', 'bid', 'ask', 'open', 'high', 'low', 'volume', 'dayEnd']);
  });

  it('writes 10,000 bars, 2,000 trades and 20 states in one batch', async () => {
    const store = await place.open();
    const symbols = range(20).map((k) => `S${k}`);
    const big = batch({
      bars: symbols.flatMap((s) =>
        bars(
          s,
          '1s',
          range(500).map((k) => bar(T0 + k * SEC, k)),
        ),
      ),
      trades: symbols.flatMap((s) =>
        trades(
          s,
          range(100).map((k) => trade(s, k + 1)),
        ),
      ),
      states: symbols.map((s, k) => state(s, k)),
    });
    const t = performance.now();
    await store.write(big);
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(await store.bars('S7', '1s', -Infinity, Infinity, Infinity)).toHaveLength(500);
    expect(await store.bars('S19', '1s', T0 + 499 * SEC, Infinity, Infinity)).toEqual([bar(T0 + 499 * SEC, 499)]);
    expect(await store.trades('S0', Infinity, 1_000)).toHaveLength(100);
    expect(await store.states()).toHaveLength(20);
  });

  it('prunes per symbol what is older than each interval’s cutoff and the trades before theirs, and counts it', async () => {
    const store = await place.open();
    const s1 = range(10).map((k) => bar(T0 + k * SEC, k));
    const s5 = range(4).map((k) => bar(T0 + k * 5 * SEC, k));
    const m1 = range(2).map((k) => bar(T0 + k * 60 * SEC, k));
    const tape = range(10).map((k) => trade('AAA', k + 1));
    const theirs = range(10).map((k) => trade('BBB', k + 1));
    await store.write(
      batch({
        bars: [...bars('AAA', '1s', s1), ...bars('AAA', '5s', s5), ...bars('AAA', '1m', m1), ...bars('BBB', '1s', s1)],
        trades: [...trades('AAA', tape), ...trades('BBB', theirs)],
      }),
    );

    // 1s: starts before T0+4s (4 bars); 5s: before T0+5s (1 bar); 1m: no cutoff; trades: ts before seq 6's (5).
    const cutoffs = { symbols: ['AAA'], bars: { '1s': T0 + 4 * SEC, '5s': T0 + 5 * SEC }, trades: tape[5]!.ts };
    expect(await store.prune(cutoffs)).toBe(4 + 1 + 5);
    expect(await store.bars('AAA', '1s', -Infinity, Infinity, Infinity)).toEqual(s1.slice(4));
    expect(await store.bars('AAA', '5s', -Infinity, Infinity, Infinity)).toEqual(s5.slice(1));
    expect(await store.bars('AAA', '1m', -Infinity, Infinity, Infinity)).toEqual(m1);
    expect(await store.trades('AAA', Infinity, 100)).toEqual(tape.slice(5).reverse());
    expect(await store.bars('BBB', '1s', -Infinity, Infinity, Infinity)).toEqual(s1);
    expect(await store.trades('BBB', Infinity, 100)).toEqual([...theirs].reverse());
    expect(await store.prune(cutoffs)).toBe(0);

    expect(await store.prune({ symbols: ['AAA', 'BBB'], bars: { '1m': Infinity } })).toBe(2);
    expect(await store.bars('AAA', '1m', -Infinity, Infinity, Infinity)).toEqual([]);
    expect(await store.trades('BBB', Infinity, 100)).toHaveLength(10);
  });

  it('keeps everything across a reopen, and does not migrate again', async () => {
    const store = await place.open();
    const s1 = range(3).map((k) => bar(T0 + k * SEC, k));
    await store.write(
      batch({ bars: bars('AAA', '1s', s1), trades: trades('AAA', [trade('AAA', 1)]), states: [state('AAA', 1)] }),
    );
    const schema = await place.recordedSchema();
    await store.close();

    const again = await place.open();
    expect(again.where).toBe(store.where);
    expect(await again.bars('AAA', '1s', -Infinity, Infinity, Infinity)).toEqual(s1);
    expect(await again.trades('AAA', Infinity, 10)).toEqual([trade('AAA', 1)]);
    expect(await again.states()).toEqual([state('AAA', 1)]);
    expect(await place.recordedSchema()).toEqual(schema);
  });

  it('refuses a store at a schema version newer than it knows, naming both versions', async () => {
    const where = (await place.open()).where;
    await place.forgeVersion(PG_MIGRATIONS.length + 7);
    const err = await place.open().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toBe(`${where} has schema version ${PG_MIGRATIONS.length + 7}; this gateway knows up to 2`);
  });
}

describe(SqliteHistoryStore.name, () => {
  contract(async () => sqlitePlace());
});

describe(`${SqliteHistoryStore.name}: its writer thread`, () => {
  let place: Place;
  beforeEach(() => {
    place = sqlitePlace();
  });
  afterEach(async () => {
    await place.cleanup();
  });
  /** The store's worker, reached past its privacy: what a crash of the thread would take. */
  const writerOf = (store: HistoryStore) => (store as unknown as { writer: Promise<Worker> | null }).writer;

  it('writes and prunes in a thread of its own; reads on the main thread see what it committed', async () => {
    const store = await place.open();
    const worker = await writerOf(store)!;
    expect(worker.threadId).toBeGreaterThan(0);
    await store.write(batch({ bars: bars('AAA', '1s', [bar(T0, 1), bar(T0 + SEC, 2)]) }));
    expect(await store.bars('AAA', '1s', -Infinity, Infinity, 10)).toEqual([bar(T0, 1), bar(T0 + SEC, 2)]);
    expect(await store.prune({ symbols: ['AAA'], bars: { '1s': T0 + 1 } })).toBe(1);
  });

  it('fails the requests a dead writer held, and the next write starts a new one', async () => {
    const store = await place.open();
    const first = await writerOf(store)!;
    await first.terminate();
    expect(await until(() => writerOf(store) === null, 5000)).toBe(true);
    await store.write(batch({ trades: trades('AAA', [trade('AAA', 1)]) }));
    const second = await writerOf(store)!;
    expect(second.threadId).not.toBe(first.threadId);
    expect(await store.trades('AAA', Infinity, 5)).toEqual([trade('AAA', 1)]);
  });

  it('names SQLite’s code when the writer fails (a read-only file)', async () => {
    const store = await place.open();
    const dir = (store.where.match(/^(.*)\/tickdeck\.db$/) ?? [])[1]!;
    const ro = new Database(join(dir, 'tickdeck.db'));
    // A reader holding an open transaction cannot stop a WAL writer; a schema lock can: drop the table.
    ro.exec('DROP TABLE trades');
    ro.close();
    const err = await store.write(batch({ trades: trades('AAA', [trade('AAA', 1)]) })).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.message).toMatch(/no such table: trades/);
    expect(err?.code).toBe('SQLITE_ERROR');
    await store.write(batch({ bars: bars('AAA', '1s', [bar(T0, 1)]) }));
    expect(await store.bars('AAA', '1s', -Infinity, Infinity, 10)).toEqual([bar(T0, 1)]);
  });
});

describe.skipIf(!HAS_PG)(PostgresHistoryStore.name, () => {
  contract(async () => pgPlace(await createTestDatabase()));

  describe('PostgreSQL only', () => {
    let db: TestDatabase;
    const stores: HistoryStore[] = [];
    beforeEach(async () => {
      db = await createTestDatabase();
    });
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
      await db.drop();
    });
    const open = async () => {
      const store = await PostgresHistoryStore.open(db.url);
      stores.push(store);
      return store;
    };

    it('describes itself without user info and names its sessions `tickdeck`', async () => {
      const store = await open();
      expect(store).toMatchObject({ kind: 'postgres', shared: true, where: `postgresql://127.0.0.1:5432/${db.name}` });
      const sessions = await db.admin<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tickdeck'`,
        [db.name],
      );
      expect(sessions[0]!.n).toBeGreaterThanOrEqual(1);
      // bigint parsing is this pool's, not pg's global parser other code relies on
      expect(pg.types.getTypeParser(pg.types.builtins.INT8)('12')).toBe('12');
    });

    it('migrates once when several gateways open the same new database at once', async () => {
      const opened = await Promise.all(range(3).map(() => open()));
      expect(opened).toHaveLength(3);
      const rows = await db.query<{ version: number; name: string }>(
        'SELECT version, name FROM tickdeck_migrations ORDER BY version',
      );
      expect(rows).toEqual(PG_MIGRATIONS.map(({ version, name }) => ({ version, name })));
      expect(PG_MIGRATIONS.map((m) => m.version)).toEqual(range(PG_MIGRATIONS.length).map((k) => k + 1));
    });

    it('survives the server ending its sessions between two writes: a later write succeeds, nothing crashes', async () => {
      const store = await open();
      const before = await store.prune({ symbols: [], bars: {} }); // a pool connection, idle after
      expect(before).toBe(0);
      await store.write(batch({ bars: bars('AAA', '1s', [bar(T0, 1)]) }));
      expect(await db.terminate()).toBeGreaterThanOrEqual(1);
      // the idle connection's 'error' arrives now; unhandled, it would fail this run
      await new Promise((resolve) => setTimeout(resolve, 200));

      const second = await store.write(batch({ bars: bars('AAA', '1s', [bar(T0 + SEC, 2)]) })).then(
        () => 'written',
        (e: Error) => e.message,
      );
      await store.write(batch({ bars: bars('AAA', '1s', [bar(T0 + 2 * SEC, 3)]) }));
      const expected =
        second === 'written'
          ? [bar(T0, 1), bar(T0 + SEC, 2), bar(T0 + 2 * SEC, 3)]
          : [bar(T0, 1), bar(T0 + 2 * SEC, 3)];
      expect(await store.bars('AAA', '1s', -Infinity, Infinity, Infinity)).toEqual(expected);

      // Ended while writes hold their connections: those reject, the ones queued behind them succeed.
      const chunk = (k: number) =>
        bars(
          'BBB',
          '1s',
          range(2_000).map((j) => bar(T0 + (k * 2_000 + j) * SEC, j)),
        );
      const writes = range(20).map((k) =>
        store.write(batch({ bars: chunk(k) })).then(
          () => 'written',
          (e: Error) => e.message,
        ),
      );
      const busy = async () =>
        (
          await db.admin(
            `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tickdeck'
               AND state IN ('active', 'idle in transaction')`,
            [db.name],
          )
        ).length > 0;
      expect(await until(busy, 5_000)).toBe(true);
      await db.terminate();
      const outcomes = await Promise.all(writes);
      expect(outcomes.filter((o) => o !== 'written').length).toBeGreaterThanOrEqual(1);
      expect(outcomes.at(-1)).toBe('written');
      await store.write(batch({ states: [state('BBB', 1)] }));
      expect(await store.states()).toEqual([state('BBB', 1)]);
    });

    it('rejects fast when nothing listens, naming the address and never the password', async () => {
      const t = performance.now();
      const err = await PostgresHistoryStore.open('postgresql://tickdeck:s3cret-Pa55@127.0.0.1:1/tickdeck').then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(performance.now() - t).toBeLessThan(3_000);
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toMatch(
        /^cannot reach PostgreSQL at postgresql:\/\/127\.0\.0\.1:1\/tickdeck: .*ECONNREFUSED/,
      );
      expect(err!.message).not.toContain('s3cret-Pa55');
      expect(err!.message).not.toContain('tickdeck@');
    });

    it('rejects a database that does not exist with the server’s reason', async () => {
      const url = `postgresql://postgres:not-a-secret-pw@127.0.0.1:5432/${db.name}_missing`;
      await expect(PostgresHistoryStore.open(url)).rejects.toThrow(
        `cannot reach PostgreSQL at postgresql://127.0.0.1:5432/${db.name}_missing: database "${db.name}_missing" does not exist`,
      );
    });
  });
});
