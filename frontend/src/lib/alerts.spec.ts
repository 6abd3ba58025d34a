import { describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  type AlertClearRequest,
  type AlertSetAck,
  type AlertSetRequest,
  type AlertSpec,
  type FiredAlert,
  type HeldAlertInfo,
} from '@tickdeck/protocol';
import { AlertStore, parseStoredAlerts, reregistration, type AlertChannel, type PageAlert } from './alerts.svelte';
import { EPOCH } from './test-data';

const KEY = 'tickdeck.alerts.v1';

class MemoryStorage {
  data = new Map<string, string>();
  writes = 0;
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.writes++;
    this.data.set(key, value);
  }
}

/** Plays the gateway: holds what was set, answers each request with `answer` (default: take it). */
class FakeChannel implements AlertChannel {
  sets: AlertSetRequest[] = [];
  clears: AlertClearRequest[] = [];
  held = new Map<string, HeldAlertInfo>();
  answer: ((req: AlertSetRequest) => AlertSetAck | undefined) | undefined;
  offline: FiredAlert[] = [];

  set(req: AlertSetRequest): Promise<AlertSetAck> {
    this.sets.push(req);
    const custom = this.answer?.(req);
    if (custom) return Promise.resolve(custom);
    const gone = new Set(this.offline.filter((f) => !f.state).map((f) => f.id));
    for (const a of req.alerts) {
      if (gone.has(a.id)) continue;
      const spec = a as AlertSpec;
      this.held.set(a.id, {
        ...spec,
        rearm: spec.rearm ?? false,
        hysteresis: spec.hysteresis ?? 0,
        state: 'armed',
        fired: 0,
      });
    }
    const offline = this.offline;
    this.offline = [];
    return Promise.resolve({ ok: true, alerts: [...this.held.values()], offline });
  }
  clear(req: AlertClearRequest) {
    this.clears.push(req);
    const unknown = req.ids.filter((id) => !this.held.has(id));
    if (unknown.length > 0) {
      return Promise.resolve({
        ok: false as const,
        error: { code: ErrorCode.UNKNOWN_ALERT, message: 'no alert', ids: unknown },
      });
    }
    for (const id of req.ids) this.held.delete(id);
    return Promise.resolve({ ok: true as const, ids: req.ids });
  }
  list() {
    return Promise.resolve({ ok: true as const, alerts: [...this.held.values()] });
  }
}

const fired = (id: string, over: Partial<FiredAlert> = {}): FiredAlert => ({
  id,
  symbol: 'AAPL',
  condition: { kind: 'above', level: 230 },
  price: 230.15,
  ts: 1_700_000_000_000,
  seq: 41,
  epoch: EPOCH,
  ...over,
});

const alert = (id: string, status: PageAlert['status'], over: Partial<AlertSpec> = {}): PageAlert => ({
  spec: { id, symbol: 'AAPL', condition: { kind: 'above', level: 230 }, rearm: false, hysteresis: 0, ...over },
  status,
  created: 1,
  count: 0,
});

let ids = 0;
const store = (storage = new MemoryStorage(), onFire = vi.fn()) =>
  new AlertStore({ storage, onFire, newId: () => `id${++ids}`, now: () => 1_000_000 });

