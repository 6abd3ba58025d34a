/** One version of the PostgreSQL schema: applied once, in its own transaction, in version order. */
export interface PgMigration {
  /** 1, 2, 3, ... with no gap: the version recorded in `tickdeck_migrations` once applied. */
  version: number;
  /** What it does, recorded beside the version. */
  name: string;
  /** One or more statements, run as one simple query (no parameters). */
  sql: string;
}
