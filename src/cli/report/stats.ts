/**
 * Distributions of per-run metric values. A value is a number, or null when the thing measured never
 * happened in that run (a recovery that never came). Quantiles are nearest-rank: the p-quantile of
 * n sorted values is the value at rank ceil(p × n) (1-based), so it is always a value some run
 * produced, and "p99 = x" reads "99% of the runs that measured it gave at most x".
 */
export interface Distribution {
  /** Runs in all, including those where the metric never happened. */
  runs: number;
  /** Runs where it never happened (null). */
  never: number;
  min: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** The nearest-rank p-quantile of ascending `sorted` values (p in (0, 1]); null for none. */
export function quantile(sorted: readonly number[], p: number): number | null {
  if (!(p > 0 && p <= 1)) throw new RangeError(`quantile: p must be in (0, 1], got ${p}`);
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

export function distribution(values: readonly (number | null)[]): Distribution {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  const mean = sorted.length === 0 ? null : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    runs: values.length,
    never: values.length - sorted.length,
    min: sorted[0] ?? null,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? null,
    mean,
  };
}

/**
 * The empirical CDF as steps: for each distinct value v, the fraction of all runs (nulls included,
 * so the curve tops out at 1 - never/runs) whose value is at most v.
 */
export function cdf(values: readonly (number | null)[]): Array<{ x: number; y: number }> {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  const points: Array<{ x: number; y: number }> = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i + 1 < sorted.length && sorted[i + 1] === sorted[i]) continue;
    points.push({ x: sorted[i]!, y: (i + 1) / values.length });
  }
  return points;
}

/** Equal-width bins over [min, max] of the non-null values: `edges` has `counts.length + 1` entries; the last bin is closed. */
export function histogram(values: readonly (number | null)[], bins: number): { edges: number[]; counts: number[] } {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`histogram: bins must be a positive integer, got ${bins}`);
  const xs = values.filter((v): v is number => v !== null);
  if (xs.length === 0) return { edges: [], counts: [] };
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const width = hi === lo ? 1 : (hi - lo) / bins;
  const n = hi === lo ? 1 : bins;
  const counts = new Array<number>(n).fill(0);
  for (const x of xs) counts[Math.min(n - 1, Math.floor((x - lo) / width))]!++;
  return { edges: Array.from({ length: n + 1 }, (_, i) => lo + i * width), counts };
}
