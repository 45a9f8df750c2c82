import { SECOND, type Micros, type NetworkOptions, type TraceEvent, type TraceHashScheme } from '../sim-cluster/index.ts';
import type { StatechartObserver } from '../sim-cluster/statechart/index.ts';
import { applySchedule, healTime, type FaultRegistry } from '../faults/apply.ts';
import type { FaultRecord } from '../faults/fault-kind.ts';
import { boundTotal, type BoundTerm, type Monitor, type Violation } from '../invariants/monitor.ts';
import type { AnySystem, Instance, RunFigure, System, View } from '../contract/system.ts';
import type { Observer, ScriptedAction } from '../contract/scenario.ts';

/**
 * Everything a run is a function of (DESIGN decision 6): the system, its resolved configuration,
 * the seed and the fault schedule. `profile` and `fixes` say where the configuration came from.
 */
export interface Case<C = unknown> {
  profile: string;
  /** The fixes the configuration turns on (informational: `config` decides). */
  fixes: readonly string[];
  /** The resolved configuration the run uses. */
  config: C;
  seed: number;
  schedule: FaultRecord[];
  /** Invariants to check (ids). Default: all of the system's. */
  invariants?: readonly string[];
  /** The deployment the configuration came from, when the case space had one (informational: `config` decides). */
  deployment?: { name: string; perturbed: boolean };
}

export type Outcome = 'pass' | 'model-failure' | string;

export interface Verdict {
  /** `pass`, `model-failure`, or the id of the first invariant violated. */
  outcome: Outcome;
  /** The first violation (in `collect: 'all'` mode, the earliest of them). */
  violation: Violation | null;
  /** Every violation, one per invariant, in the order found (`collect: 'all'`); at most one otherwise. */
  violations: Violation[];
  modelFailure: string | null;
  /** The trace hash; empty for a run made with `hash: false`. */
  hash: string;
  healAt: Micros;
  boundUs: Micros;
  bound: BoundTerm[];
  endAt: Micros;
  /** Time from the heal to health (the recovery probe succeeded), or null if never. */
  recoveryUs: Micros | null;
  /** The system's per-run figures (`System.measures`), e.g. routing availability; empty if it has none. */
  figures: RunFigure[];
  steps: number;
  /** The kept trace, when asked for. */
  events?: readonly TraceEvent[];
}

/** Extra time after the drain so that commands accepted at the bound can finish. */
const TAIL_US: Micros = 10 * SECOND;

export interface RunOptions<I = unknown, V = unknown> {
  /** Keep every trace event in the verdict (the hash is the same either way). Default false. */
  keepEvents?: boolean;
  /**
   * Also trace every delivered message (`net.recv`, `net.datagram`). The run behaves the same, but
   * the extra events change the trace hash, so such a verdict cannot be checked against a trace
   * file's expectation. Default false.
   */
  traceMessages?: boolean;
  /** How the trace hash encodes events. Default `compact`; older schemes for older trace files (`hashSchemeOf`). */
  hashScheme?: TraceHashScheme;
  /**
   * Take the trace hash. Default true. False: the verdict's `hash` is empty and the events are not
   * encoded, about a sixth of a run's CPU; for runs whose outcome alone matters (a shrink's
   * candidates). The run and its outcome are the same either way: the view and the invariants see
   * the same events (only a detail the encoding rejects, a model bug, fails a hashed run alone).
   */
  hash?: boolean;
  /**
   * `first` (default): the first violation halts the run, as campaigns want. `all`: the run goes to
   * its end and keeps the first violation of every invariant, as scenarios and triage want.
   */
  collect?: 'first' | 'all';
  /** Network defaults for the run (a scenario's deployment). Default: the kernel's. */
  network?: Partial<NetworkOptions>;
  /** Scripted actions besides faults, each recorded as `scenario.action`. Default none. */
  actions?: ReadonlyArray<ScriptedAction<I, V>>;
  /** The heal comes no earlier than this. Default: the system's settle time. */
  minHealAt?: Micros;
  /**
   * Work the run itself drives (a scenario's user load) goes on to this instant: the run ends as
   * long after it as after a heal (max(heal, workUntil) + B + drain + tail), so that a command
   * accepted up to then has the recovery bound to finish in, as `no-lost-commands` judges it. The
   * heal, and every deadline counted from it, stay where they are. Default: none (the heal).
   */
  workUntil?: Micros;
  /** Sampling set up right after the view; started once the run's window is known. */
  observe?: (instance: I, view: V) => Observer;
  /** The observer's window starts here (default: the heal), and the system's measures' (default: the first fault, or the heal without faults). */
  observeFrom?: Micros;
  /**
   * Take the system's per-run measures (`System.measures`) into `Verdict.figures`. Default false:
   * campaigns, shrinking, triage and replay judge verdicts only, and sampling costs a run about a
   * sixth more; `hasim run` and the scenarios ask for them. A measure never changes the trace.
   */
  measure?: boolean;
  /**
   * Watches the run's statecharts: a `CoverageRecorder` made for this run alone (coverage.ts), read
   * by the caller once the run is over. It never changes the trace. Default: none.
   */
  statecharts?: StatechartObserver;
}

/** A finished run with what produced it, for callers that measure more than the verdict. */
export interface Execution<I, V> {
  verdict: Verdict;
  instance: I;
  view: V;
  observer: Observer | null;
}

/** The fault registry of a system: its kinds by name and its platform. */
export function registryOf<I, V>(system: System<unknown, I & Instance, V & View>): FaultRegistry<I, V> {
  return { kinds: new Map(system.faults.map((k) => [k.kind, k])), platform: system.platform } as FaultRegistry<I, V>;
}

