import { compileMachine, CoverageRecorder, transitionLabel, type CompiledMachine, type RunCoverage } from '../sim-cluster/statechart/index.ts';
import type { AnySystem } from '../contract/system.ts';

/**
 * Statechart coverage over many runs: which leaf states and transitions of a system's machines
 * (`System.machines`) the runs reached, how many runs reached each, and the lowest seed that did.
 * Totals come from the compiled definitions, so a transition no run takes is listed as unreached:
 * a finding in itself (a path of the design that nothing exercises, or a fault kind missing).
 */

/** A leaf state or a transition: whether any run reached it, how many did, and the lowest seed of them. */
export interface Reach {
  reached: boolean;
  runs: number;
  /** null while unreached. */
  lowestSeed: number | null;
}

export interface StateReach extends Reach {
  /** Index in the compiled machine's `states`. */
  index: number;
  /** xstate's state id (`elector.leading.renewed`). */
  id: string;
}

export interface TransitionReach extends Reach {
  /** Index in the compiled machine's `transitions` (0: the initial transition). */
  index: number;
  /** The state whose `on`/`after` declares it (the machine itself for the initial transition). */
  source: string;
  /** The target state id; null for a targetless transition. */
  target: string | null;
  /** `EVENT [guard] / actions`, `after <delay>` for a delayed one, as the diagrams label it. */
  label: string;
}

/** One machine's coverage. */
export interface MachineReach {
  id: string;
  states: { reached: number; total: number; list: StateReach[] };
  transitions: { reached: number; total: number; list: TransitionReach[] };
}

const compiledBySystem = new WeakMap<AnySystem, CompiledMachine[]>();

/** A system's machines, compiled once per thread (definitions are immutable: nothing of a run is kept). */
export function compiledMachines(system: AnySystem): readonly CompiledMachine[] {
  let compiled = compiledBySystem.get(system);
  if (compiled === undefined) {
    compiled = (system.machines ?? []).map((m) => compileMachine(m));
    compiledBySystem.set(system, compiled);
  }
  return compiled;
}

/** A recorder for one run of `system`, watching every machine it lists. */
export function coverageRecorder(system: AnySystem): CoverageRecorder {
  return new CoverageRecorder(compiledMachines(system));
}

/**
 * Adds up the coverage of runs. The result depends only on the set of (seed, coverage) pairs added,
 * not on their order: counts are sums and the lowest seed a minimum, so a campaign's figures are the
 * same on any number of workers whatever order its seeds finish in.
 */
export class CoverageTally {
  private readonly machines: ReadonlyArray<{ compiled: CompiledMachine; states: Int32Array; transitions: Int32Array; lowestState: Float64Array; lowestTransition: Float64Array }>;
  private counted = 0;

  constructor(machines: readonly CompiledMachine[]) {
    this.machines = machines.map((compiled) => ({
      compiled,
      states: new Int32Array(compiled.states.length),
      transitions: new Int32Array(compiled.transitions.length),
      lowestState: new Float64Array(compiled.states.length).fill(Infinity),
      lowestTransition: new Float64Array(compiled.transitions.length).fill(Infinity),
    }));
  }

  /** Runs added. */
  get runs(): number {
    return this.counted;
  }

  /** One run's coverage; a machine it does not name was not reached by it. */
  add(seed: number, run: RunCoverage): void {
    this.counted++;
    for (const m of this.machines) {
      const covered = run[m.compiled.id];
      if (covered === undefined) continue;
      mark(covered.states, m.states, m.lowestState, seed);
      mark(covered.transitions, m.transitions, m.lowestTransition, seed);
    }
  }

  summary(): MachineReach[] {
    return this.machines.map((m) => {
      const reach = (runs: Int32Array, lowest: Float64Array, i: number): Reach => ({ reached: runs[i]! > 0, runs: runs[i]!, lowestSeed: runs[i]! > 0 ? lowest[i]! : null });
      const states = m.compiled.states.map((s, i): StateReach => ({ index: i, id: s.id, ...reach(m.states, m.lowestState, i) }));
      const transitions = m.compiled.transitions.map((t, i): TransitionReach => ({
        index: i, source: t.source, target: t.target, label: transitionLabel(t), ...reach(m.transitions, m.lowestTransition, i),
      }));
      return { id: m.compiled.id, states: figures(states), transitions: figures(transitions) };
    });
  }
}

function mark(indices: readonly number[], runs: Int32Array, lowest: Float64Array, seed: number): void {
  for (const i of indices) {
    if (i < 0 || i >= runs.length) throw new RangeError(`coverage: index ${i} out of range (0..${runs.length - 1})`);
    runs[i] = runs[i]! + 1;
    if (seed < lowest[i]!) lowest[i] = seed;
  }
}

function figures<T extends Reach>(list: T[]): { reached: number; total: number; list: T[] } {
  return { reached: list.filter((x) => x.reached).length, total: list.length, list };
}

/**
 * The coverage of disjoint sets of runs (a campaign's shards) as one: per state and transition, the
 * runs added up and the lowest of the lowest seeds. The machines must be the same definitions (same
 * ids, states and transitions in the same order); throws a RangeError naming the first difference.
 */
export function combineReach(parts: ReadonlyArray<readonly MachineReach[]>): MachineReach[] {
  if (parts.length === 0) return [];
  const [first, ...rest] = parts;
  return first!.map((m, k) => {
    const others = rest.map((p, j) => {
      const o = p[k];
      if (o === undefined || o.id !== m.id) throw new RangeError(`coverage part ${j + 2}: machine ${k + 1} is '${o?.id ?? 'missing'}', expected '${m.id}'`);
      return o;
    });
    const merge = <T extends StateReach | TransitionReach>(pick: (x: MachineReach) => T[], key: (x: T) => string): T[] => pick(m).map((item, i) => {
      let runs = item.runs;
      let lowest = item.lowestSeed;
      for (const o of others) {
        const other = pick(o)[i];
        if (other === undefined || key(other) !== key(item)) throw new RangeError(`coverage: machine '${m.id}' differs between parts at ${key(item)} (not the same definition)`);
        runs += other.runs;
        if (other.lowestSeed !== null && (lowest === null || other.lowestSeed < lowest)) lowest = other.lowestSeed;
      }
      return { ...item, reached: runs > 0, runs, lowestSeed: lowest };
    });
    const states = merge((x) => x.states.list, (s) => s.id);
    const transitions = merge((x) => x.transitions.list, (t) => `${t.source} ${t.label} -> ${t.target ?? '(none)'}`);
    return { id: m.id, states: figures(states), transitions: figures(transitions) };
  });
}

/** `elector.leading.polling → elector.stopped: after renewDeadline / …`: a transition in words (`↺` for a targetless one). */
export function transitionText(t: TransitionReach): string {
  return `${t.source} → ${t.target ?? '↺'}: ${t.label}`;
}

/** One machine's figures and its unreached transitions in words, as the JSON summaries give them (the coverage file has the rest). */
export function reachFigures(m: MachineReach): { id: string; states: { reached: number; total: number }; transitions: { reached: number; total: number }; unreached: string[] } {
  return {
    id: m.id,
    states: { reached: m.states.reached, total: m.states.total },
    transitions: { reached: m.transitions.reached, total: m.transitions.total },
    unreached: m.transitions.list.filter((t) => !t.reached).map(transitionText),
  };
}

/** `elector 7/7 states, 13/15 transitions`: one machine's figures in words. */
export function reachLine(m: MachineReach): string {
  return `${m.id} ${m.states.reached}/${m.states.total} states, ${m.transitions.reached}/${m.transitions.total} transitions`;
}
