// The page globals that the functions bench/browser.mjs and scripts/screenshots.mjs hand to
// Playwright (page.evaluate, addInitScript) read. They run in the dashboard, not in Node.

/**
 * What the page exposes as `window.__tickdeck`, for Node-side code (bench, tests): the same shape as
 * frontend/src/lib/test-hook.ts (whose runes-based imports `tsc` outside the dashboard cannot load).
 */
export interface PageHook {
  connection(): string;
  /** Quotes applied for `symbol` since load. */
  quoteCount(symbol: string): number;
  /** Each drawn chart's data, read from the chart.js instance itself. */
  charts(): { symbol: string; points: number; drawn: number; xs: number[] }[];
  toasts(): { title: string; body: string }[];
  tape(): number;
  /** The tape's lines, newest first: trades with their id, seq and feed time; marks with theirs. */
  tapeEntries(): TapeLine[];
  /** The epoch the page's seqs count in (the latest ack's). */
  epoch(): string | undefined;
}

/** One trade-tape line as {@link PageHook.tapeEntries} reports it. */
export type TapeLine =
  { kind: 'trade'; symbol: string; id: string; seq: number; ts: number } | { kind: 'gap' | 'restart'; ts: number };

declare global {
  interface Window {
    __tickdeck?: PageHook;
    /** Durations (ms) of the long tasks bench/browser.mjs observed since it last cleared them. */
    __longTasks?: number[];
  }
}
