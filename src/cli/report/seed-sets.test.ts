import { describe, expect, test } from 'vitest';
import { seedRanges, shardsPresent } from './seed-sets.ts';

/** The seeds `hasim report --shard K/N` runs of `first`..`last`, for shards `ks`, cut after `limit` of the last. */
function shardSeeds(first: number, last: number, n: number, ks: number[], limit = Infinity): Set<number> {
  const out = new Set<number>();
  ks.forEach((k, i) => {
    let taken = 0;
    for (let s = first + k - 1; s <= last && (i < ks.length - 1 || taken < limit); s += n, taken++) out.add(s);
  });
  return out;
}

describe('naming the seeds of a partial report', () => {
  test('ranges', () => {
    expect(seedRanges([0, 1, 2, 3, 7, 9, 10])).toEqual(['0-3', '7', '9-10']);
    expect(seedRanges([])).toEqual([]);
  });

  test('one shard of ten, run to its end', () => {
    expect(shardsPresent(0, 999, shardSeeds(0, 999, 10, [1]))).toBe('shard 1 of 10 complete (--shard K/10)');
  });

  test('three shards done and a fourth running', () => {
    expect(shardsPresent(0, 999, shardSeeds(0, 999, 10, [1, 2, 3, 4], 37)))
      .toBe('shards 1-3 of 10 complete, shard 4 of 10 with 37 of its 100 seeds (--shard K/10)');
  });

  test('shards are counted from the first seed requested, and named by the fewest shards that give them', () => {
    expect(shardsPresent(5, 104, shardSeeds(5, 104, 4, [1, 2]))).toBe('shards 1-2 of 4 complete (--shard K/4)');
    // Shards 2 and 4 of 4 are shard 2 of 2.
    expect(shardsPresent(5, 104, shardSeeds(5, 104, 4, [2, 4]))).toBe('shard 2 of 2 complete (--shard K/2)');
  });

  test('seeds that no shards explain are left to ranges', () => {
    const scattered = new Set([0, 1, 2, 5, 11, 12, 13, 17, 30, 31, 47, 60, 61, 62, 63, 80, 95]);
    expect(shardsPresent(0, 99, scattered)).toBeNull();
    // Every seed present, or none: nothing to name.
    expect(shardsPresent(0, 99, new Set(Array.from({ length: 100 }, (_, i) => i)))).toBeNull();
    expect(shardsPresent(0, 99, new Set())).toBeNull();
  });
});
