/**
 * Zeller's delta debugging (ddmin) over a list: the list is split into `n` chunks (2 at first); a
 * chunk alone that still fails becomes the list (and `n` goes back to 2), else a list without one
 * chunk that still fails does (and `n` drops by one), else the chunks are halved, until they are
 * single items and none can go. A few runs cut a long failing schedule down to the faults that
 * matter (a single culprit among 16 faults takes about 2 log2 16 runs), where removing one item at a
 * time costs a run per item per pass.
 *
 * The result is 1-minimal (removing any single item makes `fails` false) unless `budget` ran out
 * first. Items keep their order. The empty list is never tried: the caller decides whether it
 * fails. A pure function of the list and of `fails`.
 */
export function ddmin<T>(items: readonly T[], fails: (items: T[]) => boolean, budget: () => boolean = () => true): T[] {
  let current = [...items];
  let n = 2;
  while (current.length >= 2 && budget()) {
    const chunks = split(current, n);
    // With two chunks each one's complement is the other chunk: nothing more to try.
    const complements = n > 2 ? chunks.map((_, i) => chunks.filter((__, j) => j !== i).flat()) : [];
    const subset = firstFailing(chunks, fails, budget);
    if (subset !== null) {
      current = subset;
      n = 2;
      continue;
    }
    const complement = firstFailing(complements, fails, budget);
    if (complement !== null) {
      current = complement;
      n = Math.max(n - 1, 2);
      continue;
    }
    if (n >= current.length) break;
    n = Math.min(2 * n, current.length);
  }
  return current;
}

function firstFailing<T>(candidates: T[][], fails: (items: T[]) => boolean, budget: () => boolean): T[] | null {
  for (const c of candidates) {
    if (!budget()) return null;
    if (fails(c)) return c;
  }
  return null;
}

/** `items` in `n` contiguous chunks whose sizes differ by one at most (the longer ones first). */
function split<T>(items: readonly T[], n: number): T[][] {
  const chunks: T[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const size = Math.floor(items.length / n) + (i < items.length % n ? 1 : 0);
    chunks.push(items.slice(start, start + size));
    start += size;
  }
  return chunks;
}
