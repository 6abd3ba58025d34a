import type { MarketRow } from './market.svelte';
import type { Sort } from './prefs.svelte';

/** Rows whose symbol or name contains `text` (any case); all of them for blank text. */
export function filterRows(rows: readonly MarketRow[], text: string): MarketRow[] {
  const needle = text.trim().toLowerCase();
  if (needle === '') return [...rows];
  return rows.filter(
    (row) => row.spec.symbol.toLowerCase().includes(needle) || row.spec.name.toLowerCase().includes(needle),
  );
}

/** Rows in the order `sort` asks for (stable); rows without a quote go last. `null`: as given. */
export function sortRows(rows: readonly MarketRow[], sort: Sort | null): MarketRow[] {
  if (!sort) return [...rows];
  const sign = sort.dir === 'asc' ? 1 : -1;
  if (sort.key === 'symbol') return [...rows].sort((a, b) => sign * a.spec.symbol.localeCompare(b.spec.symbol));
  const key = sort.key;
  return [...rows].sort((a, b) => {
    if (!a.quote || !b.quote) return a.quote ? -1 : b.quote ? 1 : 0;
    return sign * (a.quote[key] - b.quote[key]);
  });
}
