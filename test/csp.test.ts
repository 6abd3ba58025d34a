import { fileURLToPath } from 'node:url';
import type { Snapshot } from '@tickdeck/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromPage, launchBrowser, publishTrades, untilPage } from './support/browser.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { requireSystemCommand } from './support/system.js';

const chromium = requireSystemCommand('chromium', 'chromium', 'CSP');
const TOKEN = 'csp-test-feed-token-0123';
const VIEWER = 'csp-test-viewer-token-0123';
/** The production build (`vite build`), which carries no test hook: what users load. */
const PRODUCTION_DASHBOARD = fileURLToPath(new URL('../frontend/dist', import.meta.url));

/** What the page's `securitypolicyviolation` listener records, and Chromium's console says. */
interface Violation {
  directive: string;
  blocked: string;
  source: string;
}

/** Records every CSP violation the page sees, from its first script on (before the dashboard's). */
const RECORD_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push({ directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile + ':' + e.lineNumber });
  });
`;

describe.skipIf(!chromium)('the dashboard under its Content-Security-Policy, in Chromium', () => {
  let browser: Browser;
  const gateways: RunningGateway[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchBrowser(chromium!);
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });
  afterAll(async () => {
    await browser?.close();
    for (const gw of gateways) await gw.stop();
  });

  async function gateway(env: Record<string, string> = {}): Promise<RunningGateway> {
    const gw = await startGateway(env);
    gateways.push(gw);
    return gw;
  }

  /** Opens `url` in a fresh context that records violations; `messages` collects Chromium's CSP console lines. */
  async function open(url: string): Promise<{ page: Page; messages: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    contexts.push(context);
    await context.addInitScript({ content: RECORD_VIOLATIONS });
    const page = await context.newPage();
    const messages: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) messages.push(m.text());
    });
    const res = await page.goto(url);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    return { page, messages };
  }

  const violations = (page: Page) => page.evaluate('window.__cspViolations') as Promise<Violation[]>;

  /** Opens the chart of `symbol` (from its watchlist row), then every chart type and interval its card offers. */
  async function openChart(page: Page, symbol: string): Promise<void> {
    const card = page.locator(`[data-chart="${symbol}"]`);
    // A first visit opens some charts by itself: the row's toggle would close this one again.
    if ((await card.count()) === 0) await page.locator(`tr[data-symbol="${symbol}"] button.toggle`).click();
    await card.locator('canvas').first().waitFor({ timeout: 10_000 });
    // Each switch fetches bars and redraws: all of it runs under the policy.
    for (const group of ['mode', 'interval']) {
      const buttons = card.locator(`[data-testid=${group}] button`);
      for (let i = 0; i < (await buttons.count()); i++) await buttons.nth(i).click();
    }
  }

  it('runs with zero violations: live quotes, a chart, a trade toast, and a refused inline script', async () => {
    const gw = await gateway({ FEED: 'both', FEED_TOKEN: TOKEN });
    const { page, messages } = await open(gw.url);
    await untilPage(page, (h) => h.connection() === 'live' && h.quoteCount('AAPL') > 3, 15_000);
    await openChart(page, 'AAPL');
    await untilPage(page, (h) => h.charts().some((c) => c.symbol === 'AAPL' && c.points >= 1), 10_000);
    const snap = (await (await fetch(`${gw.url}/api/snapshot/AAPL`)).json()) as Snapshot;
    await publishTrades(gw.url, TOKEN, [
      { symbol: 'AAPL', ts: Date.now() + 1000, price: snap.last, size: 123_456, side: 'buy' },
    ]);
    await page.getByTestId('toast').filter({ hasText: '123,456' }).waitFor({ timeout: 5000 });
    // A few more frames and redraws at the fastest tier.
    const quotes = await fromPage(page, (h) => h.quoteCount('AAPL'));
    await expect.poll(() => fromPage(page, (h) => h.quoteCount('AAPL')), { timeout: 5000 }).toBeGreaterThan(quotes + 5);

    expect(await violations(page)).toEqual([]);
    expect(messages).toEqual([]);

    // The listener hears what the policy refuses: an injected inline script is one violation.
    await page.evaluate(`{
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true';
      document.head.append(s);
    }`);
    await expect
      .poll(() => violations(page), { timeout: 3000 })
      .toEqual([expect.objectContaining({ directive: 'script-src-elem', blocked: 'inline' })]);
    expect(await page.evaluate('window.__injected')).toBeUndefined();
  });

  it('runs the production build with zero violations, token prompt included', async () => {
    const gw = await gateway({ DASHBOARD_DIR: PRODUCTION_DASHBOARD, AUTH_TOKENS: VIEWER });
    const { page, messages } = await open(gw.url);
    await page.getByTestId('token-form').locator('input').fill(VIEWER);
    await page.getByTestId('token-form').getByRole('button').click();
    await expect
      .poll(async () => (await page.getByTestId('connection').textContent()) ?? '', { timeout: 10_000 })
      .toContain('Live');
    await openChart(page, 'BTC-USD');
    // Live prices flow into the watchlist (no test hook in this build: read the page).
    const last = () => page.locator('tr[data-symbol="BTC-USD"] [data-testid=last]').textContent();
    const first = await last();
    await expect.poll(last, { timeout: 10_000 }).not.toBe(first);

    expect(await violations(page)).toEqual([]);
    expect(messages).toEqual([]);
  });

  it('serves the Swagger UI under its own policy with zero violations', async () => {
    const gw = await gateway();
    const { page, messages } = await open(`${gw.url}/api/docs`);
    await page.getByText('/api/snapshot/{symbol}').first().waitFor({ timeout: 10_000 });
    await page.getByText('/api/snapshot/{symbol}').first().click();
    await page
      .getByRole('button', { name: /try it out/i })
      .first()
      .waitFor({ timeout: 5000 });
    expect(await violations(page)).toEqual([]);
    expect(messages).toEqual([]);
  });
});
