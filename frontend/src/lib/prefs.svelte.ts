import { DEFAULT_THROTTLE_TIERS_MS } from '@tickdeck/protocol';
import { DEFAULT_LARGE_TRADE } from './trades.svelte';

/** Watchlist columns the user can sort by. */
export const SORT_KEYS = ['symbol', 'last', 'change', 'changePct', 'volume'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export interface Sort {
  key: SortKey;
  dir: 'asc' | 'desc';
}

/** Chart windows on offer, in seconds. */
export const CHART_WINDOWS_S = [60, 300, 900] as const;
export type ChartWindow = (typeof CHART_WINDOWS_S)[number];

export interface OpenChart {
  symbol: string;
  windowS: ChartWindow;
}

/** Everything the page remembers across reloads. */
export interface PrefsData {
  /** `null`: the gateway's instrument order. */
  sort: Sort | null;
  /** Open charts, in the order they were opened. */
  charts: OpenChart[];
  /** Throttle tier, ms between quotes per symbol. */
  tierMs: number;
  /** Notional (USD) at or above which a trade raises a toast. */
  largeTrade: number;
}

export const DEFAULT_PREFS: PrefsData = { sort: null, charts: [], tierMs: 250, largeTrade: DEFAULT_LARGE_TRADE };

/** The subset of `Storage` the preferences use. */
export type PrefsStorage = Pick<Storage, 'getItem' | 'setItem'>;

const KEY = 'tickdeck.prefs.v1';

/** Reads stored preferences, keeping only the valid parts of whatever is there. */
export function parsePrefs(raw: string | null, tiers: readonly number[] = DEFAULT_THROTTLE_TIERS_MS): PrefsData {
  let data: unknown;
  try {
    data = raw === null ? null : JSON.parse(raw);
  } catch {
    data = null;
  }
  const out: PrefsData = { ...DEFAULT_PREFS, charts: [] };
  if (typeof data !== 'object' || data === null) return out;
  const d = data as Record<string, unknown>;
  const sort = d.sort as Partial<Sort> | null | undefined;
  if (sort && SORT_KEYS.includes(sort.key as SortKey) && (sort.dir === 'asc' || sort.dir === 'desc')) {
    out.sort = { key: sort.key as SortKey, dir: sort.dir };
  }
  if (Array.isArray(d.charts)) {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, never rendered
    const seen = new Set<string>();
    for (const c of d.charts as Partial<OpenChart>[]) {
      if (typeof c?.symbol !== 'string' || seen.has(c.symbol)) continue;
      if (!CHART_WINDOWS_S.includes(c.windowS as ChartWindow)) continue;
      seen.add(c.symbol);
      out.charts.push({ symbol: c.symbol, windowS: c.windowS as ChartWindow });
    }
  }
  if (typeof d.tierMs === 'number' && tiers.includes(d.tierMs)) out.tierMs = d.tierMs;
  if (typeof d.largeTrade === 'number' && Number.isFinite(d.largeTrade) && d.largeTrade > 0) {
    out.largeTrade = d.largeTrade;
  }
  return out;
}

/** The user's choices, saved to `storage` (localStorage in the page) on every change. */
export class Prefs {
  sort: Sort | null = $state.raw(null);
  charts: readonly OpenChart[] = $state.raw([]);
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
    this.charts = data.charts;
    this.tierMs = data.tierMs;
    this.largeTrade = data.largeTrade;
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
    return this.charts.some((c) => c.symbol === symbol);
  }

  /** Opens the chart of `symbol`, or closes it when open. */
  toggleChart(symbol: string, windowS: ChartWindow = 300): void {
    this.charts = this.isOpen(symbol)
      ? this.charts.filter((c) => c.symbol !== symbol)
      : [...this.charts, { symbol, windowS }];
    this.#save();
  }

  setChartWindow(symbol: string, windowS: ChartWindow): void {
    this.charts = this.charts.map((c) => (c.symbol === symbol ? { symbol, windowS } : c));
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
      charts: [...this.charts],
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
