import { describe, expect, test } from 'vitest';
import { portableExp, RandomStreams } from './random.ts';

describe('RandomStreams', () => {
  test('the same seed and stream name give the same sequence', () => {
    const a = new RandomStreams(42).get('net');
    const b = new RandomStreams(42).get('net');
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
  });

  test('streams are independent: drawing from one never shifts another', () => {
    const quiet = new RandomStreams(7);
    const busy = new RandomStreams(7);
    for (let i = 0; i < 1000; i++) busy.get('faults').next();
    busy.get('a-new-component').next();
    const expected = Array.from({ length: 50 }, () => quiet.get('net').int(0, 1_000_000));
    expect(Array.from({ length: 50 }, () => busy.get('net').int(0, 1_000_000))).toEqual(expected);
  });

  test('different seeds and different names give different sequences', () => {
    const s = (seed: number, name: string) => {
      const stream = new RandomStreams(seed).get(name);
      return Array.from({ length: 8 }, () => stream.next());
    };
    expect(s(1, 'x')).not.toEqual(s(2, 'x'));
    expect(new RandomStreams(1).get('x').next()).not.toEqual(new RandomStreams(1).get('y').next());
  });

  test('int covers its inclusive range uniformly (chi-square, 6 bins)', () => {
    const r = new RandomStreams('uniform').get('dice');
    const counts = [0, 0, 0, 0, 0, 0];
    const n = 60_000;
    for (let i = 0; i < n; i++) counts[r.int(1, 6) - 1]!++;
    const expected = n / 6;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(20.5); // p = 0.001 at 5 degrees of freedom
  });

  test('chance and jitter respect their bounds', () => {
    const r = new RandomStreams(3).get('j');
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    for (let i = 0; i < 1000; i++) {
      const j = r.jitter(2_000_000, 1.2);
      expect(j).toBeGreaterThanOrEqual(2_000_000);
      expect(j).toBeLessThan(4_400_000);
      expect(Number.isInteger(j)).toBe(true);
    }
    expect(() => r.pick([])).toThrow(/empty/);
  });
});

describe('portableExp and the log-normal draw', () => {
  test('portableExp agrees with Math.exp to a relative 1e-14 over the range draws use', () => {
    for (let x = -30; x <= 30; x += 0.0137) {
      const want = Math.exp(x);
      expect(Math.abs(portableExp(x) - want) / want).toBeLessThan(1e-14);
    }
    expect([portableExp(0), portableExp(701), portableExp(-701)]).toEqual([1, Infinity, 0]);
  });

  test('normal() has mean 0 and variance 1, within tolerance, and never leaves [-6, 6]', () => {
    const r = new RandomStreams(3).get('n');
    const n = 20_000;
    const xs = Array.from({ length: n }, () => r.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.04); // 5 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(Math.max(...xs.map(Math.abs))).toBeLessThanOrEqual(6);
  });

  test('logNormal(median, sigma) has that median and the log-normal 90th percentile, within tolerance', () => {
    const r = new RandomStreams(5).get('d');
    const xs = Array.from({ length: 20_000 }, () => r.logNormal(15, 0.8)).sort((a, b) => a - b);
    const q = (p: number): number => xs[Math.floor(p * xs.length)]!;
    expect(q(0.5)).toBeGreaterThan(14.3);
    expect(q(0.5)).toBeLessThan(15.7);
    // 15 × e^(0.8 × 1.2816) = 41.8
    expect(q(0.9)).toBeGreaterThan(39.5);
    expect(q(0.9)).toBeLessThan(44);
  });
});
