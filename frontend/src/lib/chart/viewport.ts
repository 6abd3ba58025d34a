/** Narrowest a bar may get, px per bar: zooming out stops here, whatever the chart holds. */
export const MIN_BAR_PX = 3;
/** Widest a bar may get, px per bar. */
export const MAX_BAR_PX = 40;
/** Px per bar until the user zooms, once the chart holds more bars than fit wider. */
export const DEFAULT_BAR_PX = 9;
/** Room right of the newest bar while following it, in bars. */
export const RIGHT_PAD_BARS = 1.5;

/** A visible x range, epoch ms. */
export interface Range {
  min: number;
  max: number;
}

/** What the viewport needs to know about the plot and its bars. */
export interface ViewContext {
  /** Plot width, px. */
  widthPx: number;
  /** Start of the newest bar held, if any. */
  newest: number | undefined;
  /** Start of the oldest bar held, if any. */
  oldest: number | undefined;
  /** Bars held. */
  count: number;
  /** Whether older bars than the oldest held may exist. */
  hasOlder: boolean;
  /** Wall clock, for a chart with no bar yet. */
  now?: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/**
 * Which slice of time a chart shows: a zoom (px per bar) and either "follow the newest bar" or a
 * fixed right edge after the user panned back. Until the user zooms, a chart whose bars span
 * little time draws them wider so that they all fill the plot. Plain TypeScript, no DOM.
 */
export class Viewport {
  readonly intervalMs: number;
  #barPx = DEFAULT_BAR_PX;
  #zoomed = false;
  #follow = true;
  #max = 0;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** Whether the right edge follows the newest bar (false after panning back in time). */
  get follow(): boolean {
    return this.#follow;
  }

  /** Px per bar in force for `ctx`. */
  barPx(ctx: ViewContext): number {
    if (this.#zoomed || ctx.newest === undefined || ctx.oldest === undefined) return this.#barPx;
    // The time the bars held span, in bars (intervals without a tick have no bar but take room).
    const slots = (ctx.newest - ctx.oldest) / this.intervalMs + 1;
    return clamp(ctx.widthPx / (slots + 1 + RIGHT_PAD_BARS), this.#barPx, MAX_BAR_PX);
  }

  /** The visible x range. */
  range(ctx: ViewContext): Range {
    const span = (Math.max(1, ctx.widthPx) / this.barPx(ctx)) * this.intervalMs;
    const max = this.#follow ? this.#followMax(ctx) : this.#max;
    return { min: max - span, max };
  }

  /** Moves the view `dxPx` to the right (positive: back in time). Returns whether it moved. */
  pan(dxPx: number, ctx: ViewContext): boolean {
    if (dxPx === 0) return false;
    const px = this.#freeze(ctx);
    const r = this.range(ctx);
    this.#place(r.max - (dxPx / px) * this.intervalMs, r.max - r.min, ctx);
    return true;
  }

  /**
   * Zooms by `factor` (> 1: wider bars) around the point `anchor` of the width (0 = left edge,
   * 1 = right edge). While following, the right edge stays on the newest bar. Returns whether the
   * zoom changed (it stops at {@link MIN_BAR_PX} and {@link MAX_BAR_PX}).
   */
  zoom(factor: number, anchor: number, ctx: ViewContext): boolean {
    const px = this.barPx(ctx);
    const next = clamp(px * factor, MIN_BAR_PX, MAX_BAR_PX);
    if (Math.abs(next - px) < 1e-9) return false;
    const r = this.range(ctx);
    this.#zoomed = true;
    this.#barPx = next;
    if (this.#follow) return true;
    const span = (Math.max(1, ctx.widthPx) / next) * this.intervalMs;
    const at = r.min + clamp(anchor, 0, 1) * (r.max - r.min);
    this.#place(at - clamp(anchor, 0, 1) * span + span, span, ctx);
    return true;
  }

  /** Follows the newest bar again. */
  backToNow(): void {
    this.#follow = true;
  }

  /** Whether the left edge is near the oldest bar held: time to page in older ones. */
  needsOlder(r: Range, ctx: ViewContext): boolean {
    return ctx.hasOlder && ctx.oldest !== undefined && r.min < ctx.oldest + (r.max - r.min) * 0.25;
  }

  /** Puts the right edge at `max` (a view `span` wide): following again past the newest bar, and never far past the oldest when nothing older exists. */
  #place(max: number, span: number, ctx: ViewContext): void {
    const followMax = this.#followMax(ctx);
    if (max >= followMax) {
      this.#follow = true;
      return;
    }
    if (!ctx.hasOlder && ctx.oldest !== undefined) max = Math.max(max, ctx.oldest + span / 2);
    this.#follow = max >= followMax;
    this.#max = max;
  }

  /** The zoom in force becomes the user's (panning should not change the bar width under the pointer). */
  #freeze(ctx: ViewContext): number {
    const px = this.barPx(ctx);
    this.#barPx = px;
    this.#zoomed = true;
    return px;
  }

  #followMax(ctx: ViewContext): number {
    const newest = ctx.newest ?? Math.floor((ctx.now ?? Date.now()) / this.intervalMs) * this.intervalMs;
    return newest + this.intervalMs * (1 + RIGHT_PAD_BARS);
  }
}
