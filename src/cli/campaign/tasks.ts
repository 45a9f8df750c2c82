import type { TraceEvent } from '../../sim-cluster/index.ts';
import type { Fault } from '../../faults/fault-kinds.ts';
import { caseForSeed, shrinkSeed, type CaseSpace, type Shrunk } from '../../harness/seeded-case.ts';
import { runCase } from '../../harness/run-case.ts';

/**
 * The work a campaign hands to its workers, as plain structured-cloneable data, and the pure
 * functions that do it. A worker thread and the inline executor run the same `runTask`, so where a
 * seed ran cannot change its result.
 */
export type Task =
  | { type: 'run'; space: CaseSpace; seed: number }
  | { type: 'shrink'; space: CaseSpace; seed: number; invariant: string; maxShrinkRuns: number }
  | { type: 'events'; space: CaseSpace; seed: number };

/** One seed's verdict, as small as a campaign needs it; the schedule only when the seed failed. */
export interface SeedResult {
  seed: number;
  outcome: string;
  hash: string;
  steps: number;
  /** Simulated time the run covered (µs). */
  simUs: number;
  faults: number;
  violation: { invariant: string; time: number; message: string } | null;
  modelFailure: string | null;
  schedule: Fault[] | null;
}

export type TaskResult =
  | { type: 'run'; result: SeedResult }
  | { type: 'shrink'; shrunk: Shrunk }
  | { type: 'events'; hash: string; events: TraceEvent[] };

export function runSeed(space: CaseSpace, seed: number): SeedResult {
  const c = caseForSeed(space, seed);
  const v = runCase(c);
  return {
    seed,
    outcome: v.outcome,
    hash: v.hash,
    steps: v.steps,
    simUs: v.endAt,
    faults: c.schedule.length,
    violation: v.violation === null ? null : { invariant: v.violation.invariant, time: v.violation.time, message: v.violation.message },
    modelFailure: v.modelFailure,
    schedule: v.outcome === 'pass' ? null : c.schedule,
  };
}

export function runTask(task: Task): TaskResult {
  switch (task.type) {
    case 'run':
      return { type: 'run', result: runSeed(task.space, task.seed) };
    case 'shrink':
      return { type: 'shrink', shrunk: shrinkSeed(task.space, task.seed, task.invariant, { maxShrinkRuns: task.maxShrinkRuns }) };
    case 'events': {
      const v = runCase(caseForSeed(task.space, task.seed), { keepEvents: true });
      return { type: 'events', hash: v.hash, events: [...(v.events ?? [])] };
    }
  }
}
