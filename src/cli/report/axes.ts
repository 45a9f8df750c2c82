import { scaleLinear, scaleLog } from 'd3-scale';

/**
 * The horizontal axis of a chart: where a value goes, and the ticks to draw. Scales and tick values
 * come from d3-scale (nice domains, round ticks at 1-2-5 steps or decades); this module only decides
 * which scale suits a metric's data and how its ticks are written.
 */
export interface Axis {
  /** Position of a value in [0, 1] along the plot (values outside the domain are clamped). */
  at(value: number): number;
  /** Grid lines; `label` is empty for a line drawn without text (minor decades of a log axis). */
  ticks: Array<{ at: number; label: string }>;
  /** A value the axis cannot place on its scale (100% availability on a nines axis), drawn at its right edge with this label. */
  edge?: { value: number; label: string };
  /** How to read the axis, for the chart's caption. */
  caption: string;
}

/** Fewer ticks than this fit a 300-pixel plot without their labels touching. */
const TICK_COUNT = 5;
/** A time axis turns logarithmic when its data spans at least this factor (two decades). */
const LOG_SPAN = 100;
/** On a nines axis the plot ends short of the right edge, where exactly 100% is drawn after a break. */
export const EDGE_AT = 0.8;
/** A fraction axis shows nines when a series' median is at least this (the interesting region is 99.x%). */
const NINES_FROM = 0.9;

/** Display units of a time axis, in microseconds. */
const UNITS: ReadonlyArray<[string, number]> = [['µs', 1], ['ms', 1000], ['s', 1_000_000], ['m', 60_000_000]];

/** A number as a tick writes it: at most three significant digits, no trailing zeros. */
const short = (v: number): string => String(Number(v.toPrecision(3)));

/** A decade of a log time axis: `1ms`, `100ms`, `1s`, `1000s` (seconds stay seconds, so every label is a power of ten). */
export function decadeTick(us: number): string {
  if (us < 1000) return `${short(us)}µs`;
  if (us < 1_000_000) return `${short(us / 1000)}ms`;
  return `${short(us / 1_000_000)}s`;
}

/** An availability for a tick: `90%`, `99.9%`, `0%`. */
export function percentTick(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(6))}%`;
}

/**
 * A time axis over microsecond values: logarithmic when they span two decades or more (recoveries
 * range from milliseconds to minutes), linear otherwise, in the unit that suits the largest value
 * (so the ticks are round in the unit they are written in: 2m, 4m, not 3.33m). A linear axis starts
 * at 0 unless the values sit far from it, where it is fitted to them: a spread of 7.0-7.1 s is then
 * a curve across the plot, not a line at one end. A single value gets a domain around it.
 */
export function timeAxis(values: readonly number[]): Axis {
  const positive = values.filter((v) => v > 0);
  const lo = positive.length === 0 ? 1000 : Math.min(...positive);
  const hi = positive.length === 0 ? 1_000_000 : Math.max(...positive);
  if (hi / lo >= LOG_SPAN) {
    const s = scaleLog().domain([lo, hi]).nice().clamp(true);
    const ticks = s.ticks().map((v) => ({ at: s(v), label: Number.isInteger(Math.log10(v)) ? decadeTick(v) : '' }));
    const zero = values.some((v) => v <= 0) ? ` (0 drawn at ${decadeTick(s.domain()[0]!)})` : '';
    return { at: (v) => s(Math.max(v, s.domain()[0]!)), ticks, caption: `log time axis${zero}` };
  }
  const [unit, per] = [...UNITS].reverse().find(([, size]) => hi >= 2 * size) ?? UNITS[0]!;
  const min = Math.min(...values, hi) / per;
  const max = hi / per;
  const from = min > 0.25 * max ? min : Math.min(0, min);
  const domain: [number, number] = max === from ? [from * 0.9, from * 1.1 || 1] : [from, max];
  const s = scaleLinear().domain(domain).nice(TICK_COUNT).clamp(true);
  return {
    at: (v) => s(v / per),
    ticks: s.ticks(TICK_COUNT).map((v) => ({ at: s(v), label: v === 0 ? '0' : `${short(v)}${unit}` })),
    caption: from > 0 ? `linear time axis, from ${short(s.domain()[0]!)}${unit}` : 'linear time axis',
  };
}

/**
 * A fraction axis, for series of values (one per profile). When any series has its median at 90% or
 * more (an availability that matters in its nines), the axis shows nines: the unavailability 1 - x
 * on a reversed log axis, ticks at 90%, 99%, 99.9%..., so 99.5% and 99.95% are far apart, while a
 * series spread lower is read in the first decade (0% to 90%). Exactly 100% has no place on it and
 * is drawn at the right edge, labelled. When every series sits lower, a linear 0-100%.
 */
export function fractionAxis(series: ReadonlyArray<readonly number[]>): Axis {
  const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const values = series.flat();
  if (!series.some((s) => median(s) >= NINES_FROM)) {
    const s = scaleLinear().domain([0, 1]).clamp(true);
    return { at: s, ticks: s.ticks(TICK_COUNT).map((v) => ({ at: s(v), label: percentTick(v) })), caption: 'linear axis' };
  }
  const gaps = values.map((v) => 1 - v).filter((u) => u > 1e-12);
  const worst = Math.max(0.1, ...gaps);
  const best = Math.min(1e-4, ...gaps);
  // Reversed: the largest unavailability (worst) on the left, so better is to the right as usual.
  const s = scaleLog().domain([worst, best]).nice().clamp(true);
  const ticks = s.ticks().filter((u) => Number.isInteger(Math.log10(u))).map((u) => ({ at: s(u), label: percentTick(1 - u) }));
  return {
    at: (v) => (1 - v <= 1e-12 ? 1 : s(1 - v) * EDGE_AT),
    ticks: ticks.map((t) => ({ ...t, at: t.at * EDGE_AT })),
    edge: { value: 1, label: '100%' },
    caption: 'availability as nines (log of the unavailability)',
  };
}
