/** One notification on screen. */
export interface Toast {
  id: number;
  title: string;
  body: string;
  tone: 'up' | 'down' | 'info';
}

export interface ToastOptions {
  /** How long a toast stays, in ms. */
  ttlMs?: number;
  /** Most toasts on screen at once; a new one pushes the oldest out. */
  max?: number;
}

/** Stacked, expiring notifications: never more than `max`, each gone after `ttlMs`. */
export class ToastStore {
  /** Newest last. */
  toasts: readonly Toast[] = $state.raw([]);
  /** Toasts pushed out early by newer ones since the page loaded. */
  dropped = $state(0);
  readonly ttlMs: number;
  readonly max: number;
  #nextId = 1;
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- timer handles, never rendered
  #timers = new Map<number, ReturnType<typeof setTimeout>>();

  constructor({ ttlMs = 6000, max = 4 }: ToastOptions = {}) {
    this.ttlMs = ttlMs;
    this.max = max;
  }

  push(toast: Omit<Toast, 'id'>): Toast {
    const shown: Toast = { ...toast, id: this.#nextId++ };
    const kept = [...this.toasts, shown];
    while (kept.length > this.max) {
      const oldest = kept.shift()!;
      this.#clearTimer(oldest.id);
      this.dropped++;
    }
    this.toasts = kept;
    this.#timers.set(
      shown.id,
      setTimeout(() => this.dismiss(shown.id), this.ttlMs),
    );
    return shown;
  }

  dismiss(id: number): void {
    this.#clearTimer(id);
    if (this.toasts.some((t) => t.id === id)) this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  #clearTimer(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }
}
