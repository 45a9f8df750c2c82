import type { CompiledMachine, CoverageRecorder, StatechartObserver, TransitionHook } from '../sim-cluster/statechart/index.ts';

/**
 * Which pairs of consecutive transitions a run's statecharts took: per machine, every (previous,
 * next) transition of one instance, the first one after its start included. A guided campaign
 * (`src/harness/guided.ts`) reads them next to the transitions themselves: a machine of 18
 * transitions has a few dozen reachable pairs where it has a dozen reachable transitions, so a case
 * that takes a known transition in a new order still counts as new.
 *
 * Encoding: per machine, `(previous + 1) * T + next` with T its transition count and previous -1
 * for an instance's first transition (its initial one): plain numbers, small enough to come back
 * from a worker with every seed.
 */
export type RunPairs = Record<string, number[]>;

/**
 * Records a run's transition pairs beside its coverage: the run's observer, handing each instance a
 * hook that feeds the coverage recorder and remembers that instance's previous transition. One per
 * run, as the coverage recorder is; the trace is not touched (a run's hash is the same with it).
 */
export class PairRecorder implements StatechartObserver {
  private readonly byId = new Map<string, { machine: CompiledMachine; seen: Set<number> }>();

  constructor(machines: readonly CompiledMachine[], private readonly coverage: CoverageRecorder) {
    for (const machine of machines) this.byId.set(machine.id, { machine, seen: new Set() });
  }

  hookFor(machine: CompiledMachine): TransitionHook | undefined {
    const inner = this.coverage.hookFor(machine);
    const watched = this.byId.get(machine.id);
    if (watched === undefined || inner === undefined) return inner;
    const { seen } = watched;
    const total = machine.transitions.length;
    // Each instance asks once for its hook: the closure is that instance's own memory.
    let previous = -1;
    return (t, from, to) => {
      inner(t, from, to);
      seen.add((previous + 1) * total + t.index);
      previous = t.index;
    };
  }

  /** The pairs taken so far, per watched machine, ascending (empty for a machine that never ran). */
  pairs(): RunPairs {
    const out: RunPairs = {};
    for (const [id, { seen }] of this.byId) out[id] = [...seen].sort((a, b) => a - b);
    return out;
  }
}
