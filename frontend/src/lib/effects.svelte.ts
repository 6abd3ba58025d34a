import { untrack } from 'svelte';

/**
 * Calls `act` with what `read` returns, now and whenever the state `read` reads changes; `act`
 * itself is not tracked. For the outside world (the socket) following the page's state, from
 * plain modules such as main.ts. Returns the stop.
 */
export function watch<T>(read: () => T, act: (value: T) => void): () => void {
  return $effect.root(() => {
    $effect(() => {
      const value = read();
      untrack(() => act(value));
    });
  });
}
