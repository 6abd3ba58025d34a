import { Logger } from '@nestjs/common';
import type { Candle, CandleInterval, Trade } from '@tickdeck/protocol';
import pg from 'pg';
import {
  closedBarsOf,
  type BarRow,
  type BarTuple,
  type HistoryBatch,
  type HistoryStore,
  type RetentionCutoffs,
  type SymbolStateRow,
  type TradeRow,
} from './history-store.js';
import { PG_MIGRATIONS } from './migrations/postgres/index.js';

/** Rows per INSERT: the columns travel as one array parameter each, so this bounds a message, not a parameter count. */
const CHUNK_ROWS = 5_000;

/** `pg_advisory_lock(key1, key2)` held while migrating: 'tick' and 'deck' in ASCII. */
const MIGRATION_LOCK = [0x7469636b, 0x6465636b] as const;

/**
 * Type parsers for this pool only (the global `pg.types` stays as other code expects it): `bigint`
 * columns (epoch ms, seqs, counts) come back as JS numbers, not strings. Every value we store is
 * a safe integer, so `Number` is exact.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A `bigint` bound: `from <= start` and `start < to` mean the same with the bound rounded up; +-Infinity clamps. */
const int8 = (x: number) => Math.min(Math.max(Math.ceil(x), -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);

/** A LIMIT: `null` is no limit (Infinity, or negative as in SQLite). */
const limitOf = (n: number) => (Number.isFinite(n) && n >= 0 ? Math.floor(n) : null);

const INSERT_BARS = `
  INSERT INTO bars (symbol, "interval", start, open, high, low, close, volume, ticks)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[],
                       $7::float8[], $8::float8[], $9::bigint[])
  ON CONFLICT (symbol, "interval", start) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, ticks = EXCLUDED.ticks`;
const INSERT_TRADES = `
  INSERT INTO trades (symbol, seq, id, ts, price, size, side)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::text[])
  ON CONFLICT (symbol, seq) DO UPDATE SET
    id = EXCLUDED.id, ts = EXCLUDED.ts, price = EXCLUDED.price, size = EXCLUDED.size, side = EXCLUDED.side`;
const UPSERT_STATES = `
  INSERT INTO symbol_state (symbol, ts, last, bid, ask, open, high, low, volume, day_end)
  SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
                       $7::float8[], $8::float8[], $9::float8[], $10::bigint[])
  ON CONFLICT (symbol) DO UPDATE SET
    ts = EXCLUDED.ts, last = EXCLUDED.last, bid = EXCLUDED.bid, ask = EXCLUDED.ask, open = EXCLUDED.open,
    high = EXCLUDED.high, low = EXCLUDED.low, volume = EXCLUDED.volume, day_end = EXCLUDED.day_end`;

/**
 * `postgresql://host:port/database` from a connection URL, without user or password. Throws
 * (without echoing the URL, which may hold a password) when it is not a PostgreSQL URL.
 */
export function describePgUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('the PostgreSQL URL is not a URL (expected postgresql://[user[:password]@]host[:port]/database)');
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') {
    throw new Error(`the PostgreSQL URL must start with postgresql:// or postgres://, not ${u.protocol}//`);
  }
  const host = u.hostname || u.searchParams.get('host') || 'localhost';
  return `postgresql://${host}:${u.port || '5432'}${u.pathname}`;
}

/** The database was migrated by a newer gateway: its message is ours, whole. */
class SchemaTooNewError extends Error {}

/** The URL's password, raw and decoded, to scrub from messages (pg's own never carry it; this is a belt). */
function passwordOf(url: string): string[] {
  const raw = new URL(url).password;
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // a badly escaped password stays as typed
  }
  return [raw, decoded].filter((p) => p.length > 0);
}

/** An error's own words (Node's connect errors to several addresses are an AggregateError with no message). */
function reasonOf(err: unknown, secrets: readonly string[]): string {
  const e = err as { message?: string; code?: string; errors?: unknown[] };
  let reason = e?.message || e?.errors?.map((x) => (x as Error)?.message).join('; ') || e?.code || String(err);
  for (const secret of secrets) reason = reason.split(secret).join('***');
  return reason;
}

/**
 * The history in a PostgreSQL database (`DATABASE_URL`) through `pg`, shared by every gateway of
 * a cluster: the feed owner writes, every node reads. Tables as in SQLite (bars, trades,
 * symbol_state) in the database's default schema, created by the versioned migrations in
 * `migrations/postgres/` under an advisory lock, so gateways starting together do not race.
 * A batch is one transaction on one connection, one `INSERT ... SELECT FROM unnest(...)` per
 * table (per {@link CHUNK_ROWS} rows), so 10,000 bars are a handful of round trips.
 *
 * The pool is small and every query is bounded in time (connect 5 s, statement 15 s on the
 * server, 20 s on the client for a server that stops answering). A connection the server ends
 * (`pg_terminate_backend`, a restart) is logged and dropped, never a crash; the queries running on
 * it reject, and the next ones open new connections.
 */
