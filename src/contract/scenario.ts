import type { Micros, NetworkOptions, TraceEvent } from '../sim-cluster/index.ts';
import type { FaultRecord } from '../faults/fault-kind.ts';
import type { Variation } from './variation.ts';

/**
 * Scenarios: a system's scripted runs (a seed report's procedure, say), each a pure function of
 * (name, seed, profile), with metrics measured on the run and claims judged on the metrics. The
 * system gives the plan and the measures; the harness (`src/harness/scenario.ts`) runs them with
 * the same monitors and recovery bound as any case, collecting every violation instead of halting.
 */

/** Scripted work a scenario does besides faults (scale a Deployment, insert a row by hand). */
export interface ScriptedAction<I, V> {
  at: Micros;
  /** One sentence, recorded in the trace as `scenario.action` and shown in the timeline. */
  what: string;
  run(instance: I, view: V): void;
  /** The same action as a fault record, for the HTML timeline, when it is one (a pod deletion). */
  asFault?: FaultRecord;
}

/** What one seed of a scenario does: the deployment, the faults and the scripted actions. */
export interface ScenarioPlan<I, V> {
  /** Configuration overrides over the profile's. Default: none. */
  config?: unknown;
  network?: Partial<NetworkOptions>;
  /** The instant the scenario's fault sequence starts: metrics and availability are measured from it. */
  faultAt: Micros;
  schedule: FaultRecord[];
  actions?: ReadonlyArray<ScriptedAction<I, V>>;
  /**
   * When the harness stops every fault and the recovery bound starts. Default: when the last fault
   * or action ends. A scenario that deletes pods sets it after the replacements have started, so
   * that the heal does not start a deleted datastore early.
   */
  healAt?: Micros;
  /**
   * The scenario's own work (a user load) goes on to this instant, past the heal: the run lasts
   * until what was started by then can be judged (`RunOptions.workUntil`). Default: the heal.
   */
  workUntil?: Micros;
}

/** Something a scenario samples during its run (availability over time, say), read by its measures. */
export interface Observer {
  /** Called once the faults and the recovery probe are scheduled, with the measured window. */
  start(faultAt: Micros, endAt: Micros): void;
}

/** Everything a scenario's `measure` may read after the run. */
export interface Observation<I, V> {
  instance: I;
  view: V;
  events: readonly TraceEvent[];
  faultAt: Micros;
  healAt: Micros;
  endAt: Micros;
  /** What `observe` returned, if the scenario has one. */
  observer: Observer | null;
}

/**
 * How a system's scenario report (`hasim report`) presents itself: its words and defaults. The
 * report's structure (claims, distributions, invariants, provenance) is the harness's; what the
 * claims come from and what its measures mean is the system's.
 */
export interface ScenarioReport {
  /** The files' name, without extension (`<out>/<file>.md` and `.html`). */
  file: string;
  title: string;
  /** The paragraph under the provenance: where the claims come from and what the profiles compared mean. */
  introduction: string;
  /** Definitions stated in every report besides the quantiles' (what availability means here). */
  definitions: readonly string[];
  /** The profiles compared unless `--profiles` says otherwise. */
  defaultProfiles: readonly string[];
  /** A profile's name as the report shows it (`as built`). Default: the name. */
  profileLabel?(profile: string): string;
  /** A claim bound (`atMost`) meaning only "it happened at all" (shown as `happens`). */
  happens?: number;
}

/** A named scenario of a system: its description, claims and metrics, its plan and its measures. */
export interface ScenarioSpec<C, I, V> {
  /** Stable, kebab-case, prefixed with the report it comes from, e.g. 'r000-api-and-redis-deletion'. */
  name: string;
  /** The report it comes from (its number). */
  report: string;
  /** One line. */
  summary: string;
  /** The report's procedure as this scenario's base case (seed 0), and what the seeds vary. */
  procedure: string;
  claims: ReadonlyArray<Claim>;
  metrics: ReadonlyArray<MetricDefinition>;
  plan(variation: Variation): ScenarioPlan<I, V>;
  /** Sets up sampling right after the view is subscribed, before faults and actions are scheduled. */
  observe?(instance: I, view: V, config: C): Observer;
  measure(observation: Observation<I, V>): Record<string, number | null>;
  /** The run's story after the fault, one line per step, for the run's account. Default: none. */
  timeline?(events: readonly TraceEvent[], faultAt: Micros): string[];
}


/** How a metric's values are read: durations in µs, fractions in [0, 1], or counts. */
export type MetricUnit = 'us' | 'fraction' | 'count';

export interface MetricDefinition {
  id: string;
  /** One sentence: what is measured, from which instant to which. Printed in the report. */
  definition: string;
  unit: MetricUnit;
}

/**
 * A claim quoted from a seed report. With `metric` and a bound, each run says whether the claim held
 * for it: the metric's value is at most `atMost` / at least `atLeast`. A metric that never happened
 * (null) breaks an `atMost` bound (the thing never recovered) and an `atLeast` bound alike.
 */
export interface Claim {
  text: string;
  metric?: string;
  atMost?: number;
  atLeast?: number;
  /**
   * A count metric of the same scenario: the claim is judged only in the runs where it is at least
   * 1 (e.g. a latency of the pub/sub hop, in the runs whose command went through pub/sub). The
   * other runs are not counted as holding or failing; the report gives their number.
   */
  appliesWhen?: string;
  /**
   * What the runs that break the claim have in common, or why a share is what it is (the mechanism,
   * with a seed to replay): printed in the report next to the claim.
   */
  note?: string;
}

/** One seeded run of a named scenario: a pure function of (name, seed, profile). */
export interface ScenarioRun {
  name: string;
  seed: number;
  profile: string;
  /** 'pass' | 'model-failure' | the first violated invariant id (as the harness's Verdict.outcome). */
  outcome: string;
  violation: { invariant: string; message: string; time: number } | null;
  /** The trace hash. */
  hash: string;
  /** Metric id → value (µs for durations; null = never happened). */
  metrics: Record<string, number | null>;
  /** A human-readable account: the timeline after the fault, then the metrics. */
  lines: string[];
  /** Every invariant violated in the run (the first one is `outcome`), one entry per invariant. */
  violations: ReadonlyArray<{ invariant: string; message: string; time: number }>;
  /** The instant the scenario's fault sequence starts (µs), for timelines. */
  faultAt: number;
  events?: readonly TraceEvent[];
  /** The faults applied, for the HTML timeline (may be empty). */
  schedule: readonly FaultRecord[];
}

/** Whether a claim applies to a run with these metrics (see `Claim.appliesWhen`). */
export function claimApplies(claim: Claim, metrics: Record<string, number | null>): boolean {
  return claim.appliesWhen === undefined || (metrics[claim.appliesWhen] ?? 0) >= 1;
}

/** Whether one run's metric value satisfies a claim's bound (undefined: the claim has no bound). */
export function claimHolds(claim: Claim, value: number | null | undefined): boolean | undefined {
  if (claim.metric === undefined || (claim.atMost === undefined && claim.atLeast === undefined)) return undefined;
  if (value === null || value === undefined) return false;
  if (claim.atMost !== undefined && value > claim.atMost) return false;
  if (claim.atLeast !== undefined && value < claim.atLeast) return false;
  return true;
}
