import {
  CandlesSchema,
  SnapshotSchema,
  TradesSchema,
  type Candle,
  type Snapshot,
  type Trade,
} from '@tickdeck/protocol';
import { expect } from 'vitest';
import type { RunningGateway } from './gateway.js';
import { until } from './until.js';

/** What the history suites (SQLite, PostgreSQL) read from a gateway, of AAPL. */
const json = async (gw: RunningGateway, path: string) => (await fetch(`${gw.url}${path}`)).json();

export const closedBars = async (gw: RunningGateway, interval: string): Promise<Candle[]> =>
  CandlesSchema.parse(await json(gw, `/api/candles/AAPL?interval=${interval}&limit=5000`)).candles.filter(
    (c) => c.closed,
  );

export const snapshot = async (gw: RunningGateway): Promise<Snapshot> =>
  SnapshotSchema.parse(await json(gw, '/api/snapshot/AAPL'));

/** The whole tape, newest first, paged through `/api/trades` by `next`, `limit` at a time. */
export async function tape(gw: RunningGateway, limit: number): Promise<Trade[]> {
  const all: Trade[] = [];
  let before: number | undefined;
  for (;;) {
    const page = TradesSchema.parse(
      await json(gw, `/api/trades/AAPL?limit=${limit}${before === undefined ? '' : `&before=${before}`}`),
    );
    all.push(...page.trades);
    if (page.next === undefined) return all;
    before = page.next;
  }
}

/**
 * The restart test both stores must pass: a gateway from `start()` builds bars and trades; SIGKILL;
 * another from `start()` on the same store returns the bars and trades older than the write
 * interval identically, continues the day and the prices, in a new epoch, and its tape continues
 * the seqs above the restored ones.
 */
export async function expectHistoryAcrossSigkill(start: () => Promise<RunningGateway>, writeMs: number): Promise<void> {
  const first = await start();
  expect(await until(async () => (await closedBars(first, '1s')).length >= 3, 10_000)).toBe(true);
  // Let a write interval pass, then note what is older than one write interval and kill.
  await new Promise((r) => setTimeout(r, 2 * writeMs));
  const before = await snapshot(first);
  const killedAt = Date.now();
  const kept = (await closedBars(first, '1s')).filter((c) => c.start + 1000 <= killedAt - 2 * writeMs);
  expect(kept.length).toBeGreaterThanOrEqual(2);
  const keptTrades = (await tape(first, 5000)).filter((t) => t.ts <= killedAt - 2 * writeMs);
  expect(keptTrades.length).toBeGreaterThan(10);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const second = await start();
  const byStart = new Map((await closedBars(second, '1s')).map((c) => [c.start, c]));
  for (const bar of kept) expect(byStart.get(bar.start), String(bar.start)).toEqual(bar);
  // The day continues: its open and volume carry over, not the reference price and zero.
  const snap = await snapshot(second);
  expect(snap.epoch).not.toBe(before.epoch);
  expect(snap.open).toBe(before.open);
  expect(snap.volume).toBeGreaterThanOrEqual(before.volume * 0.5);
  expect(snap.volume).toBeGreaterThan(0);
  // The simulator continues from the restored price: the first bar after the restart opens
  // near the last price before it (within 2 %), not at the reference price.
  expect(await until(async () => (await closedBars(second, '1s')).some((c) => c.start >= killedAt), 5000)).toBe(true);
  const resumed = (await closedBars(second, '1s')).find((c) => c.start >= killedAt)!;
  expect(Math.abs(resumed.open - before.last) / before.last).toBeLessThan(0.02);
  // The trades before the kill page through /api/trades, identical; the new ones continue the
  // seqs (and so the ids) above them, newest first without a gap or a repeat.
  const pages = await tape(second, 7);
  const bySeq = new Map(pages.map((t) => [t.seq, t]));
  for (const t of keptTrades) expect(bySeq.get(t.seq), t.id).toEqual(t);
  const seqs = pages.map((t) => t.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
  expect(new Set(pages.map((t) => t.id)).size).toBe(pages.length);
  expect(seqs[0]).toBeGreaterThan(keptTrades[0]!.seq);
}
