import { CandlesSchema, SnapshotSchema, type Candle, type Snapshot } from '@tickdeck/protocol';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

const WRITE_MS = 300;
const dirs: string[] = [];
const gateways: RunningGateway[] = [];
afterAll(async () => {
  for (const gw of gateways) await gw.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tickdeck-history-'));
  dirs.push(d);
  return d;
}

async function start(dir: string): Promise<RunningGateway> {
  const gw = await startGateway({
    HISTORY_STORE: 'sqlite',
    DATA_DIR: dir,
    HISTORY_WRITE_MS: String(WRITE_MS),
    FEED_RATE: '2000',
  });
  gateways.push(gw);
  return gw;
}

const json = async (gw: RunningGateway, path: string) => (await fetch(`${gw.url}${path}`)).json();
const closedBars = async (gw: RunningGateway, interval: string): Promise<Candle[]> =>
  CandlesSchema.parse(await json(gw, `/api/candles/AAPL?interval=${interval}&limit=5000`)).candles.filter(
    (c) => c.closed,
  );
const snapshot = async (gw: RunningGateway): Promise<Snapshot> =>
  SnapshotSchema.parse(await json(gw, '/api/snapshot/AAPL'));

describe('history in SQLite across a SIGKILL', () => {
  it('keeps the bars older than the write interval, identical, and continues the day; a new epoch', async () => {
    const dir = dataDir();
    const first = await start(dir);
    expect(await until(async () => (await closedBars(first, '1s')).length >= 3, 10_000)).toBe(true);
    // Let a write interval pass, then note what is older than one write interval and kill.
    await new Promise((r) => setTimeout(r, 2 * WRITE_MS));
    const before = await snapshot(first);
    const killedAt = Date.now();
    const kept = (await closedBars(first, '1s')).filter((c) => c.start + 1000 <= killedAt - 2 * WRITE_MS);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await start(dir);
    const after = await closedBars(second, '1s');
    const byStart = new Map(after.map((c) => [c.start, c]));
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
  });

  it('stops at start with a message naming DATA_DIR when the store cannot be opened', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'tickdeck.db'), 'this is not a database, just some text long enough to be read');
    await expect(start(dir)).rejects.toThrow(/DATA_DIR=.*cannot open the history store/s);
  });
});
