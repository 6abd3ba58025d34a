import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { CandlesSchema, type Candle, type FeedTick } from '@tickdeck/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPublisher,
  fromPage,
  launchBrowser,
  openDashboard,
  screenshot,
  untilPage,
  type ChartView,
  type OpenOptions,
  type PageHook,
  type Publisher,
} from './support/browser.js';
import { freePort } from './support/cluster.js';
import { sleep, startGateway, type RunningGateway } from './support/gateway.js';
import { requireSystemCommand } from './support/system.js';

const chromium = requireSystemCommand('chromium', 'chromium', 'dashboard charts');
const TOKEN = 'dashboard-charts-token-0123';
const M = 60_000;
/** Minutes of history published before any page opens: more than one page (500 bars) of `1m`. */
const SEEDED_MINUTES = 700;
/** Symbols the test's publisher keeps ticking, and where their prices start. */
const START_PRICES: Record<string, number> = { AAPL: 228, MSFT: 417, NVDA: 131 };

/** One socket.io event the page sent or received over its WebSocket. */
interface SocketEvent {
  at: number;
  event: string;
  payload: unknown;
}

/** Every socket.io event on the page's `/market` WebSocket, from before it loads. */
function recordSocket(page: Page): { sent: SocketEvent[]; received: SocketEvent[] } {
  const traffic = { sent: [] as SocketEvent[], received: [] as SocketEvent[] };
  const parse = (to: SocketEvent[], data: string | Buffer) => {
    const text = typeof data === 'string' ? data : data.toString();
    // Engine.IO message (4), Socket.IO EVENT (2), the namespace, an ack id, the arguments.
    const m = /^42(?:\/market,)?\d*(\[.*)$/s.exec(text);
    if (!m) return;
    const [event, payload] = JSON.parse(m[1]!) as [string, unknown];
    to.push({ at: Date.now(), event, payload });
  };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => parse(traffic.sent, f.payload));
    ws.on('framereceived', (f) => parse(traffic.received, f.payload));
  });
  return traffic;
}

/** The `/api/candles` requests the page makes, as URLs. */
function recordCandleRequests(page: Page): URL[] {
  const urls: URL[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/api/candles/')) urls.push(url);
  });
  return urls;
}

const price2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
const signed2 = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
  signDisplay: 'exceptZero',
});
/** The readout's fields for `bar` as the page formats them (2 decimals: the tick size of AAPL and MSFT). */
function readoutOf(bar: Candle): Record<string, string> {
  return {
    time: new Date(bar.start).toISOString(),
    open: price2.format(bar.open),
    high: price2.format(bar.high),
    low: price2.format(bar.low),
    close: price2.format(bar.close),
    volume: compact.format(bar.volume),
    change: `${signed2.format(((bar.close - bar.open) / bar.open) * 100).replace('-', '\u2212')}%`,
  };
}

/** The readout of `symbol`'s chart card as shown. */
async function readout(page: Page, symbol: string): Promise<Record<string, string>> {
  return page.locator(`[data-chart="${symbol}"] [data-testid=readout]`).evaluate((p) => {
    const out: Record<string, string> = {};
    for (const el of p.querySelectorAll('[data-field]')) {
      const field = el.getAttribute('data-field')!;
      out[field] =
        field === 'time'
          ? (el.getAttribute('datetime') ?? '')
          : (el.textContent ?? '').replace(/[\u25B2\u25BC]\s*/, '');
    }
    return out;
  });
}

const chartOf = async (page: Page, symbol: string): Promise<ChartView | undefined> =>
  (await fromPage(page, (h) => h.charts())).find((c) => c.symbol === symbol);

/** Evaluates `expression` in the page (source: the tests are type-checked without the DOM's types). */
const inPage = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

/**
 * Resolves once at least `ms` remain before the next minute starts (and the bar of the minute
 * just begun, if it had to wait for one, has had time to be drawn). Feed time is the wall clock here.
 */
