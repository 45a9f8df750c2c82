import fc from 'fast-check';
import type { ConfigOverrides } from '../model/config.ts';
import { runCase, SETTLE_US, type Case, type Verdict } from '../invariants/run-case.ts';
import { scheduleArbitrary, seedArbitrary, swarmScheduleArbitrary } from './arbitraries.ts';
import type { Fault, FaultKind } from './fault-kinds.ts';
import { minimize } from './minimize.ts';

export interface FindOptions {
  profile: string;
  config?: ConfigOverrides;
  /** Runs to try before giving up. */
  numRuns: number;
  /** fast-check's seed: the campaign itself is reproducible. */
  fcSeed: number;
  swarm?: boolean;
  kinds?: readonly FaultKind[];
  /** Most faults per schedule (default 8). */
  maxFaults?: number;
}

export interface Finding {
  invariant: string;
  case: Case;
  verdict: Verdict;
  /** Runs until the first failure. */
  runsToFind: number;
  /** Faults in the first failing schedule, after fast-check's shrinking, and after the 1-minimal pass. */
  faultsFound: number;
  faultsShrunk: number;
  faultsMinimal: number;
  /** Shrink effort: fast-check shrink steps, minimize runs, wall time of both (ms). */
  shrinkSteps: number;
  minimizeRuns: number;
  shrinkMs: number;
}

/**
 * Looks for a violation: fast-check draws (seed, schedule), runs the case, and on the first
 * failure shrinks the schedule (the seed never shrinks); the result is made 1-minimal for the same
 * invariant. Returns null if every run passed.
 */
export function findViolation(options: FindOptions): Finding | null {
  const config = options.config ?? {};
  const scheduleOptions = { startUs: SETTLE_US, ...(options.kinds ? { kinds: options.kinds } : {}), ...(options.maxFaults ? { maxFaults: options.maxFaults } : {}) };
  const schedules = options.swarm ? swarmScheduleArbitrary(scheduleOptions) : scheduleArbitrary(scheduleOptions);
  let firstFailure: { invariant: string; faults: number } | null = null;
  let runs = 0;
  // Wall-clock time is read here, between runs, only to report how long shrinking took; it never
  // reaches a simulation (each run is a pure function of its case).
  let tFound = 0;
  const details = fc.check(fc.property(seedArbitrary, schedules, (seed, schedule) => {
    if (firstFailure === null) runs++;
    const verdict = runCase({ profile: options.profile, config, seed, schedule });
    if (verdict.outcome === 'pass') return true;
    if (firstFailure === null) {
      firstFailure = { invariant: verdict.outcome, faults: schedule.length };
      tFound = performance.now();
    }
    // While shrinking, only the same invariant counts: a different violation is a different finding.
    if (verdict.outcome !== firstFailure.invariant) return true;
    return false;
  }), { numRuns: options.numRuns, seed: options.fcSeed });
  if (!details.failed || details.counterexample === null || firstFailure === null) return null;
  const found = firstFailure as { invariant: string; faults: number };
  const [seed, shrunk] = details.counterexample as [number, Fault[]];
  const stillFails = (schedule: Fault[]): boolean => runCase({ profile: options.profile, config, seed, schedule }).outcome === found.invariant;
  const minimal = minimize(shrunk, stillFails);
  const c: Case = { profile: options.profile, config, seed, schedule: minimal.schedule };
  return {
    invariant: found.invariant,
    case: c,
    verdict: runCase(c),
    runsToFind: runs,
    faultsFound: found.faults,
    faultsShrunk: shrunk.length,
    faultsMinimal: minimal.schedule.length,
    shrinkSteps: details.numShrinks,
    minimizeRuns: minimal.runs,
    shrinkMs: Math.round(performance.now() - tFound),
  };
}
