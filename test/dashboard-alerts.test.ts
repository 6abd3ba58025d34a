import { AxeBuilder } from '@axe-core/playwright';
import type { FeedTick, Snapshot } from '@tickdeck/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPublisher,
  fromPage,
  launchBrowser,
  PREFS_KEY,
  screenshot,
  untilPage,
  type PageHook,
  type Publisher,
} from './support/browser.js';
import { sleep, startGateway, type RunningGateway } from './support/gateway.js';
import { requireSystemCommand } from './support/system.js';

const chromium = requireSystemCommand('chromium', 'chromium', 'dashboard alerts');
const TOKEN = 'dashboard-alerts-token-0123';
const PER_VIEWER = 3;
/** Where the dashboard keeps its alerts (frontend/src/lib/alerts.svelte.ts). */
const ALERTS_KEY = 'tickdeck.alerts.v1';
/** Symbols the test's publisher keeps ticking, and the price each holds (±2 cents). */
const BASE: Record<string, number> = { AAPL: 228, MSFT: 417 };

/** A page alert as the hook reports it (frontend/src/lib/alerts.svelte.ts `PageAlert`). */
interface PageAlert {
  spec: {
    id: string;
    symbol: string;
    condition: { kind: 'above' | 'below'; level: number } | { kind: 'move'; pct: number };
    note?: string;
    rearm: boolean;
    hysteresis: number;
  };
  status: 'armed' | 'waiting' | 'pending' | 'fired' | 'refused';
  fired?: { price: number; ts: number; seq: number; offline: boolean };
  count: number;
}

/** A level as the chart's alert-levels plugin drew it (frontend/src/lib/chart/alert-levels.ts `DrawnLevel`). */
interface DrawnLevel {
  id: string;
  price: number;
  kind: string;
  active: boolean;
  y: number;
  inView: boolean;
}

/** The page hook with the alert views (frontend/src/lib/test-hook.ts). */
interface AlertsHook extends PageHook {
  alerts(): PageAlert[];
  alertLevels(symbol: string): DrawnLevel[] | undefined;
  axisPoint(symbol: string, price: number): { x: number; y: number } | undefined;
  alertsSeen(): number | undefined;
  notifications(): { shown: number; beeps: number; permission: string };
}

/** Evaluates `expression` in the page (source: the tests are type-checked without the DOM's types). */
const inPage = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;
const focusedOn = (page: Page, selector: string) =>
  inPage<boolean>(page, `document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`);

const inHook = <T>(page: Page, fn: (hook: AlertsHook) => T): Promise<T> =>
  fromPage(page, fn as unknown as (hook: PageHook) => T);

/** One socket.io event or ack on the page's `/market` WebSocket. */
interface Packet {
  kind: 'event' | 'ack';
  /** The event's name; for an ack, the name of the event it answers. */
  event: string;
  payload: unknown;
}

/** Every event the page sends and every ack it gets on `/market`, acks matched to their events by id. */
function recordSocket(page: Page): Packet[] {
  const packets: Packet[] = [];
  const names = new Map<string, string>();
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => {
      const m = /^42\/market,(\d*)(\[.*)$/s.exec(String(f.payload));
      if (!m) return;
      const [event, payload] = JSON.parse(m[2]!) as [string, unknown];
      if (m[1]) names.set(m[1], event);
      packets.push({ kind: 'event', event, payload });
    });
    ws.on('framereceived', (f) => {
      const m = /^43\/market,(\d+)(\[.*)$/s.exec(String(f.payload));
      if (!m) return;
      const [payload] = JSON.parse(m[2]!) as [unknown];
      packets.push({ kind: 'ack', event: names.get(m[1]!) ?? '?', payload });
    });
  });
  return packets;
}

const price2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const round2 = (x: number) => Math.round(x * 100) / 100;

