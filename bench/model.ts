import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { StreamSpaceCluster } from './shipped.ts';
import { seedArbitrary } from '../src/faults/arbitraries.ts';
import { caseOf, runCase } from '../src/harness/run-case.ts';
import { scheduleArbitraryFor, shrinkSeed, type CaseSpace } from '../src/harness/seeded-case.ts';
import { streamspace } from '../src/systems/index.ts';
import { NAMED_DEPLOYMENTS } from '../src/systems/streamspace/deployments.ts';
import { MINUTE, SECOND } from '../src/sim-cluster/index.ts';
import { measure, peakRssMb, round, summarize, timed, type BenchResult, type Timing } from './measure.ts';

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
  }, 10, 40); // a run is short: enough warm-up runs that the figure is the warm model's, not the JIT's
}

/**
 * `model.streamspace-load-1000`: seed 004's load on its own settings (deployment
 * `r004-jewelry-shop`: 1,000 Locust users spawned at 50/s with 1-3 s think time, the auth session
 * store, the HPA from 3 to 10 API pods), fault-free, 10 simulated minutes from the cluster's start,
 * as built. Issue #14's target: at least 200x real time on one core.
 */
export function benchLoad(): BenchResult {
  const durationUs = 10 * MINUTE;
  const deployment = NAMED_DEPLOYMENTS.find((d) => d.name === 'r004-jewelry-shop')!;
  const { config } = streamspace.resolve('streamspace-v2', deployment.overrides);
  return measure('model.streamspace-load-1000', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config });
    const r = cluster.sim.run({ until: durationUs });
    cluster.sim.trace.hash();
    return { events: r.steps, simUs: durationUs, requests: cluster.loadRecord!.log.length, traceEvents: cluster.sim.trace.count };
  }, 3, 1);
}

/**
 * `memory.streamspace-6h`: the same topology and workload for 6 simulated hours in one run, with the
 * heap in use at every simulated hour (after a full collection), the CPU time of each hour and the
 * process's peak RSS. The model keeps every command's row (the database) and life (the view), ~3.6k
 * per simulated hour at this workload, so some growth is the system's own; docs/benchmarks.md says
 * what else grows. CPU per hour shows quadratic paths: it must stay flat.
 */
export function benchSixHours(): BenchResult {
  const hours = 6;
  // A full collection before each reading, so that it shows what the run holds, not what it left
  // for the collector (the bench's own process only; nothing on the simulation path sees it).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const cluster = new StreamSpaceCluster({
    seed: 1,
    config: { workload: { requestIntervalUs: 1 * SECOND, createFraction: 0.7, startUs: 1 * MINUTE } },
  });
  const heapMb: number[] = [];
  const hourCpuMs: number[] = [];
  let steps = 0;
  let wallMs = 0;
  let cpuMs = 0;
  for (let h = 1; h <= hours; h++) {
    const hour = timed(() => cluster.sim.run({ until: h * 60 * MINUTE }));
    steps = hour.value.steps;
    wallMs += hour.wallMs;
    cpuMs += hour.cpuMs;
    hourCpuMs.push(Math.round(hour.cpuMs));
    gc();
    heapMb.push(round(process.memoryUsage().heapUsed / 1e6, 1));
  }
  cluster.sim.trace.hash();
  return {
    bench: 'memory.streamspace-6h',
    events: steps,
    wallMs: Math.round(wallMs),
    eventsPerMs: Math.round(steps / wallMs),
    cpuMs: Math.round(cpuMs),
    cpuUsPerEvent: round((cpuMs * 1000) / steps, 3),
    simSeconds: hours * 3600,
    speedup: Math.round((hours * 3600 * 1000) / wallMs),
    commands: cluster.postgres.allCommands().length,
    heapMbByHour: heapMb,
    cpuMsByHour: hourCpuMs,
    peakRssMb: peakRssMb(),
  };
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

/**
 * `shrink.streamspace-v2-seed-10`: shrinking the counterexample of README's campaign (as built,
 * seed-000 deployment, seed 10: no-split-brain, 5 faults found, 1 minimal) as a campaign shrinks it
 * (`shrinkSeed`: delta debugging, the narrowing of times and parameters, then the 1-minimal pass).
 * `shrink.streamspace-v2-seed-12`: the same for seed 12, 3 faults found, 1 minimal (the performance
 * issue's 2-3 fault case). One untimed shrink of another seed warms the JIT; then `repeats` timed
 * shrinks. cpuMs is what one shrink costs its thread, the result's hashed run included;
 * `candidateRuns` counts the runs of all three passes (`ddminRuns` those of the first).
 */
export function benchShrink(seed = 10, invariant = 'no-split-brain', repeats = 3): BenchResult {
  const space: CaseSpace = { profile: 'streamspace-v2', swarm: true };
  shrinkSeed(streamspace, space, 3, 'no-lost-commands');
  const timings: Timing[] = [];
  let runs = 0;
  let ddminRuns = 0;
  let faults = '';
  for (let i = 0; i < repeats; i++) {
    const t = timed(() => shrinkSeed(streamspace, space, seed, invariant));
    const s = t.value;
    ddminRuns = s.ddminRuns ?? 0;
    runs = ddminRuns + s.shrinkRuns + s.minimizeRuns;
    faults = `${s.faultsFound}->${s.faultsShrunk}->${s.faultsMinimal}`;
    timings.push(t);
  }
  const { median, min } = summarize(timings);
  return {
    bench: `shrink.streamspace-v2-seed-${seed}`,
    events: 0,
    wallMs: Math.round(median.wallMs),
    wallMinMs: Math.round(min.wallMs),
    eventsPerMs: 0,
    cpuMs: Math.round(median.cpuMs),
    candidateRuns: runs,
    ddminRuns,
    cpuMsPerRun: round(median.cpuMs / runs, 1),
    faults,
  };
}
