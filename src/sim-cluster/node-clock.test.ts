import { describe, expect, test } from 'vitest';
import { NodeClock } from './node-clock.ts';
import { SECOND } from './time.ts';

describe('NodeClock', () => {
  test('offset shifts the wall clock only', () => {
    const c = new NodeClock({ offsetUs: 1500 });
    expect(c.monotonic(10 * SECOND)).toBe(10 * SECOND);
    expect(c.wall(10 * SECOND)).toBe(10 * SECOND + 1500);
  });

  test('drift scales both readings: +100 ppm gains 100 µs per second', () => {
    const c = new NodeClock({ driftPpm: 100 });
    expect(c.monotonic(1 * SECOND)).toBe(SECOND + 100);
    expect(c.wall(60 * SECOND)).toBe(60 * SECOND + 6000);
  });

  test('a timer of local duration d takes d / rate of true time, never less than d locally', () => {
    const fast = new NodeClock({ driftPpm: 1000 });
    const slow = new NodeClock({ driftPpm: -1000 });
    const d = 15 * SECOND;
    const tf = fast.toTrueDelay(d);
    const ts = slow.toTrueDelay(d);
    expect(tf).toBe(Math.ceil((d * 1e6) / 1_001_000));
    expect(ts).toBe(Math.ceil((d * 1e6) / 999_000));
    expect(fast.monotonic(tf)).toBeGreaterThanOrEqual(d);
    expect(slow.monotonic(ts)).toBeGreaterThanOrEqual(d);
    expect(fast.monotonic(tf - 1)).toBeLessThan(d);
  });

  test('a jump steps the wall clock and leaves monotonic time alone', () => {
    const c = new NodeClock();
    c.jump(-5 * SECOND);
    expect(c.wall(10 * SECOND)).toBe(5 * SECOND);
    expect(c.monotonic(10 * SECOND)).toBe(10 * SECOND);
    c.jump(+7 * SECOND);
    expect(c.wall(10 * SECOND)).toBe(12 * SECOND);
  });

  test('changing drift keeps readings continuous', () => {
    const c = new NodeClock({ driftPpm: 500 });
    const before = c.monotonic(100 * SECOND);
    c.setDrift(100 * SECOND, -500);
    expect(c.monotonic(100 * SECOND)).toBe(before);
    expect(c.monotonic(101 * SECOND)).toBe(before + SECOND - 500);
  });

  test('freezeFor moves both readings back (VM suspend)', () => {
    const c = new NodeClock({ offsetUs: 10 });
    c.freezeFor(3 * SECOND);
    expect(c.monotonic(10 * SECOND)).toBe(7 * SECOND);
    expect(c.wall(10 * SECOND)).toBe(7 * SECOND + 10);
  });

  test('rejects a rate of zero or less', () => {
    expect(() => new NodeClock({ driftPpm: -1_000_000 })).toThrow(RangeError);
  });
});
