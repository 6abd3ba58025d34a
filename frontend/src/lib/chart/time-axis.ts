const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** Tick steps the time axis picks from, ms. */
export const TICK_STEPS = [
  S,
  2 * S,
  5 * S,
  10 * S,
  15 * S,
  30 * S,
  M,
  2 * M,
  5 * M,
  10 * M,
  15 * M,
  30 * M,
  H,
  2 * H,
  3 * H,
  6 * H,
  12 * H,
  D,
  2 * D,
  7 * D,
  14 * D,
  30 * D,
  91 * D,
  182 * D,
  365 * D,
] as const;

/** Local time minus UTC at `t`, ms (what to add to a UTC instant to read the local clock). */
export function localOffsetMs(t: number): number {
  return -new Date(t).getTimezoneOffset() * M;
}

/**
 * Ticks for a time axis from `min` to `max` (epoch ms) on `widthPx`, at least `minGapPx` apart: the
 * smallest step of {@link TICK_STEPS} that leaves that room, each tick on a multiple of it on the
 * local clock (`offsetMs`, see {@link localOffsetMs}); day steps and longer count in UTC days, the
 * days the `1d` bars are.
 */
export function timeTicks(
  min: number,
  max: number,
  widthPx: number,
  offsetMs: number,
  minGapPx = 80,
): { step: number; ticks: number[] } {
  const span = max - min;
  if (!(span > 0) || !(widthPx > 0)) return { step: S, ticks: [] };
  const wanted = (span * minGapPx) / widthPx;
  const step = TICK_STEPS.find((s) => s >= wanted) ?? TICK_STEPS.at(-1)!;
  const offset = step >= D ? 0 : offsetMs;
  const ticks: number[] = [];
  for (let t = Math.ceil((min + offset) / step) * step - offset; t <= max; t += step) ticks.push(t);
  return { step, ticks };
}

const LOCALE = 'en-US';
const clockS = new Intl.DateTimeFormat(LOCALE, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const clockM = new Intl.DateTimeFormat(LOCALE, { hour: '2-digit', minute: '2-digit', hour12: false });
const dayLocal = new Intl.DateTimeFormat(LOCALE, { month: 'short', day: 'numeric' });
const dayUtc = new Intl.DateTimeFormat(LOCALE, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const yearUtc = new Intl.DateTimeFormat(LOCALE, { year: 'numeric', timeZone: 'UTC' });
const dateUtc = new Intl.DateTimeFormat(LOCALE, { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
const dateTimeLocal = new Intl.DateTimeFormat(LOCALE, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

/** A tick's label at `step`: `14:05:30`, `14:05`, `Dec 3` (local midnight, or a day step), `2026` (a year's first day). */
export function formatTick(t: number, step: number, offsetMs = localOffsetMs(t)): string {
  if (step < M) return clockS.format(t);
  if (step < D) return (t + offsetMs) % D === 0 ? dayLocal.format(t) : clockM.format(t);
  const date = new Date(t);
  if (date.getUTCMonth() === 0 && date.getUTCDate() === 1 && step >= 30 * D) return yearUtc.format(t);
  return dayUtc.format(t);
}

/** When a bar opened, as precise as its interval: `14:05:07`, `Dec 3 14:05`, `Dec 3, 2026` (the UTC day of a `1d` bar). */
export function formatBarTime(start: number, intervalMs: number): string {
  if (intervalMs < M) return clockS.format(start);
  if (intervalMs < D) return dateTimeLocal.format(start);
  return dateUtc.format(start);
}

/**
 * The ticks (of `ticks`, on an axis from `min` to `max` drawn `widthPx` wide) whose label, centred
 * on its tick and `labelPx(tick)` wide, would reach past the axis' left end. Their labels are left
 * blank: otherwise chart.js pads the plot for them, the plot's width then depends on where the
 * ticks fall, and the view (sized to that width) moves the ticks again: a layout that flips
 * between two widths at every redraw.
 */
export function overhangingLeft(
  ticks: readonly number[],
  min: number,
  max: number,
  widthPx: number,
  labelPx: (tick: number) => number,
): Set<number> {
  const out = new Set<number>();
  if (!(max > min) || !(widthPx > 0)) return out;
  for (const tick of ticks) {
    const px = ((tick - min) / (max - min)) * widthPx;
    // Ticks are sorted: past the widest label's reach, none further on overhangs.
    if (px > widthPx / 2) break;
    if (px < labelPx(tick) / 2 + 1) out.add(tick);
  }
  return out;
}
