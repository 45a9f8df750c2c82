import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { ConfigOverrides } from '../systems/streamspace/config.ts';
import { runCase, SETTLE_US, type Case, type Verdict } from './run-case.ts';
import { scheduleArbitrary, swarmScheduleArbitrary } from '../faults/arbitraries.ts';
import type { Fault, FaultKind } from '../faults/fault-kinds.ts';
import { minimize } from './minimize.ts';

/**
 * The cases of a campaign, one per seed. A campaign seed decides both the simulation seed and the
 * fault schedule, so a seed's case (and therefore its outcome and trace hash) is the same whichever
 * worker, shard or machine runs it, and `hasim run --seed S` with the same space reruns it.
 */
export interface CaseSpace {
  profile: string;
  /** Configuration overrides on top of the profile. Default: none. */
  config?: ConfigOverrides;
  /** Fault kinds that may appear. Default: every kind. */
  kinds?: readonly FaultKind[];
  /** Swarm mode: each seed first draws a subset of kinds and an intensity. Default: true. */
  swarm?: boolean;
  /** Most faults in one schedule. Default 8. */
  maxFaults?: number;
  /** Invariants checked. Default: all. */
  invariants?: readonly string[];
}

function scheduleArbitraryFor(space: CaseSpace): fc.Arbitrary<Fault[]> {
  const options = { startUs: SETTLE_US, ...(space.kinds ? { kinds: space.kinds } : {}), ...(space.maxFaults ? { maxFaults: space.maxFaults } : {}) };
  return (space.swarm ?? true) ? swarmScheduleArbitrary(options) : scheduleArbitrary(options);
}

/**
 * fast-check's bias frequency for a seed. fast-check itself lowers the bias towards small values as a
 * check goes on (frequency 2 on the first run, up to 6 around run 10,000); cycling the seed through
 * the same range gives every stretch of seeds that mix, and keeps it a function of the seed alone.
 */
function biasFactor(seed: number): number {
  return 2 + (seed % 5);
}

/** A seed's schedule as a fast-check value (the shrinker needs its context). */
function generate(space: CaseSpace, seed: number): fc.Value<Fault[]> {
  const rng = xoroshiro128plus(seed);
  rng.jump();
  return scheduleArbitraryFor(space).generate(new fc.Random(rng), biasFactor(seed));
}

function caseOf(space: CaseSpace, seed: number, schedule: Fault[]): Case {
  return {
    profile: space.profile,
    config: space.config ?? {},
    seed,
    schedule,
    ...(space.invariants ? { invariants: space.invariants } : {}),
  };
}

/** The case a campaign runs for `seed`. */
export function caseForSeed(space: CaseSpace, seed: number): Case {
  return caseOf(space, seed, generate(space, seed).value);
}

export interface ShrinkOptions {
  /** Most runs spent on fast-check's shrinker before the 1-minimal pass. Default 1,000. */
  maxShrinkRuns?: number;
}

export interface Shrunk {
  invariant: string;
  case: Case;
  verdict: Verdict;
  faultsFound: number;
  faultsShrunk: number;
  faultsMinimal: number;
  /** Successful fast-check shrink steps, and runs spent by the shrinker and the 1-minimal pass. */
  shrinkSteps: number;
  shrinkRuns: number;
  minimizeRuns: number;
}

/**
 * Shrinks a failing seed's schedule while the same invariant still fails (a different violation is a
 * different finding): fast-check's shrinker, depth first as fast-check's own runner walks it (take
 * the first smaller schedule that still fails, start again from it), then the 1-minimal pass. The
 * seed never shrinks.
 */
export function shrinkSeed(space: CaseSpace, seed: number, invariant: string, options: ShrinkOptions = {}): Shrunk {
  const maxShrinkRuns = options.maxShrinkRuns ?? 1000;
  const arbitrary = scheduleArbitraryFor(space);
  const stillFails = (schedule: Fault[]): boolean => runCase(caseOf(space, seed, schedule)).outcome === invariant;
  let current = generate(space, seed);
  const faultsFound = current.value.length;
  let shrinkSteps = 0;
  let shrinkRuns = 0;
  let improved = true;
  while (improved && shrinkRuns < maxShrinkRuns) {
    improved = false;
    for (const candidate of arbitrary.shrink(current.value, current.context)) {
      if (shrinkRuns >= maxShrinkRuns) break;
      shrinkRuns++;
      if (stillFails(candidate.value)) {
        current = candidate;
        shrinkSteps++;
        improved = true;
        break;
      }
    }
  }
  const minimal = minimize(current.value, stillFails);
  const c = caseOf(space, seed, minimal.schedule);
  return {
    invariant,
    case: c,
    verdict: runCase(c),
    faultsFound,
    faultsShrunk: current.value.length,
    faultsMinimal: minimal.schedule.length,
    shrinkSteps,
    shrinkRuns,
    minimizeRuns: minimal.runs,
  };
}
