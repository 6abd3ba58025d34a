import { describe, expect, it } from 'vitest';
import { DEFAULT_BAR_PX, MAX_BAR_PX, MIN_BAR_PX, RIGHT_PAD_BARS, Viewport, type ViewContext } from './viewport';

const M = 60_000;
/** A 600 px plot holding 1000 one-minute bars, the newest at minute 1000. */
const ctx = (over: Partial<ViewContext> = {}): ViewContext => ({
  widthPx: 600,
  newest: 1000 * M,
  oldest: 1 * M,
  count: 1000,
  hasOlder: true,
  ...over,
});

describe(Viewport.name, () => {
  it('follows the newest bar with a little room to its right', () => {
    const view = new Viewport(M);
    const r = view.range(ctx());
    expect(view.follow).toBe(true);
    expect(r.max).toBe(1000 * M + (1 + RIGHT_PAD_BARS) * M);
    expect((r.max - r.min) / M).toBeCloseTo(600 / DEFAULT_BAR_PX);
    // The next bar moves the view with it.
    expect(view.range(ctx({ newest: 1001 * M })).max).toBe(r.max + M);
  });

  it('draws bars that span little time wider, so they all fill the plot, until the user zooms', () => {
    const view = new Viewport(M);
    const span = (minutes: number, count = minutes) => ctx({ oldest: (1001 - minutes) * M, count });
    expect(view.barPx(span(20))).toBeCloseTo(600 / (20 + 1 + RIGHT_PAD_BARS));
    expect(view.barPx(span(2))).toBe(MAX_BAR_PX);
    expect(view.barPx(span(500))).toBe(DEFAULT_BAR_PX);
    // Ten bars over 20 minutes (a restart left a hole): the 20 minutes fit, not just ten bars' worth.
    const holed = span(20, 10);
    expect(view.barPx(holed)).toBeCloseTo(600 / (20 + 1 + RIGHT_PAD_BARS));
    expect(view.range(holed).min).toBeLessThanOrEqual(holed.oldest!);
    view.zoom(0.5, 1, span(20));
    expect(view.barPx(span(20))).toBeCloseTo(600 / 22.5 / 2);
  });

  it('pans back in time, then follows again once dragged past the newest bar', () => {
    const view = new Viewport(M);
    const before = view.range(ctx());
    expect(view.pan(90, ctx())).toBe(true);
    expect(view.follow).toBe(false);
    const after = view.range(ctx());
    expect((before.max - after.max) / M).toBeCloseTo(90 / DEFAULT_BAR_PX);
    // Held still while new bars arrive.
    expect(view.range(ctx({ newest: 1005 * M })).max).toBe(after.max);
    view.pan(-1000, ctx({ newest: 1005 * M }));
    expect(view.follow).toBe(true);
    view.pan(300, ctx());
    view.backToNow();
    expect(view.follow).toBe(true);
  });

  it('zooms around the pointer when panned back, and keeps the right edge while following', () => {
    const view = new Viewport(M);
    view.zoom(2, 0.2, ctx());
    expect(view.follow).toBe(true);
    expect(view.range(ctx()).max).toBe(1000 * M + (1 + RIGHT_PAD_BARS) * M);

    view.pan(600, ctx());
    const r = view.range(ctx());
    const at = r.min + 0.25 * (r.max - r.min);
    view.zoom(1.5, 0.25, ctx());
    const z = view.range(ctx());
    expect(z.min + 0.25 * (z.max - z.min)).toBeCloseTo(at, -1);
    expect(z.max - z.min).toBeCloseTo((r.max - r.min) / 1.5, -1);
  });

  it('stops zooming at the narrowest and widest bar', () => {
    const view = new Viewport(M);
    for (let i = 0; i < 50; i++) view.zoom(0.5, 1, ctx());
    expect(view.barPx(ctx())).toBe(MIN_BAR_PX);
    expect(view.zoom(0.5, 1, ctx())).toBe(false);
    expect((view.range(ctx()).max - view.range(ctx()).min) / M).toBeCloseTo(600 / MIN_BAR_PX);
    for (let i = 0; i < 50; i++) view.zoom(2, 1, ctx());
    expect(view.barPx(ctx())).toBe(MAX_BAR_PX);
  });

  it('asks for older bars near the left edge, and stops half a screen past the first bar', () => {
    const view = new Viewport(M);
    const few = ctx({ oldest: 900 * M, count: 100 });
    expect(view.needsOlder(view.range(few), few)).toBe(false);
    view.pan(500, few);
    expect(view.needsOlder(view.range(few), few)).toBe(true);
    const all = { ...few, hasOlder: false };
    expect(view.needsOlder(view.range(all), all)).toBe(false);
    view.pan(100_000, all);
    const r = view.range(all);
    expect(r.min).toBeCloseTo(900 * M - (r.max - r.min) / 2, -1);
  });

  it('places an empty chart at the current interval', () => {
    const view = new Viewport(M);
    const r = view.range(ctx({ newest: undefined, oldest: undefined, count: 0, now: 1000 * M + 30_000 }));
    expect(r.max).toBe(1000 * M + (1 + RIGHT_PAD_BARS) * M);
  });
});
