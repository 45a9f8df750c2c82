/**
 * Which seeds a campaign (or one shard of it) runs. Shard k of n takes every n-th seed starting at
 * offset k-1, so the n shards of a campaign are disjoint, their union is exactly the unsharded
 * campaign, and this holds for a time budget (no fixed count) as well as for `--seeds N`.
 */
export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export const WHOLE: Shard = { index: 1, count: 1 };

export interface SeedRange {
  /** The campaign's first seed. */
  start: number;
  /** Seeds in the whole campaign (all shards together); null = until the budget or an interrupt. */
  total: number | null;
  shard: Shard;
}

/** The seeds of one shard, in ascending order. */
export function* shardSeeds(range: SeedRange): Generator<number> {
  for (let offset = range.shard.index - 1; range.total === null || offset < range.total; offset += range.shard.count) {
    yield range.start + offset;
  }
}

/** How many seeds the shard will run, or null when unbounded. */
export function shardSize(range: SeedRange): number | null {
  if (range.total === null) return null;
  const first = range.shard.index - 1;
  return first >= range.total ? 0 : Math.ceil((range.total - first) / range.shard.count);
}

/** Parses `k/n` (1 ≤ k ≤ n); returns null when malformed. */
export function parseShard(text: string): Shard | null {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (m === null) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return null;
  return { index, count };
}
