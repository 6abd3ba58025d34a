import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Candle, FeedAck, FeedTick, FeedTrade } from '@tickdeck/protocol';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../bench/lib/chromium.mjs';
import { connectPublisher as connectFeed } from './gateway.js';
import { until } from './until.js';

const SCREENSHOTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));

/** Where the dashboard keeps its preferences (frontend/src/lib/prefs.svelte.ts). */
export const PREFS_KEY = 'tickdeck.prefs.v1';

import type { PageHook as BenchPageHook } from '../../bench/lib/page-hook.js';

/** One chart as the page hook reports it (frontend/src/lib/test-hook.ts `ChartView`). */
export interface ChartView {
  symbol: string;
  interval: string;
  mode: 'candles' | 'line';
  /** Bars held. */
  points: number;
  /** Bars drawn (chart.js elements of the price dataset). */
  drawn: number;
  /** Starts of the bars held, oldest first. */
  xs: number[];
  /** The bars chart.js was given (the ones in view), oldest first. */
  bars: Candle[];
  /** The x axis range, epoch ms. */
  min: number;
  max: number;
  /** Median distance between neighbouring drawn bars, px. */
  spacingPx: number;
  follow: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
}

/**
 * What the page exposes as `window.__tickdeck` (frontend/src/lib/test-hook.ts): the bench's view
 * (bench/lib/page-hook.d.ts), with the candle charts' fields the browser tests read.
 */
export interface PageHook extends Omit<BenchPageHook, 'charts'> {
  charts(): ChartView[];
  /** Page coordinates of the centre of `symbol`'s drawn bar starting at `start` (at its close). */
  barPoint(symbol: string, start: number): { x: number; y: number } | undefined;
  /** The watchlist's symbols, in order. */
  watchlist(): string[];
}

/** Launches the system Chromium (never a downloaded one). */
export function launchBrowser(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

export interface OpenOptions {
  viewport?: { width: number; height: number };
  /** A phone: touch events and a mobile viewport. */
  touch?: boolean;
  /** Stored preferences to start from (`localStorage`), as the page would have saved them. */
  prefs?: Record<string, unknown>;
  /** Called with the page before it loads: to listen to its requests and sockets from the start. */
  onPage?: (page: Page) => void;
}

/** A fresh context (empty storage unless `prefs`) with the dashboard at `url` loaded. */
export async function openDashboard(
  browser: Browser,
  url: string,
  options: OpenOptions = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1440, height: 900 },
    ...(options.touch ? { hasTouch: true, isMobile: true } : {}),
  });
  if (options.prefs) {
    // Only when nothing is stored yet, so a reload keeps what the page saved since.
    const [key, value] = [JSON.stringify(PREFS_KEY), JSON.stringify(JSON.stringify(options.prefs))];
    await context.addInitScript({
      content: `if (localStorage.getItem(${key}) === null) localStorage.setItem(${key}, ${value});`,
    });
  }
  const page = await context.newPage();
  options.onPage?.(page);
  await page.goto(url);
  return { context, page };
}

/**
 * Runs `fn` in the page with its hook and returns the result. `fn` is sent as source, so it must
 * be self-contained (no closure over test variables).
 */
export function fromPage<T>(page: Page, fn: (hook: PageHook) => T): Promise<T> {
  return page.evaluate(`(${fn.toString()})(window.__tickdeck)`) as Promise<T>;
}

/** Waits until `fn(hook)` is truthy in the page, or throws; `fn` is self-contained, as for {@link fromPage}. */
export async function untilPage(page: Page, fn: (hook: PageHook) => unknown, timeoutMs: number): Promise<void> {
  // Before the page has its hook, `fn` throws: not yet.
  if (!(await until(async () => Boolean(await fromPage(page, fn)), timeoutMs))) {
    throw new Error(`not within ${timeoutMs} ms in the page: ${fn.toString()}`);
  }
}

/** Saves a screenshot as artifacts/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png` });
}

/** A `/feed` publisher that stays connected (the gateway needs FEED=both|external). */
export interface Publisher {
  /** Publishes `ticks` and resolves with the ack; throws when any is refused. */
  ticks(ticks: FeedTick[]): Promise<FeedAck>;
  close(): void;
}

export async function connectPublisher(url: string, token: string): Promise<Publisher> {
  const socket = await connectFeed(url, token);
  return {
    async ticks(ticks) {
      const ack = await socket.timeout(10_000).emitWithAck('ticks', ticks);
      if (ack.rejectedCount > 0) throw new Error(`ticks refused: ${JSON.stringify(ack.rejected.slice(0, 3))}`);
      return ack;
    },
    close: () => socket.disconnect(),
  };
}

/** Publishes `trades` through the gateway's `/feed` namespace (the gateway needs FEED=both|external). */
export async function publishTrades(url: string, token: string, trades: FeedTrade[]): Promise<FeedAck> {
  const socket = await connectFeed(url, token);
  try {
    return await socket.timeout(5000).emitWithAck('trades', trades);
  } finally {
    socket.disconnect();
  }
}
