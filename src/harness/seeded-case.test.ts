import { describe, expect, test } from 'vitest';
import { streamspace } from '../systems/index.ts';
import { runCase } from './run-case.ts';
import { caseForSeed, shrinkSeed, type CaseSpace } from './seeded-case.ts';

describe('case spaces', () => {
  test('no fault kinds, or at most 0 faults, give fault-free cases', () => {
    for (let seed = 0; seed < 20; seed++) {
      expect(caseForSeed(streamspace, { profile: 'hardened', kinds: [] }, seed).schedule).toEqual([]);
      expect(caseForSeed(streamspace, { profile: 'hardened', maxFaults: 0 }, seed).schedule).toEqual([]);
      expect(caseForSeed(streamspace, { profile: 'hardened', swarm: false, maxFaults: 0 }, seed).schedule).toEqual([]);
    }
  });
});

describe('shrinking a seed', () => {
  // README's counterexample: seed 10 of the seed-000 deployment as built, 5 faults, no-split-brain.
  const space: CaseSpace = { profile: 'streamspace-v2', deployment: 'seed-000' };

  test('delta debugging, the narrowing and the 1-minimal pass: one fault left, each run counted once', () => {
    let builds = 0;
    const counted = {
      ...streamspace,
      build: (...args: Parameters<typeof streamspace.build>) => {
        builds++;
        return streamspace.build(...args);
      },
    };
    const s = shrinkSeed(counted, space, 10, 'no-split-brain');
    expect([s.faultsFound, s.faultsMinimal]).toEqual([5, 1]);
    expect(s.verdict.outcome).toBe('no-split-brain');
    expect(s.verdict.hash).toBe(runCase(streamspace, s.case).hash);
    // 1-minimal: without its fault the case passes.
    expect(runCase(streamspace, { ...s.case, schedule: [] }).outcome).not.toBe('no-split-brain');
    // fast-check's shrinker alone took 22 runs; after delta debugging, 9 (it stopped at the 1 s the
    // swarm draws at least, where the narrowing bisects the window down to 131 ms).
    const runs = s.ddminRuns! + s.shrinkRuns + s.minimizeRuns;
    expect(runs).toBeLessThanOrEqual(16);
    // No schedule ran twice; the shrunk one ran once more, for its verdict with the trace hash.
    expect(builds).toBe(runs + 1);
    expect(shrinkSeed(streamspace, space, 10, 'no-split-brain')).toEqual(s);
  });

  test('a case that fails with no fault at all: one run, with the trace hash, is the whole shrink', () => {
    let builds = 0;
    const counted = { ...streamspace, build: (...args: Parameters<typeof streamspace.build>) => (builds++, streamspace.build(...args)) };
    const s = shrinkSeed(counted, space, 2, 'no-lost-commands');
    expect([s.faultsFound, s.faultsMinimal, s.ddminRuns, builds]).toEqual([4, 0, 1, 1]);
    expect(s.verdict.hash).toBe(runCase(streamspace, s.case).hash);
  });

  test('a 3-fault counterexample (seed 12): its fault narrowed, 1-minimal, in at most 25 runs', () => {
    const s = shrinkSeed(streamspace, space, 12, 'no-split-brain');
    expect([s.faultsFound, s.faultsMinimal]).toEqual([3, 1]);
    // fast-check's shrinker after delta debugging took 75 runs, most of them narrowing times to the microsecond.
    expect(s.ddminRuns! + s.shrinkRuns + s.minimizeRuns).toBeLessThanOrEqual(25);
    const [fault] = s.case.schedule;
    expect(fault!.at).toBe(streamspace.settleUs);
    expect(fault!['durationUs']).toBeLessThan(caseForSeed(streamspace, space, 12).schedule[0]!['durationUs'] as number);
    expect(runCase(streamspace, s.case).outcome).toBe('no-split-brain');
    expect(runCase(streamspace, { ...s.case, schedule: [] }).outcome).not.toBe('no-split-brain');
  });

  test('the budget bounds delta debugging and the narrowing; the 1-minimal pass still runs', () => {
    const s = shrinkSeed(streamspace, space, 10, 'no-split-brain', { maxShrinkRuns: 3 });
    expect(s.ddminRuns! + s.shrinkRuns).toBe(3);
    expect(s.verdict.outcome).toBe('no-split-brain');
    for (let i = 0; i < s.case.schedule.length; i++) {
      expect(runCase(streamspace, { ...s.case, schedule: s.case.schedule.filter((_, j) => j !== i) }).outcome).not.toBe('no-split-brain');
    }
  });
});
