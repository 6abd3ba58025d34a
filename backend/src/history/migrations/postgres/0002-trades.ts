import type { PgMigration } from './migration.js';

/** The tape. A symbol's trade seqs continue across restarts, so (symbol, seq) is a key. */
export default {
  version: 2,
  name: 'trades',
  sql: `
    CREATE TABLE trades (
      symbol text NOT NULL,
      seq bigint NOT NULL,
      id text NOT NULL,
      ts double precision NOT NULL,
      price double precision NOT NULL,
      size double precision NOT NULL,
      side text NOT NULL,
      PRIMARY KEY (symbol, seq)
    );
    CREATE INDEX trades_ts ON trades (symbol, ts);`,
} satisfies PgMigration;