describe(AlertStore.name, () => {
  it('keeps alerts, their state and the sound setting across a reload', async () => {
    const storage = new MemoryStorage();
    const a = store(storage);
    await a.add({ symbol: 'AAPL', condition: { kind: 'below', level: 220 }, note: 'stop', rearm: true, hysteresis: 2 });
    a.setSound(true);
    const again = store(storage);
    expect(again.sound).toBe(true);
    expect(again.alerts).toEqual([
      {
        spec: {
          id: a.alerts[0]!.spec.id,
          symbol: 'AAPL',
          condition: { kind: 'below', level: 220 },
          note: 'stop',
          rearm: true,
          hysteresis: 2,
        },
        status: 'pending',
        created: 1_000_000,
        count: 0,
      },
    ]);
  });

  it('reads only the valid parts of what is stored', () => {
    const raw = JSON.stringify({
      alerts: [
        { spec: { id: 'ok', symbol: 'AAPL', condition: { kind: 'move', pct: 2 } }, status: 'waiting' },
        { spec: { id: 'bad id!', symbol: 'AAPL', condition: { kind: 'above', level: 1 } } },
        { spec: { id: 'neg', symbol: 'AAPL', condition: { kind: 'above', level: -1 } } },
        { spec: { id: 'ok', symbol: 'MSFT', condition: { kind: 'above', level: 1 } } },
        'junk',
      ],
      seen: 'yesterday',
      sound: 'yes',
    });
    const data = parseStoredAlerts(raw);
    expect(data.alerts.map((a) => [a.spec.id, a.spec.symbol, a.status, a.spec.rearm])).toEqual([
      ['ok', 'AAPL', 'waiting', false],
    ]);
    expect(data.seen).toBeUndefined();
    expect(data.sound).toBe(false);
    expect(parseStoredAlerts('{not json').alerts).toEqual([]);
  });

  it('re-registers held alerts with since and their states, new ones without, and never a fired one-shot', () => {
    const alerts = [
      alert('a', 'armed'),
      alert('w', 'waiting', { rearm: true, hysteresis: 1 }),
      alert('f', 'fired'),
      alert('p', 'pending'),
      alert('r', 'refused'),
    ];
    expect(reregistration(alerts, 1_700_000_000_123.6)).toEqual([
      {
        alerts: [alerts[0]!.spec, alerts[1]!.spec],
        since: 1_700_000_000_123,
        states: { a: 'armed', w: 'waiting' },
      },
      { alerts: [alerts[3]!.spec, alerts[4]!.spec] },
    ]);
    // Never seen the market: nothing to ask about.
    expect(reregistration(alerts, undefined)[0]).toEqual({ alerts: [alerts[0]!.spec, alerts[1]!.spec] });
    expect(reregistration([alert('f', 'fired')], 5)).toEqual([]);
  });

  it('on reconnect sends the re-registration with the last seen time and marks what fired while away, once', async () => {
    const storage = new MemoryStorage();
    const first = store(storage);
    const ch1 = new FakeChannel();
    await first.connected(ch1);
    await first.add({ symbol: 'AAPL', condition: { kind: 'above', level: 230 } });
    await first.add({ symbol: 'AAPL', condition: { kind: 'below', level: 220 }, rearm: true, hysteresis: 2 });
    expect(first.alerts.map((a) => a.status)).toEqual(['armed', 'armed']);
    first.seen(1_700_000_000_500);
    first.disconnected();
    const [oneShot, rearming] = first.alerts.map((a) => a.spec.id) as [string, string];

    // The page reloads; the gateway finds both in the bars.
    const onFire = vi.fn();
    const page = store(storage, onFire);
    const ch2 = new FakeChannel();
    ch2.offline = [
      fired(oneShot, { price: 230, ts: 1_700_000_001_000, seq: 0, offline: true }),
      fired(rearming, {
        condition: { kind: 'below', level: 220 },
        price: 220,
        ts: 1_700_000_002_000,
        seq: 0,
        offline: true,
        state: 'waiting',
      }),
    ];
    await page.connected(ch2);
    expect(ch2.sets[0]).toEqual({
      alerts: page.alerts.map((a) => a.spec),
      since: 1_700_000_000_500,
      states: { [oneShot]: 'armed', [rearming]: 'armed' },
    });
    expect(onFire).toHaveBeenCalledTimes(2);
    expect(page.get(oneShot)).toMatchObject({
      status: 'fired',
      count: 1,
      fired: { price: 230, ts: 1_700_000_001_000, offline: true },
    });
    // The gateway set the re-arming one again (armed from the current price).
    expect(page.get(rearming)).toMatchObject({ status: 'armed', count: 1, fired: { price: 220, offline: true } });
    expect(ch2.held.has(oneShot)).toBe(false);

    // Another reload: the crossings are not reported again, and the fired one-shot is not set again.
    const later = store(storage, onFire);
    const ch3 = new FakeChannel();
    await later.connected(ch3);
    expect(ch3.sets[0]!.alerts.map((a) => a.id)).toEqual([rearming]);
    expect(ch3.sets[0]!.since).toBe(1_700_000_002_000);
    expect(onFire).toHaveBeenCalledTimes(2);
    expect(later.get(oneShot)).toMatchObject({ status: 'fired', fired: { offline: true } });
  });

  it('marks a fired one-shot fired and a re-arming one waiting, and reports each crossing once', async () => {
    const onFire = vi.fn();
    const s = store(new MemoryStorage(), onFire);
    const ch = new FakeChannel();
    await s.connected(ch);
    const once = (await s.add({ symbol: 'AAPL', condition: { kind: 'above', level: 230 } })) as { alert: PageAlert };
    const again = (await s.add({
      symbol: 'AAPL',
      condition: { kind: 'above', level: 231 },
      rearm: true,
      hysteresis: 0.5,
    })) as { alert: PageAlert };
    const a = fired(once.alert.spec.id, { price: 230.15, seq: 7 });
    const b = fired(again.alert.spec.id, {
      condition: { kind: 'above', level: 231 },
      price: 231.2,
      seq: 8,
      state: 'waiting',
    });
    s.applyFired([a, b]);
    s.applyFired([a]); // the same crossing twice: shown once
    expect(onFire).toHaveBeenCalledTimes(2);
    expect(onFire.mock.calls[0]![1]).toEqual(a);
    expect(s.get(a.id)).toMatchObject({ status: 'fired', count: 1, fired: { price: 230.15, seq: 7, offline: false } });
    expect(s.get(b.id)).toMatchObject({ status: 'waiting', count: 1, fired: { price: 231.2 } });
    // A fired alert counts as seen market.
    expect(s.seenTs).toBe(a.ts);
    // A fire for an alert the page no longer has is ignored.
    s.applyFired([fired('gone')]);
    expect(onFire).toHaveBeenCalledTimes(2);
  });

  it('keeps an alert set while offline pending, and registers it without since on connecting', async () => {
    const s = store();
    s.seen(1_700_000_000_000);
    const result = await s.add({ symbol: 'MSFT', condition: { kind: 'move', pct: 2 } });
    expect(result).toMatchObject({ ok: true, alert: { status: 'pending' } });
    const ch = new FakeChannel();
    await s.connected(ch);
    expect(ch.sets).toEqual([{ alerts: [s.alerts[0]!.spec] }]);
    expect(s.alerts[0]!.status).toBe('armed');
  });

  it('keeps nothing of a refused alert and says why (TOO_MANY_ALERTS)', async () => {
    const s = store();
    const ch = new FakeChannel();
    await s.connected(ch);
    ch.answer = () => ({
      ok: false,
      error: { code: ErrorCode.TOO_MANY_ALERTS, message: 'a viewer holds at most 50 alerts (MAX_ALERTS_PER_VIEWER)' },
    });
    const result = await s.add({ symbol: 'AAPL', condition: { kind: 'above', level: 230 } });
    expect(result).toMatchObject({ ok: false, code: 'TOO_MANY_ALERTS' });
    expect(result.ok ? '' : result.message).toMatch(/Too many alerts: a viewer holds at most 50/);
    expect(s.alerts).toEqual([]);
    expect(s.notice).toMatch(/Too many alerts/);
  });

  it('marks the alerts of a symbol the gateway does not carry refused, and sets the others', async () => {
    const storage = new MemoryStorage();
    storage.setItem(
      KEY,
      JSON.stringify({ alerts: [alert('a', 'armed'), alert('z', 'armed', { symbol: 'ZZZ' })], seen: 5 }),
    );
    const s = store(storage);
    const ch = new FakeChannel();
    ch.answer = (req) =>
      req.alerts.some((a) => a.symbol === 'ZZZ')
        ? { ok: false, error: { code: ErrorCode.UNKNOWN_SYMBOL, message: 'unknown symbol(s): ZZZ', symbols: ['ZZZ'] } }
        : undefined;
    await s.connected(ch);
    expect(ch.sets.map((r) => r.alerts.map((a) => a.id))).toEqual([['a', 'z'], ['a']]);
    expect(ch.sets[1]).toMatchObject({ since: 5, states: { a: 'armed' } });
    expect(s.get('a')!.status).toBe('armed');
    expect(s.get('z')).toMatchObject({ status: 'refused', error: expect.stringMatching(/does not carry/) });
  });

  it('deletes at the gateway, clears what the gateway holds that the page deleted, and re-arms a fired one', async () => {
    const s = store();
    const ch = new FakeChannel();
    await s.connected(ch);
    const { alert: a } = (await s.add({ symbol: 'AAPL', condition: { kind: 'above', level: 230 } })) as {
      alert: PageAlert;
    };
    await s.remove(a.spec.id);
    expect(ch.clears).toEqual([{ ids: [a.spec.id] }]);
    expect(s.alerts).toEqual([]);

    // The gateway holds one the page does not know (a delete that raced a re-registration).
    ch.held.set('stray', { ...alert('stray', 'armed').spec, state: 'armed', fired: 0 });
    const { alert: b } = (await s.add({ symbol: 'AAPL', condition: { kind: 'below', level: 200 } })) as {
      alert: PageAlert;
    };
    expect(ch.clears.at(-1)).toEqual({ ids: ['stray'] });

    s.applyFired([fired(b.spec.id, { condition: b.spec.condition, price: 199.9 })]);
    ch.held.delete(b.spec.id);
    expect(s.get(b.spec.id)!.status).toBe('fired');
    expect(await s.rearm(b.spec.id)).toMatchObject({ ok: true });
    expect(ch.sets.at(-1)).toEqual({ alerts: [b.spec] });
    expect(s.get(b.spec.id)).toMatchObject({ status: 'armed', count: 1, fired: { price: 199.9 } });
  });

  it('saves the last seen time at most every few seconds, and not while re-registering', async () => {
    const storage = new MemoryStorage();
    let now = 0;
    const s = new AlertStore({ storage, now: () => now, seenSaveMs: 2000 });
    s.seen(100);
    now = 500;
    s.seen(200);
    expect(parseStoredAlerts(storage.getItem(KEY)).seen).toBe(100);
    now = 2500;
    s.seen(300);
    expect(parseStoredAlerts(storage.getItem(KEY)).seen).toBe(300);
    s.seen(250); // older: ignored
    expect(s.seenTs).toBe(300);
    s.flush();
    expect(parseStoredAlerts(storage.getItem(KEY)).seen).toBe(300);

    // While the re-registration's ack is outstanding, what arrives is not yet covered by it.
    let release!: (ack: AlertSetAck) => void;
    const slow: AlertChannel = {
      set: () => new Promise((resolve) => (release = resolve)),
      clear: () => Promise.resolve({ ok: true, ids: [] }),
      list: () => Promise.resolve({ ok: true, alerts: [] }),
    };
    const withOne = new AlertStore({ storage: new MemoryStorage(), now: () => now });
    await withOne.add({ symbol: 'AAPL', condition: { kind: 'above', level: 230 } });
    const done = withOne.connected(slow);
    withOne.seen(900);
    expect(withOne.seenTs).toBeUndefined();
    release({ ok: true, alerts: [], offline: [] });
    await done;
    withOne.seen(900);
    expect(withOne.seenTs).toBe(900);
  });
});
