import type { ChildProcess } from 'node:child_process';
import type { Snapshot } from '@tickdeck/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openDashboard, screenshot } from './support/browser.js';
import { freePort, getJson } from './support/cluster.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { requireSystemCommand } from './support/system.js';
import { until } from './support/until.js';

const chromium = requireSystemCommand('chromium', 'chromium', 'dashboard (epoch)');
/**
 * Few trades (about 12 a second in all), so the 80-line tape takes seconds to turn over and lines
 * of the old run could not scroll off before the test reads them. The simulator's seed is fixed:
 * the new run reaches the old run's seqs after about as long as the old one ran.
 */
const FEED = { FEED_RATE: '400', FEED_TRADE_PROBABILITY: '0.03' };
const CHART = 'BTC-USD';

/** A trade-tape line as the page hook reports it (frontend/src/lib/test-hook.ts `tapeEntries`). */
type TapeLine =
  { kind: 'trade'; symbol: string; id: string; seq: number; ts: number } | { kind: 'gap' | 'restart'; ts: number };

/** Reads the page hook; `expr` is evaluated in the page with `h` bound to `window.__tickdeck`. */
function hook<T>(page: Page, expr: string): Promise<T> {
  return page.evaluate(`((h) => ${expr})(window.__tickdeck)`) as Promise<T>;
}

const tape = (page: Page) => hook<TapeLine[]>(page, 'h.tapeEntries()');
const trades = async (page: Page) => (await tape(page)).flatMap((e) => (e.kind === 'trade' ? [e] : []));
const epochOf = (page: Page) => hook<string | undefined>(page, 'h.epoch()');
const chartXs = (page: Page) => hook<number[]>(page, `h.charts().find((c) => c.symbol === '${CHART}')?.xs ?? []`);
const live = async (page: Page) => (await hook<string>(page, 'h.connection()')) === 'live';

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe.skipIf(!chromium)('dashboard across a SIGKILL restart of its gateway (a new epoch)', () => {
  let browser: Browser;
  const gateways: RunningGateway[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchBrowser(chromium!);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await Promise.all(gateways.map((g) => g.stop()));
  });

  it('shows only the new run on the tape and the chart once back, though its seqs passed the old ones, and is live', async () => {
    const port = await freePort();
    const first = await startGateway({ PORT: String(port), ...FEED });
    gateways.push(first);
    const { context, page } = await openDashboard(browser, first.url, {
      prefs: { charts: [{ symbol: CHART, interval: '1s' }], tierMs: 250 },
    });
    contexts.push(context);
    try {
      expect(await until(() => live(page), 10_000), 'the page did not go live').toBe(true);
      const followed = await until(
        async () => (await trades(page)).length >= 15 && (await chartXs(page)).length >= 5,
        20_000,
      );
      expect(followed, 'no trades on the tape or no chart points').toBe(true);
      const oldEpoch = await epochOf(page);
      expect(oldEpoch).toBe((await getJson<{ epoch: string }>(`${first.url}/api/health`)).epoch);

      // Keep the page away while the gateway is down, so that it comes back only once the new
      // run's trade seqs are past everything it holds: then no seq rule can tell the runs apart.
      await context.setOffline(true);
      const oldSeqs = new Map(
        (await getJson<Snapshot[]>(`${first.url}/api/snapshot`)).map((s) => [s.symbol, s.tradeSeq]),
      );
      first.child.kill('SIGKILL');
      await exited(first.child);
      expect(await until(async () => !(await live(page)), 5000), 'the page did not notice').toBe(true);
      const oldXs = await chartXs(page);
      expect(oldXs.length).toBeGreaterThanOrEqual(5);

      const restartedAt = Date.now();
      const second = await startGateway({ PORT: String(port), ...FEED });
      gateways.push(second);
      expect(second.port).toBe(port);
      const passed = await until(async () => {
        const snaps = await getJson<Snapshot[]>(`${second.url}/api/snapshot`);
        return snaps.every((s) => s.tradeSeq > (oldSeqs.get(s.symbol) ?? 0));
      }, 40_000);
      expect(passed, 'the new run did not pass the old trade seqs').toBe(true);
      expect(await live(page), 'the page got through while it was held off').toBe(false);
      await context.setOffline(false);

      const newEpoch = (await getJson<{ epoch: string }>(`${second.url}/api/health`)).epoch;
      expect(newEpoch).not.toBe(oldEpoch);
      expect(await until(() => live(page), 20_000), 'the page did not go live again').toBe(true);
      // Live means the ack is applied: from that moment on, nothing of the old run is on the tape.
      const atAck = await trades(page);
      expect(
        atAck.filter((t) => t.ts < restartedAt),
        'trades of the old run on the tape',
      ).toEqual([]);
      expect(await epochOf(page)).toBe(newEpoch);
      const refilled = await until(
        async () => (await trades(page)).length >= 5 && (await chartXs(page)).length >= 3,
        20_000,
      );
      expect(refilled, 'the tape or the chart did not fill again').toBe(true);

      // Every line is the new run's: its feed time is after the restart, and its seq one the new
      // run has reached. The restart is marked once; nothing of the old run is left beside it.
      const lines = await tape(page);
      const now = new Map((await getJson<Snapshot[]>(`${second.url}/api/snapshot`)).map((s) => [s.symbol, s.tradeSeq]));
      const tradeLines = lines.flatMap((e) => (e.kind === 'trade' ? [e] : []));
      const stale = tradeLines.filter((t) => t.ts < restartedAt || t.seq > now.get(t.symbol)!);
      expect(stale, 'trades of the old run on the tape').toEqual([]);
      expect(new Set(tradeLines.map((t) => `${t.symbol}:${t.id}`)).size).toBe(tradeLines.length);
      expect(lines.filter((e) => e.kind !== 'trade')).toEqual([{ kind: 'restart', ts: expect.any(Number) }]);
      expect(lines.every((e) => e.ts >= restartedAt)).toBe(true);

      // The chart was drawn again from the new run: no point from before the restart.
      const xs = await chartXs(page);
      const firstSecond = restartedAt - (restartedAt % 1000);
      expect(oldXs[0]!).toBeLessThan(firstSecond);
      expect(
        xs.filter((x) => x < firstSecond),
        'chart points of the old run',
      ).toEqual([]);
      expect(xs.every((x, i) => i === 0 || x > xs[i - 1]!)).toBe(true);

      // And live: quotes keep coming.
      const count = () => hook<number>(page, `h.quoteCount('${CHART}')`);
      const before = await count();
      expect(await until(async () => (await count()) > before + 2, 5000), 'no quotes after the restart').toBe(true);
    } finally {
      await screenshot(page, 'dashboard-epoch');
    }
  }, 90_000);
});