/**
 * Runs one case to a verdict: builds the system, applies the schedule, feeds every trace event to
 * the view and then to the invariants' online checks, starts the recovery probe at the heal, and
 * judges the end-of-run checks when the run reaches its end.
 */
export function runCase<C, I extends Instance, V extends View>(system: System<C, I, V>, c: Case<C>, options: RunOptions<I, V> = {}): Verdict {
  return execute(system, c, options).verdict;
}

/** `runCase`, also returning the instance, the view and the observer. */
export function execute<C, I extends Instance, V extends View>(system: System<C, I, V>, c: Case<C>, options: RunOptions<I, V> = {}): Execution<I, V> {
  const collectAll = options.collect === 'all';
  const trace = { keepEvents: options.keepEvents ?? false, ...(options.hashScheme ? { hashScheme: options.hashScheme } : {}), ...(options.hash === false ? { hash: false } : {}) };
  const simulation = {
    trace,
    traceMessages: options.traceMessages ?? false,
    ...(options.network ? { network: options.network } : {}),
    ...(options.statecharts ? { statecharts: options.statecharts } : {}),
  };
  const instance = system.build({ seed: c.seed, config: c.config, simulation });
  const { sim } = instance;
  const view = system.createView();
  const bound = system.recovery.bound(c.config);
  const boundUs = boundTotal(bound);
  const monitors = system.invariants(c.config).filter((m) => c.invariants === undefined || c.invariants.includes(m.id));
  const violations: Violation[] = [];
  const fired = new Set<string>();
  // The online checks each kind of event goes to, in the monitors' order, found once per kind.
  const checksByKind = new Map<string, Monitor<V>[]>();
  const checksOf = (kind: string): Monitor<V>[] => {
    let checks = checksByKind.get(kind);
    if (checks === undefined) {
      checks = monitors.filter((m) => m.onEvent !== undefined && (m.kinds === undefined || m.kinds.includes(kind)));
      checksByKind.set(kind, checks);
    }
    return checks;
  };
  sim.trace.subscribe((e) => {
    view.apply(e);
    if (!collectAll && violations.length > 0) return;
    const checks = checksOf(e.k);
    for (let i = 0; i < checks.length; i++) {
      const m = checks[i]!;
      if (fired.has(m.id)) continue;
      const v = m.onEvent!(e, view);
      if (v === null) continue;
      fired.add(m.id);
      violations.push(v);
      if (!collectAll) {
        sim.halt(`${v.invariant}: ${v.message}`);
        return;
      }
    }
  });
  const observer = options.observe?.(instance, view) ?? null;
  const actions = options.actions ?? [];
  for (const action of actions) {
    sim.at(action.at, () => {
      sim.trace.record(sim.now, 'scenario', 'scenario.action', { what: action.what });
      action.run(instance, view);
    }, 'scenario.action');
  }
  const registry = registryOf(system);
  const lastAction = actions.reduce((t, a) => Math.max(t, a.at), system.settleUs);
  const healAt = Math.max(options.minHealAt ?? 0, healTime(registry, c.schedule, lastAction));
  applySchedule(registry, instance, view, c.schedule, healAt);
  system.recovery.start(instance, view, healAt);
  const endAt = Math.max(healAt, options.workUntil ?? 0) + boundUs + system.recovery.drainUs(c.config) + TAIL_US;
  const measureFrom = options.observeFrom ?? c.schedule.reduce((t, f) => Math.min(t, f.at), healAt);
  observer?.start(options.observeFrom ?? healAt, endAt);
  if (options.measure === true) system.measures?.start(instance, view, measureFrom, endAt);
  const result = sim.run({ until: endAt });
  if (result.status === 'until-reached') {
    system.recovery.atEnd(instance, view);
    const window = { healAt, boundUs, endAt };
    for (const m of monitors) {
      if (fired.has(m.id)) continue;
      const v = m.atEnd?.(view, window) ?? null;
      if (v === null) continue;
      violations.push(v);
      if (!collectAll) break;
    }
  }
  const modelFailure = result.status === 'model-failure' || result.status === 'step-budget-exhausted'
    ? result.failure?.message ?? result.status
    : null;
  const first = collectAll
    ? violations.reduce<Violation | null>((a, v) => (a === null || v.time < a.time ? v : a), null)
    : violations[0] ?? null;
  const recoveredAt = system.recovery.recoveredAt(view);
  const verdict: Verdict = {
    outcome: modelFailure !== null ? 'model-failure' : first === null ? 'pass' : first.invariant,
    violation: first,
    violations,
    modelFailure,
    hash: options.hash === false ? '' : sim.trace.hash(),
    healAt,
    boundUs,
    bound,
    endAt,
    recoveryUs: recoveredAt === null ? null : recoveredAt - healAt,
    figures: options.measure === true ? system.measures?.figures(view, { healAt, boundUs, endAt }) ?? [] : [],
    steps: result.steps,
    ...(options.keepEvents ? { events: sim.trace.events } : {}),
  };
  return { verdict, instance, view, observer };
}

/** The case of a profile (with overrides) for a seed and a schedule. */
export function caseOf<C>(
  system: System<C, Instance, View>, profile: string, seed: number, schedule: FaultRecord[],
  options: { overrides?: unknown; fixes?: readonly string[]; invariants?: readonly string[] } = {},
): Case<C> {
  const resolved = system.resolve(profile, options.overrides ?? {}, options.fixes ?? []);
  return { profile, fixes: resolved.fixes, config: resolved.config, seed, schedule, ...(options.invariants ? { invariants: options.invariants } : {}) };
}

/** The ids of a system's invariants, in the order they are checked. */
export function invariantIds(system: AnySystem): string[] {
  return system.invariants(system.resolve(system.profiles[0]!.name).config).map((m) => m.id);
}
