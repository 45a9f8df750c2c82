import { formatTime } from '../sim-cluster/index.ts';
import type { StatechartObserver } from '../sim-cluster/statechart/index.ts';
import type { MetricDefinition, ScenarioRun, ScenarioSpec } from '../contract/scenario.ts';
import type { Instance, System, View } from '../contract/system.ts';
import { Variation } from '../contract/variation.ts';
import type { Violation } from '../invariants/monitor.ts';
import { caseOf, execute } from './run-case.ts';

export interface ScenarioOptions {
  seed: number;
  profile: string;
  /** Keep the trace events in the result (for timelines). Default false. */
  keepEvents?: boolean;
  /** Watches the run's statecharts (`RunOptions.statecharts`: a coverage recorder). Default: none. */
  statecharts?: StatechartObserver;
}

/**
 * One seeded run of a scenario, judged by the same runner as every case (the same invariants,
 * recovery bound and end instant) in `collect: 'all'` mode: a violation does not halt the run,
 * because the metrics need the whole of it (every violated invariant is kept, the earliest is the
 * outcome). The scenario's observer samples from its fault instant on.
 */
export function runScenario<C, I extends Instance, V extends View>(system: System<C, I, V>, spec: ScenarioSpec<C, I, V>, options: ScenarioOptions): ScenarioRun {
  const plan = spec.plan(new Variation(options.seed));
  const c = caseOf(system, options.profile, options.seed, plan.schedule, { overrides: plan.config ?? {} });
  const { verdict, instance, view, observer } = execute(system, c, {
    keepEvents: true,
    collect: 'all',
    ...(plan.network ? { network: plan.network } : {}),
    ...(plan.actions ? { actions: plan.actions } : {}),
    ...(plan.healAt !== undefined ? { minHealAt: plan.healAt } : {}),
    ...(plan.workUntil !== undefined ? { workUntil: plan.workUntil } : {}),
    ...(spec.observe ? { observe: (i: I, v: V) => spec.observe!(i, v, c.config) } : {}),
    observeFrom: plan.faultAt,
    measure: true,
    ...(options.statecharts ? { statecharts: options.statecharts } : {}),
  });
  const events = verdict.events ?? [];
  const metrics = verdict.modelFailure === null
    ? spec.measure({ instance, view, events, faultAt: plan.faultAt, healAt: verdict.healAt, endAt: verdict.endAt, observer })
    : Object.fromEntries(spec.metrics.map((m) => [m.id, null]));
  const brief = (v: Violation) => ({ invariant: v.invariant, message: v.message, time: v.time });
  const actions = plan.actions ?? [];
  return {
    name: spec.name, seed: options.seed, profile: options.profile,
    outcome: verdict.outcome,
    violation: verdict.violation === null ? null : brief(verdict.violation),
    violations: verdict.violations.map(brief),
    hash: verdict.hash,
    metrics,
    lines: account(spec, options, plan.faultAt, events, metrics, verdict.violations, verdict.modelFailure),
    faultAt: plan.faultAt,
    schedule: [...plan.schedule, ...actions.flatMap((a) => (a.asFault === undefined ? [] : [a.asFault]))].sort((a, b) => a.at - b.at),
    ...(options.keepEvents ? { events } : {}),
  };
}

function account<C, I, V>(
  spec: ScenarioSpec<C, I, V>, options: ScenarioOptions, faultAt: number, events: ScenarioRun['events'] & object,
  metrics: Record<string, number | null>, violations: readonly Violation[], modelFailure: string | null,
): string[] {
  const head = `${spec.name} (report ${spec.report}), seed ${options.seed}, profile ${options.profile}`;
  const lines = spec.timeline ? [`${head}; timeline from the fault at ${formatTime(faultAt)}:`, ...spec.timeline(events, faultAt)] : [`${head}:`];
  lines.push('metrics:');
  for (const m of spec.metrics) lines.push(`  ${m.id} = ${formatValue(metrics[m.id] ?? null, m.unit)}`);
  if (modelFailure !== null) lines.push(`model failure: ${modelFailure}`);
  for (const v of violations) lines.push(`violated ${v.invariant} at ${formatTime(v.time)}: ${v.message}`);
  return lines;
}

/** A metric value for people: seconds with milliseconds, a percentage, or a count; `never` for null. */
export function formatValue(value: number | null, unit: MetricDefinition['unit']): string {
  if (value === null) return 'never';
  if (unit === 'us') return formatTime(Math.round(value));
  if (unit === 'fraction') return `${(value * 100).toFixed(3)}%`;
  return String(value);
}
