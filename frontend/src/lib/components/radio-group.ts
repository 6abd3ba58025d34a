import type { Attachment } from 'svelte/attachments';

const MOVES: Record<string, (i: number, n: number) => number> = {
  ArrowRight: (i, n) => (i + 1) % n,
  ArrowDown: (i, n) => (i + 1) % n,
  ArrowLeft: (i, n) => (i - 1 + n) % n,
  ArrowUp: (i, n) => (i - 1 + n) % n,
  Home: () => 0,
  End: (_, n) => n - 1,
};

/**
 * Keyboard for a `role="radiogroup"` of `role="radio"` buttons, as WAI-ARIA has it: the group is
 * one tab stop (the checked radio carries `tabindex="0"`, the others `-1`, set by the markup) and
 * the arrow keys, Home and End check the next radio and move the focus to it.
 */
export const radioGroup: Attachment<HTMLElement> = (group) => {
  const onkeydown = (e: KeyboardEvent) => {
    const move = MOVES[e.key];
    const radios = [...group.querySelectorAll<HTMLElement>('[role="radio"]')];
    const i = radios.indexOf(e.target as HTMLElement);
    if (!move || i < 0 || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const next = radios[move(i, radios.length)]!;
    next.focus();
    next.click();
  };
  group.addEventListener('keydown', onkeydown);
  return () => group.removeEventListener('keydown', onkeydown);
};
