import { describe, expect, it, vi } from 'vitest';
import type { FiredAlert } from '@tickdeck/protocol';
import { AlertNotifier, fireText, type NotifyEnv } from './alert-notify.svelte';
import { EPOCH } from './test-data';
import { ToastStore } from './toasts.svelte';

const crossing: FiredAlert = {
  id: 'a1',
  symbol: 'AAPL',
  condition: { kind: 'above', level: 230 },
  note: 'breakout',
  price: 230.15,
  ts: Date.UTC(2024, 0, 2, 14, 3, 27),
  seq: 9,
  epoch: EPOCH,
};

/** A Notification and an AudioContext that record what they were asked to do. */
function fakeEnv(permission: NotificationPermission, hidden: boolean) {
  const shown: { title: string; body?: string }[] = [];
  const asked = vi.fn(() => Promise.resolve<NotificationPermission>('granted'));
  let oscillators = 0;
  class FakeNotification {
    static permission = permission;
    static requestPermission = asked;
    constructor(title: string, options?: NotificationOptions) {
      shown.push({ title, body: options?.body });
    }
  }
  const param = { value: 0, setValueAtTime: () => param, exponentialRampToValueAtTime: () => param };
  class FakeAudio {
    currentTime = 0;
    destination = {};
    resume = () => Promise.resolve();
    createOscillator() {
      oscillators++;
      return { frequency: { value: 0 }, connect: (n: unknown) => n, start() {}, stop() {} };
    }
    createGain() {
      return { gain: param, connect: (n: unknown) => n };
    }
  }
  const env = {
    hidden: () => hidden,
    Notification: FakeNotification,
    AudioContext: FakeAudio as unknown as new () => AudioContext,
  } satisfies NotifyEnv;
  return { env, shown, asked, oscillators: () => oscillators };
}

describe(AlertNotifier.name, () => {
  it('says what crossed, where and when; an offline one says so', () => {
    expect(fireText(crossing, 2).title).toBe('\u{1F514} AAPL above 230.00');
    expect(fireText(crossing, 2).body).toMatch(/^Crossed at 230\.15 \(\d\d:\d\d:\d\d\) \u00B7 breakout$/);
    expect(fireText({ ...crossing, price: 230, offline: true, note: undefined }, 2).body).toMatch(
      /^While offline: reached 230\.00/,
    );
    expect(fireText({ ...crossing, condition: { kind: 'move', pct: 2.5 } }, 2).title).toBe(
      '\u{1F514} AAPL \u00B12.5 % from open',
    );
  });

  it('toasts always, and notifies only while the page is in the background with permission', () => {
    for (const [permission, hidden, notified] of [
      ['granted', true, 1],
      ['granted', false, 0],
      ['denied', true, 0],
      ['default', true, 0],
    ] as const) {
      const toasts = new ToastStore();
      const { env, shown } = fakeEnv(permission, hidden);
      const n = new AlertNotifier({ toasts, sound: () => false, env });
      n.fire(crossing, 2);
      expect(toasts.toasts.map((t) => [t.title, t.tone])).toEqual([['\u{1F514} AAPL above 230.00', 'up']]);
      expect(shown).toHaveLength(notified);
      expect(n.notified).toBe(notified);
    }
  });

  it('works the same without Notification or AudioContext', () => {
    const toasts = new ToastStore();
    const n = new AlertNotifier({ toasts, sound: () => true, env: { hidden: () => true } });
    expect(n.permission).toBe('unsupported');
    n.askPermission();
    n.fire(crossing, 2);
    expect(toasts.toasts).toHaveLength(1);
    expect(n.beeps).toBe(0);
  });

  it('asks for permission only while it has not been asked, and beeps only with sound on', async () => {
    const { env, asked, oscillators } = fakeEnv('default', true);
    let sound = false;
    const n = new AlertNotifier({ toasts: new ToastStore(), sound: () => sound, env });
    n.askPermission();
    await Promise.resolve();
    await Promise.resolve();
    expect(asked).toHaveBeenCalledTimes(1);
    expect(n.permission).toBe('granted');
    n.fire(crossing, 2);
    expect(oscillators()).toBe(0);
    sound = true;
    n.fire(crossing, 2);
    expect(n.beeps).toBe(1);
    expect(oscillators()).toBe(2);

    const denied = fakeEnv('denied', true);
    new AlertNotifier({ toasts: new ToastStore(), sound: () => false, env: denied.env }).askPermission();
    expect(denied.asked).not.toHaveBeenCalled();
  });
});
