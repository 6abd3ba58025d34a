#!/usr/bin/env node
// Regenerates docs/dashboard-desktop.png and docs/dashboard-phone.png: a real gateway (FEED=both,
// so one large trade can be pushed through /feed for the toast), the built dashboard, and the
// system Chromium through playwright-core. Usage: node scripts/screenshots.mjs [--settle S]
/* global window -- page callbacks run in the page */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { launchChromium, prefsWith, spawnGateway } from '../bench/browser.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    settle: { type: 'string', default: '25' },
    out: { type: 'string', default: join(ROOT, 'docs') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node scripts/screenshots.mjs [--settle SECONDS] [--out DIR]');
  process.exit(0);
}

const TOKEN = `screenshots-${process.pid}-${Date.now()}`;
const shots = [
  { file: 'dashboard-desktop.png', viewport: { width: 1440, height: 900 }, charts: ['AAPL', 'BTC-USD', 'NVDA'] },
  { file: 'dashboard-phone.png', viewport: { width: 390, height: 844 }, charts: ['BTC-USD'] },
];

/**
 * Pushes one large buy of `symbol` at its current price through /feed.
 * @param {string} url the gateway @param {string} symbol
 */
async function bigTrade(url, symbol) {
  const snapshot = await (await fetch(`${url}/api/snapshot/${symbol}`)).json();
  const feed = io(`${url}/feed`, {
    auth: { token: TOKEN },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  try {
    await new Promise((resolve, reject) => {
      feed.once('connect', () => resolve(undefined));
      feed.once('connect_error', reject);
    });
    const ack = await feed
      .timeout(5000)
      .emitWithAck('trades', [{ symbol, ts: Date.now() + 1000, price: snapshot.last, size: 25_000, side: 'buy' }]);
    if (ack.accepted !== 1) throw new Error(`trade refused: ${JSON.stringify(ack.rejected)}`);
  } finally {
    feed.disconnect();
  }
}

const gateway = await spawnGateway({ FEED: 'both', FEED_TOKEN: TOKEN, FEED_SEED: '7' });
const browser = await launchChromium();
try {
  mkdirSync(values.out, { recursive: true });
  for (const shot of shots) {
    const context = await browser.newContext({ viewport: shot.viewport, deviceScaleFactor: 1 });
    await context.addInitScript(
      (prefs) => localStorage.setItem('tickdeck.prefs.v1', prefs),
      prefsWith(shot.charts, 250, 60),
    );
    const page = await context.newPage();
    await page.goto(gateway.url);
    await page.waitForFunction(() => window.__tickdeck?.connection() === 'live', undefined, { timeout: 20_000 });
    await page.waitForTimeout(Number(values.settle) * 1000);
    await bigTrade(gateway.url, 'AAPL');
    await page.waitForFunction(() => (window.__tickdeck?.toasts().length ?? 0) > 0, undefined, { timeout: 10_000 });
    await page.waitForTimeout(400);
    const path = join(values.out, shot.file);
    await page.screenshot({ path, fullPage: false });
    console.log(`wrote ${path}`);
    await context.close();
  }
} finally {
  await browser.close();
  await gateway.stop();
}
