import { DEFAULT_INSTRUMENTS, FEED_RULES, FeedTickSchema, FeedTradeSchema } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { MarketState } from '../market/market-state.js';
import { FeedHealth } from './feed-health.js';
import { FeedService } from './feed.service.js';
import { Ingest } from './ingest.js';
import { LocalSequencer } from './sequencer.js';

const NOW = Date.UTC(2026, 10, 25, 12);
const BASE = {
  tick: { symbol: 'AAPL', ts: NOW - 1000, last: 100.5, bid: 100.4, ask: 100.6, volume: 1 },
  trade: { symbol: 'AAPL', ts: NOW - 1000, price: 100.5, size: 10, side: 'buy' },
};

/** The gateway's fast validator on a fresh market: the code it answers, or null when it accepts. */
function gateway(kind: 'tick' | 'trade', item: Record<string, unknown>): string | null {
  const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 10 });
  const service = new FeedService(new LocalSequencer(new Ingest(market, new FeedHealth(1000))), {
    indexOf: (s) => market.indexOf(s),
    lastEventTs: (i) => market.lastEventTsAt(i),
    holdsTradeId: (i, id) => market.holdsTradeId(i, id),
    clockSkewMs: 5000,
    token: 'token-token',
    now: () => NOW,
  });
  const ack = kind === 'tick' ? service.ticks([item]) : service.trades([item]);
  return ack.accepted === 1 ? null : (ack.rejected[0]?.code ?? 'none listed');
}

const zod = (kind: 'tick' | 'trade', item: Record<string, unknown>) =>
  (kind === 'tick' ? FeedTickSchema : FeedTradeSchema).safeParse(item).success;

describe('FEED_RULES', () => {
  it.each(FEED_RULES.map((r) => [r.rule, r] as const))('%s: zod and the gateway agree, with its code', (_, r) => {
    const pass = { ...BASE[r.kind], ...r.pass };
    const fail = { ...BASE[r.kind], ...r.fail };
    expect(zod(r.kind, pass)).toBe(true);
    expect(gateway(r.kind, pass)).toBeNull();
    expect(zod(r.kind, fail)).toBe(false);
    expect(gateway(r.kind, fail)).toBe(r.code);
  });
});
