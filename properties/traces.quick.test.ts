import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { replayTrace } from '../src/invariants/replay.ts';
import { readTraceFile } from '../src/invariants/trace-file.ts';

const dir = fileURLToPath(new URL('../traces/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** Every saved counterexample replays bit for bit: same outcome, same trace hash, under every profile it names. */
describe('traces corpus', () => {
  test('the corpus is not empty', () => expect(files.length).toBeGreaterThan(0));
  test.each(files)('%s replays with its expected outcome and hash', (file) => {
    const trace = readTraceFile(join(dir, file));
    for (const r of replayTrace(trace)) {
      expect({ profile: r.expectation.profile, outcome: r.verdict.outcome, hash: r.verdict.hash }).toEqual(r.expectation);
    }
  });
});
