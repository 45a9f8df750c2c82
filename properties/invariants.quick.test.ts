import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND } from '../src/sim-cluster/index.ts';
import { seedArbitrary } from '../src/faults/arbitraries.ts';
import { faultEnd } from '../src/faults/apply.ts';
import { caseOf, registryOf, runCase } from '../src/harness/run-case.ts';
import { scheduleArbitraryFor } from '../src/harness/seeded-case.ts';
import { streamspace } from '../src/systems/index.ts';

const SETTLE_US = streamspace.settleUs;
const swarmSchedules = scheduleArbitraryFor(streamspace, { profile: 'hardened' });
const schedules = scheduleArbitraryFor(streamspace, { profile: 'hardened', swarm: false });

/** Load at which as-built agent handlers never overlap (fault-free, every command completes). */
const LIGHT = { workload: { requestIntervalUs: 90 * SECOND, createFraction: 0.5, startUs: MINUTE }, agent: { startSessionUs: [5 * SECOND, 20 * SECOND] as const } };

describe('invariants on the as-built profile', () => {
  propTest.prop([seedArbitrary], { numRuns: 4, seed: 20261122 })('fault-free at light load, every invariant holds and the cluster is healthy at once', (seed) => {
    const v = runCase(streamspace, caseOf(streamspace, 'streamspace-v2', seed, [], { overrides: LIGHT }));
    expect(v.outcome, v.violation?.message ?? v.modelFailure ?? '').toBe('pass');
    expect(v.recoveryUs).not.toBeNull();
    expect(v.recoveryUs!).toBeLessThan(2 * SECOND);
  });

  test('the same case gives the same verdict and trace hash twice', () => {
    const c = caseOf(streamspace, 'streamspace-v2', 5, [{ kind: 'pause', at: 3 * MINUTE, target: { role: 'leader' }, durationUs: 30 * SECOND }], { overrides: LIGHT });
    const a = runCase(streamspace, c);
    const b = runCase(streamspace, c);
    expect(b.hash).toBe(a.hash);
    expect(b.outcome).toBe(a.outcome);
  });
});

describe('invariants on the hardened profile', () => {
  // A bounded sample of the fuzz campaign (npm run fuzz runs thousands): swarm schedules over every
  // fault kind, and every invariant must hold, with recovery inside the bound.
  propTest.prop([seedArbitrary, swarmSchedules], { numRuns: 6, seed: 20261122 })('swarm faults: every invariant holds', (seed, schedule) => {
    const v = runCase(streamspace, caseOf(streamspace, 'hardened', seed, schedule));
    expect(v.outcome, `${v.violation?.message ?? v.modelFailure ?? ''} (replay with this seed and schedule: ${JSON.stringify({ seed, schedule })})`).toBe('pass');
    expect(v.recoveryUs).not.toBeNull();
  });
});

describe('fault schedules', () => {
  propTest.prop([schedules], { numRuns: 200, seed: 7 })('times are integers, start after the settle time, and come in order', (schedule) => {
    let last = SETTLE_US;
    for (const f of schedule) {
      expect(Number.isSafeInteger(f.at)).toBe(true);
      expect(f.at).toBeGreaterThanOrEqual(last);
      expect(faultEnd(registryOf(streamspace), f)).toBeGreaterThanOrEqual(f.at);
      last = f.at;
    }
  });

  test('schedules are plain JSON: they survive a round trip unchanged', () => {
    for (const schedule of fc.sample(schedules, { numRuns: 50, seed: 3 })) {
      expect(JSON.parse(JSON.stringify(schedule))).toEqual(schedule);
    }
  });
});
