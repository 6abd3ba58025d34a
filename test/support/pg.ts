import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the suites use: the local PostgreSQL, superuser `postgres`, trust auth (what .ci/run sets up). */
export const PG_ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A database a suite created for itself, and the means to get rid of it. */
export interface TestDatabase {
  /** `tickdeck_test_<random>`. */
  name: string;
  /** Its connection URL, as `DATABASE_URL` would carry it. */
  url: string;
  /** Runs one statement in the admin database (`postgres`), e.g. to look at `pg_stat_activity`. */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Runs one statement in this database, on a connection of its own that is closed after. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Ends every other session on this database (`pg_terminate_backend`); resolves to how many. */
  terminate(): Promise<number>;
  /** Ends its sessions, then drops it. Safe to call twice. */
  drop(): Promise<void>;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 3_000,
    application_name: 'tickdeck-test',
  });
  client.on('error', () => {}); // a session ended under us: the query in flight rejects
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Whether the suites' PostgreSQL answers. Unreachable: under `CI=true` it throws, so the run fails;
 * otherwise it warns loudly and returns false, and the suite skips (as requireSystemCommand does).
 */
export async function requirePostgres(suite: string): Promise<boolean> {
  try {
    await withClient(PG_ADMIN_URL, (c) => c.query('SELECT 1'));
    return true;
  } catch (err) {
    const message = `${suite}: no PostgreSQL at ${PG_ADMIN_URL} (${(err as Error).message || (err as { code?: string }).code}; Debian package \`postgresql\`; .ci/run installs and starts it)`;
    if (process.env.CI === 'true')
      throw new Error(`${message}: CI=true, so this fails instead of skipping`, { cause: err });
    console.warn(`\n!!! SKIPPING ${message}\n`);
    return false;
  }
}

/** Creates a fresh, empty `tickdeck_test_<random>` database; never touches any other. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tickdeck_test_${randomBytes(6).toString('hex')}`;
  const admin = <R extends pg.QueryResultRow>(sql: string, values?: unknown[]) =>
    withClient(PG_ADMIN_URL, async (c) => (await c.query<R>(sql, values)).rows);
  await admin(`CREATE DATABASE ${name}`);
  const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
  const terminate = async () => {
    const rows = await admin<{ ended: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    return rows.filter((r) => r.ended).length;
  };
  let dropped = false;
  return {
    name,
    url,
    admin,
    query: (sql, values) => withClient(url, async (c) => (await c.query(sql, values)).rows),
    terminate,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await terminate();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