describe.skipIf(!chromium)('price alerts on the dashboard in Chromium against the real gateway', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  let publisher: Publisher;
  let ticking: ReturnType<typeof setInterval> | undefined;
  const contexts: BrowserContext[] = [];
  let lastTs = 0;
  let busy = false;
  let paused = false;

  const tickOf = (symbol: string, price: number): FeedTick => {
    const ts = (lastTs = Math.max(Date.now(), lastTs + 1));
    const p = round2(price);
    return { symbol, ts, last: p, bid: round2(p - 0.01), ask: round2(p + 0.01), volume: 3 };
  };
  /** The held prices, each a cent or two off, so the bars move but never near an alert's level. */
  const steady = () => Object.keys(BASE).map((s) => tickOf(s, BASE[s]! + (Math.random() - 0.5) * 0.04));

  beforeAll(async () => {
    gateway = await startGateway({
      FEED: 'external',
      FEED_TOKEN: TOKEN,
      MAX_ALERTS_PER_VIEWER: String(PER_VIEWER),
    });
    publisher = await connectPublisher(gateway.url, TOKEN);
    await publisher.ticks(steady());
    ticking = setInterval(() => {
      if (busy || paused) return;
      busy = true;
      publisher
        .ticks(steady())
        .catch((err: unknown) => console.warn(`live ticks: ${String(err)}`))
        .finally(() => (busy = false));
    }, 150);
    browser = await launchBrowser(chromium!);
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  afterAll(async () => {
    clearInterval(ticking);
    publisher?.close();
    await browser?.close();
    await gateway?.stop();
  });

  /** A fresh context (empty storage) with the AAPL 1s chart open and AAPL, MSFT on the watchlist. */
  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    contexts.push(context);
    const prefs = { watchlist: ['AAPL', 'MSFT'], charts: [{ symbol: 'AAPL', interval: '1s' }], tierMs: 100 };
    const [key, value] = [JSON.stringify(PREFS_KEY), JSON.stringify(JSON.stringify(prefs))];
    await context.addInitScript({
      content: `if (localStorage.getItem(${key}) === null) localStorage.setItem(${key}, ${value});`,
    });
    return context;
  }

  async function openPage(context: BrowserContext): Promise<{ page: Page; packets: Packet[] }> {
    const page = await context.newPage();
    const packets = recordSocket(page);
    await page.goto(gateway.url);
    await untilPage(page, (h) => h.connection() === 'live', 10_000);
    await untilPage(page, (h) => (h.charts().find((c) => c.symbol === 'AAPL')?.drawn ?? 0) >= 2, 10_000);
    return { page, packets };
  }

  /** Runs `body`, then saves a screenshot of the page (`page()`: the one open then) whether or not it passed. */
  async function shoot(page: Page | (() => Page), name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } finally {
      await screenshot(typeof page === 'function' ? page() : page, name);
    }
  }

  /** Runs `body` with the steady ticks stopped, once the batch in flight is applied. */
  async function quiet<T>(body: () => Promise<T>): Promise<T> {
    paused = true;
    try {
      while (busy) await sleep(10);
      return await body();
    } finally {
      paused = false;
    }
  }

  const snapshot = async (symbol: string) =>
    (await (await fetch(`${gateway.url}/api/snapshot/${symbol}`)).json()) as Snapshot;

  /** Sets an alert from `symbol`'s watchlist row by keyboard alone: the bell, the form, Enter. */
  async function setFromRow(page: Page, symbol: string, level: number, note?: string): Promise<void> {
    await page.locator(`tr[data-symbol="${symbol}"] [data-alert]`).focus();
    await page.keyboard.press('Enter');
    const form = page.getByTestId('alert-form');
    await form.waitFor({ timeout: 3000 });
    // The form opens with the focus on its first field.
    expect(await focusedOn(page, '[data-testid=alert-form] [data-field=kind]')).toBe(true);
    await form.locator('[data-field=level]').fill(String(level));
    if (note) await form.locator('[data-field=note]').fill(note);
    await form.locator('[data-field=level]').press('Enter');
  }

  const serious = async (page: Page) =>
    (await new AxeBuilder({ page }).analyze()).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));

  it('sets an alert from a watchlist row, draws its level, and on a crossing through /feed toasts and marks it fired', async () => {
    const context = await newContext();
    const { page, packets } = await openPage(context);
    await shoot(page, 'dashboard-alert-fired', async () => {
      const level = round2(BASE.AAPL! + 1.5);
      await setFromRow(page, 'AAPL', level, 'breakout');
      await page.getByTestId('alert-form').waitFor({ state: 'detached', timeout: 5000 });
      // The focus goes back to the row's bell, which now counts the alert.
      expect(await focusedOn(page, 'tr[data-symbol="AAPL"] [data-alert]')).toBe(true);
      expect(await page.locator('tr[data-symbol="AAPL"] [data-alert]').getAttribute('aria-label')).toBe(
        'Set an alert on AAPL (1 set)',
      );
      await expect
        .poll(() => inHook(page, (h) => h.alerts().map((a) => a.status)), { timeout: 5000 })
        .toEqual(['armed']);
      const [alert] = await inHook(page, (h) => h.alerts());
      expect(alert!.spec).toEqual({
        id: alert!.spec.id,
        symbol: 'AAPL',
        condition: { kind: 'above', level },
        note: 'breakout',
        rearm: false,
        hysteresis: 0,
      });
      // What went over the socket, and what the gateway answered.
      const set = packets.find((p) => p.kind === 'event' && p.event === 'alert:set')!;
      expect(set.payload).toEqual({ alerts: [alert!.spec] });
      expect(packets.find((p) => p.kind === 'ack' && p.event === 'alert:set')!.payload).toMatchObject({
        ok: true,
        alerts: [{ id: alert!.spec.id, state: 'armed', fired: 0 }],
        offline: [],
      });

      // The level is drawn on the open chart, within the price axis, where the axis puts that price.
      await expect
        .poll(() => inHook(page, (h) => h.alertLevels('AAPL')?.map((l) => [l.id, l.price, l.active, l.inView])), {
          timeout: 5000,
        })
        .toEqual([[alert!.spec.id, level, true, true]]);
      const drawn = (await inHook(page, (h) => h.alertLevels('AAPL')))![0]!;
      const axisAt = await page.evaluate(
        ({ level }) => (globalThis as unknown as { __tickdeck: AlertsHook }).__tickdeck.axisPoint('AAPL', level),
        { level },
      );
      const canvasTop = await page.locator('[data-chart="AAPL"] canvas').evaluate((c) => c.getBoundingClientRect().top);
      expect(Math.abs(axisAt!.y - canvasTop - drawn.y)).toBeLessThanOrEqual(1);
      expect(await serious(page)).toEqual([]);

      // A spike through the level and straight back, in one batch: faster than any quote.
      const spike = round2(level + 0.37);
      const before = await quiet(async () => {
        const snap = await snapshot('AAPL');
        await publisher.ticks([tickOf('AAPL', BASE.AAPL!), tickOf('AAPL', spike), tickOf('AAPL', BASE.AAPL!)]);
        return snap;
      });
      await expect
        .poll(() => inHook(page, (h) => h.toasts().filter((t) => t.title.includes('AAPL above'))), { timeout: 5000 })
        .toEqual([
          {
            title: `\u{1F514} AAPL above ${price2.format(level)}`,
            body: expect.stringMatching(new RegExp(`^Crossed at ${price2.format(spike)} \\(.*\\) \u00B7 breakout$`)),
          },
        ]);
      const [after] = await inHook(page, (h) => h.alerts());
      expect(after).toMatchObject({ status: 'fired', count: 1, fired: { price: spike, offline: false } });
      // The crossing tick itself: the second of the three.
      expect(after!.fired!.seq).toBe(before.seq + 2);
      const entry = page.locator(`[data-testid=alerts] [data-alert-id="${alert!.spec.id}"]`);
      expect(await entry.getAttribute('data-status')).toBe('fired');
      expect(await entry.locator('[data-field=status]').textContent()).toBe('fired');
      expect(await entry.locator('[data-field=fired-price]').textContent()).toBe(price2.format(spike));
      expect(await entry.locator('[data-field=offline]').count()).toBe(0);
      // A fired one-shot stays drawn, faint; the gateway no longer holds it.
      await expect
        .poll(() => inHook(page, (h) => h.alertLevels('AAPL')?.map((l) => l.active)), { timeout: 3000 })
        .toEqual([false]);
      expect(await page.locator('tr[data-symbol="AAPL"] [data-alert]').getAttribute('aria-label')).toBe(
        'Set an alert on AAPL',
      );
      // The page is in view: no browser notification, and no sound (off by default).
      expect(await inHook(page, (h) => h.notifications())).toMatchObject({ shown: 0, beeps: 0 });
      expect(await serious(page)).toEqual([]);

      // Re-arm from the list: set again at the gateway, armed.
      await entry.getByRole('button', { name: /Re-arm/ }).click();
      await expect.poll(() => entry.getAttribute('data-status'), { timeout: 5000 }).toBe('armed');
      await expect
        .poll(() => packets.filter((p) => p.kind === 'ack' && p.event === 'alert:set').length, { timeout: 3000 })
        .toBe(2);
      // And delete: gone from the list, the chart and the gateway.
      await entry.getByRole('button', { name: /Delete/ }).click();
      await expect.poll(() => inHook(page, (h) => h.alerts().length), { timeout: 3000 }).toBe(0);
      await expect.poll(() => inHook(page, (h) => h.alertLevels('AAPL')?.length), { timeout: 3000 }).toBe(0);
      await expect
        .poll(() => packets.find((p) => p.kind === 'ack' && p.event === 'alert:clear')?.payload, { timeout: 3000 })
        .toEqual({ ok: true, ids: [alert!.spec.id] });
    });
  });

  it('sets an alert at the price clicked on the price axis; after a reload the list is back and registered again', async () => {
    const context = await newContext();
    const first = await openPage(context);
    let page = first.page;
    await shoot(
      () => page,
      'dashboard-alert-axis',
      async () => {
        // A bar reaching 228.60 puts that much on the price axis; a price between it and the last
        // price (228) is on the axis and above the last: "crosses above".
        await publisher.ticks([tickOf('AAPL', BASE.AAPL! + 0.6), tickOf('AAPL', BASE.AAPL!)]);
        await untilPage(
          page,
          (h) => h.charts().some((c) => c.symbol === 'AAPL' && c.bars.some((b) => b.high >= 228.6)),
          5000,
        );
        const target = round2(BASE.AAPL! + 0.4);
        // The offline check after the reload reads 1-second bars from the one holding the page's
        // last-seen time: let the bar with 228.60 close first, or it would count as a crossing.
        await sleep(1300);
        const point = await page.evaluate(
          ({ target }) => (globalThis as unknown as { __tickdeck: AlertsHook }).__tickdeck.axisPoint('AAPL', target),
          { target },
        );
        expect(point).toBeDefined();
        await page.mouse.click(point!.x, point!.y);
        await expect
          .poll(() => inHook(page, (h) => h.alerts().map((a) => a.status)), { timeout: 5000 })
          .toEqual(['armed']);
        const [alert] = await inHook(page, (h) => h.alerts());
        const c = alert!.spec.condition as { kind: string; level: number };
        expect(c.kind).toBe('above');
        // At the tick size, within a pixel or two of the price clicked.
        expect(c.level).toBe(round2(c.level));
        expect(Math.abs(c.level - target)).toBeLessThanOrEqual(0.01);
        expect(await page.getByTestId('alerts-notice').textContent()).toBe(
          `Alert set: AAPL above ${price2.format(c.level)}`,
        );
        await expect
          .poll(() => inHook(page, (h) => h.alertLevels('AAPL')?.map((l) => [l.price, l.active])), { timeout: 3000 })
          .toEqual([[c.level, true]]);
        // A second, from MSFT's row: below.
        await setFromRow(page, 'MSFT', round2(BASE.MSFT! - 2));
        await expect.poll(() => inHook(page, (h) => h.alerts().length), { timeout: 5000 }).toBe(2);
        await expect
          .poll(() => inHook(page, (h) => h.alerts().map((a) => a.status)), { timeout: 5000 })
          .toEqual(['armed', 'armed']);
        const before = await inHook(page, (h) => h.alerts());
        // A level under the last price sets "crosses below" unless the user chose otherwise.
        expect(before[1]!.spec).toMatchObject({
          symbol: 'MSFT',
          condition: { kind: 'below', level: round2(BASE.MSFT! - 2) },
        });

        // Reload: the list comes back from localStorage and is set again at the gateway.
        await page.close();
        const again = await openPage(context);
        page = again.page;
        await expect
          .poll(() => inHook(page, (h) => h.alerts().map((a) => [a.spec.id, a.status])), { timeout: 5000 })
          .toEqual(before.map((a) => [a.spec.id, 'armed']));
        expect(await page.locator('[data-testid=alerts] [data-alert-id]').count()).toBe(2);
        const set = again.packets.find((p) => p.kind === 'event' && p.event === 'alert:set')!;
        expect(set.payload).toEqual({
          alerts: before.map((a) => a.spec),
          since: expect.any(Number),
          states: Object.fromEntries(before.map((a) => [a.spec.id, 'armed'])),
        });
        expect((set.payload as { since: number }).since).toBeGreaterThan(Date.now() - 60_000);
        await expect
          .poll(() => again.packets.find((p) => p.kind === 'ack' && p.event === 'alert:set')?.payload, {
            timeout: 5000,
          })
          .toMatchObject({
            ok: true,
            offline: [],
            alerts: before.map((a) => ({ id: a.spec.id, state: 'armed', fired: 0 })),
          });
        // The level is drawn on the reloaded chart, and a new crossing fires the re-registered alert.
        await expect
          .poll(() => inHook(page, (h) => h.alertLevels('AAPL')?.map((l) => l.price)), { timeout: 5000 })
          .toEqual([c.level]);
        const spike = round2(c.level + 0.11);
        await publisher.ticks([tickOf('AAPL', spike), tickOf('AAPL', BASE.AAPL!)]);
        await expect
          .poll(() => inHook(page, (h) => h.alerts()[0]), { timeout: 5000 })
          .toMatchObject({ status: 'fired', fired: { price: spike, offline: false } });
        await page
          .getByTestId('toast')
          .filter({ hasText: `AAPL above ${price2.format(c.level)}` })
          .waitFor({ timeout: 3000 });
      },
    );
  });

  it('reports a crossing that happened while the page was closed once, marked "while offline"', async () => {
    const context = await newContext();
    const first = await openPage(context);
    const level = round2(BASE.AAPL! + 3);
    await setFromRow(first.page, 'AAPL', level);
    await expect.poll(() => inHook(first.page, (h) => h.alerts()[0]?.status), { timeout: 5000 }).toBe('armed');
    await untilPage(first.page, (h) => ((h as AlertsHook).alertsSeen() ?? 0) > 0, 5000);
    await first.page.close();

    // While no page is open: through the level and back.
    await sleep(300);
    const spike = round2(level + 0.5);
    await publisher.ticks([tickOf('AAPL', spike), tickOf('AAPL', BASE.AAPL!)]);
    await sleep(1200); // the 1-second bar with the spike closes

    const { page, packets } = await openPage(context);
    await shoot(page, 'dashboard-alert-offline', async () => {
      await expect
        .poll(() => inHook(page, (h) => h.alerts()[0]), { timeout: 5000 })
        .toMatchObject({ status: 'fired', count: 1, fired: { price: level, seq: 0, offline: true } });
      const entry = page.locator('[data-testid=alerts] li[data-alert-id]');
      expect(await entry.locator('[data-field=offline]').textContent()).toBe('while offline');
      expect(await entry.locator('[data-field=fired-price]').textContent()).toBe(price2.format(level));
      const toasts = await inHook(page, (h) => h.toasts().filter((t) => t.title.includes('AAPL above')));
      expect(toasts).toEqual([
        {
          title: `\u{1F514} AAPL above ${price2.format(level)}`,
          body: expect.stringMatching(new RegExp(`^While offline: reached ${price2.format(level)}`)),
        },
      ]);
      const ack = packets.find((p) => p.kind === 'ack' && p.event === 'alert:set')!.payload as {
        ok: boolean;
        offline: { offline: boolean; price: number }[];
        alerts: unknown[];
      };
      expect(ack).toMatchObject({ ok: true, alerts: [], offline: [{ offline: true, price: level }] });

      // Once: another reload neither sets the fired one-shot again nor reports it again.
      await page.reload();
      await untilPage(page, (h) => h.connection() === 'live', 10_000);
      await sleep(500);
      expect(await inHook(page, (h) => h.toasts().filter((t) => t.title.includes('AAPL above')))).toEqual([]);
      expect(await inHook(page, (h) => h.alerts().map((a) => [a.status, a.count]))).toEqual([['fired', 1]]);
    });
  });

  it('shows a TOO_MANY_ALERTS refusal in the form and keeps nothing of it', async () => {
    const context = await newContext();
    const { page } = await openPage(context);
    await shoot(page, 'dashboard-alert-refused', async () => {
      for (let i = 0; i < PER_VIEWER; i++) {
        await setFromRow(page, 'MSFT', round2(BASE.MSFT! + 5 + i));
        await page.getByTestId('alert-form').waitFor({ state: 'detached', timeout: 5000 });
      }
      await expect.poll(() => inHook(page, (h) => h.alerts().length), { timeout: 5000 }).toBe(PER_VIEWER);
      await setFromRow(page, 'MSFT', round2(BASE.MSFT! + 9));
      const error = page.getByTestId('alert-error');
      await error.waitFor({ timeout: 5000 });
      expect(await error.textContent()).toMatch(/^Too many alerts: a viewer holds at most 3 alerts/);
      // The form stays open with the refusal; nothing was kept.
      expect(await page.getByTestId('alert-form').count()).toBe(1);
      expect(await inHook(page, (h) => h.alerts().length)).toBe(PER_VIEWER);
      await page.keyboard.press('Escape');
      await page.getByTestId('alert-form').waitFor({ state: 'detached', timeout: 3000 });
      const stored = await inPage<string | null>(page, `localStorage.getItem(${JSON.stringify(ALERTS_KEY)})`);
      expect((JSON.parse(stored!) as { alerts: unknown[] }).alerts).toHaveLength(PER_VIEWER);
    });
  });
});
