import m0001 from './0001-bars-and-states.js';
import m0002 from './0002-trades.js';
import type { PgMigration } from './migration.js';

export type { PgMigration } from './migration.js';

/**
 * The PostgreSQL schema's versions, in order. A new version is a new module appended here; a
 * released one is never edited (databases already carry it). TypeScript modules rather than .sql
 * files because `tsc -b` copies nothing else into dist/.
 */
export const PG_MIGRATIONS: readonly PgMigration[] = [m0001, m0002];
