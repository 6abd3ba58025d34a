// The SQLite history writer: a worker thread of its own, with its own connection to the file, so
// a batch of thousands of rows (tens of milliseconds inside better-sqlite3, which is synchronous)
// never holds the gateway's event loop. The main thread's SqliteHistoryStore migrates the schema,
// reads on its own connection (WAL: readers and this writer do not block each other) and posts
// batches here packed as typed arrays (sqlite-batch.ts). One request at a time, answered in order.
import { parentPort, workerData } from 'node:worker_threads';
import type { RetentionCutoffs } from './history-store.js';
import { BAR_FIELDS, TRADE_FIELDS, type PackedBatch } from './sqlite-batch.js';
import { openSqlite, WRITER_READY, type WriterRequest, type WriterResponse } from './sqlite-db.js';

const port = parentPort;
if (port) {
  const db = openSqlite((workerData as { path: string }).path);
  const insertBar = db.prepare(`INSERT OR REPLACE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertTrade = db.prepare(`INSERT OR REPLACE INTO trades VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const upsertState = db.prepare(
    `INSERT OR REPLACE INTO symbol_state VALUES (@symbol, @ts, @last, @bid, @ask, @open, @high, @low, @volume, @dayEnd)`,
  );
  const pruneBars = db.prepare(`DELETE FROM bars WHERE symbol = ? AND interval = ? AND start < ?`);
  const pruneTrades = db.prepare(`DELETE FROM trades WHERE symbol = ? AND ts < ?`);

  const write = db.transaction((b: PackedBatch) => {
    const n = b.barNumbers;
    for (let r = 0; r < b.barSymbol.length; r++) {
      const o = r * BAR_FIELDS;
      insertBar.run(
        b.symbols[b.barSymbol[r]!],
        b.intervals[b.barInterval[r]!],
        n[o],
        n[o + 1],
        n[o + 2],
        n[o + 3],
        n[o + 4],
        n[o + 5],
        n[o + 6],
      );
    }
    const ids = new Map(b.tradeIds);
    const t = b.tradeNumbers;
    for (let r = 0; r < b.tradeSymbol.length; r++) {
      const o = r * TRADE_FIELDS;
      const symbol = b.symbols[b.tradeSymbol[r]!]!;
      const seq = t[o]!;
      const id = ids.get(r) ?? `${symbol}-${seq}`;
      insertTrade.run(symbol, seq, id, t[o + 1], t[o + 2], t[o + 3], b.tradeBuy[r] ? 'buy' : 'sell');
    }
    for (const state of b.states) upsertState.run(state);
  });

  /** One statement per symbol and interval (a primary-key range), so no single one holds the file long. */
  const prune = (cutoffs: RetentionCutoffs): number => {
    let deleted = 0;
    for (const symbol of cutoffs.symbols) {
      for (const [interval, cutoff] of Object.entries(cutoffs.bars)) {
        deleted += pruneBars.run(symbol, interval, cutoff).changes;
      }
      if (cutoffs.trades !== undefined) deleted += pruneTrades.run(symbol, cutoffs.trades).changes;
    }
    return deleted;
  };

  port.on('message', (req: WriterRequest) => {
    let res: WriterResponse;
    try {
      let result = 0;
      if (req.op === 'write') write(req.batch);
      else if (req.op === 'prune') result = prune(req.cutoffs);
      else db.close();
      res = { id: req.id, ok: true, result };
    } catch (err) {
      const e = err as Error & { code?: unknown };
      res = {
        id: req.id,
        ok: false,
        error: { message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) },
      };
    }
    port.postMessage(res);
    if (req.op === 'close') port.close();
  });
  port.postMessage(WRITER_READY);
}
