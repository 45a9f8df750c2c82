import fc from 'fast-check';
import { StreamSpaceCluster } from '../src/systems/streamspace/cluster/cluster.ts';
import { seedArbitrary } from '../src/faults/arbitraries.ts';
import { caseOf, runCase } from '../src/harness/run-case.ts';
import { scheduleArbitraryFor } from '../src/harness/seeded-case.ts';
import { streamspace } from '../src/systems/index.ts';
import { MINUTE, SECOND } from '../src/sim-cluster/index.ts';
import { measure, type BenchResult } from './measure.ts';

/**
 * The default StreamSpace topology (2 API pods with the Redis hub, 3 HA agents, Redis, PostgreSQL),
 * fault-free, 10 simulated minutes with one user request per second on average.
 */
export function benchStreamSpace(traceMessages: boolean): BenchResult {
  const durationUs = 10 * MINUTE;
  return measure(`model.streamspace-10min${traceMessages ? ' (message trace)' : ''}`, () => {
    const cluster = new StreamSpaceCluster({
      seed: 1,
      config: { workload: { requestIntervalUs: 1 * SECOND, createFraction: 0.7, startUs: 1 * MINUTE } },
      simulation: { traceMessages },
    });
    const r = cluster.sim.run({ until: durationUs });
    cluster.sim.trace.hash();
    return { events: r.steps, simUs: durationUs, traceEvents: cluster.sim.trace.count, commands: cluster.postgres.allCommands().length };
  });
}

/**
 * Campaign throughput on one core: `cases` random (seed, swarm schedule) cases of a profile run to
 * a verdict (faults from 2 min, heal, recovery bound, tail: ~10-15 simulated minutes each), without
 * shrinking. As-built cases often halt at their first violation; hardened ones run to the end.
 */
export function benchCampaign(profile = 'streamspace-v2', cases = 40): BenchResult {
  const samples = fc.sample(fc.tuple(seedArbitrary, scheduleArbitraryFor(streamspace, { profile })), { numRuns: cases, seed: 42 });
  const bench = profile === 'streamspace-v2' ? 'campaign.verdicts-1-worker' : `campaign.verdicts-1-worker (${profile})`;
  return measure(bench, () => {
    let events = 0;
    let simUs = 0;
    let violations = 0;
    for (const [seed, schedule] of samples) {
      const v = runCase(streamspace, caseOf(streamspace, profile, seed, schedule));
      events += v.steps;
      simUs += v.endAt;
      if (v.outcome !== 'pass') violations++;
    }
    return { events, simUs, cases, violations };
  }, 3, 1);
}
