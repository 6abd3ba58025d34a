import { describe, expect, it } from 'vitest';
import { connectionLabel, decimalsOf, formatVolume, watchlistLine } from './format';
import { quote, spec } from './test-data';

describe(decimalsOf.name, () => {
  it('counts the decimal places of a tick size', () => {
    expect([1, 0.5, 0.25, 0.01, 0.0001, 0.00001].map(decimalsOf)).toEqual([0, 1, 2, 2, 4, 5]);
  });
});

describe(formatVolume.name, () => {
  it('abbreviates large volumes and keeps fractional coins', () => {
    expect([950, 12_345, 1_234_567, 0.08].map(formatVolume)).toEqual(['950', '12.35K', '1.23M', '0.08']);
  });
});

describe(watchlistLine.name, () => {
  it('formats prices to the tick size and signs a gain', () => {
    const line = watchlistLine(
      spec('BTC-USD'),
      quote('BTC-USD', 7, { last: 67_312.5, open: 67_250, bid: 67_310.01, ask: 67_315, volume: 42.123 }),
    );
    expect(line).toEqual({
      symbol: 'BTC-USD',
      name: 'Bitcoin',
      last: '67,312.50',
      change: '+62.50',
      changePct: '+0.09%',
      direction: 'up',
      arrow: '▲',
      bid: '67,310.01',
      ask: '67,315.00',
      volume: '42.12',
    });
  });

  it('shows a loss with a minus sign and a down arrow', () => {
    const line = watchlistLine(spec('DOGE-USD'), quote('DOGE-USD', 3, { last: 0.10901, open: 0.10932 }));
    expect(line).toMatchObject({ last: '0.10901', change: '−0.00031', changePct: '−0.28%', direction: 'down' });
    expect(line.arrow).toBe('▼');
  });

  it('calls a change that rounds to zero flat, without a sign', () => {
    const line = watchlistLine(
      spec('AAPL'),
      quote('AAPL', 1, { last: 228.5, open: 228.5, change: -1e-12, changePct: -0 }),
    );
    expect(line).toMatchObject({ change: '0.00', changePct: '0.00%', direction: 'flat', arrow: '' });
  });

  it('shows placeholders until the first quote', () => {
    const line = watchlistLine(spec('AAPL'), undefined);
    expect(line).toMatchObject({ symbol: 'AAPL', name: 'Apple Inc.', last: '—', change: '—', bid: '—', volume: '—' });
  });
});

describe(connectionLabel.name, () => {
  it('describes each connection state', () => {
    expect(connectionLabel({ state: 'connecting' })).toBe('Connecting…');
    expect(connectionLabel({ state: 'live' })).toBe('Live');
    expect(connectionLabel({ state: 'reconnecting', attempt: 0 })).toBe('Reconnecting…');
    expect(connectionLabel({ state: 'reconnecting', attempt: 4 })).toBe('Reconnecting (attempt 4)');
    expect(connectionLabel({ state: 'offline', reason: 'gave up reconnecting' })).toBe('Offline: gave up reconnecting');
  });
});
