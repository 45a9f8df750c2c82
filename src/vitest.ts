/**
 * `hasim/vitest`: hasim properties in a vitest suite. `testSeeds` is a property over a seed range
 * of a system's case space whose failure names every failing seed and the command that reruns it;
 * `testTraceFiles` replays a directory of trace files, one test each; `caseArbitrary` and the
 * schedule arbitraries compose with fast-check (`fc.assert`, `@fast-check/vitest`).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AnySystem, Instance, System, View } from './contract/system.ts';
import { seedArbitrary } from './faults/arbitraries.ts';
import type { FaultRecord } from './faults/fault-kind.ts';
import { fuzz, rerunCommand } from './harness/fuzz.ts';
import { replayTrace } from './harness/replay.ts';
import { caseOf, type Case } from './harness/run-case.ts';
import { scheduleArbitraryFor, type CaseSpace } from './harness/seeded-case.ts';
import { readTraceFile, systemOf } from './harness/trace-file.ts';
import { SYSTEMS } from './systems/index.ts';


export { seedArbitrary, scheduleArbitrary, swarmScheduleArbitrary } from './faults/arbitraries.ts';
export { scheduleArbitraryFor } from './harness/seeded-case.ts';

export interface SeedsOptions {
  /** Seeds in the property. Default 20. */
  seeds?: number;
  /** The first seed. Default 0. */
  start?: number;
  /** Test timeout (ms). Default 120,000: a seed is a whole cluster run of ~10 simulated minutes. */
  timeout?: number;
}

/**
 * Registers one vitest test: every seed of `space` from `start` must pass every invariant. On
 * failure the message names each failing seed, its violation, and the `hasim run` command that
 * reruns it (add `--timeline` or `--html` there to look at it).
 */
export function testSeeds<C, I extends Instance, V extends View>(name: string, system: System<C, I, V>, space: CaseSpace, options: SeedsOptions = {}): void {
  const seeds = options.seeds ?? 20;
  const start = options.start ?? 0;
  test(name, () => {
    const { failures } = fuzz(system, space, { start, seeds });
    const report = failures.map((f) => `seed ${f.seed}: ${f.outcome}: ${f.message}\n  rerun: ${rerunCommand(system, space, f.seed)}`).join('\n');
    expect(failures.length, `${failures.length} of ${seeds} seeds (${start}..${start + seeds - 1}) of ${system.name} ${space.profile} fail:\n${report}`).toBe(0);
  }, options.timeout ?? 120_000);
}

/**
 * Registers one test per `*.json` trace file in `dir`: each must replay with its expected outcome
 * and trace hash under every expectation. `systems`: where a file's system is looked up.
 */
export function testTraceFiles(dir: string, systems: readonly AnySystem[] = SYSTEMS, options: { timeout?: number } = {}): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  describe(`trace files in ${dir}`, () => {
    test('the directory holds trace files', () => expect(files.length).toBeGreaterThan(0));
    test.each(files)('%s replays with its expected outcome and hash', (file) => {
      const trace = readTraceFile(join(dir, file), systems);
      for (const r of replayTrace(systemOf(trace, systems), trace)) {
        expect({ profile: r.expectation.profile, outcome: r.verdict.outcome, hash: r.verdict.hash }, `npx hasim replay ${join(dir, file)}`)
          .toEqual({ profile: r.expectation.profile, outcome: r.expectation.outcome, hash: r.expectation.hash });
      }
    }, options.timeout ?? 120_000);
  });
}

/**
 * Cases of a case space as a fast-check arbitrary: a simulation seed (never shrunk) and a schedule
 * (shrinking towards fewer, earlier, shorter faults), for `fc.assert` or `@fast-check/vitest`.
 */
export function caseArbitrary<C>(system: System<C, Instance, View>, space: CaseSpace): fc.Arbitrary<Case<C>> {
  return fc.tuple(seedArbitrary, scheduleArbitraryFor(system, space))
    .map(([seed, schedule]: [number, FaultRecord[]]) => caseOf(system, space.profile, seed, schedule, {
      ...(space.config !== undefined ? { overrides: space.config } : {}),
      ...(space.fixes !== undefined ? { fixes: space.fixes } : {}),
      ...(space.invariants !== undefined ? { invariants: space.invariants } : {}),
    }));
}
