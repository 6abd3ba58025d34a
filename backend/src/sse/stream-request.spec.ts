import { describe, expect, it } from 'vitest';
import { readStreamRequest } from './stream-request.js';

const EPOCH = 'aaaaaaaaaaaa';
const read = (query: string, lastEventId?: string) => readStreamRequest(new URLSearchParams(query), lastEventId, EPOCH);

describe(readStreamRequest.name, () => {
  it('turns the query into the subscribe a socket would send', () => {
    expect(read('symbols=AAPL,,btc-usd&throttleMs=100&candles=1m,5s')).toEqual({
      ok: true,
      request: { subscribe: { symbols: ['AAPL', 'btc-usd'], throttleMs: 100, candles: ['1m', '5s'] } },
    });
    expect(read('symbols=AAPL')).toEqual({ ok: true, request: { subscribe: { symbols: ['AAPL'] } } });
    // Symbols, tiers and intervals are the subscribe's to judge, so both refuse the same.
    expect(read('symbols=NOPE&throttleMs=7&candles=2m')).toMatchObject({
      ok: true,
      request: { subscribe: { symbols: ['NOPE'], throttleMs: 7, candles: ['2m'] } },
    });
  });

  it.each([
    ['', /^symbols: /],
    ['symbols=,', /^symbols: /],
    ['symbols=AAPL&symbols=MSFT', /^symbols: give it once/],
    ['symbols=AAPL&throttleMs=fast', /^throttleMs: /],
    ['symbols=AAPL&throttleMs=-100', /^throttleMs: /],
    ['symbols=AAPL&throttleMs=1e3', /^throttleMs: /],
    ['symbols=AAPL&token=secret', /^unknown parameter "token"/],
    ['symbols=AAPL&since=3', /^unknown parameter "since"/],
  ])('refuses %j', (query, message) => {
    const result = read(query);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it('resumes from a Last-Event-ID of this epoch: since for the symbols both name', () => {
    expect(read('symbols=aapl,MSFT,NVDA', `${EPOCH}:AAPL=41,MSFT=7,TSLA=3`)).toEqual({
      ok: true,
      request: { subscribe: { symbols: ['aapl', 'MSFT', 'NVDA'], epoch: EPOCH, since: { AAPL: 41, MSFT: 7 } } },
    });
  });

  it('starts afresh from a Last-Event-ID of another epoch, and names it', () => {
    expect(read('symbols=AAPL', 'bbbbbbbbbbbb:AAPL=41')).toEqual({
      ok: true,
      request: { subscribe: { symbols: ['AAPL'] }, previousEpoch: 'bbbbbbbbbbbb' },
    });
  });

  it('refuses a Last-Event-ID it did not write, and ignores an empty one', () => {
    expect(read('symbols=AAPL', 'garbage')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^Last-Event-ID/),
    });
    expect(read('symbols=AAPL', '')).toEqual({ ok: true, request: { subscribe: { symbols: ['AAPL'] } } });
  });
});
