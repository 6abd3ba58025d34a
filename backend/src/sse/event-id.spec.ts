import { LIMITS } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { formatEventId, MAX_EVENT_ID_LENGTH, parseEventId } from './event-id.js';

describe(parseEventId.name, () => {
  it('reads back what formatEventId wrote', () => {
    const id = formatEventId('3f9a0c1b2d4e', [
      ['AAPL', 41],
      ['BTC-USD', 0],
      ['BRK.B', 9_007_199_254_740_991],
    ]);
    expect(id).toBe('3f9a0c1b2d4e:AAPL=41,BTC-USD=0,BRK.B=9007199254740991');
    const parsed = parseEventId(id)!;
    expect(parsed.epoch).toBe('3f9a0c1b2d4e');
    expect([...parsed.trades]).toEqual([
      ['AAPL', 41],
      ['BTC-USD', 0],
      ['BRK.B', 9_007_199_254_740_991],
    ]);
  });

  it('takes the last colon as the end of the epoch, and symbols in any case', () => {
    const parsed = parseEventId('node:a:b:aapl=3')!;
    expect(parsed.epoch).toBe('node:a:b');
    expect(parsed.trades.get('AAPL')).toBe(3);
  });

  it.each([
    ['', 'empty'],
    ['AAPL=3', 'no epoch'],
    [':AAPL=3', 'an empty epoch'],
    [`${'e'.repeat(65)}:AAPL=3`, 'an epoch longer than 64'],
    ['ep:', 'no symbols'],
    ['ep:AAPL', 'no seq'],
    ['ep:AAPL=', 'an empty seq'],
    ['ep:AAPL=-1', 'a negative seq'],
    ['ep:AAPL=01', 'a leading zero'],
    ['ep:AAPL=1.5', 'a fraction'],
    ['ep:AAPL=1e3', 'an exponent'],
    ['ep:AAPL=99999999999999999', 'a seq beyond 2^53'],
    ['ep:AAPL=1,aapl=2', 'a symbol twice'],
    ['ep:AA PL=1', 'a space in a symbol'],
    ['ep:__proto__=1', 'a symbol out of shape'],
    [`ep:${'A'.repeat(LIMITS.maxSymbolLength + 1)}=1`, 'a symbol too long'],
    ['ep:AAPL=1,,MSFT=2', 'an empty pair'],
    [
      `ep:${Array.from({ length: LIMITS.maxSymbolsPerRequest + 1 }, (_, k) => `S${k}=1`).join(',')}`,
      'too many symbols',
    ],
    [`ep:AAPL=${'1'.repeat(MAX_EVENT_ID_LENGTH)}`, 'too long'],
  ])('refuses %j (%s)', (id) => {
    expect(parseEventId(id)).toBeNull();
  });
});
