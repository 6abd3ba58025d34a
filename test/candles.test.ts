import { CandlesSchema, type Candle, type Candles } from '@tickdeck/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

describe('GET /api/candles against a real gateway', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ FEED_RATE: '2000', FEED_SEED: '5' });
  });
  afterAll(() => gw?.stop());

  const get = async (path: string): Promise<[number, unknown]> => {
    const res = await fetch(`${gw.url}${path}`);
    return [res.status, await res.json()];
  };
  const candles = async (query: string): Promise<Candle[]> => {
    const [status, body] = await get(`/api/candles/AAPL?${query}`);
    expect(status, query).toBe(200);
    return CandlesSchema.parse(body).candles;
  };

  it('serves 1s bars oldest first with the open bar last, and the 5s bars agree with them exactly', async () => {
    // Until a closed 5s bar lies wholly within the 1s bars held (the first 1s bar may be partial).
    let seconds: Candle[] = [];
    let fives: Candle[] = [];
    const whole = () => fives.find((c) => c.closed && c.start > seconds[0]!.start);
    expect(
      await until(async () => {
        [seconds, fives] = await Promise.all([candles('interval=1s&limit=5000'), candles('interval=5s')]);
        return seconds.length > 5 && whole() !== undefined;
      }, 20_000),
    ).toBe(true);
    const starts = seconds.map((c) => c.start);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(new Set(starts).size).toBe(starts.length);
    for (const c of seconds) {
      expect(c.start % 1000).toBe(0);
      expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close));
      expect(c.low).toBeLessThanOrEqual(Math.min(c.open, c.close));
      expect(c.ticks).toBeGreaterThan(0);
    }
    expect(seconds.slice(0, -1).every((c) => c.closed)).toBe(true);
    // A closed 5s bar is exactly its five seconds: first open, last close, extremes, sums.
    const five = whole()!;
    const inside = seconds.filter((c) => c.start >= five.start && c.start < five.start + 5000);
    expect(inside.every((c) => c.closed)).toBe(true);
    expect(five).toEqual({
      start: five.start,
      open: inside[0]!.open,
      high: Math.max(...inside.map((c) => c.high)),
      low: Math.min(...inside.map((c) => c.low)),
      close: inside.at(-1)!.close,
      volume: expect.closeTo(
        inside.reduce((s, c) => s + c.volume, 0),
        6,
      ),
      ticks: inside.reduce((s, c) => s + c.ticks, 0),
      closed: true,
    });
  });

  it('pages back in time by `to`, honours from and limit', async () => {
    // Runs after the test above: the gateway has held bars for several seconds.
    const all = await candles('interval=1s&limit=5000');
    const closed = all.filter((c) => c.closed);
    expect(closed.length).toBeGreaterThan(4);
    const newest3 = await candles('interval=1s&limit=3');
    expect(newest3).toHaveLength(3);
    const to = closed.at(-2)!.start;
    const page = await candles(`interval=1s&limit=2&to=${to}`);
    expect(page.map((c) => c.start)).toEqual(
      closed
        .filter((c) => c.start < to)
        .slice(-2)
        .map((c) => c.start),
    );
    const from = closed[1]!.start;
    const since = await candles(`interval=1s&limit=5000&from=${from}&to=${to}`);
    expect(since.map((c) => c.start)).toEqual(
      closed.filter((c) => c.start >= from && c.start < to).map((c) => c.start),
    );
  });

  it('answers bad queries with coded 400s and an unknown symbol with 404', async () => {
    for (const q of ['interval=2m', 'limit=0', 'limit=5001', 'from=abc', 'to=-5']) {
      const [status, body] = await get(`/api/candles/AAPL?${q}`);
      expect(status, q).toBe(400);
      expect(body, q).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    }
    const [status, body] = await get('/api/candles/NOPE?interval=1m');
    expect(status).toBe(404);
    expect(body).toMatchObject({ error: { code: 'UNKNOWN_SYMBOL' } });
    // The default interval is 1m, and the body says which.
    const [ok, def] = await get('/api/candles/AAPL');
    expect(ok).toBe(200);
    expect((def as Candles).interval).toBe('1m');
  });
});
