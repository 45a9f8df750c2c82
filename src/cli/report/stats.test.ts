import { describe, expect, test } from 'vitest';
import { cdf, distribution, histogram, quantile } from './stats.ts';

describe('report statistics on synthetic input', () => {
  test('nearest-rank quantiles of 1..100: p50 = 50, p95 = 95, p99 = 99, and every quantile is a value some run gave', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(xs, 0.5)).toBe(50);
    expect(quantile(xs, 0.95)).toBe(95);
    expect(quantile(xs, 0.99)).toBe(99);
    expect(quantile(xs, 1)).toBe(100);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeNull();
    expect(() => quantile(xs, 0)).toThrow(RangeError);
  });

  test('a distribution ignores order, counts the runs where the metric never happened, and quantiles only what happened', () => {
    const d = distribution([30, null, 10, 20, null, 40]);
    expect(d).toEqual({ runs: 6, never: 2, min: 10, p50: 20, p95: 40, p99: 40, max: 40, mean: 25 });
    expect(distribution([null, null])).toEqual({ runs: 2, never: 2, min: null, p50: null, p95: null, p99: null, max: null, mean: null });
  });

  test('the CDF steps at each distinct value by the share of all runs, and stops short of 1 when some never happened', () => {
    expect(cdf([2, 1, 2, null])).toEqual([{ x: 1, y: 0.25 }, { x: 2, y: 0.75 }]);
    expect(cdf([])).toEqual([]);
  });

  test('histogram bins are equal-width over [min, max], the maximum lands in the last bin, nulls are left out', () => {
    expect(histogram([0, 1, 2, 3, 4, null], 2)).toEqual({ edges: [0, 2, 4], counts: [2, 3] });
    expect(histogram([5, 5], 4)).toEqual({ edges: [5, 6], counts: [2] });
    expect(histogram([null], 3)).toEqual({ edges: [], counts: [] });
    expect(() => histogram([1], 0)).toThrow(RangeError);
  });
});
