import { DEFAULT_THROTTLE_TIERS_MS, type CandleInterval } from '@tickdeck/protocol';
import { INTERVALS } from './chart/intervals';
import { CHART_MODES, type ChartMode } from './chart/modes';
import { DEFAULT_LARGE_TRADE } from './trades.svelte';

/** Watchlist columns the user can sort by. */
export const SORT_KEYS = ['symbol', 'last', 'change', 'changePct', 'volume'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export interface Sort {
  key: SortKey;
  dir: 'asc' | 'desc';
}

/** Intervals the chart card offers, narrowest first (the protocol's `CANDLE_INTERVALS`). */
export const CHART_INTERVALS: readonly CandleInterval[] = INTERVALS;

const isInterval = (v: unknown): v is CandleInterval => CHART_INTERVALS.includes(v as CandleInterval);

export interface OpenChart {
  symbol: string;
  interval: CandleInterval;
  mode: ChartMode;
}

/** Everything the page remembers across reloads. */
export interface PrefsData {
  /** `null`: the gateway's instrument order. */
  sort: Sort | null;
  /** The watchlist, in the user's order; `null` until the user edits it: every symbol the gateway carries. */
  watchlist: string[] | null;
  /** Open charts, in the order they were opened; `null` on a first visit (the page opens some). */
  charts: OpenChart[] | null;
  /** Throttle tier, ms between quotes per symbol. */
  tierMs: number;
  /** Notional (USD) at or above which a trade raises a toast. */
  largeTrade: number;
}

export const DEFAULT_PREFS: PrefsData = {
  sort: null,
  watchlist: null,
  charts: null,
  tierMs: 250,
  largeTrade: DEFAULT_LARGE_TRADE,
};

/** Charts a first visit opens: the first symbols of the watchlist. */
export const FIRST_VISIT_CHARTS = 2;

/** The subset of `Storage` the preferences use. */
export type PrefsStorage = Pick<Storage, 'getItem' | 'setItem'>;

const KEY = 'tickdeck.prefs.v1';

/**
 * The interval for a chart saved by the line-chart dashboard as a window in seconds: about as
 * many bars as the window held seconds of quotes at a glance.
 */
function intervalOfWindow(windowS: number): CandleInterval {
  return windowS <= 60 ? '1s' : windowS <= 300 ? '5s' : '1m';
}

function parseChart(c: unknown): OpenChart | undefined {
  if (typeof c !== 'object' || c === null) return undefined;
  const { symbol, interval, mode, windowS } = c as Record<string, unknown>;
  if (typeof symbol !== 'string' || symbol === '') return undefined;
  const iv = isInterval(interval) ? interval : typeof windowS === 'number' ? intervalOfWindow(windowS) : undefined;
  if (iv === undefined) return undefined;
  return { symbol, interval: iv, mode: CHART_MODES.includes(mode as ChartMode) ? (mode as ChartMode) : 'candles' };
}

/** Reads stored preferences, keeping only the valid parts of whatever is there. */
export function parsePrefs(raw: string | null, tiers: readonly number[] = DEFAULT_THROTTLE_TIERS_MS): PrefsData {
  let data: unknown;
  try {
    data = raw === null ? null : JSON.parse(raw);
  } catch {
    data = null;
  }
  const out: PrefsData = { ...DEFAULT_PREFS };
  if (typeof data !== 'object' || data === null) return out;
  const d = data as Record<string, unknown>;
  const sort = d.sort as Partial<Sort> | null | undefined;
  if (sort && SORT_KEYS.includes(sort.key as SortKey) && (sort.dir === 'asc' || sort.dir === 'desc')) {
    out.sort = { key: sort.key as SortKey, dir: sort.dir };
  }
  if (Array.isArray(d.watchlist)) {
    const symbols = d.watchlist.filter((s): s is string => typeof s === 'string' && s !== '');
    out.watchlist = symbols.filter((s, i) => symbols.indexOf(s) === i);
  }
  if (Array.isArray(d.charts)) {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, never rendered
    const seen = new Set<string>();
    out.charts = [];
    for (const c of d.charts as unknown[]) {
      const chart = parseChart(c);
      if (!chart || seen.has(chart.symbol)) continue;
      seen.add(chart.symbol);
      out.charts.push(chart);
    }
  }
  if (typeof d.tierMs === 'number' && tiers.includes(d.tierMs)) out.tierMs = d.tierMs;
  if (typeof d.largeTrade === 'number' && Number.isFinite(d.largeTrade) && d.largeTrade > 0) {
    out.largeTrade = d.largeTrade;
  }
  return out;
}

/** The symbols a watchlist shows of the ones the gateway carries (`carried`, in its order). */
export function watchedOf(watchlist: readonly string[] | null, carried: readonly string[]): string[] {
  if (watchlist === null) return [...carried];
  return watchlist.filter((s) => carried.includes(s));
}

/** The user's choices, saved to `storage` (localStorage in the page) on every change. */
export class Prefs {
  sort: Sort | null = $state.raw(null);
  watchlist: readonly string[] | null = $state.raw(null);
  /** `null` until the first visit's charts are opened ({@link openFirstVisit}). */
  charts: readonly OpenChart[] | null = $state.raw(null);
  tierMs = $state(DEFAULT_PREFS.tierMs);
  largeTrade = $state(DEFAULT_PREFS.largeTrade);
  #storage: PrefsStorage | undefined;

  constructor(storage?: PrefsStorage) {
    this.#storage = storage;
    let raw: string | null = null;
    try {
      raw = storage?.getItem(KEY) ?? null;
    } catch {
      // storage disabled (private mode, sandbox): start from the defaults
    }
    const data = parsePrefs(raw);
    this.sort = data.sort;
    this.watchlist = data.watchlist;
    this.charts = data.charts;
    this.tierMs = data.tierMs;
    this.largeTrade = data.largeTrade;
  }

  /** Open charts (none on a first visit until its charts are opened). */
  get open(): readonly OpenChart[] {
    return this.charts ?? [];
  }

  /** Sorts by `key`: a new column sorts descending (ascending for symbols), the same one flips, a third click restores the gateway's order. */
  toggleSort(key: SortKey): void {
    const first: Sort['dir'] = key === 'symbol' ? 'asc' : 'desc';
    if (this.sort?.key !== key) this.sort = { key, dir: first };
    else if (this.sort.dir === first) this.sort = { key, dir: first === 'asc' ? 'desc' : 'asc' };
    else this.sort = null;
    this.#save();
  }

  isOpen(symbol: string): boolean {
    return this.open.some((c) => c.symbol === symbol);
  }

  /** Opens the chart of `symbol`, or closes it when open. */
  toggleChart(symbol: string, interval: CandleInterval = '1m'): void {
    this.charts = this.isOpen(symbol)
      ? this.open.filter((c) => c.symbol !== symbol)
      : [...this.open, { symbol, interval, mode: 'candles' }];
    this.#save();
  }

  /** On a first visit only: opens charts of `symbols` at `interval` (and remembers that it did). */
  openFirstVisit(symbols: readonly string[], interval: CandleInterval): void {
    if (this.charts !== null) return;
    this.charts = symbols.slice(0, FIRST_VISIT_CHARTS).map((symbol) => ({ symbol, interval, mode: 'candles' }));
    this.#save();
  }

  setChartInterval(symbol: string, interval: CandleInterval): void {
    this.charts = this.open.map((c) => (c.symbol === symbol ? { ...c, interval } : c));
    this.#save();
  }

  setChartMode(symbol: string, mode: ChartMode): void {
    this.charts = this.open.map((c) => (c.symbol === symbol ? { ...c, mode } : c));
    this.#save();
  }

  /** Adds `symbol` at the end of the watchlist (`carried`: every symbol the gateway carries, in its order). */
  addSymbol(symbol: string, carried: readonly string[]): void {
    const list = watchedOf(this.watchlist, carried);
    if (list.includes(symbol) || !carried.includes(symbol)) return;
    this.watchlist = [...list, symbol];
    this.#save();
  }

  /** Takes `symbol` off the watchlist, and closes its chart: the page shows only what it watches. */
  removeSymbol(symbol: string, carried: readonly string[]): void {
    this.watchlist = watchedOf(this.watchlist, carried).filter((s) => s !== symbol);
    this.charts = this.open.filter((c) => c.symbol !== symbol);
    this.#save();
  }

  /** Moves `symbol` `by` places up (negative) or down the watchlist. */
  moveSymbol(symbol: string, by: number, carried: readonly string[]): void {
    const list = watchedOf(this.watchlist, carried);
    const from = list.indexOf(symbol);
    if (from < 0) return;
    const to = Math.max(0, Math.min(list.length - 1, from + by));
    if (to === from) return;
    list.splice(from, 1);
    list.splice(to, 0, symbol);
    this.watchlist = list;
    this.#save();
  }

  setTier(tierMs: number): void {
    this.tierMs = tierMs;
    this.#save();
  }

  setLargeTrade(usd: number): void {
    if (!(Number.isFinite(usd) && usd > 0)) return;
    this.largeTrade = usd;
    this.#save();
  }

  #save(): void {
    const data: PrefsData = {
      sort: this.sort,
      watchlist: this.watchlist === null ? null : [...this.watchlist],
      charts: this.charts === null ? null : [...this.charts],
      tierMs: this.tierMs,
      largeTrade: this.largeTrade,
    };
    try {
      this.#storage?.setItem(KEY, JSON.stringify(data));
    } catch {
      // full or disabled: the choice holds for this page only
    }
  }
}
