import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { scheduleArbitraryFor } from '../harness/seeded-case.ts';
import { SYSTEMS } from '../systems/index.ts';
import { twoNodeLease } from '../../examples/two-node-lease/system.ts';
import { faultProblem, paramSchema, scheduleProblem, type AnyFaultKind, type ParamSchema } from './fault-kind.ts';
import { problemOf } from './schema.ts';

/**
 * Every schedule a system's arbitraries draw is valid input: a campaign's saved trace files and the
 * schedules people copy from them must pass the checks that bad input fails.
 */
describe('schedule validation', () => {
  for (const system of [...SYSTEMS, twoNodeLease]) {
    test(`every schedule ${system.name}'s arbitraries draw passes (swarm and not, up to 12 faults)`, () => {
      for (const swarm of [true, false]) {
        const arbitrary = scheduleArbitraryFor(system, { profile: system.profiles[0]!.name, swarm, maxFaults: 12 });
        fc.assert(fc.property(arbitrary, (schedule) => {
          expect(scheduleProblem(schedule, system.faults, system.roles)).toBeNull();
        }), { numRuns: 300, seed: 7 });
      }
    });
  }

  const [system] = SYSTEMS;
  const kinds = new Map(system!.faults.map((k) => [k.kind as string, k as AnyFaultKind<unknown, unknown>]));

  test('faultProblem names the path inside the fault record', () => {
    expect(faultProblem({ kind: 'crash', at: 0, target: { role: 'redis' } }, kinds, system!.roles)).toBeNull();
    expect(faultProblem({ kind: 'pause', at: 0, target: { role: 'redis' }, durationUs: -5 }, kinds, system!.roles)).toBe('durationUs: must be ≥ 0, got -5');
    expect(faultProblem({ kind: 'crash', at: 0, target: { role: 'api', index: 7 } }, kinds, system!.roles)).toMatch(/^target\.index: must be ≤ 5 \(an index picks a member modulo/);
    expect(faultProblem([1], kinds, system!.roles)).toMatch(/^must be a fault object/);
  });

  test('one parameter declaration gives the bounds and their reasons', () => {
    const p: ParamSchema = { type: 'integer', min: -999_999, max: 1_000_000, doc: 'ppm', minWhy: 'the clock would stop' };
    const schema = paramSchema(p, system!.roles);
    expect(problemOf(schema, -1_000_000, 'ppm')).toBe('ppm: must be ≥ -999999 (the clock would stop), got -1000000');
    expect(problemOf(schema, 2_000_000, 'ppm')).toBe('ppm: must be ≤ 1000000, got 2000000');
    expect(problemOf(schema, 0.5, 'ppm')).toBe('ppm: must be an integer from -999999 to 1000000 (the clock would stop), got 0.5');
    expect(problemOf(schema, 12, 'ppm')).toBeNull();
  });
});
