import { Chart, LinearScale, type ChartConfiguration, type FontSpec, type Plugin } from 'chart.js';
import { toFont } from 'chart.js/helpers';
import type { Candle, CandleInterval } from '@tickdeck/protocol';
import type { Attachment } from 'svelte/attachments';
import { formatPrice } from '../format';
import type { CandleSeries, ChartBook } from './book';
import {
  CandleController,
  CandleElement,
  barExtents,
  niceCeil,
  type BarExtents,
  type CandleDataset,
} from './candle-controller';
import type { ChartMode } from './modes';
import { formatTick, localOffsetMs, overhangingLeft, timeTicks } from './time-axis';
import { Viewport, type ViewContext } from './viewport';

Chart.register(CandleController, CandleElement, LinearScale);

/** How the crosshair was placed: it follows a mouse, stays where a finger tapped, or steps by key. */
export type HoverSource = 'pointer' | 'touch' | 'keyboard';

/** The bar under the crosshair. */
export interface Hover {
  bar: Candle;
  /** Its place among the bars held, oldest 0. */
  index: number;
  source: HoverSource;
}

/** What the card around the chart shows besides the canvas. */
export interface ChartState {
  /** Following the newest bar (false after panning back: offer "back to now"). */
  follow: boolean;
  /** Loading: the first page, or a page of older bars. */
  loading: boolean;
  loadingOlder: boolean;
  /** The newest bar, live. */
  latest: Candle | undefined;
  /** Bars held. */
  bars: number;
}

export interface CandleChartOptions {
  book: ChartBook;
  symbol: string;
  interval: CandleInterval;
  mode: ChartMode;
  /** Price decimals (from the tick size). */
  decimals: number;
  /** The crosshair moved to another bar, that bar changed, or the crosshair went (`undefined`). */
  onhover?: (hover: Hover | undefined) => void;
  onstate?: (state: ChartState) => void;
  /** The chart exists (and `undefined` once it is gone): for the card's buttons. */
  onready?: (chart: CandleChart | undefined) => void;
}

/** Every live chart by symbol: for the page's test hook (the `e2e` build) and nothing else. */
export const liveCharts = new Map<string, CandleChart>();

// Redraws are coalesced per animation frame and spread over frames: a frame touching eight
// charts costs a few charts' work per frame, never eight layouts in one long task.
const REDRAWS_PER_FRAME = 3;
const dirty = new Set<() => void>();
let frame = 0;

function schedule(redraw: () => void): void {
  dirty.add(redraw);
  if (frame === 0) frame = requestAnimationFrame(flush);
}

function flush(): void {
  frame = 0;
  let budget = REDRAWS_PER_FRAME;
  for (const redraw of dirty) {
    if (budget-- === 0) break;
    dirty.delete(redraw);
    redraw();
  }
  if (dirty.size > 0) frame = requestAnimationFrame(flush);
}

