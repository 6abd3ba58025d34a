import type { PgMigration } from './migration.js';

/**
 * Closed bars and each symbol's last state, as in SQLite. Epoch-ms bar starts and day ends are
 * `bigint`; a state's `ts` is the feed's time, which may carry a fraction of a millisecond, so it
 * is `double precision` (exactly a JS number), as are prices and volumes.
 */
export default {
  version: 1,
  name: 'bars-and-states',
  sql: `
    CREATE TABLE bars (
      symbol text NOT NULL,
      "interval" text NOT NULL,
      start bigint NOT NULL,
      open double precision NOT NULL,
      high double precision NOT NULL,
      low double precision NOT NULL,
      close double precision NOT NULL,
      volume double precision NOT NULL,
      ticks bigint NOT NULL,
      PRIMARY KEY (symbol, "interval", start)
    );
    CREATE TABLE symbol_state (
      symbol text PRIMARY KEY,
      ts double precision NOT NULL,
      last double precision NOT NULL,
      bid double precision NOT NULL,
      ask double precision NOT NULL,
      open double precision NOT NULL,
      high double precision NOT NULL,
      low double precision NOT NULL,
      volume double precision NOT NULL,
      day_end bigint NOT NULL
    );`,
} satisfies PgMigration;