export class PostgresHistoryStore implements HistoryStore {
  readonly kind = 'postgres';
  readonly shared = true;
  private readonly logger = new Logger(PostgresHistoryStore.name);
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    readonly where: string,
  ) {}

  /** Connects, migrates and resolves to the store; rejects with the address and the reason (never a password). */
  static async open(url: string): Promise<PostgresHistoryStore> {
    const where = describePgUrl(url);
    const secret = passwordOf(url);
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 5_000,
      statement_timeout: 15_000,
      query_timeout: 20_000,
      idle_in_transaction_session_timeout: 30_000,
      keepAlive: true,
      application_name: 'tickdeck',
      types: TYPES,
    });
    const store = new PostgresHistoryStore(pool, where);
    // Idle clients emit 'error' when the server ends their connection; unhandled, that would crash.
    pool.on('error', (err) => store.logger.warn(`${where}: idle connection lost: ${reasonOf(err, secret)}`));
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      await client.query('SELECT 1');
    } catch (err) {
      client?.release(true);
      await pool.end().catch(() => {});
      throw new Error(`cannot reach PostgreSQL at ${where}: ${reasonOf(err, secret)}`, { cause: err });
    }
    try {
      await store.migrate(client);
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof SchemaTooNewError) throw err;
      throw new Error(`${where}: ${reasonOf(err, secret)}`, { cause: err });
    }
    return store;
  }

  /** Applies the missing versions in order, each in its own transaction, under the migration lock. */
  private async migrate(client: pg.PoolClient): Promise<void> {
    const onError = () => {}; // the query in flight rejects with it
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]);
      try {
        await client.query(
          `CREATE TABLE IF NOT EXISTS tickdeck_migrations (
             version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
        const { rows } = await client.query<{ version: number | null }>(
          'SELECT max(version) AS version FROM tickdeck_migrations',
        );
        const version = rows[0]?.version ?? 0;
        const known = PG_MIGRATIONS.length;
        if (version > known) {
          throw new SchemaTooNewError(`${this.where} has schema version ${version}; this gateway knows up to ${known}`);
        }
        for (const m of PG_MIGRATIONS.slice(version)) {
          await client.query('BEGIN');
          try {
            await client.query(m.sql);
            await client.query('INSERT INTO tickdeck_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => {});
            throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
          }
          this.logger.log(`${this.where}: applied migration ${m.version} (${m.name})`);
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK]).catch((err: Error) => {
          broken = err; // a connection that cannot unlock goes, and the lock with it
        });
      }
    } catch (err) {
      broken ??= err as Error;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async write(batch: HistoryBatch): Promise<void> {
    const bars = lastByKey(batch.bars, (r) => `${r.symbol}\0${r.interval}\0${r.bar.start}`);
    const trades = lastByKey(batch.trades, (r) => `${r.symbol}\0${r.trade.seq}`);
    const states = lastByKey(batch.states, (r) => r.symbol);
    if (bars.length + trades.length + states.length === 0) return;
    const client = await this.pool.connect();
    // A connection ended between two statements makes the client emit 'error' instead of
    // rejecting a query; while we hold it, that is ours to swallow (the next query rejects).
    const onError = () => {};
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      for (const chunk of chunks(bars))
        await client.query({ name: 'tickdeck-bars', text: INSERT_BARS, values: barColumns(chunk) });
      for (const chunk of chunks(trades)) {
        await client.query({ name: 'tickdeck-trades', text: INSERT_TRADES, values: tradeColumns(chunk) });
      }
      for (const chunk of chunks(states)) {
        await client.query({ name: 'tickdeck-states', text: UPSERT_STATES, values: stateColumns(chunk) });
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => {
        broken = rollbackErr; // a connection that cannot roll back is not given back to the pool
      });
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async bars(symbol: string, interval: CandleInterval, from: number, to: number, limit: number): Promise<Candle[]> {
    // Rows as arrays: no object per row from the driver.
    const { rows } = await this.pool.query<BarTuple>({
      name: 'tickdeck-bars-range',
      text: `SELECT start, open, high, low, close, volume, ticks FROM bars
             WHERE symbol = $1 AND "interval" = $2 AND start >= $3 AND start < $4 ORDER BY start DESC LIMIT $5`,
      values: [symbol, interval, int8(from), int8(to), limitOf(limit)],
      rowMode: 'array',
    });
    return closedBarsOf(rows);
  }

  async trades(symbol: string, before: number, limit: number): Promise<Trade[]> {
    const { rows } = await this.pool.query<Trade>({
      name: 'tickdeck-trades-before',
      text: `SELECT id, seq, ts, price, size, side FROM trades WHERE symbol = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
      values: [symbol, int8(before), limitOf(limit)],
    });
    return rows;
  }

  async states(): Promise<SymbolStateRow[]> {
    const { rows } = await this.pool.query<SymbolStateRow>(
      `SELECT symbol, ts, last, bid, ask, open, high, low, volume, day_end AS "dayEnd" FROM symbol_state ORDER BY symbol`,
    );
    return rows;
  }

  /** One statement per symbol and interval (a primary-key range), each its own short transaction. */
  async prune(cutoffs: RetentionCutoffs): Promise<number> {
    let n = 0;
    for (const symbol of cutoffs.symbols) {
      for (const [interval, cutoff] of Object.entries(cutoffs.bars)) {
        const res = await this.pool.query({
          name: 'tickdeck-prune-bars',
          text: `DELETE FROM bars WHERE symbol = $1 AND "interval" = $2 AND start < $3`,
          values: [symbol, interval, int8(cutoff)],
        });
        n += res.rowCount ?? 0;
      }
      if (cutoffs.trades !== undefined) {
        const res = await this.pool.query({
          name: 'tickdeck-prune-trades',
          text: `DELETE FROM trades WHERE symbol = $1 AND ts < $2`,
          values: [symbol, cutoffs.trades],
        });
        n += res.rowCount ?? 0;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** The rows with duplicate keys dropped, the last one kept: one statement may not upsert a key twice. */
function lastByKey<T>(rows: readonly T[], key: (row: T) => string): T[] {
  if (rows.length < 2) return [...rows];
  return [...new Map(rows.map((r) => [key(r), r])).values()];
}

function* chunks<T>(rows: readonly T[]): Generator<readonly T[]> {
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) yield rows.slice(i, i + CHUNK_ROWS);
}

/**
 * One column as a PostgreSQL array literal (`{1,2.5}`, `{"AAPL","b\\"c"}`), for `$n::type[]`:
 * JSON.stringify's, whose numbers are their shortest exact form (float8 and bigint read them back
 * to the same value) and whose `\"` and `\\` mean in an array literal what they mean in JSON.
 * pg would build the literal from a JS array itself at about 2.5 µs an element: 11 to 17 ms of
 * the event loop for a second of trades at 20,000 ticks/s, against about 2 ms this way.
 */
function numbers(values: readonly number[]): string {
  return `{${JSON.stringify(values).slice(1, -1)}}`;
}
function texts(values: readonly string[]): string {
  const json = JSON.stringify(values);
  // JSON's other escapes (\n, \u0001, …) mean something else in an array literal: quote by hand.
  if (!/\\[bfnrtu]/.test(json)) return `{${json.slice(1, -1)}}`;
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

function barColumns(rows: readonly BarRow[]): string[] {
  return [
    texts(rows.map((r) => r.symbol)),
    texts(rows.map((r) => r.interval)),
    numbers(rows.map((r) => r.bar.start)),
    numbers(rows.map((r) => r.bar.open)),
    numbers(rows.map((r) => r.bar.high)),
    numbers(rows.map((r) => r.bar.low)),
    numbers(rows.map((r) => r.bar.close)),
    numbers(rows.map((r) => r.bar.volume)),
    numbers(rows.map((r) => r.bar.ticks)),
  ];
}

function tradeColumns(rows: readonly TradeRow[]): string[] {
  return [
    texts(rows.map((r) => r.symbol)),
    numbers(rows.map((r) => r.trade.seq)),
    texts(rows.map((r) => r.trade.id)),
    numbers(rows.map((r) => r.trade.ts)),
    numbers(rows.map((r) => r.trade.price)),
    numbers(rows.map((r) => r.trade.size)),
    texts(rows.map((r) => r.trade.side)),
  ];
}

function stateColumns(rows: readonly SymbolStateRow[]): string[] {
  return [
    texts(rows.map((r) => r.symbol)),
    numbers(rows.map((r) => r.ts)),
    numbers(rows.map((r) => r.last)),
    numbers(rows.map((r) => r.bid)),
    numbers(rows.map((r) => r.ask)),
    numbers(rows.map((r) => r.open)),
    numbers(rows.map((r) => r.high)),
    numbers(rows.map((r) => r.low)),
    numbers(rows.map((r) => r.volume)),
    numbers(rows.map((r) => r.dayEnd)),
  ];
}
