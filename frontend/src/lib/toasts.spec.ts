import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ToastStore } from './toasts.svelte';

const toast = (title: string) => ({ title, body: '', tone: 'info' as const });

describe(ToastStore.name, () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('removes each toast after its time to live', async () => {
    const store = new ToastStore({ ttlMs: 5000, max: 4 });
    store.push(toast('a'));
    await vi.advanceTimersByTimeAsync(3000);
    store.push(toast('b'));
    expect(store.toasts.map((t) => t.title)).toEqual(['a', 'b']);

    await vi.advanceTimersByTimeAsync(1999);
    expect(store.toasts.map((t) => t.title)).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(1);
    expect(store.toasts.map((t) => t.title)).toEqual(['b']);
    await vi.advanceTimersByTimeAsync(3000);
    expect(store.toasts).toEqual([]);
  });

  it('never shows more than `max`: a new toast pushes the oldest out', async () => {
    const store = new ToastStore({ ttlMs: 5000, max: 3 });
    for (const title of ['a', 'b', 'c', 'd', 'e']) store.push(toast(title));
    expect(store.toasts.map((t) => t.title)).toEqual(['c', 'd', 'e']);
    expect(store.dropped).toBe(2);
    expect(vi.getTimerCount()).toBe(3);

    await vi.advanceTimersByTimeAsync(5000);
    expect(store.toasts).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('dismisses a toast at once and forgets its timer', () => {
    const store = new ToastStore({ ttlMs: 5000 });
    const a = store.push(toast('a'));
    store.push(toast('b'));
    store.dismiss(a.id);
    expect(store.toasts.map((t) => t.title)).toEqual(['b']);
    expect(vi.getTimerCount()).toBe(1);
  });
});
