import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FEED_NAMESPACE, type FeedAck, type FeedClientToServerEvents, type FeedTrade } from '@tickdeck/protocol';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import { CHROMIUM_ARGS } from '../../bench/lib/chromium.mjs';
import { until } from './until.js';

const SCREENSHOTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));

/** Where the dashboard keeps its preferences (frontend/src/lib/prefs.svelte.ts). */
export const PREFS_KEY = 'tickdeck.prefs.v1';

import type { PageHook } from '../../bench/lib/page-hook.js';

export type { PageHook };

/** Launches the system Chromium (never a downloaded one). */
export function launchBrowser(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

export interface OpenOptions {
  viewport?: { width: number; height: number };
  /** Stored preferences to start from (`localStorage`), as the page would have saved them. */
  prefs?: Record<string, unknown>;
}

/** A fresh context (empty storage unless `prefs`) with the dashboard at `url` loaded. */
export async function openDashboard(
  browser: Browser,
  url: string,
  options: OpenOptions = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1440, height: 900 } });
  if (options.prefs) {
    // Only when nothing is stored yet, so a reload keeps what the page saved since.
    const [key, value] = [JSON.stringify(PREFS_KEY), JSON.stringify(JSON.stringify(options.prefs))];
    await context.addInitScript({
      content: `if (localStorage.getItem(${key}) === null) localStorage.setItem(${key}, ${value});`,
    });
  }
  const page = await context.newPage();
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

type FeedClient = Socket<Record<string, never>, FeedClientToServerEvents>;

/** Publishes `trades` through the gateway's `/feed` namespace (the gateway needs FEED=both|external). */
export async function publishTrades(url: string, token: string, trades: FeedTrade[]): Promise<FeedAck> {
  const socket: FeedClient = io(`${url}${FEED_NAMESPACE}`, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return await socket.timeout(5000).emitWithAck('trades', trades);
  } finally {
    socket.disconnect();
  }
}