async function clearOfMinuteTurn(ms: number): Promise<void> {
  const left = M - (Date.now() % M);
  if (left < ms) await sleep(left + 1500);
}

/** Page coordinates of `symbol`'s drawn bar starting at `start`. */
async function barPoint(page: Page, symbol: string, start: number): Promise<{ x: number; y: number }> {
  const point = await page.evaluate(
    ({ symbol, start }) => (globalThis as unknown as { __tickdeck: PageHook }).__tickdeck.barPoint(symbol, start),
    { symbol, start },
  );
  if (!point) throw new Error(`${symbol}: no bar drawn at ${new Date(start).toISOString()}`);
  return point;
}

describe.skipIf(!chromium)('candle charts in Chromium against the real gateway', () => {
  let gateway: RunningGateway;
  let browser: Browser;
  let publisher: Publisher;
  let ticking: ReturnType<typeof setInterval> | undefined;
  const gateways: RunningGateway[] = [];
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];
  /** Per symbol, the feed time and price of the last tick sent (a symbol's time only moves forward). */
  const last = new Map<string, { ts: number; price: number }>();

  const tickOf = (symbol: string, price: number, ts = Date.now()): FeedTick => {
    const held = last.get(symbol);
    const at = Math.max(ts, (held?.ts ?? 0) + 1);
    last.set(symbol, { ts: at, price });
    const p = Math.round(price * 100) / 100;
    return { symbol, ts: at, last: p, bid: Math.round((p - 0.02) * 100) / 100, ask: p + 0.02, volume: 5 + (at % 50) };
  };
  const walk = (symbol: string) => {
    const held = last.get(symbol);
    const base = held?.price ?? START_PRICES[symbol]!;
    // Drawn back towards the start price, so a spike does not leave the price far off.
    return base + (START_PRICES[symbol]! - base) * 0.05 + (Math.random() - 0.5) * 0.3;
  };

  beforeAll(async () => {
    gateway = await startGateway({ FEED: 'external', FEED_TOKEN: TOKEN });
    gateways.push(gateway);
    publisher = await connectPublisher(gateway.url, TOKEN);
    // History first: four ticks a minute for SEEDED_MINUTES, in feed time before now.
    const from = Math.floor(Date.now() / M) * M - SEEDED_MINUTES * M;
    for (const symbol of ['AAPL', 'MSFT']) {
      const ticks: FeedTick[] = [];
      for (let m = 0; m < SEEDED_MINUTES; m++) {
        for (const s of [0, 15, 30, 45]) ticks.push(tickOf(symbol, walk(symbol), from + m * M + s * 1000));
      }
      await publisher.ticks(ticks);
    }
    // Then live ticks, every 100 ms.
    let busy = false;
    ticking = setInterval(() => {
      if (busy) return;
      busy = true;
      publisher
        .ticks(Object.keys(START_PRICES).map((symbol) => tickOf(symbol, walk(symbol))))
        .catch((err: unknown) => console.warn(`live ticks: ${String(err)}`))
        .finally(() => (busy = false));
    }, 100);
    browser = await launchBrowser(chromium!);
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  afterAll(async () => {
    clearInterval(ticking);
    publisher?.close();
    await browser?.close();
    for (const gw of gateways) await gw.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

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

  const live = (page: Page) => untilPage(page, (h) => h.connection() === 'live', 10_000);
  /** Waits until `symbol`'s chart holds its first page and draws at least `drawn` bars. */
  const loaded = (page: Page, symbol: string, drawn = 10) =>
    expect
      .poll(
        async () => {
          const c = await chartOf(page, symbol);
          return c !== undefined && c.drawn >= drawn && !c.loadingOlder;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
  const rest = async (symbol: string, interval: string): Promise<Candle[]> =>
    CandlesSchema.parse(
      await (await fetch(`${gateway.url}/api/candles/${symbol}?interval=${interval}&limit=5000`)).json(),
    ).candles;
  const watch3 = { watchlist: ['AAPL', 'MSFT', 'NVDA'] };

  it('opens with charts of the first watchlist symbols on a first visit, and keeps them over a reload', async () => {
    const page = await open(gateway.url);
    await shoot(page, 'charts-first-visit', async () => {
      await live(page);
      await expect
        .poll(async () => (await fromPage(page, (h) => h.charts())).map((c) => [c.symbol, c.interval, c.drawn > 5]), {
          timeout: 10_000,
        })
        // AAPL has hours of 1m bars: the first visit charts at 1m.
        .toEqual([
          ['AAPL', '1m', true],
          ['MSFT', '1m', true],
        ]);
      expect(await page.locator('[data-chart]').count()).toBe(2);
      await page.reload();
      await live(page);
      await expect
        .poll(async () => (await fromPage(page, (h) => h.charts())).map((c) => `${c.symbol}/${c.interval}`), {
          timeout: 10_000,
        })
        .toEqual(['AAPL/1m', 'MSFT/1m']);
    });
  });

  it("draws the bars of /api/candles: the OHLC on the chart are the gateway's", async () => {
    const page = await open(gateway.url, { prefs: { ...watch3, charts: [{ symbol: 'AAPL', interval: '1m' }] } });
    await shoot(page, 'charts-rest', async () => {
      await live(page);
      await loaded(page, 'AAPL', 30);
      const chart = (await chartOf(page, 'AAPL'))!;
      const byStart = new Map((await rest('AAPL', '1m')).map((c) => [c.start, c]));
      const closed = chart.bars.filter((b) => b.closed);
      expect(closed.length).toBeGreaterThanOrEqual(30);
      for (const bar of closed) expect(bar, new Date(bar.start).toISOString()).toEqual(byStart.get(bar.start));
      // The first page is the newest 500 bars; each is drawn once, in order.
      expect(chart.points).toBeGreaterThanOrEqual(500);
      expect(chart.xs.every((x, i) => i === 0 || x - chart.xs[i - 1]! === M)).toBe(true);
      expect(chart.drawn).toBe(chart.bars.length);
      // The live bar is the newest, and open.
      expect(chart.bars.at(-1)!.closed).toBe(false);
      expect(chart.bars.at(-1)!.start).toBe(Math.max(...byStart.keys()));
    });
  });

  it('switches interval: the bars are that far apart, and that interval is requested and streamed', async () => {
    let traffic!: ReturnType<typeof recordSocket>;
    let requests!: URL[];
    const page = await open(gateway.url, {
      prefs: { ...watch3, charts: [{ symbol: 'AAPL', interval: '1m' }] },
      onPage: (p) => {
        traffic = recordSocket(p);
        requests = recordCandleRequests(p);
      },
    });
    await shoot(page, 'charts-interval', async () => {
      await live(page);
      await loaded(page, 'AAPL', 30);
      const gaps = (xs: number[]) => new Set(xs.slice(1).map((x, i) => x - xs[i]!));
      expect(gaps((await chartOf(page, 'AAPL'))!.xs)).toEqual(new Set([M]));

      await page.locator('[data-chart="AAPL"] [data-interval="5m"]').click();
      await expect
        .poll(
          async () => {
            const c = await chartOf(page, 'AAPL');
            return c?.interval === '5m' && c.drawn >= 30;
          },
          { timeout: 10_000 },
        )
        .toBe(true);
      const chart = (await chartOf(page, 'AAPL'))!;
      expect(gaps(chart.xs)).toEqual(new Set([5 * M]));
      expect(chart.xs.every((x) => x % (5 * M) === 0)).toBe(true);
      // Fewer, wider-spaced bars over the same history: 700 minutes are 140 or 141 bars of 5m.
      expect(chart.points).toBeGreaterThanOrEqual(SEEDED_MINUTES / 5);
      expect(chart.points).toBeLessThanOrEqual(SEEDED_MINUTES / 5 + 3);
      expect(requests.some((u) => u.pathname === '/api/candles/AAPL' && u.searchParams.get('interval') === '5m')).toBe(
        true,
      );
      expect(traffic.sent.filter((e) => e.event === 'subscribe').map((e) => e.payload)).toContainEqual(
        expect.objectContaining({ symbols: ['AAPL'], candles: ['5m'] }),
      );
      expect(await page.locator('[data-chart="AAPL"] [data-interval="5m"]').getAttribute('aria-checked')).toBe('true');
      // The 5m closed bars drawn are the gateway's.
      const byStart = new Map((await rest('AAPL', '5m')).map((c) => [c.start, c]));
      for (const bar of chart.bars.filter((b) => b.closed)) expect(bar).toEqual(byStart.get(bar.start));
    });
  });

  it("moves the live bar's high and low at once when a spike and a dip come through /feed", async () => {
    const page = await open(gateway.url, {
      prefs: { ...watch3, tierMs: 100, charts: [{ symbol: 'MSFT', interval: '1m' }] },
    });
    await shoot(page, 'charts-spike', async () => {
      await live(page);
      await loaded(page, 'MSFT', 10);
      const barAt = async (ts: number) => (await chartOf(page, 'MSFT'))?.bars.find((b) => b.start === ts - (ts % M));

      // One tick each; the price walks on from where it was.
      const spike = tickOf('MSFT', 999);
      last.set('MSFT', { ts: spike.ts, price: START_PRICES.MSFT! });
      await publisher.ticks([spike]);
      const sent = Date.now();
      await expect.poll(async () => (await barAt(spike.ts))?.high, { timeout: 2000, interval: 20 }).toBe(999);
      expect(Date.now() - sent).toBeLessThan(1500);
      const dip = tickOf('MSFT', 1);
      last.set('MSFT', { ts: dip.ts, price: START_PRICES.MSFT! });
      await publisher.ticks([dip]);
      await expect.poll(async () => (await barAt(dip.ts))?.low, { timeout: 2000, interval: 20 }).toBe(1);
      // The readout (no crosshair: the live bar) says so too.
      await expect.poll(async () => (await readout(page, 'MSFT')).low, { timeout: 2000 }).toBe('1.00');
      // And REST agrees on the bar, once it is closed or as it stands.
      const bar = (await rest('MSFT', '1m')).find((c) => c.start === dip.ts - (dip.ts % M))!;
      expect(bar.low).toBe(1);
    });
  });

  it('pans back in time, loading older pages and drawing them, and goes back to now', async () => {
    let requests!: URL[];
    const page = await open(gateway.url, {
      prefs: { ...watch3, charts: [{ symbol: 'AAPL', interval: '1m' }] },
      onPage: (p) => (requests = recordCandleRequests(p)),
    });
    await shoot(page, 'charts-pan', async () => {
      await live(page);
      await loaded(page, 'AAPL', 30);
      const first = (await chartOf(page, 'AAPL'))!;
      expect(first.hasOlder).toBe(true);
      const oldest = first.xs[0]!;
      const box = (await page.locator('[data-chart="AAPL"] canvas').boundingBox())!;
      // Zoom out a little (wider view), then drag the chart to the right until older bars show.
      for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Zoom out' }).click();
      const olderDrawn = async () => ((await chartOf(page, 'AAPL'))?.bars[0]?.start ?? Infinity) < oldest;
      for (let drag = 0; drag < 40 && !(await olderDrawn()); drag++) {
        await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.5);
        await page.mouse.down();
        await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.5, { steps: 6 });
        await page.mouse.up();
      }
      await expect.poll(olderDrawn, { timeout: 5000 }).toBe(true);
      const paged = requests.filter((u) => u.pathname === '/api/candles/AAPL' && u.searchParams.has('to'));
      expect(paged.length).toBeGreaterThanOrEqual(1);
      expect(Number(paged[0]!.searchParams.get('to'))).toBe(oldest);
      expect(paged[0]!.searchParams.get('interval')).toBe('1m');
      const chart = (await chartOf(page, 'AAPL'))!;
      expect(chart.points).toBeGreaterThan(first.points);
      expect(chart.follow).toBe(false);
      // The older bars drawn are the gateway's, in order, no duplicate.
      const byStart = new Map((await rest('AAPL', '1m')).map((c) => [c.start, c]));
      const older = chart.bars.filter((b) => b.start < oldest);
      expect(older.length).toBeGreaterThan(0);
      for (const bar of older) expect(bar).toEqual(byStart.get(bar.start));
      expect(chart.xs.every((x, i) => i === 0 || x > chart.xs[i - 1]!)).toBe(true);

      const now = page.getByRole('button', { name: /Back to now/ });
      await now.click();
      await expect.poll(async () => (await chartOf(page, 'AAPL'))?.follow, { timeout: 3000 }).toBe(true);
      expect(await now.count()).toBe(0);
      const back = (await chartOf(page, 'AAPL'))!;
      expect(back.max).toBeGreaterThan(back.xs.at(-1)!);
    });
  });

  it('draws no more bars than fit at 3 px each, however far it zooms out (the rest stay held, not drawn)', async () => {
    const page = await open(gateway.url, {
      viewport: { width: 360, height: 800 },
      prefs: { ...watch3, charts: [{ symbol: 'AAPL', interval: '1m' }] },
    });
    await shoot(page, 'charts-zoomed-out', async () => {
      await live(page);
      await loaded(page, 'AAPL', 20);
      const canvas = page.locator('[data-chart="AAPL"] canvas');
      const width = (await canvas.boundingBox())!.width;
      for (let i = 0; i < 12; i++) await page.getByRole('button', { name: 'Zoom out' }).click();
      await expect.poll(async () => (await chartOf(page, 'AAPL'))?.spacingPx ?? 0, { timeout: 3000 }).toBeLessThan(3.5);
      const chart = (await chartOf(page, 'AAPL'))!;
      // Far more bars held (a page of 500) than the plot has room for: only the ones in view are
      // handed to chart.js, at least 3 px apart.
      expect(chart.points).toBeGreaterThanOrEqual(500);
      expect(chart.spacingPx).toBeGreaterThanOrEqual(2.9);
      expect(chart.drawn).toBeLessThanOrEqual(width / 3 + 2);
      expect(chart.drawn).toBeGreaterThan(width / 3 / 2);
      expect(chart.bars.length).toBe(chart.drawn);
      expect(chart.drawn).toBeLessThan(chart.points);
      // One step further changes nothing.
      await page.getByRole('button', { name: 'Zoom out' }).click();
      expect((await chartOf(page, 'AAPL'))!.drawn).toBeLessThanOrEqual(chart.drawn + 1);
    });
  });

  it("shows the hovered bar's time, OHLC, volume and change in the crosshair readout", async () => {
    const page = await open(gateway.url, { prefs: { ...watch3, charts: [{ symbol: 'AAPL', interval: '1m' }] } });
    await shoot(page, 'charts-crosshair', async () => {
      await live(page);
      await loaded(page, 'AAPL', 30);
      const chart = (await chartOf(page, 'AAPL'))!;
      for (const bar of [chart.bars.at(-12)!, chart.bars.at(-4)!]) {
        const at = await barPoint(page, 'AAPL', bar.start);
        await page.mouse.move(at.x, at.y);
        await expect.poll(() => readout(page, 'AAPL'), { timeout: 3000 }).toEqual(readoutOf(bar));
      }
      // Off the chart: the readout shows the live bar again.
      await page.mouse.move(5, 5);
      await expect
        .poll(() => page.locator('[data-chart="AAPL"] [data-testid=readout] .live-tag').count(), { timeout: 3000 })
        .toBe(1);
    });
  });

  it('is usable at phone width: the page fits, and a tap puts the crosshair on a bar', async () => {
    const page = await open(gateway.url, {
      viewport: { width: 390, height: 844 },
      touch: true,
      prefs: { ...watch3, charts: [{ symbol: 'AAPL', interval: '1m' }] },
    });
    await shoot(page, 'charts-phone', async () => {
      await live(page);
      await loaded(page, 'AAPL', 20);
      expect(await inPage<number>(page, 'document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      const box = (await page.locator('[data-chart="AAPL"] canvas').boundingBox())!;
      expect(box.width).toBeGreaterThan(300);
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      // The taps below find the bar by its pixel: a new minute's bar meanwhile would move every
      // bar of the chart (it follows the newest) one place left, under the finger. Under load the
      // steps below can take seconds, so they start well clear of the next minute.
      await clearOfMinuteTurn(20_000);
      const chart = (await chartOf(page, 'AAPL'))!;
      const bar = chart.bars.at(-8)!;
      const at = await barPoint(page, 'AAPL', bar.start);
      await page.touchscreen.tap(at.x, at.y);
      await expect.poll(() => readout(page, 'AAPL'), { timeout: 3000 }).toEqual(readoutOf(bar));
      // The crosshair stays after the finger is gone; a second tap on the bar takes it away.
      await sleep(300);
      expect(await readout(page, 'AAPL')).toEqual(readoutOf(bar));
      await page.touchscreen.tap(at.x, at.y);
      await expect
        .poll(() => page.locator('[data-chart="AAPL"] [data-testid=readout] .live-tag').count(), { timeout: 3000 })
        .toBe(1);
      // The interval picker works by touch too.
      await page.locator('[data-chart="AAPL"] [data-interval="15m"]').tap();
      await expect.poll(async () => (await chartOf(page, 'AAPL'))?.interval, { timeout: 5000 }).toBe('15m');
    });
  });

  it('subscribes to what the watchlist shows: removing and adding a symbol changes the subscription, and it persists', async () => {
    let traffic!: ReturnType<typeof recordSocket>;
    const page = await open(gateway.url, { prefs: { charts: [] }, onPage: (p) => (traffic = recordSocket(p)) });
    const quotesOf = (symbol: string, after: number) =>
      traffic.received.filter(
        (e) =>
          e.at > after &&
          e.event === 'frame' &&
          ((e.payload as { quotes?: { symbol: string }[] }).quotes ?? []).some((q) => q.symbol === symbol),
      ).length;
    await shoot(page, 'charts-watchlist', async () => {
      await live(page);
      expect((await fromPage(page, (h) => h.watchlist())).length).toBe(20);
      await expect.poll(() => quotesOf('NVDA', 0), { timeout: 5000 }).toBeGreaterThan(0);

      await page.getByTestId('edit-watchlist').click();
      await page.getByRole('button', { name: 'Remove NVDA from the watchlist' }).click();
      await expect
        .poll(() => traffic.sent.filter((e) => e.event === 'unsubscribe').map((e) => e.payload), { timeout: 3000 })
        .toEqual([{ symbols: ['NVDA'] }]);
      const removedAt = traffic.sent.find((e) => e.event === 'unsubscribe')!.at;
      expect(await page.locator('tr[data-symbol="NVDA"]').count()).toBe(0);
      // Nothing of NVDA comes once the gateway has it (a frame already on its way may still land).
      await sleep(1500);
      expect(quotesOf('NVDA', removedAt + 500)).toBe(0);
      expect(quotesOf('AAPL', removedAt + 500)).toBeGreaterThan(0);

      await page.getByLabel('Add symbol').selectOption('NVDA');
      await page.getByTestId('add-symbol').getByRole('button', { name: 'Add' }).click();
      await expect
        .poll(() => traffic.sent.filter((e) => e.event === 'subscribe' && e.at > removedAt).map((e) => e.payload), {
          timeout: 3000,
        })
        .toEqual([expect.objectContaining({ symbols: ['NVDA'] })]);
      const addedAt = Date.now();
      await expect.poll(() => quotesOf('NVDA', addedAt), { timeout: 5000 }).toBeGreaterThan(0);
      const list = await fromPage(page, (h) => h.watchlist());
      expect(list.at(-1)).toBe('NVDA');

      // Reordering changes what is shown where, not what is subscribed.
      const sentBefore = traffic.sent.filter((e) => e.event !== 'ping').length;
      await page.getByRole('button', { name: 'Move NVDA up' }).click();
      await page.getByRole('button', { name: 'Remove KO from the watchlist' }).click();
      const order = await fromPage(page, (h) => h.watchlist());
      expect(order.slice(-2)).toEqual(['NVDA', list.at(-2)]);
      expect(order).not.toContain('KO');
      expect(
        await page.$$eval('[data-testid=watchlist] tbody tr[data-symbol]', (trs) =>
          trs.map((tr) => tr.getAttribute('data-symbol')),
        ),
      ).toEqual(order);
      await expect
        .poll(
          () =>
            traffic.sent
              .filter((e) => e.event !== 'ping')
              .slice(sentBefore)
              .map((e) => [e.event, e.payload]),
          {
            timeout: 3000,
          },
        )
        .toEqual([['unsubscribe', { symbols: ['KO'] }]]);

      // After a reload: the same list in the same order, and a subscription to exactly it.
      const reloadedAt = Date.now();
      await page.reload();
      await live(page);
      expect(await fromPage(page, (h) => h.watchlist())).toEqual(order);
      const subscribed = traffic.sent
        .filter((e) => e.at > reloadedAt && e.event === 'subscribe')
        .flatMap((e) => (e.payload as { symbols: string[] }).symbols);
      expect(subscribed).toEqual(order);
    });
  });

  it('keeps the bars from before a gateway restart on the same DATA_DIR on screen, and continues', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickdeck-charts-'));
    dirs.push(dir);
    const port = await freePort();
    const start = async () => {
      const gw = await startGateway({
        PORT: String(port),
        HISTORY_STORE: 'sqlite',
        DATA_DIR: dir,
        HISTORY_WRITE_MS: '250',
      });
      gateways.push(gw);
      return gw;
    };
    const first = await start();
    const page = await open(first.url, {
      prefs: { watchlist: ['AAPL', 'MSFT'], tierMs: 250, charts: [{ symbol: 'AAPL', interval: '1s' }] },
    });
    await shoot(page, 'charts-restart', async () => {
      await live(page);
      await loaded(page, 'AAPL', 8);
      // Bars closed more than a few write intervals ago are in the store.
      await sleep(1500);
      const stoppedAt = Date.now();
      const kept = (await chartOf(page, 'AAPL'))!.bars.filter((b) => b.closed && b.start + 1000 <= stoppedAt - 1000);
      expect(kept.length).toBeGreaterThanOrEqual(5);
      const oldEpoch = await fromPage(page, (h) => h.epoch());
      await first.stop();
      await untilPage(page, (h) => h.connection() !== 'live', 5000);

      const second = await start();
      await live(page);
      expect(await fromPage(page, (h) => h.epoch())).not.toBe(oldEpoch);
      // A new epoch clears the bars and loads them again: the ones from before the restart are
      // back, identical, and the chart goes on with the new run's.
      await expect
        .poll(
          async () => {
            const starts = new Set((await chartOf(page, 'AAPL'))?.bars.map((b) => b.start));
            return [...starts].some((t) => t > stoppedAt + 1000) && kept.every((b) => starts.has(b.start));
          },
          { timeout: 15_000 },
        )
        .toBe(true);
      const chart = (await chartOf(page, 'AAPL'))!;
      const byStart = new Map(chart.bars.map((b) => [b.start, b]));
      for (const bar of kept) expect(byStart.get(bar.start), new Date(bar.start).toISOString()).toEqual(bar);
      expect(chart.xs.every((x, i) => i === 0 || x > chart.xs[i - 1]!)).toBe(true);
      const stored = new Map(
        CandlesSchema.parse(
          await (await fetch(`${second.url}/api/candles/AAPL?interval=1s&limit=5000`)).json(),
        ).candles.map((c) => [c.start, c]),
      );
      for (const bar of chart.bars.filter((b) => b.closed)) expect(bar).toEqual(stored.get(bar.start));
    });
  }, 90_000);

  it('has no serious or critical accessibility violations with charts open (axe-core)', async () => {
    const page = await open(gateway.url, {
      prefs: {
        ...watch3,
        charts: [
          { symbol: 'AAPL', interval: '1m' },
          { symbol: 'MSFT', interval: '5m', mode: 'line' },
        ],
      },
    });
    await shoot(page, 'charts-axe', async () => {
      await live(page);
      await loaded(page, 'AAPL', 20);
      await loaded(page, 'MSFT', 20);
      const serious = async () =>
        (await new AxeBuilder({ page }).analyze()).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
      expect(await serious()).toEqual([]);
      // And with the watchlist's editing controls out.
      await page.getByTestId('edit-watchlist').click();
      expect(await serious()).toEqual([]);
    });
  });

  it('opens a chart and changes its interval and type by keyboard alone, with the focus visible', async () => {
    let requests!: URL[];
    const page = await open(gateway.url, {
      prefs: { ...watch3, charts: [] },
      onPage: (p) => (requests = recordCandleRequests(p)),
    });
    /** Presses Tab (or Shift+Tab) until the focused element matches `selector`; returns its outline style. */
    const tabTo = async (selector: string, back = false) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
        if (await inPage<boolean>(page, `document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`))
          return;
      }
      throw new Error(`no focus on ${selector} within 60 tabs`);
    };
    /** The focus ring: the focused element's outline, or its row's for a watchlist row. */
    const ring = () =>
      inPage<{ style: string; width: number }>(
        page,
        `(() => {
          const el = document.activeElement;
          const style = getComputedStyle(el.matches('button.toggle') ? el.closest('tr') : el);
          return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
        })()`,
      );
    const focused = (attribute: string) =>
      inPage<string | null>(page, `document.activeElement?.getAttribute(${JSON.stringify(attribute)}) ?? null`);
    await shoot(page, 'charts-keyboard', async () => {
      await live(page);
      await tabTo('tr[data-symbol="AAPL"] button.toggle');
      expect(await ring()).toMatchObject({ style: 'solid', width: 2 });
      await page.keyboard.press('Enter');
      await expect.poll(async () => (await chartOf(page, 'AAPL'))?.interval, { timeout: 5000 }).toBe('1m');
      await loaded(page, 'AAPL', 10);

      // The chart card comes before the watchlist: back to its interval picker.
      await tabTo('[data-chart="AAPL"] [data-testid=interval] [role=radio]', true);
      expect(await focused('data-interval')).toBe('1m');
      expect(await ring()).toMatchObject({ style: 'solid', width: 2 });
      await page.keyboard.press('ArrowRight');
      await expect.poll(async () => (await chartOf(page, 'AAPL'))?.interval, { timeout: 5000 }).toBe('5m');
      expect(await focused('data-interval')).toBe('5m');
      expect(requests.some((u) => u.searchParams.get('interval') === '5m')).toBe(true);

      await page.keyboard.press('Tab');
      expect(await focused('data-mode')).toBe('candles');
      await page.keyboard.press('ArrowRight');
      await expect.poll(async () => (await chartOf(page, 'AAPL'))?.mode, { timeout: 3000 }).toBe('line');

      // The chart itself: arrow keys walk the crosshair over the bars, read out as it goes.
      await tabTo('[data-chart="AAPL"] [role=slider]');
      expect(await ring()).toMatchObject({ style: 'solid', width: 2 });
      await loaded(page, 'AAPL', 10);
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      const chart = (await chartOf(page, 'AAPL'))!;
      const bar = chart.bars.at(-2)!;
      await expect.poll(() => readout(page, 'AAPL'), { timeout: 3000 }).toEqual(readoutOf(bar));
      const slider = page.locator('[data-chart="AAPL"] [role=slider]');
      expect(await slider.getAttribute('aria-valuetext')).toContain(`open ${readoutOf(bar).open}`);
    });
  });
});
