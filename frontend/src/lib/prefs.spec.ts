import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFS, parsePrefs, Prefs, watchedOf, type PrefsStorage } from './prefs.svelte';

class MemoryStorage implements PrefsStorage {
  items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

describe(Prefs.name, () => {
  const carried = ['AAPL', 'MSFT', 'NVDA', 'BTC-USD'];

  it('survives a reload: sort, watchlist, open charts with their interval and mode, tier and threshold', () => {
    const storage = new MemoryStorage();
    const before = new Prefs(storage);
    before.toggleSort('changePct');
    before.toggleChart('AAPL');
    before.toggleChart('BTC-USD', '1s');
    before.setChartInterval('AAPL', '15m');
    before.setChartMode('BTC-USD', 'line');
    before.removeSymbol('MSFT', carried);
    before.setTier(1000);
    before.setLargeTrade(2_000_000);

    const after = new Prefs(storage);
    expect(after.sort).toEqual({ key: 'changePct', dir: 'desc' });
    expect(after.watchlist).toEqual(['AAPL', 'NVDA', 'BTC-USD']);
    expect(after.charts).toEqual([
      { symbol: 'AAPL', interval: '15m', mode: 'candles' },
      { symbol: 'BTC-USD', interval: '1s', mode: 'line' },
    ]);
    expect(after.tierMs).toBe(1000);
    expect(after.largeTrade).toBe(2_000_000);
  });

  it('opens charts on a first visit only, once', () => {
    const storage = new MemoryStorage();
    const first = new Prefs(storage);
    expect(first.charts).toBeNull();
    expect(first.open).toEqual([]);
    first.openFirstVisit(['AAPL', 'MSFT', 'NVDA'], '1s');
    expect(first.open.map((c) => [c.symbol, c.interval])).toEqual([
      ['AAPL', '1s'],
      ['MSFT', '1s'],
    ]);
    first.toggleChart('AAPL');
    first.toggleChart('MSFT');
    const again = new Prefs(storage);
    again.openFirstVisit(['AAPL', 'MSFT'], '1m');
    expect(again.charts).toEqual([]);
  });

  it('watches every symbol until edited, then the chosen ones in the chosen order', () => {
    const prefs = new Prefs();
    expect(prefs.watchlist).toBeNull();
    expect(watchedOf(prefs.watchlist, carried)).toEqual(carried);
    prefs.moveSymbol('BTC-USD', -2, carried);
    expect(prefs.watchlist).toEqual(['AAPL', 'BTC-USD', 'MSFT', 'NVDA']);
    prefs.moveSymbol('AAPL', -1, carried);
    expect(prefs.watchlist).toEqual(['AAPL', 'BTC-USD', 'MSFT', 'NVDA']);
    prefs.toggleChart('MSFT');
    prefs.removeSymbol('MSFT', carried);
    expect(prefs.watchlist).toEqual(['AAPL', 'BTC-USD', 'NVDA']);
    // Removing a symbol closes its chart: the page shows only what it watches.
    expect(prefs.isOpen('MSFT')).toBe(false);
    prefs.addSymbol('MSFT', carried);
    prefs.addSymbol('MSFT', carried);
    prefs.addSymbol('NOPE', carried);
    expect(prefs.watchlist).toEqual(['AAPL', 'BTC-USD', 'NVDA', 'MSFT']);
    // A symbol this gateway does not carry stays stored but is not shown.
    expect(watchedOf(['ETH-USD', 'AAPL'], carried)).toEqual(['AAPL']);
  });

  it('cycles a column through its first direction, the other, and back to no sort', () => {
    const prefs = new Prefs();
    prefs.toggleSort('volume');
    expect(prefs.sort).toEqual({ key: 'volume', dir: 'desc' });
    prefs.toggleSort('volume');
    expect(prefs.sort).toEqual({ key: 'volume', dir: 'asc' });
    prefs.toggleSort('volume');
    expect(prefs.sort).toBeNull();
    prefs.toggleSort('symbol');
    expect(prefs.sort).toEqual({ key: 'symbol', dir: 'asc' });
  });

  it('closes an open chart when toggled again', () => {
    const prefs = new Prefs();
    prefs.toggleChart('AAPL');
    expect(prefs.isOpen('AAPL')).toBe(true);
    prefs.toggleChart('AAPL');
    expect(prefs.charts).toEqual([]);
  });

  it('starts from the defaults when storage is broken or refuses', () => {
    const throwing: PrefsStorage = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    const prefs = new Prefs(throwing);
    expect(prefs.tierMs).toBe(DEFAULT_PREFS.tierMs);
    prefs.setTier(100);
    expect(prefs.tierMs).toBe(100);
  });
});

describe(parsePrefs.name, () => {
  it('keeps the valid parts of what was stored', () => {
    const raw = JSON.stringify({
      sort: { key: 'nope', dir: 'asc' },
      watchlist: ['AAPL', 7, 'AAPL', '', 'MSFT'],
      charts: [
        { symbol: 'AAPL', interval: '5m', mode: 'line' },
        { symbol: 'AAPL', interval: '1m' },
        { symbol: 'MSFT', interval: '2m' },
        { symbol: 'NVDA', interval: '1h', mode: 'bars' },
        'x',
      ],
      tierMs: 333,
      largeTrade: -5,
    });
    expect(parsePrefs(raw)).toEqual({
      ...DEFAULT_PREFS,
      watchlist: ['AAPL', 'MSFT'],
      charts: [
        { symbol: 'AAPL', interval: '5m', mode: 'line' },
        { symbol: 'NVDA', interval: '1h', mode: 'candles' },
      ],
    });
    expect(parsePrefs('{not json')).toEqual(DEFAULT_PREFS);
    expect(parsePrefs(null)).toEqual(DEFAULT_PREFS);
  });

  it("reads the line charts' windows of the previous version as intervals", () => {
    const raw = JSON.stringify({
      charts: [
        { symbol: 'AAPL', windowS: 60 },
        { symbol: 'MSFT', windowS: 300 },
      ],
    });
    expect(parsePrefs(raw).charts).toEqual([
      { symbol: 'AAPL', interval: '1s', mode: 'candles' },
      { symbol: 'MSFT', interval: '5s', mode: 'candles' },
    ]);
  });
});
