import {
  DatasetController,
  Element,
  type CartesianScaleTypeRegistry,
  type ChartDataset,
  type Scale,
  type UpdateMode,
} from 'chart.js';
import type { Candle } from '@tickdeck/protocol';

/** What one dataset draws of the bars: candlesticks, a line through the closes, or volume bars. */
export type CandleStyle = 'candles' | 'line' | 'volume';

/** A bar as the controller parses it: `x` is its start, `y` its close. */
export interface CandleParsed {
  x: number;
  y: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

/** The dataset options of a `candles` dataset (its `data` is the protocol's `Candle[]`, oldest first). */
export interface CandleDatasetOptions {
  style: CandleStyle;
  /** Width of one bar in time, ms: a bar covers `[start, start + intervalMs)` and is drawn centred on it. */
  intervalMs: number;
  upColor: string;
  downColor: string;
  lineColor: string;
  xAxisID?: string;
  yAxisID?: string;
}

declare module 'chart.js' {
  interface ChartTypeRegistry {
    candles: {
      chartOptions: object;
      datasetOptions: CandleDatasetOptions;
      defaultDataPoint: Candle;
      metaExtensions: object;
      parsedDataType: CandleParsed;
      scales: keyof CartesianScaleTypeRegistry;
    };
  }
}

export type CandleDataset = ChartDataset<'candles', Candle[]>;

/** What fits a chart's value axes to `bars`: the price range a style draws, and the largest volume. */
export interface BarExtents {
  /** Lowest low (a line: lowest close); `+Infinity` without bars. */
  low: number;
  /** Highest high (a line: highest close); `-Infinity` without bars. */
  high: number;
  /** Largest volume; 0 without bars. */
  volume: number;
}

/**
 * The extents of `bars[from..to)` as the price axis of `style` (candles: lows and highs; a line:
 * closes) and the volume axis fit them. Two sets of bars with equal extents get equal axes.
 */
export function barExtents(
  bars: readonly Candle[],
  style: Exclude<CandleStyle, 'volume'>,
  from = 0,
  to = bars.length,
): BarExtents {
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  let volume = 0;
  const line = style === 'line';
  for (let i = from; i < to; i++) {
    const b = bars[i]!;
    const lo = line ? b.close : b.low;
    const hi = line ? b.close : b.high;
    if (lo < low) low = lo;
    if (hi > high) high = hi;
    if (b.volume > volume) volume = b.volume;
  }
  return { low, high, volume };
}

/** Steps of {@link niceCeil} within a decade. */
const NICE_STEPS = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];

/**
 * The volume axis' top for a largest volume `v`: the next "nice" number (1, 1.2, 1.5, 2, 2.5, 3,
 * 4, 5, 6, 8 times a power of ten) at least 5 % above it. Coarse on purpose: the live bar's
 * volume grows with every tick, and the axis (so the chart's layout) changes only when it passes
 * a step, not with every tick.
 */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const target = v * 1.05;
  const decade = 10 ** Math.floor(Math.log10(target));
  for (const step of NICE_STEPS) {
    const nice = step * decade;
    // A hair of tolerance: 10 ** k * step is not always exact in floating point.
    if (nice >= target * (1 - 1e-12)) return nice;
  }
  return 10 * decade;
}

/** One drawn bar, in pixels: `x` its centre, `y` its close (its volume's top on a volume dataset). */
export class CandleElement extends Element {
  static readonly id = 'candle';
  static override readonly defaults = {};
  open = 0;
  high = 0;
  low = 0;
  /** Body width, px. */
  width = 0;
  /** Pixel of the zero line (volume). */
  base = 0;
  /** Closed at or above its open. */
  up = true;
}

/**
 * A chart.js controller for OHLCV bars on a linear time axis: candlesticks (an up bar hollow, a
 * down bar filled, so the direction does not rest on colour alone), a close line, or volume bars.
 * It parses the protocol's `Candle` objects as they come (no copy), fits its value axis to the
 * lows and highs (or volumes) of the bars it is given, and draws in a few paths per colour.
 */
export class CandleController extends DatasetController<'candles', CandleElement> {
  static readonly id = 'candles';
  static readonly defaults = { dataElementType: 'candle', animation: false };
  static readonly overrides = { scales: { x: { type: 'linear' }, y: { type: 'linear' } } };

