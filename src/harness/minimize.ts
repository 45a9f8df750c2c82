import type { FaultRecord as Fault } from '../faults/fault-kind.ts';

export interface MinimizeResult {
  schedule: Fault[];
  /** Calls of `stillFails` (runs, unless the caller keeps verdicts it already has). */
  runs: number;
}

/**
 * Makes a failing schedule 1-minimal: removes faults one at a time while the same invariant still
 * fails, until removing any single remaining fault makes the violation go away. Delta debugging and
 * fast-check's shrinker (`shrinkSeed`) usually leave it so already; this pass guarantees the
 * property the counterexample promises. `budget`: asked before each candidate; when it says no, the
 * schedule so far is returned (triage's batched replay of this search uses it to start its runs).
 */
export function minimize(schedule: readonly Fault[], stillFails: (schedule: Fault[]) => boolean, budget: () => boolean = () => true): MinimizeResult {
  let current = [...schedule];
  let runs = 0;
  let removed = true;
  while (removed) {
    removed = false;
    for (let i = 0; i < current.length && budget(); i++) {
      const candidate = current.filter((_, j) => j !== i);
      runs++;
      if (stillFails(candidate)) {
        current = candidate;
        removed = true;
        break;
      }
    }
  }
  return { schedule: current, runs };
}
