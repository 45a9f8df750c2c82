import { describe, expect, test } from 'vitest';
import { EDGE_AT, fractionAxis, timeAxis } from './axes.ts';

const labels = (ticks: ReadonlyArray<{ label: string }>): string[] => ticks.map((t) => t.label).filter((l) => l !== '');

describe('chart axes', () => {
  test('times spanning decades get a log axis labelled at each decade, in seconds past 1 s', () => {
    const axis = timeAxis([2_000, 40_000, 3_000_000, 80_000_000]);
    expect(axis.caption).toBe('log time axis');
    expect(labels(axis.ticks)).toEqual(['1ms', '10ms', '100ms', '1s', '10s', '100s']);
    expect(axis.at(1_000)).toBeCloseTo(0);
    expect(axis.at(100_000_000)).toBeCloseTo(1);
    expect(axis.at(0)).toBe(0);
  });

  test('a linear time axis ticks round values in the unit of its largest value', () => {
    expect(labels(timeAxis([30_000_000, 420_000_000]).ticks)).toEqual(['0', '1m', '2m', '3m', '4m', '5m', '6m', '7m']);
    expect(labels(timeAxis([2_000_000, 32_000_000]).ticks)).toEqual(['0', '5s', '10s', '15s', '20s', '25s', '30s', '35s']);
  });

  test('values far from zero fill the plot instead of standing at its end', () => {
    const axis = timeAxis([7_000_000, 7_010_000, 7_040_000]);
    expect(axis.caption).toBe('linear time axis, from 7s');
    expect(axis.at(7_000_000)).toBeCloseTo(0);
    expect(axis.at(7_040_000)).toBeCloseTo(1);
    expect(axis.at(7_020_000)).toBeCloseTo(0.5);
  });

  test('one value alone gets a domain around it', () => {
    const at = timeAxis([5_000_000]).at(5_000_000);
    expect(at).toBeGreaterThan(0.2);
    expect(at).toBeLessThan(0.8);
  });

  test('availability is drawn as nines, with exactly 100% at the edge after the break', () => {
    const axis = fractionAxis([[0.95, 0.994, 0.9995, 1, 1]]);
    expect(axis.caption).toMatch(/^availability as nines/);
    expect(labels(axis.ticks)).toEqual(['90%', '99%', '99.9%', '99.99%']);
    expect(axis.edge).toEqual({ value: 1, label: '100%' });
    expect(axis.at(1)).toBe(1);
    // A decade of unavailability is the same distance wherever it is.
    expect(axis.at(0.999) - axis.at(0.99)).toBeCloseTo(axis.at(0.99) - axis.at(0.9));
    expect(axis.at(0.9999)).toBeCloseTo(EDGE_AT);
  });

  test('one series in the nines is enough: another spread low is read in the first decade', () => {
    const axis = fractionAxis([[0.2, 0.4, 0.5], [0.98, 0.995, 0.999]]);
    expect(axis.edge).toBeDefined();
    expect(axis.at(0)).toBe(0);
    expect(axis.at(0.5)).toBeLessThan(axis.at(0.9));
  });

  test('fractions all spread low keep a linear 0-100% axis', () => {
    const axis = fractionAxis([[0.1, 0.4, 0.5, 0.8], [0.3, 0.85]]);
    expect(labels(axis.ticks)).toEqual(['0%', '20%', '40%', '60%', '80%', '100%']);
    expect(axis.edge).toBeUndefined();
  });
});
