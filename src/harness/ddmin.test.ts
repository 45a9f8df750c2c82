import { describe, expect, test } from 'vitest';
import { ddmin } from './ddmin.ts';

/** A failure test that holds when every item of `needed` is present, counting its calls. */
function needs(needed: readonly number[]): { fails: (items: number[]) => boolean; calls: () => number } {
  let calls = 0;
  return {
    fails: (items) => {
      calls++;
      return needed.every((n) => items.includes(n));
    },
    calls: () => calls,
  };
}

const range = (n: number): number[] => [...Array(n).keys()];

describe('ddmin', () => {
  test('one culprit among 16 items takes about 2 log2 16 tests', () => {
    for (const culprit of [0, 5, 15]) {
      const t = needs([culprit]);
      expect(ddmin(range(16), t.fails)).toEqual([culprit]);
      expect(t.calls()).toBeLessThanOrEqual(8);
    }
  });

  test('the result keeps the items in order and is 1-minimal', () => {
    for (const needed of [[3, 11], [0, 1, 2], [2, 7, 9, 13], range(6)]) {
      const t = needs(needed);
      const result = ddmin(range(14), t.fails);
      expect(result).toEqual(needed);
      for (let i = 0; i < result.length; i++) expect(t.fails(result.filter((_, j) => j !== i))).toBe(false);
    }
  });

  test('a failure that needs two items far apart goes through the complements', () => {
    const t = needs([1, 6]);
    expect(ddmin(range(8), t.fails)).toEqual([1, 6]);
  });

  test('lists of one item, and items no smaller list fails without, stay as they are', () => {
    expect(ddmin([4], needs([4]).fails)).toEqual([4]);
    const t = needs(range(5));
    expect(ddmin(range(5), t.fails)).toEqual(range(5));
  });

  test('the budget stops it: a list that still fails, maybe not 1-minimal', () => {
    const t = needs([9]);
    const result = ddmin(range(16), t.fails, () => t.calls() < 2);
    expect(t.calls()).toBe(2);
    expect(result).toEqual(range(16).slice(8));
  });

  test('the same list and test give the same tests in the same order', () => {
    const tried: string[][] = [[], []];
    for (const log of tried) ddmin(range(12), (items) => {
      log.push(items.join(','));
      return items.includes(3) && items.includes(8);
    });
    expect(tried[0]).toEqual(tried[1]);
  });
});
