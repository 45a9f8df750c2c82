/**
 * How a partial report names the seeds it holds: as ranges (`0-3, 7, 9-12`), or, when the runs
 * came from shards, as the shards (`--shard K/N` runs the seeds whose offset from the first seed
 * is K-1 modulo N), which is what one can act on and what ranges cannot say briefly: one shard of
 * ten is a hundred ranges of nine missing seeds.
 */

/** Seeds in increasing order as ranges: `0-3, 7, 9-12`. */
export function seedRanges(seeds: readonly number[]): string[] {
  const parts: string[] = [];
  for (let i = 0; i < seeds.length;) {
    let j = i;
    while (j + 1 < seeds.length && seeds[j + 1] === seeds[j]! + 1) j++;
    parts.push(i === j ? String(seeds[i]) : `${seeds[i]}-${seeds[j]}`);
    i = j + 1;
  }
  return parts;
}

/** Shards considered: `--shard K/N` with N up to this. */
const MAX_SHARDS = 100;
/** Shards that may be partly run: they run one or a few at a time, each finishing before the next starts. */
const MAX_PARTIAL_SHARDS = 2;

/**
 * The seeds of `first`..`last` in `have`, as shards of N: e.g. "shards 1-3 of 10 complete, shard 4 of 10
 * with 37 of its 100 seeds". N is the one whose shards explain the seeds with the fewest partly run
 * shards (the smallest N on a tie); null when no N leaves some shard untouched with at most two
 * partly run, which is not how shards leave a range (an interrupted run without shards, say).
 */
export function shardsPresent(first: number, last: number, have: ReadonlySet<number>): string | null {
  const span = last - first + 1;
  let best: { n: number; full: number[]; partial: Array<{ k: number; present: number; of: number }> } | null = null;
  for (let n = 2; n <= Math.min(MAX_SHARDS, Math.floor(span / 2)); n++) {
    const present = new Array<number>(n).fill(0);
    for (const seed of have) if (seed >= first && seed <= last) present[(seed - first) % n]!++;
    const full: number[] = [];
    const partial: Array<{ k: number; present: number; of: number }> = [];
    let empty = 0;
    for (let r = 0; r < n; r++) {
      const of = Math.floor((span - 1 - r) / n) + 1;
      if (present[r] === 0) empty++;
      else if (present[r] === of) full.push(r + 1);
      else partial.push({ k: r + 1, present: present[r]!, of });
    }
    if (empty === 0 || partial.length > MAX_PARTIAL_SHARDS || full.length + partial.length === 0) continue;
    if (best === null || partial.length < best.partial.length) best = { n, full, partial };
  }
  if (best === null) return null;
  const shards = (ks: number[]): string => `${ks.length === 1 ? 'shard' : 'shards'} ${seedRanges(ks).join(', ')}`;
  const parts: string[] = [];
  if (best.full.length > 0) parts.push(`${shards(best.full)} of ${best.n} complete`);
  for (const p of best.partial) parts.push(`shard ${p.k} of ${best.n} with ${p.present} of its ${p.of} seeds`);
  return `${parts.join(', ')} (--shard K/${best.n})`;
}
