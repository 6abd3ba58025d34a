import {
  Chart,
  Decimation,
  Filler,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import type { Attachment } from 'svelte/attachments';
import { formatClock, formatPrice } from '../format';
import type { Point } from './series';
import type { ChartFeed } from './feed';

Chart.register(LineController, LineElement, PointElement, LinearScale, Filler, Decimation, Tooltip);

export interface PriceChartOptions {
  feed: ChartFeed;
  symbol: string;
  /** Visible window, in ms of feed time. */
  windowMs: number;
  /** Price decimals (from the tick size) for the axis and tooltip. */
  decimals: number;
}

/** Every live chart by symbol: for the page's test hook (the `e2e` build) and nothing else. */
export const liveCharts = new Map<string, Chart<'line', Point[]>>();

// Redraws are coalesced per animation frame and spread over frames: a `quotes` frame touching
// eight charts costs a few charts' work per frame, never eight layouts in one long task.
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

/** `#rrggbb` with an alpha, as canvas gradients want it; other colour syntaxes pass unchanged. */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  const [r, g, b] = [m[1]!, m[2]!, m[3]!].map((h) => parseInt(h, 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function cssVar(element: Element, name: string, fallback: string): string {
  return getComputedStyle(element).getPropertyValue(name).trim() || fallback;
}

/**
 * Attachment that draws the last-price line of `symbol` on a canvas and keeps it current: the
 * chart is created once, its dataset points at the series' own array, and each change is one
 * `chart.update('none')` (no animation) in the next animation frame. Once the window holds more
 * points than the chart is pixels wide, LTTB decimation draws one point per pixel column (the
 * series keeps them all), so drawing cost is bounded by the width, not by the tier or window.
 */
export function priceChart({ feed, symbol, windowMs, decimals }: PriceChartOptions): Attachment<HTMLCanvasElement> {
  return (canvas) => {
    const series = feed.open(symbol, windowMs);
    const accent = cssVar(canvas, '--accent', '#5aa9ff');
    const grid = cssVar(canvas, '--grid', 'rgba(133,146,163,0.12)');
    const muted = cssVar(canvas, '--muted', '#8592a3');
    const context = canvas.getContext('2d');
    const height = canvas.parentElement?.clientHeight ?? 200;
    const fill = context?.createLinearGradient(0, 0, 0, height) ?? accent;
    if (typeof fill !== 'string') {
      fill.addColorStop(0, withAlpha(accent, 0.32));
      fill.addColorStop(1, withAlpha(accent, 0));
    }

    const config: ChartConfiguration<'line', Point[]> = {
      type: 'line',
      data: {
        datasets: [
          {
            data: series.points,
            borderColor: accent,
            backgroundColor: fill,
            borderWidth: 1.5,
            fill: 'start',
            pointRadius: 0,
            pointHoverRadius: 3,
            tension: 0,
          },
        ],
      },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        onResize: (chart, size) => {
          const decimation = chart.options.plugins?.decimation;
          if (decimation) decimation.threshold = Math.max(50, Math.round(size.width));
        },
        plugins: {
          decimation: { enabled: true, algorithm: 'lttb', threshold: Math.max(50, canvas.clientWidth || 300) },
          tooltip: {
            displayColors: false,
            callbacks: {
              title: (items) => (items[0] ? formatClock(items[0].parsed.x ?? 0) : ''),
              label: (item) => formatPrice(item.parsed.y ?? 0, decimals),
            },
          },
        },
        scales: {
          x: {
            type: 'linear',
            grid: { color: grid },
            border: { display: false },
            ticks: {
              color: muted,
              maxRotation: 0,
              autoSkipPadding: 16,
              maxTicksLimit: 7,
              stepSize: windowMs <= 60_000 ? 15_000 : windowMs <= 300_000 ? 60_000 : 180_000,
              callback: (value) => formatClock(Number(value), windowMs <= 60_000),
            },
          },
          y: {
            type: 'linear',
            position: 'right',
            grace: '5%',
            grid: { color: grid },
            border: { display: false },
            ticks: { color: muted, maxTicksLimit: 5, callback: (value) => formatPrice(Number(value), decimals) },
          },
        },
      },
    };
    const chart = new Chart(canvas, config);
    if (import.meta.env.MODE === 'e2e') liveCharts.set(symbol, chart);

    const redraw = () => {
      const last = series.lastX;
      const x = chart.options.scales?.x;
      if (x && last !== undefined) {
        x.min = last - series.windowMs;
        x.max = last;
      }
      // The decimation plugin swaps `data` for its own array; assigning restores ours as the source.
      chart.data.datasets[0]!.data = series.points;
      chart.update('none');
    };
    redraw();
    const stop = series.onChange(() => schedule(redraw));

    return () => {
      stop();
      dirty.delete(redraw);
      if (liveCharts.get(symbol) === chart) liveCharts.delete(symbol);
      chart.destroy();
      feed.close(symbol);
    };
  };
}
