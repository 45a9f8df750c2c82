import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { caseOf, formatFailure, fuzz, runCase, SECOND, type FaultRecord } from '../../src/index.ts';
import { twoNodeLease } from './system.ts';

// docs/writing-a-system.md quotes this example; each block marked `<!-- quote: PATH -->` must still
// appear verbatim in PATH, so that an edit here fails the suite until the page is updated.
const ROOT = new URL('../../', import.meta.url);
const page = readFileSync(new URL('docs/writing-a-system.md', ROOT), 'utf8');
const quotes = [...page.matchAll(/<!-- quote: (\S+) -->\n```ts\n([\s\S]*?)\n```/g)].map((m) => ({ path: m[1]!, code: m[2]! }));

test('docs/writing-a-system.md quotes the example', () => {
  expect(quotes.length).toBeGreaterThan(10);
});

test.each(quotes.map((q, i) => [i + 1, q.path, q.code] as const))('quote %i (%s) is in the file', (_i, path, code) => {
  expect(readFileSync(new URL(path, ROOT), 'utf8')).toContain(code);
});

test('the outputs the page shows are what the example prints', () => {
  const pause: FaultRecord[] = [{ kind: 'pause', at: 3 * SECOND, target: { role: 'holder' }, durationUs: 10 * SECOND }];
  const c = caseOf(twoNodeLease, 'as-built', 1, pause);
  expect(page).toContain(formatFailure(runCase(twoNodeLease, c), c, null));

  const result = fuzz(twoNodeLease, { profile: 'as-built', kinds: ['pause', 'crash', 'isolate', 'clock-jump'] }, { seeds: 10, shrink: true });
  expect(result.failures.map((f) => f.seed)).toEqual([0, 6, 7]);
  const [shrunk] = result.shrunk;
  expect(page).toContain(`Seed 0 drew ${shrunk!.faultsFound} faults`);
  expect(page).toContain(`leave one (${shrunk!.shrinkRuns} shrink runs`);
  expect(page).toContain(formatFailure(shrunk!.verdict, shrunk!.case, null));
});
