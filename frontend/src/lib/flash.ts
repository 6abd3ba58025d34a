import type { Attachment } from 'svelte/attachments';

/** How long a price change stays flashed, ms (0.01 s when the user asks for reduced motion). */
export const FLASH_MS = 700;

const reducedMotion = () => typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;

/** Per cell: the change it flashed last and that flash's animations. */
const flashed = new WeakMap<Element, { seq: number; running: Animation[] }>();

/**
 * Flashes a price cell for the change `seq` in direction `tick` (`up`, `down`; anything else
 * shows nothing): its background from the direction's colour, and the ▲/▼ (`.tick` inside it)
 * shown, then faded. Svelte runs the attachment again whenever the row changes, on the same
 * element; only a new `seq` restarts the flash. (The page used to rebuild the cell, `{#key seq}`,
 * to restart a CSS animation: about 200 times a second with every row live, which restyled and
 * repainted the whole page every frame.)
 */
export function flash(seq: number, tick: string): Attachment<HTMLElement> {
  return (el) => {
    const last = flashed.get(el);
    if (last?.seq === seq) return;
    for (const animation of last?.running ?? []) animation.cancel();
    const running: Animation[] = [];
    if ((tick === 'up' || tick === 'down') && typeof el.animate === 'function') {
      const timing = { duration: reducedMotion() ? 10 : FLASH_MS, easing: 'ease-out' };
      running.push(
        el.animate(
          [
            { backgroundColor: `color-mix(in srgb, var(--${tick}) 32%, transparent)` },
            { backgroundColor: 'transparent' },
          ],
          timing,
        ),
      );
      const arrow = el.querySelector<HTMLElement>('.tick');
      if (arrow) running.push(arrow.animate([{ opacity: 1 }, { opacity: 1, offset: 0.6 }, { opacity: 0 }], timing));
    }
    flashed.set(el, { seq, running });
  };
}
