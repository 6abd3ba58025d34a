import { describe, expect, it } from 'vitest';
import type { MarketRow } from './market.svelte';
import { quote, spec } from './test-data';
import { filterRows, sortRows } from './watchlist';

function row(symbol: string, fields?: Parameters<typeof quote>[2]): MarketRow {
  return { spec: spec(symbol), quote: fields ? quote(symbol, 1, fields) : undefined, tick: 'flat', spark: [] };
}

const rows = [
  row('MSFT', { last: 417, open: 420, volume: 50 }),
  row('AAPL', { last: 230, open: 228, volume: 900 }),
  row('NVDA'),
  row('BTC-USD', { last: 67_000, open: 66_000, volume: 3 }),
];
const symbols = (list: MarketRow[]) => list.map((r) => r.spec.symbol);

describe(sortRows.name, () => {
  it('sorts by the chosen column and direction, rows without a quote last', () => {
    expect(symbols(sortRows(rows, { key: 'changePct', dir: 'desc' }))).toEqual(['BTC-USD', 'AAPL', 'MSFT', 'NVDA']);
    expect(symbols(sortRows(rows, { key: 'changePct', dir: 'asc' }))).toEqual(['MSFT', 'AAPL', 'BTC-USD', 'NVDA']);
    expect(symbols(sortRows(rows, { key: 'volume', dir: 'desc' }))).toEqual(['AAPL', 'MSFT', 'BTC-USD', 'NVDA']);
    expect(symbols(sortRows(rows, { key: 'symbol', dir: 'asc' }))).toEqual(['AAPL', 'BTC-USD', 'MSFT', 'NVDA']);
  });

  it('keeps the given order without a sort', () => {
    expect(symbols(sortRows(rows, null))).toEqual(['MSFT', 'AAPL', 'NVDA', 'BTC-USD']);
  });
});

describe(filterRows.name, () => {
  it('matches symbol or name, any case', () => {
    expect(symbols(filterRows(rows, 'CORP'))).toEqual(['MSFT', 'NVDA']);
    expect(symbols(filterRows(rows, 'aap'))).toEqual(['AAPL']);
    expect(symbols(filterRows(rows, ' bitc '))).toEqual(['BTC-USD']);
    expect(symbols(filterRows(rows, ''))).toEqual(['MSFT', 'AAPL', 'NVDA', 'BTC-USD']);
    expect(filterRows(rows, 'zzz')).toEqual([]);
  });
});
