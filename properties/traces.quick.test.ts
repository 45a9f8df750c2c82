import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { replayTrace } from '../src/harness/replay.ts';
import { readTraceFile, systemOf, TRACE_VERSION } from '../src/harness/trace-file.ts';
import { SYSTEMS } from '../src/systems/index.ts';

const read = (path: string) => readTraceFile(path, SYSTEMS);
const replay = (trace: ReturnType<typeof read>) => replayTrace(systemOf(trace, SYSTEMS), trace);
const expected = (e: { profile: string; outcome: string; hash: string }) => ({ profile: e.profile, outcome: e.outcome, hash: e.hash });

const dir = fileURLToPath(new URL('../traces/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** Every saved counterexample replays bit for bit: same outcome, same trace hash, under every profile it names. */
describe('traces corpus', () => {
  test('the corpus is not empty', () => expect(files.length).toBeGreaterThan(0));
  test.each(files)('%s replays with its expected outcome and hash', (file) => {
    const trace = read(join(dir, file));
    for (const r of replay(trace)) {
      expect({ profile: r.expectation.profile, outcome: r.verdict.outcome, hash: r.verdict.hash }).toEqual(expected(r.expectation));
      expect(r.drift, 'the profile changed since the file was recorded: hasim replay --update').toBeNull();
    }
  });
});

/** Trace files written by earlier builds keep replaying with the hash they recorded (DESIGN decision 6). */
describe.each([
  [1, 'lines'],
  [3, 'interned'],
] as const)('older trace file versions: version %i', (version, encoding) => {
  const file = fileURLToPath(new URL(`../src/harness/fixtures/version-${version}-trace.json`, import.meta.url));
  test(`replays with its recorded hashes (the ${encoding} encoding)`, () => {
    const trace = read(file);
    expect(trace.version).toBe(version);
    for (const r of replay(trace)) {
      expect({ profile: r.expectation.profile, outcome: r.verdict.outcome, hash: r.verdict.hash }).toEqual(expected(r.expectation));
    }
  });
  test('the same case under the current version gives a different hash and the same outcome', () => {
    const trace = read(file);
    for (const r of replay({ ...trace, version: TRACE_VERSION })) {
      expect(r.verdict.outcome).toBe(r.expectation.outcome);
      expect(r.verdict.hash).not.toBe(r.expectation.hash);
    }
  });
});
