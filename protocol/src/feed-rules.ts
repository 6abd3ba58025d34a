import { ErrorCode, LIMITS, MIN_FEED_TS } from './constants.js';

/** One feed validation rule: its code, and an item that keeps it and one that breaks it. */
export interface FeedRule {
  /** What the rule says, as the README states it. */
  rule: string;
  kind: 'tick' | 'trade';
  /** The code a gateway answers for an item breaking the rule. */
  code: ErrorCode;
  /** Fields over a valid item of `kind` that keep the rule (often at its bound). */
  pass: Record<string, unknown>;
  /** Fields over a valid item of `kind` that break it. */
  fail: Record<string, unknown>;
}

/**
 * Every stateless rule a feed item is judged by, once: the protocol's zod schemas
 * (`FeedTickSchema`, `FeedTradeSchema`) and the gateway's fast validator are both checked
 * against this table. (The time rules that depend on the gateway's clock and state, and
 * `UNKNOWN_SYMBOL`, which depends on its universe, are the gateway's alone.)
 */
export const FEED_RULES: readonly FeedRule[] = [
  { rule: 'last is > 0', kind: 'tick', code: ErrorCode.BAD_PRICE, pass: { last: 0.01 }, fail: { last: 0 } },
  {
    rule: `last is at most LIMITS.maxPrice (${LIMITS.maxPrice})`,
    kind: 'tick',
    code: ErrorCode.BAD_PRICE,
    pass: { last: LIMITS.maxPrice },
    fail: { last: 1e308 },
  },
  { rule: 'last is a number', kind: 'tick', code: ErrorCode.BAD_PRICE, pass: { last: 100 }, fail: { last: '100' } },
  { rule: 'last is finite', kind: 'tick', code: ErrorCode.BAD_PRICE, pass: { last: 100 }, fail: { last: Number.NaN } },
  {
    rule: 'bid is at most ask',
    kind: 'tick',
    code: ErrorCode.BAD_PRICE,
    pass: { bid: 100.6, ask: 100.6 },
    fail: { bid: 100.7, ask: 100.6 },
  },
  {
    rule: `ask is at most LIMITS.maxPrice`,
    kind: 'tick',
    code: ErrorCode.BAD_PRICE,
    pass: { bid: 100, ask: LIMITS.maxPrice },
    fail: { bid: 100, ask: LIMITS.maxPrice * 2 },
  },
  { rule: 'volume is >= 0', kind: 'tick', code: ErrorCode.BAD_REQUEST, pass: { volume: 0 }, fail: { volume: -1 } },
  {
    rule: `volume is at most LIMITS.maxVolume (${LIMITS.maxVolume})`,
    kind: 'tick',
    code: ErrorCode.BAD_REQUEST,
    pass: { volume: LIMITS.maxVolume },
    fail: { volume: LIMITS.maxVolume * 10 },
  },
  {
    rule: 'ts is epoch ms from 2000-01-01',
    kind: 'tick',
    code: ErrorCode.BAD_TIMESTAMP,
    pass: {},
    fail: { ts: MIN_FEED_TS - 1 },
  },
  { rule: 'ts is a number', kind: 'tick', code: ErrorCode.BAD_TIMESTAMP, pass: {}, fail: { ts: '1' } },
  {
    rule: 'no field beyond symbol, ts, last, bid, ask, volume',
    kind: 'tick',
    code: ErrorCode.BAD_REQUEST,
    pass: {},
    fail: { extra: true },
  },
  {
    rule: 'symbols match case-insensitively',
    kind: 'tick',
    code: ErrorCode.BAD_REQUEST,
    pass: { symbol: 'aapl' },
    fail: { symbol: 42 },
  },
  { rule: 'price is > 0', kind: 'trade', code: ErrorCode.BAD_PRICE, pass: { price: 0.01 }, fail: { price: -1 } },
  {
    rule: 'price is at most LIMITS.maxPrice',
    kind: 'trade',
    code: ErrorCode.BAD_PRICE,
    pass: { price: LIMITS.maxPrice },
    fail: { price: LIMITS.maxPrice + 1 },
  },
  { rule: 'size is > 0', kind: 'trade', code: ErrorCode.BAD_REQUEST, pass: { size: 1e-8 }, fail: { size: 0 } },
  {
    rule: `size is at most LIMITS.maxSize (${LIMITS.maxSize})`,
    kind: 'trade',
    code: ErrorCode.BAD_REQUEST,
    pass: { size: LIMITS.maxSize },
    fail: { size: LIMITS.maxSize + 1 },
  },
  {
    rule: 'side is "buy" or "sell"',
    kind: 'trade',
    code: ErrorCode.BAD_REQUEST,
    pass: { side: 'sell' },
    fail: { side: 'SELL' },
  },
  {
    rule: 'an id is 1-64 of A-Z a-z 0-9 . _ : -',
    kind: 'trade',
    code: ErrorCode.BAD_REQUEST,
    pass: { id: 'x'.repeat(64) },
    fail: { id: '<b>hi</b>' },
  },
  {
    rule: 'an id is not in the gateway’s own SYMBOL-<digits> shape',
    kind: 'trade',
    code: ErrorCode.BAD_REQUEST,
    pass: { id: 'AAPL-x7' },
    fail: { id: 'AAPL-7' },
  },
  {
    rule: 'no field beyond symbol, ts, price, size, side, id',
    kind: 'trade',
    code: ErrorCode.BAD_REQUEST,
    pass: {},
    fail: { venue: 'X' },
  },
];
