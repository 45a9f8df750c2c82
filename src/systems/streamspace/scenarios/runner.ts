import { formatTime, SECOND, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { NetworkOptions } from '../../../sim-cluster/network.ts';
import { StreamSpaceCluster } from '../cluster/cluster.ts';
import type { ConfigOverrides } from '../config.ts';
import { profile } from '../profiles.ts';
import { applySchedule, healTime } from '../../../faults/apply.ts';
import type { Fault } from '../../../faults/fault-kinds.ts';
import { boundTotal, recoveryBound, startRecoveryProber, unhealthyBecause } from '../invariants/bounded-recovery.ts';
import { ClusterView } from '../invariants/cluster-view.ts';
import type { Violation } from '../../../invariants/monitor.ts';
import { mergeOverrides, monitorsFor, SETTLE_US } from '../../../harness/run-case.ts';
import { RoutingSeries } from './routing-series.ts';
import { RoutingState } from './routing-state.ts';
import { formatSteps, timeline } from './timeline.ts';
import type { Claim, MetricDefinition, Scenario, ScenarioRun } from './types.ts';
import { Variation } from './variation.ts';

/** Kernel-level work a scenario does besides faults (scale a Deployment, insert a row by hand). */
export interface ScriptedAction {
  at: Micros;
  /** One sentence, recorded in the trace as `scenario.action` and shown in the timeline. */
  what: string;
  run(cluster: StreamSpaceCluster, view: ClusterView): void;
  /** The same action as a fault record, for the HTML timeline, when it is one (a pod deletion). */
  asFault?: Fault;
}

/** What one seed of a scenario does: the deployment, the faults and the scripted actions. */
export interface ScenarioPlan {
  /** The scenario's deployment, applied over the profile's overrides. Default: the profile's. */
  config?: ConfigOverrides;
  network?: Partial<NetworkOptions>;
  /** The instant the scenario's fault sequence starts: metrics and availability are measured from it. */
  faultAt: Micros;
  schedule: Fault[];
  actions?: ScriptedAction[];
  /**
   * When the harness stops every fault (apply.ts's heal: partitions healed, nodes back, Redis
   * started if it is down) and the recovery bound starts. Default: when the last fault or action
   * ends. A scenario that deletes pods sets it after the replacements have started, so that the heal
   * does not start a deleted Redis early.
   */
  healAt?: Micros;
}

/** Everything a scenario's `measure` may read after the run. */
export interface Observation {
  cluster: StreamSpaceCluster;
  view: ClusterView;
  events: readonly TraceEvent[];
  faultAt: Micros;
  healAt: Micros;
  endAt: Micros;
  /** The routing state from `faultAt` to `endAt`. */
  routing: RoutingSeries;
}

export interface ScenarioSpec {
  name: string;
  report: Scenario['report'];
  summary: string;
  procedure: string;
  claims: Claim[];
  metrics: MetricDefinition[];
  plan(variation: Variation): ScenarioPlan;
  measure(observation: Observation): Record<string, number | null>;
}

/** Extra time after the recovery bound so that commands accepted at the bound can finish (as run-case.ts). */
const TAIL_US: Micros = 10 * SECOND;
/** The timeline in a run's account covers this long after the fault. */
const TIMELINE_US: Micros = 3 * 60 * SECOND;

/** A scenario whose runs follow `spec`: see `runScenario`. */
export function defineScenario(spec: ScenarioSpec): Scenario {
  const { plan: _plan, measure: _measure, ...described } = spec;
  return { ...described, run: (options) => runScenario(spec, options) };
}

/**
 * One seeded run, judged like run-case.ts (the same monitors, the same recovery bound and end
 * instant) with two differences: a violation does not halt the run, because the recovery metrics
 * need the whole of it (every violated invariant is kept, the earliest is the outcome), and the
 * routing state is sampled from the fault on for availability.
 */
export function runScenario(spec: ScenarioSpec, options: { seed: number; profile: string; keepEvents?: boolean }): ScenarioRun {
  const plan = spec.plan(new Variation(options.seed));
  const config = mergeOverrides(profile(options.profile).config, plan.config ?? {});
  const cluster = new StreamSpaceCluster({
    seed: options.seed, config,
    simulation: { trace: { keepEvents: true }, ...(plan.network ? { network: plan.network } : {}) },
  });
  const view = new ClusterView();
  const boundUs = boundTotal(recoveryBound(cluster.config));
  const maxExecutionUs = cluster.config.agent.startSessionUs[1];
  const monitors = monitorsFor(maxExecutionUs);
  const violations: Violation[] = [];
  const fired = new Set<string>();
  cluster.sim.trace.subscribe((e) => {
    view.apply(e);
    for (const m of monitors) {
      if (fired.has(m.id)) continue;
      const v = m.onEvent?.(e, view) ?? null;
      if (v !== null) {
        fired.add(m.id);
        violations.push(v);
      }
    }
  });
  const routing = new RoutingState(cluster, view);
  const actions = plan.actions ?? [];
  for (const action of actions) {
    cluster.sim.at(action.at, () => {
      cluster.sim.trace.record(cluster.sim.now, 'scenario', 'scenario.action', { what: action.what });
      action.run(cluster, view);
    }, 'scenario.action');
  }
  const lastAction = actions.reduce((t, a) => Math.max(t, a.at), SETTLE_US);
  const healAt = Math.max(plan.healAt ?? 0, healTime(plan.schedule, lastAction));
  applySchedule(cluster, view, plan.schedule, healAt);
  startRecoveryProber(cluster, view, healAt);
  const endAt = healAt + boundUs + maxExecutionUs + TAIL_US;
  const series = RoutingSeries.record(routing, (at, run) => cluster.sim.at(at, run, 'scenario.sample'), plan.faultAt, endAt);
  const result = cluster.sim.run({ until: endAt });
  const window = { healAt, boundUs, endAt };
  if (result.status === 'until-reached') {
    view.lastUnhealthy = unhealthyBecause(cluster, view);
    for (const m of monitors) {
      const v = fired.has(m.id) ? null : m.atEnd?.(view, window) ?? null;
      if (v !== null) violations.push(v);
    }
  }
  const modelFailure = result.status === 'until-reached' ? null : result.failure?.message ?? result.status;
  const events = cluster.sim.trace.events;
  const metrics = modelFailure === null
    ? spec.measure({ cluster, view, events, faultAt: plan.faultAt, healAt, endAt, routing: series })
    : Object.fromEntries(spec.metrics.map((m) => [m.id, null]));
  const first = violations.reduce<Violation | null>((a, v) => (a === null || v.time < a.time ? v : a), null);
  const brief = (v: Violation) => ({ invariant: v.invariant, message: v.message, time: v.time });
  return {
    name: spec.name, seed: options.seed, profile: options.profile,
    outcome: modelFailure !== null ? 'model-failure' : first === null ? 'pass' : first.invariant,
    violation: first === null ? null : brief(first),
    violations: violations.map(brief),
    hash: cluster.sim.trace.hash(),
    metrics,
    lines: account(spec, options, plan, events, metrics, violations, modelFailure),
    faultAt: plan.faultAt,
    schedule: [...plan.schedule, ...actions.flatMap((a) => (a.asFault === undefined ? [] : [a.asFault]))].sort((a, b) => a.at - b.at),
    ...(options.keepEvents ? { events } : {}),
  };
}

function account(
  spec: ScenarioSpec, options: { seed: number; profile: string }, plan: ScenarioPlan, events: readonly TraceEvent[],
  metrics: Record<string, number | null>, violations: readonly Violation[], modelFailure: string | null,
): string[] {
  const steps = timeline(events, plan.faultAt).filter((s) => s.atUs <= TIMELINE_US);
  const lines = [`${spec.name} (report ${spec.report}), seed ${options.seed}, profile ${options.profile}; timeline from the fault at ${formatTime(plan.faultAt)}:`];
  lines.push(...formatSteps(steps));
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
