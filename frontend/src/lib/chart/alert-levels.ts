import { Chart, type Plugin, type Scale } from 'chart.js';
import type { AlertCondition } from '@tickdeck/protocol';

/** One alert level on a chart's price axis. */
export interface AlertLevel {
  /** The alert's id. */
  id: string;
  price: number;
  /** `above` / `below`, or one side of a `move` band. */
  kind: AlertCondition['kind'];
  /** Armed or waiting (drawn solid); a fired one-shot is drawn faint. */
  active: boolean;
}

/** A level as the last draw placed it. */
export interface DrawnLevel extends AlertLevel {
  /** Canvas y, px (clamped to the plot when off it). */
  y: number;
  /** Within the price axis' range; otherwise marked at the edge it lies beyond. */
  inView: boolean;
}

interface LevelsState {
  levels: readonly AlertLevel[];
  format: (price: number) => string;
  colors: { active: string; fired: string };
  drawn: DrawnLevel[];
}

const states = new WeakMap<Chart, LevelsState>();
/** How far past the bars (a fraction of the price) an armed level still widens the price axis to show it. */
const NEAR_FRACTION = 0.02;

/** The levels of `condition` for a day that opened at `open` (a `move` has two; unknown open: none). */
export function levelsOf(condition: AlertCondition, open: number | undefined): number[] {
  if (condition.kind !== 'move') return [condition.level];
  if (open === undefined || !(open > 0)) return [];
  const band = (condition.pct / 100) * open;
  return [open + band, open - band];
}

/**
 * Draws alert levels across the plot, each with a label on the price axis: dashed lines, a level
 * beyond the axis' range as a mark at the edge it lies past. An armed level near the bars (within
 * the bars' range again, or 2 % of the price) widens the axis to show it. Registered once for every chart; a chart without
 * levels ({@link setAlertLevels}) is left alone.
 */
export const alertLevelsPlugin: Plugin = {
  id: 'tickdeck-alert-levels',
  afterDataLimits(chart, args: { scale: Scale }) {
    const state = states.get(chart);
    const scale = args.scale;
    if (!state || scale.id !== 'y' || !(scale.max > scale.min)) return;
    // Near: within the bars' own range again, or 2 % of the price (a flat minute of bars).
    const near = Math.max(scale.max - scale.min, scale.max * NEAR_FRACTION);
    for (const level of state.levels) {
      if (!level.active) continue;
      if (level.price > scale.max && level.price - scale.max <= near) scale.max = level.price;
      if (level.price < scale.min && scale.min - level.price <= near) scale.min = level.price;
    }
  },
  afterDatasetsDraw(chart) {
    const state = states.get(chart);
    const y = chart.scales.y;
    if (!state || !y) return;
    const { ctx, chartArea: area } = chart;
    const drawn: DrawnLevel[] = [];
    ctx.save();
    ctx.font = '10px ui-monospace, monospace';
    ctx.textBaseline = 'middle';
    for (const level of state.levels) {
      const py = y.getPixelForValue(level.price);
      const inView = py >= area.top && py <= area.bottom;
      const at = Math.round(Math.min(area.bottom, Math.max(area.top, py))) + 0.5;
      const color = level.active ? state.colors.active : state.colors.fired;
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      if (inView) {
        ctx.setLineDash(level.active ? [6, 4] : [2, 4]);
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(area.left, at);
        ctx.lineTo(area.right, at);
        ctx.stroke();
        ctx.setLineDash([]);
      }
      // The label at the plot's right edge, above its line; an arrow past the edge when off the axis.
      const mark = inView ? '\u25C6' : py < area.top ? '\u25B2' : '\u25BC';
      ctx.textAlign = 'right';
      const ty = inView ? at - 7 : at + (py < area.top ? 7 : -7);
      ctx.fillText(`${mark} alert ${state.format(level.price)}`, area.right - 2, ty);
      drawn.push({ ...level, y: at, inView });
    }
    ctx.restore();
    state.drawn = drawn;
  },
};

Chart.register(alertLevelsPlugin);

const same = (a: readonly AlertLevel[], b: readonly AlertLevel[]) =>
  a.length === b.length &&
  a.every((l, i) => l.id === b[i]!.id && l.price === b[i]!.price && l.active === b[i]!.active && l.kind === b[i]!.kind);

function cssVar(element: Element, name: string, fallback: string): string {
  return getComputedStyle(element).getPropertyValue(name).trim() || fallback;
}

/** Shows `levels` on `chart`, labelled with `format` (an update only when they changed). */
export function setAlertLevels(chart: Chart, levels: readonly AlertLevel[], format: (price: number) => string): void {
  const state = states.get(chart);
  // A chart that never had a level needs no update for none.
  if (state ? same(state.levels, levels) && state.format === format : levels.length === 0) return;
  const colors = state?.colors ?? {
    active: cssVar(chart.canvas, '--warn', '#f2b84b'),
    fired: cssVar(chart.canvas, '--muted', '#8592a3'),
  };
  states.set(chart, { levels, format, colors, drawn: state?.drawn ?? [] });
  chart.update('none');
}

/** The levels as the last draw placed them: for the page's test hook. */
export function drawnAlertLevels(chart: Chart): readonly DrawnLevel[] {
  return states.get(chart)?.drawn ?? [];
}

/** Page coordinates of the price axis at `price`, or undefined when off it; for tests. */
export function priceAxisPoint(chart: Chart, price: number): { x: number; y: number } | undefined {
  const y = chart.scales.y;
  if (!y) return undefined;
  const py = y.getPixelForValue(price);
  if (py < chart.chartArea.top || py > chart.chartArea.bottom) return undefined;
  const rect = chart.canvas.getBoundingClientRect();
  return { x: rect.left + (y.left + y.right) / 2, y: rect.top + py };
}

/** A press has to stay within this many px to count as a click on the axis. */
const CLICK_PX = 5;

/**
 * Calls `onpick` with the price under a click on `chart`'s price axis (right of the plot, within
 * its height), and shows a pointer there. Returns the teardown.
 */
export function pickOnPriceAxis(chart: Chart, onpick: (price: number) => void): () => void {
  const canvas = chart.canvas;
  let down: { x: number; y: number } | undefined;
  const local = (e: MouseEvent) => {
    const rect = canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };
  const onAxis = (p: { x: number; y: number }) => {
    const y = chart.scales.y;
    const area = chart.chartArea;
    return y !== undefined && p.x > area.right && p.x <= y.right && p.y >= area.top && p.y <= area.bottom;
  };
  const onDown = (e: PointerEvent) => {
    down = local(e);
  };
  const onMove = (e: PointerEvent) => {
    canvas.style.cursor = onAxis(local(e)) ? 'pointer' : '';
  };
  const onClick = (e: MouseEvent) => {
    const p = local(e);
    const start = down;
    down = undefined;
    if (start && Math.hypot(p.x - start.x, p.y - start.y) > CLICK_PX) return;
    if (!onAxis(p)) return;
    const price = chart.scales.y?.getValueForPixel(p.y);
    if (price !== undefined && Number.isFinite(price) && price > 0) onpick(price);
  };
  canvas.addEventListener('pointerdown', onDown);
  canvas.addEventListener('pointermove', onMove);
  canvas.addEventListener('click', onClick);
  return () => {
    canvas.removeEventListener('pointerdown', onDown);
    canvas.removeEventListener('pointermove', onMove);
    canvas.removeEventListener('click', onClick);
    canvas.style.cursor = '';
  };
}
