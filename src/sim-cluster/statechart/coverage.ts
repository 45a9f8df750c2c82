import type { CompiledMachine } from './compile.ts';
import type { StatechartObserver, TransitionHook } from './runtime.ts';

/** What one run reached of one machine: indices into its `states` (leaves) and `transitions`, ascending. */
export interface MachineCoverage {
  states: number[];
  transitions: number[];
}

/** What one run reached, by machine id: plain data, small enough to come back from a worker with every seed. */
export type RunCoverage = Record<string, MachineCoverage>;

/** A machine's reached flags, one byte per leaf state and per transition. */
interface Reached {
  readonly machine: CompiledMachine;
  readonly states: Uint8Array;
  readonly transitions: Uint8Array;
}

/**
 * Records which transitions a run's statecharts take and which leaf states they end in: the run's
 * `StatechartObserver` (a `SimulationOptions.statecharts`), one per run, so nothing recorded by one
 * run is seen by another in the same worker. Only the machines it is made with are watched, matched
 * by id: their totals are the compiled definitions', and the instances of any other machine run
 * unwatched. The initial transition counts as taken, and its leaf as reached, once an instance starts.
 */
export class CoverageRecorder implements StatechartObserver {
  private readonly byId = new Map<string, Reached>();

  constructor(machines: readonly CompiledMachine[]) {
    for (const machine of machines) {
      if (this.byId.has(machine.id)) throw new Error(`coverage: two machines have the id '${machine.id}'`);
      this.byId.set(machine.id, { machine, states: new Uint8Array(machine.states.length), transitions: new Uint8Array(machine.transitions.length) });
    }
  }

  hookFor(machine: CompiledMachine): TransitionHook | undefined {
    const reached = this.byId.get(machine.id);
    if (reached === undefined) return undefined;
    if (machine !== reached.machine && (machine.states.length !== reached.states.length || machine.transitions.length !== reached.transitions.length)) {
      // Indices would point at other states and transitions: two definitions under one id.
      throw new Error(`coverage: the running machine '${machine.id}' is not the definition the system lists under that id`);
    }
    const { states, transitions } = reached;
    return (t, _from, to) => {
      transitions[t.index] = 1;
      states[to.index] = 1;
    };
  }

  /** What the run reached so far, for every watched machine (empty lists for one that never ran). */
  covered(): RunCoverage {
    const out: RunCoverage = {};
    for (const [id, r] of this.byId) out[id] = { states: indices(r.states), transitions: indices(r.transitions) };
    return out;
  }
}

function indices(flags: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i] === 1) out.push(i);
  return out;
}
