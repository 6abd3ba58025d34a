import type { Snapshot } from '@tickdeck/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  fromPage,
  launchBrowser,
  openDashboard,
  publishTrades,
  screenshot,
  untilPage,
  type OpenOptions,
  type PageHook,
} from './support/browser.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { requireSystemCommand } from './support/system.js';
import { until } from './support/until.js';

const chromium = requireSystemCommand('chromium', 'chromium', 'dashboard');
const TOKEN = 'dashboard-test-token-0123';

describe.skipIf(!chromium)('dashboard in Chromium against the real gateway', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  const gateways: RunningGateway[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    gateway = await startGateway({ FEED: 'both', FEED_TOKEN: TOKEN });
    gateways.push(gateway);
    browser = await launchBrowser(chromium!);
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  afterAll(async () => {
    await browser?.close();
    for (const gw of gateways) await gw.stop();
  });

  /** Opens the dashboard in a fresh context; the test's screenshot is taken in `shoot`. */
  async function open(url: string, options?: OpenOptions): Promise<Page> {
    const { context, page } = await openDashboard(browser, url, options);
    contexts.push(context);
    return page;
  }

  /** Runs `body`, then saves the page's screenshot whether or not it passed. */
  async function shoot(page: Page, name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } finally {
      await screenshot(page, name);
    }
  }

  /** The connection badge's text. */
  const connection = (page: Page) => ({
    textContent: async () => (await page.getByTestId('connection').textContent()) ?? '',
  });
  /** Each watchlist row's last price as shown, by symbol. */
  const lastPrices = async (page: Page): Promise<Record<string, string>> => {
    const rows = await page.$$eval('[data-testid=watchlist] tbody tr[data-symbol]', (trs) =>
      trs.map((tr) => [
        tr.getAttribute('data-symbol') ?? '',
        tr.querySelector('[data-testid=last]')?.textContent ?? '',
      ]),
    );
    return Object.fromEntries(
      rows.map(([symbol, last]) => [symbol, (last ?? '').replace(/[\u25B2\u25BC]/g, '').trim()]),
    );
  };
  /** Quotes of AAPL the page has applied since it loaded. */
  const aaplQuotes = (page: Page) => fromPage(page, (h) => h.quoteCount('AAPL'));
  /**
   * Quotes of AAPL the page applies within `ms`: the window an upper bound needs ("no more than N
   * arrive within ms"), timed by the page's own clock, so a stall of this process cannot stretch it.
   */
  const aaplQuotesWithin = (page: Page, ms: number) =>
    page.evaluate(
      (ms) =>
        new Promise<number>((resolve) => {
          const hook = (globalThis as unknown as { __tickdeck: PageHook }).__tickdeck;
          const before = hook.quoteCount('AAPL');
          setTimeout(() => resolve(hook.quoteCount('AAPL') - before), ms);
        }),
      ms,
    );

  it('loads and shows live within a few seconds, with charts of the first two symbols on a first visit', async () => {
    const started = Date.now();
    const page = await open(gateway.url);
    await shoot(page, 'dashboard-live', async () => {
      await expect.poll(() => connection(page).textContent(), { timeout: 5000, interval: 50 }).toContain('Live');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await page.locator('[data-testid=watchlist] tbody tr[data-symbol]').count()).toBe(20);
      await expect
        .poll(async () => (await fromPage(page, (h) => h.charts())).map((c) => [c.symbol, c.drawn > 0]), {
          timeout: 5000,
        })
        .toEqual([
          ['AAPL', true],
          ['MSFT', true],
        ]);
      await expect.poll(() => page.getByTestId('transport').textContent(), { timeout: 5000 }).toBe('websocket');
      await expect.poll(() => page.getByTestId('latency').textContent(), { timeout: 8000 }).toMatch(/^\d+ ms$/);
      await expect.poll(() => page.getByTestId('feed').textContent(), { timeout: 5000 }).toBe('live');
      expect(Object.values(await lastPrices(page)).every((p) => /^[\d,.]+$/.test(p))).toBe(true);
    });
  });

  it('moves watchlist prices within 3 s, flashing the direction with an arrow', async () => {
    const page = await open(gateway.url);
    await shoot(page, 'dashboard-prices-move', async () => {
      await expect.poll(() => connection(page).textContent(), { timeout: 10_000 }).toContain('Live');
      const before = await lastPrices(page);
      let flashes = 0;
      let moved: string[] = [];
      const movedAndFlashed = async () => {
        flashes = Math.max(flashes, await page.locator('.flash-up .tick, .flash-down .tick').count());
        const after = await lastPrices(page);
        moved = Object.keys(before).filter((symbol) => before[symbol] !== after[symbol]);
        return moved.length >= 10 && flashes > 0;
      };
      await until(movedAndFlashed, 3000);
      expect(moved.length).toBeGreaterThanOrEqual(10);
      expect(flashes).toBeGreaterThan(0);
      const arrows = await page.locator('.flash-up .tick, .flash-down .tick').allTextContents();
      expect(arrows.every((a) => a === '\u25B2' || a === '\u25BC')).toBe(true);
    });
  });

  it('opens a chart from the watchlist whose bars grow, and closes it again', async () => {
    // Not a first visit (that opens charts by itself): no chart is open.
    const page = await open(gateway.url, { prefs: { charts: [] } });
    await shoot(page, 'dashboard-chart', async () => {
      await expect.poll(() => connection(page).textContent(), { timeout: 10_000 }).toContain('Live');
      expect(await page.locator('[data-chart]').count()).toBe(0);
      await page.locator('tr[data-symbol="AAPL"] button.toggle').click();
      await page.locator('[data-chart="AAPL"] canvas').waitFor({ timeout: 5000 });
      expect(await page.locator('tr[data-symbol="AAPL"] button.toggle').getAttribute('aria-pressed')).toBe('true');
      // One bar a second at 1s.
      await page.locator('[data-chart="AAPL"] [data-interval="1s"]').click();
      await untilPage(
        page,
        (h) => h.charts().some((c) => c.symbol === 'AAPL' && c.interval === '1s' && c.points >= 2),
        10_000,
      );
      const first = (await fromPage(page, (h) => h.charts()))[0]!;
      await expect
        .poll(() => fromPage(page, (h) => h.charts()[0]?.points ?? 0), { timeout: 6000 })
        .toBeGreaterThan(first.points + 2);
      const later = (await fromPage(page, (h) => h.charts()))[0]!;
      expect(later.symbol).toBe('AAPL');
      expect(later.points).toBeGreaterThan(first.points + 2);
      expect(later.drawn).toBeGreaterThan(0);
      expect(later.xs.every((x, i) => i === 0 || x > later.xs[i - 1]!)).toBe(true);
      expect(later.xs.at(-1)!).toBeGreaterThan(first.xs.at(-1)!);
      // Every bar drawn is a bar: its high at or above its open and close, its low at or below.
      expect(later.bars.every((b) => b.low <= Math.min(b.open, b.close) && b.high >= Math.max(b.open, b.close))).toBe(
        true,
      );

      await page.locator('tr[data-symbol="AAPL"] button.toggle').click();
      await expect.poll(() => fromPage(page, (h) => h.charts().length), { timeout: 5000 }).toBe(0);
      expect(await page.locator('[data-chart]').count()).toBe(0);
    });
  });

  it('raises a toast for a large trade, puts it on the tape, and lets the toast expire', async () => {
    const page = await open(gateway.url);
    await shoot(page, 'dashboard-toast', async () => {
      await expect.poll(() => connection(page).textContent(), { timeout: 10_000 }).toContain('Live');
      const snap = (await (await fetch(`${gateway.url}/api/snapshot/AAPL`)).json()) as Snapshot;
      const ack = await publishTrades(gateway.url, TOKEN, [
        { symbol: 'AAPL', ts: Date.now() + 1000, price: snap.last, size: 123_456, side: 'sell' },
      ]);
      expect(ack).toEqual({ accepted: 1, rejected: [], rejectedCount: 0 });

      const toast = page.getByTestId('toast').filter({ hasText: 'AAPL' }).filter({ hasText: '123,456' });
      await toast.waitFor({ timeout: 5000 });
      expect(await toast.textContent()).toMatch(/Large sell/);
      await expect
        .poll(() => page.locator('[data-testid=tape] li.large').filter({ hasText: '123,456' }).count(), {
          timeout: 3000,
        })
        .toBe(1);
      await screenshot(page, 'dashboard-toast-shown');
      // Toasts live 6 s.
      await toast.waitFor({ state: 'detached', timeout: 9000 });
    });
  });

  it('changes the update rate the page sees when the tier changes, and keeps it over a reload', async () => {
    const page = await open(gateway.url);
    /** Picks a tier and waits until the gateway has confirmed it: checked, and no "switching…". */
    const pick = async (tier: number) => {
      const button = page.locator(`[data-tier="${tier}"]`);
      await button.click();
      const confirmed = async () =>
        (await button.getAttribute('aria-checked')) === 'true' && (await page.locator('.tier .pending').count()) === 0;
      await expect.poll(confirmed, { timeout: 5000 }).toBe(true);
    };
    /** At least 15 quotes of AAPL within 3 s: most of 30 at 100 ms. */
    const fastWithin3s = async () => {
      const before = await aaplQuotes(page);
      await expect.poll(async () => (await aaplQuotes(page)) - before, { timeout: 3000 }).toBeGreaterThanOrEqual(15);
    };
    await shoot(page, 'dashboard-tier', async () => {
      await expect.poll(() => connection(page).textContent(), { timeout: 10_000 }).toContain('Live');
      await pick(1000);
      // AAPL ticks ~20 times a second: at most one quote per second at 1000 ms (4 in 3 s with slack).
      const slow = await aaplQuotesWithin(page, 3000);
      expect(slow).toBeGreaterThanOrEqual(1);
      expect(slow).toBeLessThanOrEqual(4);
      await pick(100);
      await fastWithin3s();
      expect(await page.locator('[data-tier="100"]').getAttribute('aria-checked')).toBe('true');

      await page.locator('th[aria-sort] button', { hasText: 'Chg %' }).click();
      // The first visit opened AAPL and MSFT: open NVDA as well, at 5m.
      await page.locator('tr[data-symbol="NVDA"] button.toggle').click();
      await page.locator('[data-chart="NVDA"] [data-interval="5m"]').click();
      await page.reload();
      await expect.poll(() => connection(page).textContent(), { timeout: 10_000 }).toContain('Live');
      expect(await page.locator('[data-tier="100"]').getAttribute('aria-checked')).toBe('true');
      expect(await page.locator('th', { hasText: 'Chg %' }).getAttribute('aria-sort')).toBe('descending');
      await page.locator('[data-chart="NVDA"] canvas').waitFor({ timeout: 5000 });
      expect(await page.locator('[data-chart="NVDA"] [data-interval="5m"]').getAttribute('aria-checked')).toBe('true');
      expect(
        await page.locator('[data-chart]').evaluateAll((els) => els.map((e) => e.getAttribute('data-chart'))),
      ).toEqual(['AAPL', 'MSFT', 'NVDA']);
      await fastWithin3s();
    });
  });

  it('says so at once when the gateway stops, and continues the chart after it is back on the same port', async () => {
    const own = await startGateway({});
    gateways.push(own);
    const page = await open(own.url, { prefs: { charts: [{ symbol: 'BTC-USD', interval: '1s' }], tierMs: 250 } });
    await shoot(page, 'dashboard-reconnect', async () => {
      await expect.poll(() => connection(page).textContent(), { timeout: 10_000 }).toContain('Live');
      await untilPage(page, (h) => (h.charts()[0]?.points ?? 0) >= 5, 15_000);
      const before = (await fromPage(page, (h) => h.charts()))[0]!;

      await own.stop();
      await expect
        .poll(() => connection(page).textContent(), { timeout: 3000, interval: 50 })
        .toMatch(/Reconnecting|Offline/);
      await page.getByTestId('banner').waitFor({ timeout: 1000 });
      await page.getByTestId('stale').waitFor({ timeout: 1000 });
      // The last values stay on screen, marked stale.
      expect(Object.values(await lastPrices(page)).every((p) => p !== '\u2014')).toBe(true);
      await screenshot(page, 'dashboard-reconnect-down');

      const again = await startGateway({ PORT: String(own.port) });
      gateways.push(again);
      await expect.poll(() => connection(page).textContent(), { timeout: 20_000, interval: 100 }).toContain('Live');
      expect(await page.getByTestId('banner').count()).toBe(0);
      await untilPage(page, (h) => (h.charts()[0]?.xs.length ?? 0) > 0, 5000);
      const resumedAt = (await fromPage(page, (h) => h.charts()))[0]!.points;
      await expect
        .poll(() => fromPage(page, (h) => h.charts()[0]?.points ?? 0), { timeout: 3000 })
        .toBeGreaterThan(resumedAt);
      const after = (await fromPage(page, (h) => h.charts()))[0]!;
      expect(after.symbol).toBe('BTC-USD');
      expect(after.points).toBeGreaterThan(resumedAt);
      expect(after.xs.at(-1)!).toBeGreaterThan(before.xs.at(-1)!);
      // No duplicate or backwards point anywhere in the line.
      expect(after.xs.every((x, i) => i === 0 || x > after.xs[i - 1]!)).toBe(true);
    });
  });

  it('asks for the viewer token when the gateway requires one, then goes live with it', async () => {
    const VIEWER = 'viewer-token-for-the-page';
    const guarded = await startGateway({ AUTH_TOKENS: VIEWER });
    gateways.push(guarded);
    const page = await open(guarded.url);
    await shoot(page, 'dashboard-token', async () => {
      await page.getByTestId('token-form').waitFor({ timeout: 5000 });
      expect(await connection(page).textContent()).toMatch(/Offline/);
      expect(await page.locator('[data-testid=watchlist] tbody tr[data-symbol]').count()).toBe(0);
      await page.getByTestId('token-form').locator('input').fill(VIEWER);
      await page.getByTestId('token-form').getByRole('button').click();
      await expect.poll(() => connection(page).textContent(), { timeout: 5000, interval: 50 }).toContain('Live');
      // REST works with the stored token too: the watchlist came from GET /api/symbols.
      expect(await page.locator('[data-testid=watchlist] tbody tr[data-symbol]').count()).toBe(20);
      expect(await page.getByTestId('token-form').count()).toBe(0);
      // The token never travels in a URL.
      expect(page.url()).not.toContain(VIEWER);
    });
  });

  it("offers the gateway's own tiers (THROTTLE_TIERS_MS), not the protocol's defaults", async () => {
    const custom = await startGateway({ THROTTLE_TIERS_MS: '50,500', DEFAULT_THROTTLE_MS: '500' });
    gateways.push(custom);
    const page = await open(custom.url);
    await shoot(page, 'dashboard-custom-tiers', async () => {
      await expect.poll(() => connection(page).textContent(), { timeout: 5000, interval: 50 }).toContain('Live');
      await expect
        .poll(() => page.$$eval('[data-tier]', (bs) => bs.map((b) => b.getAttribute('data-tier'))), { timeout: 5000 })
        .toEqual(['50', '500']);
      // The saved default (250 ms) is not offered here: the gateway's default is in force and shown.
      expect(await page.locator('[data-tier="500"]').getAttribute('aria-checked')).toBe('true');
      await page.locator('[data-tier="50"]').click();
      await expect
        .poll(() => page.locator('[data-tier="50"]').getAttribute('aria-checked'), { timeout: 3000 })
        .toBe('true');
      const before = await aaplQuotes(page);
      // 50 ms: within 2 s far more than the 500 ms tier's at most 4-5.
      await expect.poll(async () => (await aaplQuotes(page)) - before, { timeout: 2000 }).toBeGreaterThan(10);
    });
  });
});
