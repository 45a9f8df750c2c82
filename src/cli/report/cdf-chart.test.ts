import { describe, expect, test } from 'vitest';
import { cdfSvg } from './cdf-chart.ts';
import type { Chart } from './document.ts';

const chart = (never: number): Chart => ({
  title: 'routing-restored', unit: 'us',
  series: [
    { label: 'as built', runs: 10, never, points: Array.from({ length: 10 - never }, (_, i) => ({ x: (i + 1) * 1_000_000, y: (i + 1) / 10 })) },
    { label: 'hardened', runs: 10, never: 0, points: Array.from({ length: 10 }, (_, i) => ({ x: (i + 1) * 100_000, y: (i + 1) / 10 })) },
  ],
});

describe('a CDF chart', () => {
  test('runs in which it never happened are a bar in a column of their own, sized by their share', () => {
    const svg = cdfSvg(chart(4));
    expect(svg).toContain('>never</text>');
    const bar = svg.match(/<rect x="[\d.]+" y="([\d.]+)" width="5" height="([\d.]+)" fill="#c0392b" class="never-bar"><title>as built: never in 4 of 10 runs<\/title>/);
    expect(bar).not.toBeNull();
    // 4 of 10 runs: 40% of the 140-pixel plot.
    expect(Number(bar![2])).toBeCloseTo(56, 0);
    expect(svg).toContain('>as built: 10 runs, never in 4</text>');
  });

  test('without such runs there is no never column', () => {
    const svg = cdfSvg(chart(0));
    expect(svg).not.toContain('never');
  });

  test('one legend row per series, under the plot', () => {
    const rows = [...cdfSvg(chart(4)).matchAll(/<g class="legend-item"><rect x="(\d+)" y="(\d+)"/g)].map((m) => Number(m[2]));
    expect(rows).toHaveLength(2);
    expect(rows[1]! - rows[0]!).toBe(15);
    expect(rows[0]).toBeGreaterThan(164);
  });
});
