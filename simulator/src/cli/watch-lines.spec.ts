import { describe, expect, it } from 'vitest';
import type { Quote, Snapshot, Trade } from '@tickdeck/protocol';
import { formatGap, formatPrice, formatQuote, formatSnapshot, formatStatus, formatTrades } from './watch-lines.js';

const state = { ts: 1_790_000_000_000, open: 188, high: 190, low: 187, volume: 5000, change: 1.23, changePct: 0.65 };
const quote = (fields: Partial<Quote> = {}): Quote => ({
  symbol: 'AAPL',
  seq: 1234,
  last: 189.23,
  bid: 189.22,
  ask: 189.24,
  conflated: 3,
  ...state,
  ...fields,
});
const snapshot = (fields: Partial<Snapshot> = {}): Snapshot => {
  const { conflated: _conflated, ...q } = quote();
  return { ...q, tradeSeq: 56, epoch: 'e1', ...fields };
};
const trade = (seq: number, fields: Partial<Trade> = {}): Trade => ({
  id: `AAPL-${seq}`,
  seq,
  ts: 1_790_000_000_000,
  price: 189.23,
  size: 100,
  side: 'buy',
  ...fields,
});

describe(formatQuote.name, () => {
  it('prints last, bid, ask and seq, and how many ticks the quote stands for', () => {
    expect(formatQuote(quote())).toBe('AAPL 189.23 bid 189.22 ask 189.24 seq 1234 (x3)');
    expect(formatQuote(quote({ conflated: 1 }))).toBe('AAPL 189.23 bid 189.22 ask 189.24 seq 1234');
  });

  it("pads prices to the instrument's tick size", () => {
    expect(formatQuote(quote({ last: 189.2, bid: 189, ask: 189.3, conflated: 1 }))).toBe(
      'AAPL 189.20 bid 189.00 ask 189.30 seq 1234',
    );
  });
});

describe(formatPrice.name, () => {
  it('prints a symbol the defaults do not know in its shortest form', () => {
    expect(formatPrice('ZZZ', 0.1 + 0.2)).toBe('0.3');
    expect(formatPrice('ZZZ', 42)).toBe('42');
    expect(formatPrice('ZZZ', 0.000012346)).toBe('0.00001235');
  });
});

describe(formatSnapshot.name, () => {
  it('prints the state and the latest trade seq, or that nothing happened yet', () => {
    expect(formatSnapshot(snapshot())).toBe('AAPL snapshot 189.23 bid 189.22 ask 189.24 seq 1234 trade #56');
    expect(formatSnapshot(snapshot({ tradeSeq: 0 }))).toBe('AAPL snapshot 189.23 bid 189.22 ask 189.24 seq 1234');
    expect(formatSnapshot(snapshot({ seq: 0, tradeSeq: 0 }))).toBe('AAPL snapshot: no tick yet');
  });
});

describe(formatTrades.name, () => {
  it('prints one line per trade, in order', () => {
    expect(
      formatTrades({ symbol: 'AAPL', trades: [trade(57), trade(58, { side: 'sell', size: 2.5, price: 189.2 })] }),
    ).toEqual(['AAPL trade buy 100 @ 189.23 #57', 'AAPL trade sell 2.5 @ 189.20 #58']);
  });

  it('warns of a gap before the trades that follow it', () => {
    expect(formatTrades({ symbol: 'AAPL', trades: [trade(900)], gap: true })).toEqual([
      'warning: AAPL trades were lost before #900 (they came faster than the gateway keeps them)',
      'AAPL trade buy 100 @ 189.23 #900',
    ]);
    expect(formatTrades({ symbol: 'AAPL', trades: [], gap: true })).toEqual([
      'warning: AAPL trades were lost (they came faster than the gateway keeps them)',
    ]);
  });
});

describe(formatGap.name, () => {
  it('names the symbol', () => {
    expect(formatGap('KO')).toMatch(/^warning: KO trades missed while disconnected/);
  });
});

describe(formatStatus.name, () => {
  it('prints every field the status carries', () => {
    expect(formatStatus({ feed: 'stale' })).toBe('status: feed stale');
    expect(
      formatStatus({
        server: 'shutdown',
        cluster: 'degraded',
        notice: { code: 'TOKEN_EXPIRED', message: 'the token expired' },
      }),
    ).toBe('status: server shutdown, cluster degraded, notice TOKEN_EXPIRED (the token expired)');
  });
});
