import {
  ViewerFrameSchema,
  type AlertSetAck,
  type AlertSpecInput,
  type FeedAck,
  type FeedTick,
  type FiredAlert,
  type ViewerFrame,
} from '@tickdeck/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPublisher,
  connectViewer,
  sleep,
  startGateway,
  type FeedClient,
  type MarketClient,
  type RunningGateway,
} from './support/gateway.js';
import { until } from './support/until.js';

const TOKEN = 'alerts-test-token-0123';
const PER_VIEWER = 3;

describe('price alerts against a real gateway fed through /feed', () => {
  let gw: RunningGateway;
  let publisher: FeedClient;
  const sockets: MarketClient[] = [];
  let lastTs = 0;

  beforeAll(async () => {
    gw = await startGateway({ FEED: 'external', FEED_TOKEN: TOKEN, MAX_ALERTS_PER_VIEWER: String(PER_VIEWER) });
    publisher = await connectPublisher(gw.url, TOKEN);
    await push([228]);
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    publisher?.disconnect();
    await gw?.stop();
  });

  const viewer = async () => {
    const socket = await connectViewer(gw.url);
    sockets.push(socket);
    const frames: ViewerFrame[] = [];
    socket.on('frame', (f) => frames.push(f));
    const fired = () => frames.flatMap((f) => f.alerts ?? []);
    return { socket, frames, fired };
  };
  const tick = (last: number): FeedTick => ({
    symbol: 'AAPL',
    ts: (lastTs = Math.max(Date.now(), lastTs + 1)),
    last,
    bid: Math.round((last - 0.01) * 100) / 100,
    ask: Math.round((last + 0.01) * 100) / 100,
    volume: 1,
  });
  /** Pushes AAPL ticks at these prices, in one batch; returns them. */
  async function push(prices: number[]): Promise<FeedTick[]> {
    const ticks = prices.map(tick);
    const ack: FeedAck = await publisher.timeout(5000).emitWithAck('ticks', ticks);
    expect(ack).toMatchObject({ accepted: ticks.length, rejectedCount: 0 });
    return ticks;
  }
  const set = (socket: MarketClient, req: { alerts: AlertSpecInput[]; since?: number; states?: object }) =>
    socket.timeout(5000).emitWithAck('alert:set', req as never) as Promise<AlertSetAck>;
  const seqOf = async () =>
    ((await (await fetch(`${gw.url}/api/snapshot/AAPL`)).json()) as { seq: number; epoch: string }) ?? {};

  it('fires once, with the exact crossing tick, for a spike between two quotes; not for other viewers', async () => {
    const setter = await viewer();
    const subscribed = await viewer();
    const bystander = await viewer();
    // The setter holds no symbol; the other one streams AAPL at 1000 ms, far slower than the spike.
    await subscribed.socket.timeout(5000).emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 1000 });
    await bystander.socket.timeout(5000).emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 100 });
    const alert = {
      id: 'aapl-250',
      symbol: 'AAPL',
      condition: { kind: 'above', level: 250 },
      note: 'breakout',
    } as const;
    const ack = await set(setter.socket, { alerts: [alert] });
    expect(ack).toMatchObject({ ok: true, offline: [], alerts: [{ id: 'aapl-250', state: 'armed', fired: 0 }] });
    expect(await set(subscribed.socket, { alerts: [{ ...alert, id: 'mine' }] })).toMatchObject({ ok: true });

    const before = await seqOf();
    await push([229, 251.37, 229.5]); // crosses and comes back inside one batch
    expect(await until(() => setter.fired().length > 0 && subscribed.fired().length > 0, 5000)).toBe(true);
    await sleep(1200); // past a flush of every tier: nothing more comes
    const expected: Partial<FiredAlert> = {
      symbol: 'AAPL',
      condition: { kind: 'above', level: 250 },
      price: 251.37,
      seq: before.seq + 2,
      epoch: before.epoch,
    };
    expect(setter.fired()).toEqual([{ ...expected, id: 'aapl-250', note: 'breakout', ts: expect.any(Number) }]);
    expect(subscribed.fired()).toEqual([{ ...expected, id: 'mine', note: 'breakout', ts: expect.any(Number) }]);
    // No quote ever showed 251.37 to the 1000 ms viewer: only the alert did.
    const quoted = subscribed.frames.flatMap((f) => f.quotes ?? []).map((q) => q.last);
    expect(quoted).not.toContain(251.37);
    expect(bystander.fired()).toEqual([]);
    for (const f of [...setter.frames, ...subscribed.frames]) expect(ViewerFrameSchema.safeParse(f).success).toBe(true);
    // One-shot: gone.
    expect(await setter.socket.timeout(5000).emitWithAck('alert:list')).toEqual({ ok: true, alerts: [] });
    await push([252, 249, 253]);
    await sleep(300);
    expect(setter.fired()).toHaveLength(1);
  });

  it('re-arms past the hysteresis and fires again', async () => {
    const v = await viewer();
    await push([228]);
    const ack = await set(v.socket, {
      alerts: [{ id: 'r', symbol: 'AAPL', condition: { kind: 'below', level: 220 }, rearm: true, hysteresis: 2 }],
    });
    expect(ack).toMatchObject({ ok: true });
    await push([219.5, 221, 219, 222.5, 219.9]);
    expect(await until(() => v.fired().length >= 2, 5000)).toBe(true);
    await sleep(300);
    expect(v.fired().map((f) => [f.price, f.state])).toEqual([
      [219.5, 'waiting'],
      [219.9, 'waiting'],
    ]);
  });

  it('refuses what is malformed or past a bound with a coded error, changes nothing, and the socket stays usable', async () => {
    const v = await viewer();
    const other = await viewer();
    const spec = (id: string, level = 300): AlertSpecInput => ({
      id,
      symbol: 'AAPL',
      condition: { kind: 'above', level },
    });
    const refused = async (req: unknown, code: string) => {
      const ack = await v.socket.timeout(5000).emitWithAck('alert:set', req as never);
      expect(ack, JSON.stringify(ack)).toMatchObject({ ok: false, error: { code } });
    };
    await refused({ alerts: [{ ...spec('a'), condition: { kind: 'above', level: -1 } }] }, 'BAD_REQUEST');
    await refused({ alerts: [{ ...spec('a'), condition: { kind: 'sideways' } }] }, 'BAD_REQUEST');
    await refused({ alerts: [spec('bad id!')] }, 'BAD_REQUEST');
    await refused({ alerts: [spec('a'), spec('a')] }, 'BAD_REQUEST');
    await refused({ alerts: [{ ...spec('m'), condition: { kind: 'move', pct: 1 }, hysteresis: 1 }] }, 'BAD_REQUEST');
    await refused('not an object', 'BAD_REQUEST');
    await refused({ alerts: [{ ...spec('a'), symbol: 'NOPE' }] }, 'UNKNOWN_SYMBOL');
    await refused({ alerts: [spec('a'), spec('b'), spec('c'), spec('d')] }, 'TOO_MANY_ALERTS');
    expect(await v.socket.timeout(5000).emitWithAck('alert:list')).toEqual({ ok: true, alerts: [] });
    expect(await set(v.socket, { alerts: [spec('a'), spec('b'), spec('c')] })).toMatchObject({ ok: true });
    await refused({ alerts: [spec('d')] }, 'TOO_MANY_ALERTS');
    // Replacing one it holds is not one more.
    expect(await set(v.socket, { alerts: [spec('c', 310)] })).toMatchObject({ ok: true });
    expect(await v.socket.timeout(5000).emitWithAck('alert:clear', { ids: ['a', 'zz'] })).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_ALERT', ids: ['zz'] },
    });
    expect(await v.socket.timeout(5000).emitWithAck('alert:clear', { ids: ['a'] })).toEqual({ ok: true, ids: ['a'] });
    const list = await v.socket.timeout(5000).emitWithAck('alert:list');
    expect(list.ok && list.alerts.map((a: { id: string; condition: unknown }) => [a.id, a.condition])).toEqual([
      ['b', { kind: 'above', level: 300 }],
      ['c', { kind: 'above', level: 310 }],
    ]);
    // Still usable, and the other viewer never noticed.
    expect(await v.socket.timeout(5000).emitWithAck('ping')).toMatchObject({ serverTime: expect.any(Number) });
    expect(v.socket.connected && other.socket.connected).toBe(true);
    expect(await other.socket.timeout(5000).emitWithAck('alert:list')).toEqual({ ok: true, alerts: [] });
  });

  it('tells a viewer that was away while its level was crossed, once, marked offline', async () => {
    await push([228]);
    const first = await viewer();
    const alert: AlertSpecInput = { id: 'away', symbol: 'AAPL', condition: { kind: 'above', level: 260 } };
    expect(await set(first.socket, { alerts: [alert] })).toMatchObject({ ok: true });
    const leftAt = Date.now();
    first.socket.disconnect();
    await sleep(50);
    await push([240, 261, 230]); // crossed while nobody held the alert
    await sleep(1100); // the 1-second bar closes
    await push([229]);
    const back = await viewer();
    const ack = await set(back.socket, { alerts: [alert], since: leftAt, states: { away: 'armed' } });
    expect(ack).toMatchObject({
      ok: true,
      alerts: [],
      offline: [{ id: 'away', symbol: 'AAPL', price: 260, seq: 0, offline: true }],
    });
    // The one-shot is gone: nothing more, in the ack or in frames.
    await push([262]);
    await sleep(400);
    expect(back.fired()).toEqual([]);
    // And an alert that was not crossed while away is set again as it was, nothing reported.
    const again = await set(back.socket, {
      alerts: [{ ...alert, id: 'calm', condition: { kind: 'above', level: 500 } }],
      since: leftAt,
    });
    expect(again).toMatchObject({ ok: true, offline: [], alerts: [{ id: 'calm', state: 'armed' }] });
  });
});
