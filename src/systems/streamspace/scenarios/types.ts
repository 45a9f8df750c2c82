import type { TraceEvent } from '../../../sim-cluster/index.ts';
import type { Fault } from '../../../faults/fault-kinds.ts';

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
  /** 'pass' | 'model-failure' | the first violated invariant id (as run-case.ts's Verdict.outcome). */
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
  schedule: readonly Fault[];
}

export interface Scenario {
  /** Stable, kebab-case, prefixed with the seed report it comes from, e.g. 'r000-api-and-redis-deletion'. */
  name: string;
  report: '000' | '002' | '003';
  /** One line. */
  summary: string;
  /** The report's procedure as this scenario's base case (seed 0), and what the seeds vary. */
  procedure: string;
  claims: ReadonlyArray<Claim>;
  metrics: ReadonlyArray<MetricDefinition>;
  run(options: { seed: number; profile: string; keepEvents?: boolean }): ScenarioRun;
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
