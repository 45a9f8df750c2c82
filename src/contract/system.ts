import type fc from 'fast-check';
import type { AnyStateMachine } from 'xstate';
import type { Micros, Simulation, SimulationOptions, TraceEvent } from '../sim-cluster/index.ts';
import type { AnyFaultKind, Platform, TargetRoles } from '../faults/fault-kind.ts';
import type { BoundTerm, Monitor, RunWindow } from '../invariants/monitor.ts';
import type { Explainer } from './explain.ts';
import type { MetricUnit, ScenarioReport, ScenarioSpec } from './scenario.ts';

/**
 * The System contract: what a simulated system gives the harness. The harness (case, run, shrink,
 * trace file, replay) and the CLI work with any value of this type; StreamSpace
 * (`src/systems/streamspace/system.ts`) is the first. Type parameters:
 * - `C`: the resolved configuration, plain JSON data (a run is a function of it, the seed and the schedule);
 * - `I`: a built instance on a `Simulation` (the cluster);
 * - `V`: the view, a reducer over the instance's trace events that invariants, the recovery probe,
 *   scenario measures and explain read instead of looking inside processes.
 */
export interface System<C = unknown, I extends Instance = Instance, V extends View = View> {
  /** Stable name, used by `--system` and recorded in trace files. */
  readonly name: string;
  /** One line for `hasim list systems`. */
  readonly description: string;

  /** Named profiles: the as-built system first, then ones with design fixes switched on. */
  readonly profiles: readonly Profile[];
  /** Every named design fix, switchable one by one. */
  readonly fixes: readonly Fix[];
  /**
   * The resolved configuration of a profile with overrides on top and `fixes` switched on besides
   * the profile's, and the fixes it turns on in all. Throws `ConfigError` naming the first bad value
   * (an unknown profile, section, field or fix, a value of the wrong type or out of bounds, a rule
   * between fields broken). Overrides come from outside (`--config`, trace files): check them before
   * merging them, and start the message with the value's path from `config`
   * (`config.topology.apiReplicas: must be ≤ 20, got 1000000000`) so that the CLI and trace-file
   * checks can say where it is.
   */
  resolve(profile: string, overrides?: unknown, fixes?: readonly string[]): Resolved<C>;
  /** The configuration as recorded in a trace file, checked like `resolve` does (throws `ConfigError`). */
  reresolve(recorded: unknown): Resolved<C>;

  /** Builds an instance for a seed and a resolved configuration. */
  build(options: { seed: number; config: C; simulation: Omit<SimulationOptions, 'seed'> }): I;
  /** A fresh view; the harness feeds it every trace event, before any invariant sees the event. */
  createView(): V;

  /** Faults never start before this instant (the system has settled: leader elected, clients connected). */
  readonly settleUs: Micros;
  /** The roles faults may target, and what a crash, deletion or node failure means here. */
  readonly roles: TargetRoles;
  readonly platform: Platform<I, V>;
  /** The fault kinds schedules may hold, generic and the system's own, in the order arbitraries draw them. */
  readonly faults: ReadonlyArray<AnyFaultKind<I, V>>;
  /**
   * The time scales of generated schedules: the largest gap between faults and the longest window
   * fault. Default 60 s and 120 s (longer than a control plane's timeouts, shorter than its TTLs).
   */
  readonly faultTiming?: { maxGapUs?: Micros; maxDurationUs?: Micros };

  /** The invariants checked on every run, in order (ids are stable; `config` sets their parameters). */
  invariants(config: C): ReadonlyArray<Monitor<V>>;
  /** How recovery after the heal is bounded and observed. */
  readonly recovery: RecoveryProbe<C, I, V>;
  /** Figures measured on the runs that ask for them (`RunOptions.measure`) and reported with their verdicts (routing availability, say). Default: none. */
  readonly measures?: RunMeasures<I, V>;

  /** How its runs are drawn and told (timeline page, key events). Default: faults and process lifecycle only. */
  readonly explain?: Explainer;

  /**
   * The statecharts of its components: xstate machines built with `setup(…).createMachine(…)`, as
   * the kernel's stepper (`sim-cluster/statechart`) runs them. `hasim machines` exports them and
   * docs/machines.md draws them. Default: none.
   */
  readonly machines?: readonly AnyStateMachine[];

  /**
   * The ways the system is deployed (topology, placement, settings, workload) that a case space may
   * name or, in swarm mode, draw and perturb (`CaseSpace.deployment`). Absent: one deployment, the
   * configuration the profiles resolve to.
   */
  readonly deployments?: Deployments<C>;

