import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFS, parsePrefs, Prefs, type PrefsStorage } from './prefs.svelte';

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
  it('survives a reload: sort, open charts, tier and threshold', () => {
    const storage = new MemoryStorage();
    const before = new Prefs(storage);
    before.toggleSort('changePct');
    before.toggleChart('AAPL');
    before.toggleChart('BTC-USD', 60);
    before.setChartWindow('AAPL', 900);
    before.setTier(1000);
    before.setLargeTrade(2_000_000);

    const after = new Prefs(storage);
    expect(after.sort).toEqual({ key: 'changePct', dir: 'desc' });
    expect(after.charts).toEqual([
      { symbol: 'AAPL', windowS: 900 },
      { symbol: 'BTC-USD', windowS: 60 },
    ]);
    expect(after.tierMs).toBe(1000);
    expect(after.largeTrade).toBe(2_000_000);
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
      charts: [{ symbol: 'AAPL', windowS: 300 }, { symbol: 'AAPL', windowS: 60 }, { symbol: 'MSFT', windowS: 7 }, 'x'],
      tierMs: 333,
      largeTrade: -5,
    });
    expect(parsePrefs(raw)).toEqual({ ...DEFAULT_PREFS, charts: [{ symbol: 'AAPL', windowS: 300 }] });
    expect(parsePrefs('{not json')).toEqual(DEFAULT_PREFS);
    expect(parsePrefs(null)).toEqual(DEFAULT_PREFS);
  });
});
