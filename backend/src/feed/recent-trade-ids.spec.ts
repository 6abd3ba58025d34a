import { describe, expect, it } from 'vitest';
import { RecentTradeIds } from './recent-trade-ids.js';

describe(RecentTradeIds.name, () => {
  it('holds ids per symbol and forgets the oldest past its capacity', () => {
    const ids = new RecentTradeIds(3);
    ids.add(0, 'a');
    ids.add(1, 'a');
    ids.add(0, 'b');
    expect([ids.has(0, 'a'), ids.has(1, 'a'), ids.has(0, 'b'), ids.has(1, 'b')]).toEqual([true, true, true, false]);
    ids.add(2, 'c'); // forgets (0, 'a')
    expect([ids.has(0, 'a'), ids.has(1, 'a'), ids.has(2, 'c')]).toEqual([false, true, true]);
    ids.add(0, 'b'); // twice now; forgets (1, 'a')
    ids.add(0, 'd'); // forgets the first (0, 'b'), not the second
    expect([ids.has(1, 'a'), ids.has(0, 'b'), ids.has(0, 'd')]).toEqual([false, true, true]);
  });
});