  /** The system's scripted scenarios (seed reports), if any. */
  readonly scenarios?: ReadonlyArray<ScenarioSpec<C, I, V>>;
  /** How `hasim report` presents the scenarios' runs (required for `hasim report` on this system). */
  readonly scenarioReport?: ScenarioReport;
}

/** What every instance has: the simulation it runs on. */
export interface Instance {
  readonly sim: Simulation;
}

/** What every view does: absorb trace events in order. */
export interface View {
  apply(event: TraceEvent): void;
}

export interface Profile {
  name: string;
  description: string;
  /** The configuration overrides the profile stands for (its fixes among them). */
  overrides: unknown;
}

export interface Fix {
  /** Stable name, used by profiles, `--fixes` and trace files. */
  name: string;
  /** The change, as an engineer of the system would make it. */
  change: string;
  /** The findings (trace names) it is meant to remove. */
  removes: readonly string[];
}

/**
 * A named way to deploy a system: configuration overrides (the system's override shape) standing
 * for a topology, a placement of pods on nodes, settings and a workload. A case's configuration is
 * the profile's, then the deployment's overrides, then the case space's own (`--config`).
 */
export interface Deployment {
  /** Stable, kebab-case: `--deployment NAME`, `hasim list deployments`. */
  name: string;
  /** One line: what it runs and where its values come from. */
  description: string;
  overrides: unknown;
  /**
   * Whether swarm mode draws it. Default true; false for a deployment that only some fault kinds
   * and scenarios are for, or too heavy to draw among the others (a load of 1,000 users): it is
   * run by naming it.
   */
  inSwarm?: boolean;
}

/**
 * A system's deployments and how swarm mode varies them. Swarm mode draws a named deployment and
 * then `perturb`'s value for it, from a random stream of its own derived from the seed, so that the
 * fault schedule a seed draws is the same with or without a deployment dimension.
 */
export interface Deployments<C> {
  /**
   * The named deployments. The first is the system's defaults: its overrides must resolve to the
   * configuration a case space without a deployment gets, so that naming it changes no case.
   */
  readonly named: readonly Deployment[];
  /** Overrides around a named deployment, within the documented `ranges`, as a fast-check arbitrary. */
  perturb(deployment: Deployment): fc.Arbitrary<unknown>;
  /** What `perturb` varies, over what range, and why: for `hasim list deployments` and the docs. */
  readonly ranges: ReadonlyArray<{ what: string; range: string; why: string }>;
  /** Overrides `top` laid over `base`, merged as `resolve` merges overrides. */
  overlay(base: unknown, top: unknown): unknown;
  /** One line saying what a resolved configuration deploys (replicas, ids, placement, load...). */
  describe(config: C): string;
}

/** A configuration as a run uses it, and the names of the fixes it turns on. */
export interface Resolved<C> {
  config: C;
  fixes: string[];
}

/**
 * How recovery is judged: a bound derived from the configuration (whose terms are printed with
 * every verdict), a probe started at the heal that records when the system is healthy again, and
 * the reason it is not, looked at when the run ends.
 */
export interface RecoveryProbe<C, I, V> {
  bound(config: C): BoundTerm[];
  /** Time after the bound for work accepted at the bound to finish, before the run ends. */
  drainUs(config: C): Micros;
  start(instance: I, view: V, healAt: Micros): void;
  /** Called once when the run reaches its end: records why the system is unhealthy, if it is. */
  atEnd(instance: I, view: V): void;
  /** When the probe found the system healthy, if it did. */
  recoveredAt(view: V): Micros | null;
}

/**
 * What a system measures on a run that asks for it, besides its invariants: figures that no threshold judges for
 * every schedule, reported with each verdict (`hasim run`, `--json`) and read by scenario metrics.
 */
export interface RunMeasures<I, V> {
  /** Starts measuring at `fromUs` (the first fault, or a scenario's fault instant) up to `toUs` (the run's end). */
  start(instance: I, view: V, fromUs: Micros, toUs: Micros): void;
  /** The run's figures, read once it has ended (or halted). */
  figures(view: V, window: RunWindow): RunFigure[];
}

export interface RunFigure {
  id: string;
  unit: MetricUnit;
  value: number | null;
  /** One line for `hasim run`, or '' when another figure's line tells it. */
  text: string;
}

/**
 * A bad configuration value: the message names it, from its path (`config.election.leaseDurationUs:
 * must be ≥ 1, got 0`). Bad input, never a finding: the CLI exits 2 with the message on one line.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A system with its type parameters erased, as registries and the CLI hold them. */
export type AnySystem = System<any, any, any>;