/** `#rrggbb` with an alpha; other colour syntaxes pass unchanged. */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  const [r, g, b] = [m[1]!, m[2]!, m[3]!].map((h) => parseInt(h, 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function cssVar(element: Element, name: string, fallback: string): string {
  return getComputedStyle(element).getPropertyValue(name).trim() || fallback;
}

/** Index of the first bar of `bars` (sorted) with `start >= t`. */
function lowerBound(bars: readonly Candle[], t: number): number {
  let lo = 0;
  let hi = bars.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bars[mid]!.start < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What a chart was last laid out for (a full chart.js update): the view, the style and the extents of its bars. */
interface Laid {
  /** The chart's update count right after it. */
  updates: number;
  min: number;
  max: number;
  style: ChartMode;
  extents: BarExtents;
}

/** Pointer held on the canvas: where it went down and where it is. */
interface Held {
  x: number;
  y: number;
  x0: number;
  y0: number;
  moved: boolean;
}

/** A finger or mouse has to move this far before a press becomes a pan, px. */
const DRAG_PX = 5;

/**
 * One candle chart on a canvas: a chart.js instance with a {@link CandleController} price dataset
 * and a volume dataset on a stacked axis beneath, over the bars of one {@link CandleSeries}. Only
 * the bars in view are handed to chart.js, so the cost of a redraw is bounded by the width.
 * Pan (drag, horizontal wheel, PageUp/PageDown), zoom (ctrl+wheel, pinch, +/-), a crosshair (mouse
 * hover, a tap, arrow keys) and "back to now" are handled here, on pointer events; chart.js's
 * own event handling is off.
 */
export class CandleChart {
  readonly symbol: string;
  readonly interval: CandleInterval;
  readonly series: CandleSeries;
  readonly viewport: Viewport;
  readonly chart: Chart<'candles', Candle[]>;
  #book: ChartBook;
  #canvas: HTMLCanvasElement;
  #decimals: number;
  #mode: ChartMode;
  #visible: Candle[] = [];
  /** Chart updates so far (anyone's: a resize, an option set from outside), counted by the overlay plugin. */
  #updates = 0;
  /** What the latest full update laid the chart out for: while it holds, a changed bar is patched in place. */
  #laid: Laid | undefined;
  /**
   * The scales as the latest full draw painted them (grid, ticks, labels: everything chart.js
   * draws before the datasets), valid until the next layout. A draw on unchanged scales copies it
   * instead of painting every label again ({@link #drawOnScales}).
   */
  #scales: HTMLCanvasElement | undefined;
  #scalesValid = false;
  /** Whether the static layers could be wrapped (chart.js's layer list as version 4 keeps it). */
  #scalesWrapped = false;
  #copyScales = false;
  #copying = false;
  #hover: { start: number; y: number | undefined; source: HoverSource } | undefined;
  #hoverBar: Candle | undefined;
  #hoverIndex = -1;
  #held = new Map<number, Held>();
  #pinch: number | undefined;
  #options: CandleChartOptions;
  #state: ChartState | undefined;
  #colors: { up: string; down: string; text: string; panel: string; muted: string; accent: string; grid: string };
  #stops: (() => void)[] = [];
  #redraw = () => this.#draw();

  constructor(canvas: HTMLCanvasElement, options: CandleChartOptions) {
    this.#options = options;
    this.symbol = options.symbol;
    this.interval = options.interval;
    this.#book = options.book;
    this.#canvas = canvas;
    this.#decimals = options.decimals;
    this.#mode = options.mode;
    this.series = options.book.open(options.symbol, options.interval);
    this.viewport = new Viewport(this.series.intervalMs);
    const c = (name: string, fallback: string) => cssVar(canvas, name, fallback);
    this.#colors = {
      up: c('--up', '#3ecf8e'),
      down: c('--down', '#ff6b6b'),
      text: c('--text', '#e4e9f0'),
      panel: c('--panel-raised', '#18202c'),
      muted: c('--muted', '#8592a3'),
      accent: c('--accent', '#5aa9ff'),
      grid: c('--grid', 'rgba(133,146,163,0.12)'),
    };
    this.chart = new Chart(canvas, this.#config());
    this.#listen();
    this.#stops.push(this.series.onChange(() => schedule(this.#redraw)));
    this.#draw();
  }

  get mode(): ChartMode {
    return this.#mode;
  }

  /** The bars in view, as handed to chart.js (oldest first). */
  get visible(): readonly Candle[] {
    return this.#visible;
  }

  setMode(mode: ChartMode): void {
    if (mode === this.#mode) return;
    this.#mode = mode;
    this.chart.data.datasets[0]!.style = mode;
    this.#draw();
  }

  /** Zooms by `factor` (> 1: wider bars) around the right edge, or `anchor` (0..1 of the width). */
  zoom(factor: number, anchor = 1): void {
    if (this.viewport.zoom(factor, anchor, this.#context())) this.#draw();
  }

  /** Pans by `dxPx` (positive: back in time). */
  pan(dxPx: number): void {
    if (this.viewport.pan(dxPx, this.#context())) this.#draw();
  }

  backToNow(): void {
    this.viewport.backToNow();
    this.#draw();
  }

  /** The pixel (page coordinates) of the centre of the bar starting at `start`, its close; for tests. */
  pointOf(start: number): { x: number; y: number } | undefined {
    const i = lowerBound(this.#visible, start);
    const el = this.#visible[i]?.start === start ? this.chart.getDatasetMeta(0).data[i] : undefined;
    if (!el) return undefined;
    const rect = this.#canvas.getBoundingClientRect();
    return { x: rect.left + el.x, y: rect.top + el.y };
  }

  destroy(): void {
    for (const stop of this.#stops.splice(0)) stop();
    dirty.delete(this.#redraw);
    this.chart.destroy();
    this.#book.release(this.series);
  }

  #config(): ChartConfiguration<'candles', Candle[]> {
    const colors = this.#colors;
    const dataset = (style: CandleDataset['style'], yAxisID: string): CandleDataset => ({
      type: 'candles',
      data: this.#visible,
      style,
      intervalMs: this.series.intervalMs,
      upColor: style === 'volume' ? withAlpha(colors.up, 0.45) : colors.up,
      downColor: style === 'volume' ? withAlpha(colors.down, 0.45) : colors.down,
      lineColor: colors.accent,
      yAxisID,
    });
    let tickStep = 60_000;
    /** Ticks whose label is left blank: it would stick out left of the plot. */
    let blank = new Set<number>();
    return {
      type: 'candles',
      data: { datasets: [dataset(this.#mode, 'y'), dataset('volume', 'volume')] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        events: [],
        layout: { padding: { top: 4 } },
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: {
          x: {
            type: 'linear',
            grid: { color: colors.grid },
            border: { display: false },
            afterBuildTicks: (scale) => {
              const { step, ticks } = timeTicks(scale.min, scale.max, scale.width, localOffsetMs(scale.min));
              tickStep = step;
              const ctx = scale.ctx;
              ctx.save();
              ctx.font = toFont((scale.options as { ticks?: { font?: Partial<FontSpec> } }).ticks?.font ?? {}).string;
              blank = overhangingLeft(ticks, scale.min, scale.max, scale.width, (t) => {
                return ctx.measureText(formatTick(t, step)).width;
              });
              ctx.restore();
              scale.ticks = ticks.map((value) => ({ value }));
            },
            // No label sticks out left (see `blank`): the plot's left edge stays put whatever the ticks.
            afterFit: (scale) => {
              scale.paddingLeft = 0;
            },
            ticks: {
              color: colors.muted,
              maxRotation: 0,
              autoSkip: false,
              callback: (value) => (blank.has(Number(value)) ? '' : formatTick(Number(value), tickStep)),
            },
          },
          y: {
            type: 'linear',
            position: 'right',
            stack: 'price',
            stackWeight: 4,
            grace: '6%',
            grid: { color: colors.grid },
            border: { display: false },
            ticks: {
              color: colors.muted,
              maxTicksLimit: 6,
              // At most 6 labels never crowd the axis: skip chart.js's second pass over their sizes.
              autoSkip: false,
              callback: (value) => formatPrice(Number(value), this.#decimals),
            },
            afterFit: (scale) => {
              scale.width = Math.max(scale.width, 64);
            },
          },
          volume: {
            type: 'linear',
            position: 'right',
            stack: 'price',
            stackWeight: 1,
            offset: true,
            min: 0,
            grid: { display: false },
            border: { display: false },
            ticks: { display: false },
          },
        },
      },
      plugins: [this.#overlay()],
    };
  }

  /** The last price on the price axis, and the crosshair with its price. */
  #overlay(): Plugin<'candles'> {
    return {
      id: 'tickdeck-overlay',
      afterUpdate: () => {
        this.#updates++;
      },
      afterLayout: (chart) => this.#wrapScaleLayers(chart),
      beforeDraw: (chart) => {
        this.#copying = this.#copyScales && this.#scalesValid && this.#scalesWrapped;
        if (!this.#copying || !this.#scales) return;
        const { ctx } = chart;
        ctx.save();
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.drawImage(this.#scales, 0, 0);
        ctx.restore();
      },
      beforeDatasetsDraw: (chart) => {
        if (!this.#copying) this.#keepScales(chart.canvas);
      },
      afterDraw: (chart) => {
        const { ctx, chartArea: area } = chart;
        const y = chart.scales.y;
        if (!y) return;
        const label = (value: number, at: number, fill: string, text: string) => {
          const py = Math.min(area.bottom, Math.max(area.top, at));
          ctx.fillStyle = fill;
          ctx.fillRect(area.right + 1, py - 8, chart.width - area.right - 1, 16);
          ctx.fillStyle = text;
          ctx.font = '11px ui-monospace, monospace';
          ctx.textBaseline = 'middle';
          ctx.textAlign = 'left';
          ctx.fillText(formatPrice(value, this.#decimals), area.right + 5, py);
        };
        ctx.save();
        const latest = this.series.store.newest;
        if (latest) {
          const py = y.getPixelForValue(latest.close);
          const color = latest.close >= latest.open ? this.#colors.up : this.#colors.down;
          if (py >= area.top && py <= area.bottom) {
            ctx.strokeStyle = withAlpha(color, 0.6);
            ctx.setLineDash([3, 3]);
            ctx.beginPath();
            ctx.moveTo(area.left, Math.round(py) + 0.5);
            ctx.lineTo(area.right, Math.round(py) + 0.5);
            ctx.stroke();
            ctx.setLineDash([]);
          }
          label(latest.close, py, color, '#0b0f15');
        }
        const hover = this.#hover;
        const i = hover ? lowerBound(this.#visible, hover.start) : -1;
        const el = hover && this.#visible[i]?.start === hover.start ? chart.getDatasetMeta(0).data[i] : undefined;
        if (hover && el) {
          const px = Math.round(el.x) + 0.5;
          const py = hover.y ?? el.y;
          ctx.strokeStyle = withAlpha(this.#colors.text, 0.45);
          ctx.setLineDash([4, 3]);
          ctx.beginPath();
          ctx.moveTo(px, area.top);
          ctx.lineTo(px, area.bottom);
          if (py >= area.top && py <= area.bottom) {
            ctx.moveTo(area.left, Math.round(py) + 0.5);
            ctx.lineTo(area.right, Math.round(py) + 0.5);
          }
          ctx.stroke();
          ctx.setLineDash([]);
          if (py >= area.top && py <= area.bottom) label(y.getValueForPixel(py) ?? 0, py, this.#colors.text, '#0b0f15');
        }
        ctx.restore();
      },
    };
  }

  #context(): ViewContext {
    const store = this.series.store;
    return {
      widthPx: this.chart.chartArea?.width || this.#canvas.clientWidth || 300,
      newest: store.newest?.start,
      oldest: store.oldest?.start,
      count: store.length,
      hasOlder: store.hasOlder,
    };
  }

  /**
   * Shows the bars in view. A live bar that changed in place, within the extents the axes were
   * laid out for, only has its elements placed again and the canvas drawn ({@link #patch}): no
   * chart.js update, whose scales, ticks and layout cost several times the drawing. Anything
   * else (the view moved, a bar came or went, the extents or the mode changed, someone else
   * updated the chart) is a full update.
   */
  #draw(): void {
    const ctx = this.#context();
    const range = this.viewport.range(ctx);
    const bars = this.series.store.bars;
    const from = lowerBound(bars, range.min - this.series.intervalMs);
    const to = lowerBound(bars, range.max);
    if (!this.#patch(bars, from, to, range)) this.#layout(bars, from, to, range);
    if (this.viewport.needsOlder(range, ctx)) this.#book.loadOlder(this.series);
    this.#report();
  }

  #layout(bars: readonly Candle[], from: number, to: number, range: { min: number; max: number }): void {
    const style = this.#mode;
    const extents = barExtents(bars, style, from, to);
    this.#visible = bars.slice(from, to);
    const scales = this.chart.options.scales;
    if (scales?.x) {
      scales.x.min = range.min;
      scales.x.max = range.max;
    }
    if (scales?.volume) scales.volume.max = this.#visible.length > 0 ? niceCeil(extents.volume) : undefined;
    for (const dataset of this.chart.data.datasets) dataset.data = this.#visible;
    this.chart.update('none');
    this.#laid = { updates: this.#updates, min: range.min, max: range.max, style, extents };
  }

  /** Draws the chart on the scales as they are (no update since the latest full draw): their picture is copied, not painted again. */
  #drawOnScales(): void {
    this.#copyScales = true;
    try {
      this.chart.draw();
    } finally {
      this.#copyScales = false;
      this.#copying = false;
    }
  }

  /**
   * After each layout (chart.js makes new layers for it): the layers drawn before the datasets
   * (grid, border, tick labels) stand aside while a draw copies their picture instead.
   */
  #wrapScaleLayers(chart: Chart): void {
    this.#scalesValid = false;
    const layers = (chart as unknown as { _layers?: { z: number; draw: (area: unknown) => void }[] })._layers;
    this.#scalesWrapped = Array.isArray(layers) && layers.length > 0;
    for (const layer of layers ?? []) {
      if (layer.z > 0) continue;
      const draw = layer.draw;
      layer.draw = (area) => {
        if (!this.#copying) draw(area);
      };
    }
  }

  /** Keeps the picture of the scales just drawn (the canvas right before the datasets). */
  #keepScales(canvas: HTMLCanvasElement): void {
    if (!this.#scalesWrapped) return;
    const copy = (this.#scales ??= document.createElement('canvas'));
    if (copy.width !== canvas.width || copy.height !== canvas.height) {
      copy.width = canvas.width;
      copy.height = canvas.height;
    }
    const ctx = copy.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, copy.width, copy.height);
    ctx.drawImage(canvas, 0, 0);
    this.#scalesValid = true;
  }

  /** Patches the bars of `bars[from..to)` that changed into the chart, if its layout holds for them; whether it did. */
  #patch(bars: readonly Candle[], from: number, to: number, range: { min: number; max: number }): boolean {
    const laid = this.#laid;
    const visible = this.#visible;
    if (
      !laid ||
      laid.updates !== this.#updates ||
      laid.min !== range.min ||
      laid.max !== range.max ||
      laid.style !== this.#mode ||
      to - from !== visible.length
    ) {
      return false;
    }
    let first = -1;
    let last = -1;
    for (let i = 0; i < visible.length; i++) {
      const bar = bars[from + i]!;
      const held = visible[i]!;
      if (bar === held) continue;
      if (bar.start !== held.start) return false;
      if (first < 0) first = i;
      last = i;
    }
    if (first >= 0) {
      const next = barExtents(bars, laid.style, from, to);
      const was = laid.extents;
      if (next.low !== was.low || next.high !== was.high || niceCeil(next.volume) !== niceCeil(was.volume)) {
        return false;
      }
      for (let i = first; i <= last; i++) visible[i] = bars[from + i]!;
      for (let d = 0; d < this.chart.data.datasets.length; d++) {
        (this.chart.getDatasetMeta(d).controller as unknown as CandleController).patch(first, last - first + 1);
      }
    }
    // Drawn even when no bar changed: the crosshair may have moved.
    this.#drawOnScales();
    return true;
  }

  #report(): void {
    const hover = this.#hover;
    const store = this.series.store;
    const index = hover ? store.lowerBound(hover.start) : -1;
    const bar = hover && store.bars[index]?.start === hover.start ? store.bars[index] : undefined;
    if (bar !== this.#hoverBar || index !== this.#hoverIndex) {
      this.#hoverBar = bar;
      this.#hoverIndex = index;
      this.#options.onhover?.(bar && hover ? { bar, index, source: hover.source } : undefined);
    }
    const state: ChartState = {
      follow: this.viewport.follow,
      loading: this.series.loading && !this.series.loaded,
      loadingOlder: this.series.loadingOlder,
      latest: this.series.store.newest,
      bars: this.series.store.length,
    };
    const was = this.#state;
    if (
      !was ||
      was.follow !== state.follow ||
      was.loading !== state.loading ||
      was.loadingOlder !== state.loadingOlder ||
      was.latest !== state.latest ||
      was.bars !== state.bars
    ) {
      this.#state = state;
      this.#options.onstate?.(state);
    }
  }

  /**
   * Puts the crosshair on the bar nearest the canvas pixel `x` (`y`: where the horizontal line
   * goes). Only the picture is redrawn: the bars and the scales stay as they are.
   */
  #hoverAt(x: number, y: number | undefined, source: HoverSource): void {
    const bar = this.#nearest(x);
    this.#hover = bar ? { start: bar.start, y, source } : undefined;
    this.#paint();
  }

  #clearHover(): void {
    if (!this.#hover) return;
    this.#hover = undefined;
    this.#paint();
  }

  #paint(): void {
    this.#drawOnScales();
    this.#report();
  }

  #nearest(px: number): Candle | undefined {
    const visible = this.#visible;
    if (visible.length === 0) return undefined;
    const value = (this.chart.scales.x?.getValueForPixel(px) ?? 0) - this.series.intervalMs / 2;
    const i = lowerBound(visible, value);
    const after = visible[i];
    const before = visible[i - 1];
    if (!after) return before;
    if (!before) return after;
    return value - before.start <= after.start - value ? before : after;
  }

  /** Moves the crosshair `step` bars (keyboard), panning to keep it in view. */
  #step(step: number): void {
    const store = this.series.store;
    if (store.length === 0) return;
    const current = this.#hover ? store.lowerBound(this.#hover.start) : store.length;
    const i = Math.min(store.length - 1, Math.max(0, current + step));
    const bar = store.bars[i]!;
    this.#hover = { start: bar.start, y: undefined, source: 'keyboard' };
    const range = this.viewport.range(this.#context());
    const px = this.viewport.barPx(this.#context());
    const interval = this.series.intervalMs;
    if (bar.start < range.min) this.viewport.pan(((range.min - bar.start) / interval + 1) * px, this.#context());
    else if (bar.start + interval > range.max) {
      this.viewport.pan(-((bar.start + interval - range.max) / interval + 1) * px, this.#context());
    }
    this.#draw();
  }

  #local(e: PointerEvent | WheelEvent): { x: number; y: number } {
    const rect = this.#canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  #listen(): void {
    const canvas = this.#canvas;
    const on = <K extends keyof HTMLElementEventMap>(
      type: K,
      handler: (e: HTMLElementEventMap[K]) => void,
      options?: AddEventListenerOptions,
    ) => {
      canvas.addEventListener(type, handler, options);
      this.#stops.push(() => canvas.removeEventListener(type, handler, options));
    };
    on('pointerdown', (e) => {
      if (e.pointerType === 'mouse' && e.button !== 0) return;
      canvas.setPointerCapture?.(e.pointerId);
      const p = this.#local(e);
      this.#held.set(e.pointerId, { ...p, x0: p.x, y0: p.y, moved: false });
      this.#pinch = this.#held.size === 2 ? this.#spread() : undefined;
    });
    on('pointermove', (e) => {
      const p = this.#local(e);
      const held = this.#held.get(e.pointerId);
      if (!held) {
        if (e.pointerType === 'mouse') this.#hoverAt(p.x, p.y, 'pointer');
        return;
      }
      const dx = p.x - held.x;
      held.x = p.x;
      held.y = p.y;
      if (this.#held.size >= 2) {
        const spread = this.#spread();
        if (this.#pinch && spread > 0) {
          const mid = [...this.#held.values()].reduce((s, h) => s + h.x, 0) / this.#held.size;
          this.viewport.zoom(spread / this.#pinch, mid / (this.chart.chartArea?.width || 1), this.#context());
          this.#draw();
        }
        this.#pinch = spread;
        held.moved = true;
        return;
      }
      if (!held.moved && Math.abs(p.x - held.x0) < DRAG_PX && Math.abs(p.y - held.y0) < DRAG_PX) return;
      held.moved = true;
      canvas.classList.add('panning');
      this.viewport.pan(dx, this.#context());
      this.#draw();
      if (e.pointerType === 'mouse') this.#hoverAt(p.x, p.y, 'pointer');
    });
    const up = (e: PointerEvent, cancelled: boolean) => {
      const held = this.#held.get(e.pointerId);
      this.#held.delete(e.pointerId);
      if (this.#held.size < 2) this.#pinch = undefined;
      if (this.#held.size === 0) canvas.classList.remove('panning');
      if (!held || cancelled || held.moved || e.pointerType === 'mouse') return;
      // A tap: put the crosshair on the bar tapped, or take it away when tapped again.
      const bar = this.#nearest(held.x0);
      if (this.#hover?.source === 'touch' && bar?.start === this.#hover.start) this.#clearHover();
      else this.#hoverAt(held.x0, held.y0, 'touch');
    };
    on('pointerup', (e) => up(e, false));
    on('pointercancel', (e) => up(e, true));
    on('pointerleave', (e) => {
      if (e.pointerType === 'mouse' && this.#hover?.source === 'pointer' && this.#held.size === 0) this.#clearHover();
    });
    on(
      'wheel',
      (e) => {
        const scale = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
        if (e.ctrlKey || e.metaKey) {
          // Ctrl+wheel, and a trackpad's pinch: zoom around the pointer.
          e.preventDefault();
          const anchor = this.#local(e).x / (this.chart.chartArea?.width || 1);
          this.zoom(Math.exp((-e.deltaY * scale) / 300), anchor);
        } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
          // A horizontal swipe or shift+wheel pans; a vertical wheel scrolls the page.
          e.preventDefault();
          this.pan(-e.deltaX * scale);
        }
      },
      { passive: false },
    );
    // The keys come to the focusable element around the canvas (the canvas itself is hidden from
    // assistive technology: the readout and the label describe the chart).
    const keys = canvas.closest<HTMLElement>('[data-chart-keys]') ?? canvas;
    const onKey = (type: 'keydown' | 'blur', handler: (e: KeyboardEvent) => void) => {
      keys.addEventListener(type, handler as EventListener);
      this.#stops.push(() => keys.removeEventListener(type, handler as EventListener));
    };
    onKey('keydown', (e) => {
      const page = (this.chart.chartArea?.width || 300) / 2;
      const keys: Record<string, () => void> = {
        ArrowLeft: () => this.#step(-1),
        ArrowRight: () => this.#step(1),
        '+': () => this.zoom(1.25),
        '=': () => this.zoom(1.25),
        '-': () => this.zoom(0.8),
        PageUp: () => this.pan(page),
        PageDown: () => this.pan(-page),
        Home: () => this.#step(-Infinity),
        End: () => {
          this.backToNow();
          this.#step(Infinity);
        },
        Escape: () => this.#clearHover(),
      };
      const action = keys[e.key];
      if (!action || e.altKey || e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      action();
    });
    onKey('blur', () => {
      if (this.#hover?.source === 'keyboard') this.#clearHover();
    });
  }

  #spread(): number {
    const [a, b] = [...this.#held.values()];
    return a && b ? Math.hypot(a.x - b.x, a.y - b.y) : 0;
  }
}

/**
 * Attachment that draws the candles of one (symbol, interval) pair on a canvas and keeps them
 * current: the chart is created once per pair and redrawn in place (`update('none')`, coalesced
 * per animation frame), never re-created per update. The mode and the buttons around it reach it
 * through the instance `onready` hands over.
 */
export function candleChart(options: CandleChartOptions): Attachment<HTMLCanvasElement> {
  return (canvas) => {
    const chart = new CandleChart(canvas, options);
    if (import.meta.env.MODE === 'e2e') liveCharts.set(options.symbol, chart);
    options.onready?.(chart);
    return () => {
      options.onready?.(undefined);
      if (liveCharts.get(options.symbol) === chart) liveCharts.delete(options.symbol);
      chart.destroy();
    };
  };
}
