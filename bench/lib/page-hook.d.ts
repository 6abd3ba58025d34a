// The page globals that the functions bench/browser.mjs and scripts/screenshots.mjs hand to
// Playwright (page.evaluate, addInitScript) read. They run in the dashboard, not in Node.

/** What the page exposes as `window.__tickdeck` (frontend/src/lib/test-hook.ts); read-only. */
export interface PageHook {
  connection(): string;
  /** Quotes applied for `symbol` since load. */
  quoteCount(symbol: string): number;
  /** Each drawn chart's data, read from the chart.js instance itself. */
  charts(): { symbol: string; points: number; drawn: number; xs: number[] }[];
  toasts(): { title: string; body: string }[];
  tape(): number;
}

declare global {
  interface Window {
    __tickdeck?: PageHook;
    /** Durations (ms) of the long tasks bench/browser.mjs observed since it last cleared them. */
    __longTasks?: number[];
  }
}
