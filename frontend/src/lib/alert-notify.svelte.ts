import type { AlertCondition, FiredAlert } from '@tickdeck/protocol';
import { formatClock, formatPrice } from './format';
import type { ToastStore } from './toasts.svelte';

/** `above 230.00`, `below 229.50`, `±2 % from open`. */
export function conditionText(condition: AlertCondition, decimals: number): string {
  if (condition.kind === 'move') return `\u00B1${condition.pct} % from open`;
  return `${condition.kind} ${formatPrice(condition.level, decimals)}`;
}

/** The toast's (and the notification's) title and body for a crossing. */
export function fireText(fired: FiredAlert, decimals: number): { title: string; body: string } {
  const title = `\u{1F514} ${fired.symbol} ${conditionText(fired.condition, decimals)}`;
  const at = formatClock(fired.ts);
  const what = fired.offline
    ? `While offline: reached ${formatPrice(fired.price, decimals)} (${at})`
    : `Crossed at ${formatPrice(fired.price, decimals)} (${at})`;
  return { title, body: fired.note ? `${what} \u00B7 ${fired.note}` : what };
}

/** The parts of the browser an alert reaches besides the page; each may be missing. */
export interface NotifyEnv {
  /** Whether the page is in the background. */
  hidden: () => boolean;
  Notification?: {
    readonly permission: NotificationPermission;
    requestPermission(): Promise<NotificationPermission>;
    new (title: string, options?: NotificationOptions): unknown;
  };
  AudioContext?: new () => AudioContext;
}

function browserEnv(): NotifyEnv {
  const w = typeof window === 'undefined' ? undefined : window;
  return {
    hidden: () => typeof document !== 'undefined' && document.hidden,
    ...(w && 'Notification' in w ? { Notification: w.Notification } : {}),
    ...(w && 'AudioContext' in w ? { AudioContext: w.AudioContext } : {}),
  };
}

export interface NotifierOptions {
  toasts: ToastStore;
  /** Whether to beep. */
  sound: () => boolean;
  env?: NotifyEnv;
}

/**
 * Tells the user an alert fired: always a toast; a browser notification when the page is in the
 * background and the user allowed them; a short beep when sound is on. A refused or missing
 * Notification or AudioContext changes nothing else.
 */
export class AlertNotifier {
  #toasts: ToastStore;
  #sound: () => boolean;
  #env: NotifyEnv;
  #audio: AudioContext | undefined;
  /** `granted`, `denied`, `default` (not asked yet) or `unsupported`. */
  permission: NotificationPermission | 'unsupported' = $state('unsupported');
  /** Notifications shown (for the tests). */
  notified = 0;
  beeps = 0;

  constructor({ toasts, sound, env = browserEnv() }: NotifierOptions) {
    this.#toasts = toasts;
    this.#sound = sound;
    this.#env = env;
    this.permission = env.Notification?.permission ?? 'unsupported';
  }

  /** Asks once for permission to notify (when the first alert is set, from the user's gesture). */
  askPermission(): void {
    const N = this.#env.Notification;
    if (!N || N.permission !== 'default') return;
    N.requestPermission()
      .then((p) => (this.permission = p))
      .catch(() => undefined);
  }

  fire(fired: FiredAlert, decimals: number): void {
    const { title, body } = fireText(fired, decimals);
    const c = fired.condition;
    const tone = c.kind === 'above' ? 'up' : c.kind === 'below' ? 'down' : 'info';
    this.#toasts.push({ tone, title, body });
    const N = this.#env.Notification;
    if (N && N.permission === 'granted' && this.#env.hidden()) {
      try {
        new N(title, { body, tag: `tickdeck-alert-${fired.id}` });
        this.notified++;
      } catch {
        // some browsers allow notifications only from a service worker: the toast is there
      }
    }
    if (this.#sound()) this.beep();
  }

  /** Two short tones (WebAudio), no asset files. */
  beep(): void {
    const Ctx = this.#env.AudioContext;
    if (!Ctx) return;
    try {
      this.#audio ??= new Ctx();
      const ctx = this.#audio;
      void ctx.resume?.();
      const t = ctx.currentTime;
      for (const [i, hz] of [880, 1320].entries()) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.0001, t + i * 0.16);
        gain.gain.exponentialRampToValueAtTime(0.2, t + i * 0.16 + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.16 + 0.14);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t + i * 0.16);
        osc.stop(t + i * 0.16 + 0.15);
      }
      this.beeps++;
    } catch {
      // audio blocked or unavailable: silence
    }
  }
}