  #options(): CandleDatasetOptions & { data: Candle[] } {
    return this.getDataset() as unknown as CandleDatasetOptions & { data: Candle[] };
  }

  override parse(start: number, count: number): void {
    const meta = this._cachedMeta;
    const data = this.#options().data;
    const parsed = meta._parsed as CandleParsed[];
    for (let i = start; i < start + count; i++) {
      const d = data[i]!;
      parsed[i] = { x: d.start, y: d.close, o: d.open, h: d.high, l: d.low, c: d.close, v: d.volume };
    }
    meta._sorted = true;
  }

  protected override getMinMax(scale: Scale): { min: number; max: number } {
    const meta = this._cachedMeta;
    const parsed = meta._parsed as CandleParsed[];
    const { style, intervalMs } = this.#options();
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    if (scale === meta.iScale) {
      const first = parsed[0];
      const last = parsed.at(-1);
      if (first && last) return { min: first.x, max: last.x + intervalMs };
    } else if (style === 'volume') {
      min = 0;
      for (const p of parsed) max = Math.max(max, p.v);
    } else if (style === 'line') {
      for (const p of parsed) {
        min = Math.min(min, p.c);
        max = Math.max(max, p.c);
      }
    } else {
      for (const p of parsed) {
        min = Math.min(min, p.l);
        max = Math.max(max, p.h);
      }
    }
    return { min, max };
  }

  /**
   * Reads bars `start..start + count` of the data again and places their elements, on the axes
   * as they are: for a bar that changed in place without moving the axes (the live bar, within
   * the extents it was laid out with), instead of a whole chart update.
   */
  patch(start: number, count: number): void {
    this.parse(start, count);
    this.updateElements(this._cachedMeta.data, start, count, 'none');
  }

  override update(mode: UpdateMode): void {
    const elements = this._cachedMeta.data;
    this.updateElements(elements, 0, elements.length, mode);
  }

  override updateElements(elements: CandleElement[], start: number, count: number, _mode: UpdateMode): void {
    const meta = this._cachedMeta;
    const x = meta.xScale!;
    const y = meta.yScale!;
    const { style, intervalMs } = this.#options();
    const parsed = meta._parsed as CandleParsed[];
    // Measured near the axis: chart.js clamps pixels far outside it to the int16 range.
    const slot = Math.abs(x.getPixelForValue(x.min + intervalMs) - x.getPixelForValue(x.min));
    const width = Math.max(1, Math.min(slot * 0.7, slot - 1));
    const base = y.getPixelForValue(Math.max(0, y.min));
    for (let i = start; i < start + count; i++) {
      const p = parsed[i]!;
      const el = elements[i]!;
      el.x = x.getPixelForValue(p.x + intervalMs / 2);
      el.width = width;
      el.up = p.c >= p.o;
      if (style === 'volume') {
        el.y = y.getPixelForValue(p.v);
        el.base = base;
      } else {
        el.y = y.getPixelForValue(p.c);
        el.open = y.getPixelForValue(p.o);
        el.high = y.getPixelForValue(p.h);
        el.low = y.getPixelForValue(p.l);
      }
    }
  }

  override draw(): void {
    const { ctx, chartArea: area } = this.chart;
    const elements = this._cachedMeta.data;
    const { style, upColor, downColor, lineColor } = this.#options();
    if (elements.length === 0) return;
    ctx.save();
    ctx.beginPath();
    ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
    ctx.clip();
    if (style === 'line') {
      ctx.beginPath();
      elements.forEach((el, i) => (i === 0 ? ctx.moveTo(el.x, el.y) : ctx.lineTo(el.x, el.y)));
      ctx.strokeStyle = lineColor;
      ctx.lineWidth = 1.5;
      ctx.lineJoin = 'round';
      ctx.stroke();
    } else if (style === 'volume') {
      for (const up of [true, false]) {
        ctx.fillStyle = up ? upColor : downColor;
        for (const el of elements) {
          if (el.up === up) ctx.fillRect(el.x - el.width / 2, el.y, el.width, Math.max(1, el.base - el.y));
        }
      }
    } else {
      drawCandles(ctx, elements, true, upColor);
      drawCandles(ctx, elements, false, downColor);
    }
    ctx.restore();
  }
}

/** The wicks and bodies of the up (hollow) or the down (filled) bars, in two paths. */
function drawCandles(ctx: CanvasRenderingContext2D, elements: CandleElement[], up: boolean, color: string): void {
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const el of elements) {
    if (el.up !== up) continue;
    const x = Math.round(el.x) + 0.5;
    const top = Math.min(el.open, el.y);
    const bottom = Math.max(el.open, el.y);
    ctx.moveTo(x, el.high);
    ctx.lineTo(x, top);
    ctx.moveTo(x, bottom);
    ctx.lineTo(x, el.low);
  }
  ctx.stroke();
  ctx.beginPath();
  for (const el of elements) {
    if (el.up !== up) continue;
    const left = Math.round(el.x - el.width / 2) + 0.5;
    const width = Math.max(1, Math.round(el.width) - 1);
    const top = Math.round(Math.min(el.open, el.y)) + 0.5;
    const height = Math.max(1, Math.round(Math.abs(el.open - el.y)));
    ctx.rect(left, top, width, height);
  }
  if (up) ctx.stroke();
  else {
    ctx.fill();
    ctx.stroke();
  }
}
