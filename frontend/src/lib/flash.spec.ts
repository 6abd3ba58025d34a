import { describe, expect, it, vi } from 'vitest';
import { FLASH_MS, flash } from './flash';

/** A cell and its arrow as flash() sees them: elements that animate and record it. */
function cell() {
  const animation = () => ({ cancel: vi.fn() });
  const arrow = { animate: vi.fn(animation) };
  const el = { animate: vi.fn(animation), querySelector: vi.fn(() => arrow) };
  return { el: el as unknown as HTMLElement, fake: el, arrow };
}

describe(flash.name, () => {
  it('flashes the cell and its arrow once per change, however often the row renders', () => {
    const { el, fake, arrow } = cell();
    flash(7, 'up')(el);
    flash(7, 'up')(el);
    flash(7, 'up')(el);
    expect(fake.animate).toHaveBeenCalledTimes(1);
    expect(arrow.animate).toHaveBeenCalledTimes(1);
    const [frames, timing] = fake.animate.mock.calls[0] as unknown as [Keyframe[], KeyframeAnimationOptions];
    expect(frames[0]!.backgroundColor).toBe('color-mix(in srgb, var(--up) 32%, transparent)');
    expect(timing.duration).toBe(FLASH_MS);
  });

  it('restarts on a new change, ending the flash before it at once', () => {
    const { el, fake, arrow } = cell();
    flash(7, 'up')(el);
    const first = fake.animate.mock.results[0]!.value as { cancel: () => void };
    const firstArrow = arrow.animate.mock.results[0]!.value as { cancel: () => void };
    flash(8, 'down')(el);
    expect(first.cancel).toHaveBeenCalledTimes(1);
    expect(firstArrow.cancel).toHaveBeenCalledTimes(1);
    expect(fake.animate).toHaveBeenCalledTimes(2);
    const [frames] = fake.animate.mock.calls[1] as unknown as [Keyframe[]];
    expect(frames[0]!.backgroundColor).toBe('color-mix(in srgb, var(--down) 32%, transparent)');
  });

  it('shows nothing for a change that did not move the price, and stops the flash before it', () => {
    const { el, fake } = cell();
    flash(7, 'up')(el);
    flash(8, 'flat')(el);
    expect(fake.animate).toHaveBeenCalledTimes(1);
    expect((fake.animate.mock.results[0]!.value as { cancel: () => void }).cancel).toHaveBeenCalled();
  });
});
