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

const MASK64 = (1n << 64n) - 1n;

/**
 * SplitMix64's output function (Steele, Lea and Flood; Java's SplittableRandom) applied to the seed:
 * a fixed bijection of 64-bit integers whose output bits each depend on every input bit, so that
 * `mix(seed) % n` spreads any stride or range of seeds evenly over the n residues.
 */
export function seedMix(seed: number): bigint {
  let z = (BigInt(seed) + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/**
 * Whether the determinism self-check reruns this seed: about one seed in `every` (0 = none), chosen
 * by a hash of the seed itself rather than by its position. Choosing by position (every N-th seed
 * from the campaign's start) missed whole shards, since a shard is itself every N-th seed; a pure
 * function of the seed gives every shard and every range its share, and the same seed is checked
 * whichever shard, range or machine runs it.
 */
export function selfChecked(seed: number, every: number): boolean {
  return every > 0 && seedMix(seed) % BigInt(every) === 0n;
}
