import Database from 'better-sqlite3';
import type { RetentionCutoffs } from './history-store.js';
import type { PackedBatch } from './sqlite-batch.js';

/**
 * Opens the history file with the settings every connection to it uses: WAL, so the writer
 * thread's transactions never block the main thread's reads; `synchronous = NORMAL`, durable at
 * each checkpoint and never corrupt (a crash loses at most the last transactions, inside the
 * write interval the README states); a busy timeout for the moments both touch the WAL index.
 */
export function openSqlite(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** A failure the writer thread reports: the driver's message and SQLite's code (SQLITE_READONLY, …). */
export interface WriterFailure {
  message: string;
  code?: string;
}

/** What the store asks of the writer. */
export type WriterRequest =
  | { id: number; op: 'write'; batch: PackedBatch }
  | { id: number; op: 'prune'; cutoffs: RetentionCutoffs }
  | { id: number; op: 'close' };

/** The writer's answer to a request: `result` is the rows a prune deleted. */
export type WriterResponse = { id: number; ok: true; result: number } | { id: number; ok: false; error: WriterFailure };

/** Posted once the connection is open and the statements prepared. */
export const WRITER_READY = 'ready';
