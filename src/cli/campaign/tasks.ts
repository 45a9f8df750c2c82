import type { TraceEvent } from '../../sim-cluster/index.ts';
import type { FaultRecord } from '../../faults/fault-kind.ts';
import type { AnySystem } from '../../contract/system.ts';
import { caseForSeed, shrinkSeed, type CaseSpace, type Shrunk } from '../../harness/seeded-case.ts';
import { runCase } from '../../harness/run-case.ts';
import { compiledMachines, coverageRecorder } from '../../harness/coverage.ts';
import { PairRecorder, type RunPairs } from '../../harness/transition-pairs.ts';
import type { RunCoverage } from '../../sim-cluster/statechart/index.ts';
import { runProbe, type ProbeRequest, type ProbeResult } from '../../harness/triage.ts';
import { SYSTEMS } from '../../systems/index.ts';

/**
 * The work a campaign hands to its workers, as plain structured-cloneable data, and the pure
 * functions that do it. A worker thread and the inline executor run the same `runTask`, so where a
 * seed ran cannot change its result.
 */
export type Task =
  // `coverage`: also record which statechart states and transitions the run reached (default false);
  // `pairs`: and the pairs of consecutive transitions of each instance (a guided campaign's signal).
  // `schedule` (run, shrink, events): the seed's schedule when it is not the one the seed draws (a
  // guided campaign's mutated case, src/harness/guided.ts); default the drawn one.
  | { type: 'run'; system: string; space: CaseSpace; seed: number; coverage?: boolean; pairs?: boolean; schedule?: FaultRecord[] }
  | { type: 'shrink'; system: string; space: CaseSpace; seed: number; invariant: string; maxShrinkRuns: number; schedule?: FaultRecord[] }
  | { type: 'events'; system: string; space: CaseSpace; seed: number; schedule?: FaultRecord[] }
  // Triage (src/harness/triage.ts): one run with fixes switched on, checking one invariant (its
  // shrinks are made of these too). `seed` repeats the request's, so that every task names its seed.
  | { type: 'probe'; system: string; space: CaseSpace; seed: number; probe: ProbeRequest };

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
  schedule: FaultRecord[] | null;
  /** The statechart states and transitions the run reached, when the task asked for them. */
  coverage?: RunCoverage;
  /** The transition pairs each machine's instances took (`PairRecorder`), when the task asked for them. */
  pairs?: RunPairs;
}

export type TaskResult =
  | { type: 'run'; result: SeedResult }
  | { type: 'shrink'; shrunk: Shrunk }
  | { type: 'events'; hash: string; events: TraceEvent[] }
  | { type: 'probe'; result: ProbeResult };

export function runSeed(system: AnySystem, space: CaseSpace, seed: number, options: { coverage?: boolean; pairs?: boolean; schedule?: FaultRecord[] } = {}): SeedResult {
  const c = caseForSeed(system, space, seed, options.schedule);
  const recorder = options.coverage === true || options.pairs === true ? coverageRecorder(system) : null;
  const pairs = options.pairs === true && recorder !== null ? new PairRecorder(compiledMachines(system), recorder) : null;
  const v = runCase(system, c, recorder === null ? {} : { statecharts: pairs ?? recorder });
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
    ...(recorder === null ? {} : { coverage: recorder.covered() }),
    ...(pairs === null ? {} : { pairs: pairs.pairs() }),
  };
}

/** A task's schedule, as an option (absent: the seed's drawn one). */
function scheduleOf(task: { schedule?: FaultRecord[] }): { schedule?: FaultRecord[] } {
  return task.schedule === undefined ? {} : { schedule: task.schedule };
}

/** Tasks name their system, so that they stay plain data for worker threads. */
function systemNamed(name: string): AnySystem {
  const system = SYSTEMS.find((s) => s.name === name);
  if (system === undefined) throw new Error(`unknown system '${name}'`);
  return system;
}

export function runTask(task: Task): TaskResult {
  const system = systemNamed(task.system);
  switch (task.type) {
    case 'run':
      return { type: 'run', result: runSeed(system, task.space, task.seed, { coverage: task.coverage === true, pairs: task.pairs === true, ...scheduleOf(task) }) };
    case 'shrink':
      return { type: 'shrink', shrunk: shrinkSeed(system, task.space, task.seed, task.invariant, { maxShrinkRuns: task.maxShrinkRuns, ...scheduleOf(task) }) };
    case 'events': {
      const v = runCase(system, caseForSeed(system, task.space, task.seed, task.schedule), { keepEvents: true });
      return { type: 'events', hash: v.hash, events: [...(v.events ?? [])] };
    }
    case 'probe':
      return { type: 'probe', result: runProbe(system, task.space, task.probe) };
  }
}
