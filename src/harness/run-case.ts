import { MINUTE, SECOND, type Micros, type TraceEvent, type TraceHashScheme } from '../sim-cluster/index.ts';
import { StreamSpaceCluster } from '../systems/streamspace/cluster/cluster.ts';
import type { ConfigOverrides } from '../systems/streamspace/config.ts';
import { profile } from '../systems/streamspace/profiles.ts';
import { applySchedule, healTime } from '../faults/apply.ts';
import type { Fault } from '../faults/fault-kinds.ts';
import { boundTotal, boundedRecovery, recoveryBound, startRecoveryProber, unhealthyBecause, type BoundTerm } from '../systems/streamspace/invariants/bounded-recovery.ts';
import { ClusterView } from '../systems/streamspace/invariants/cluster-view.ts';
import type { Monitor, Violation } from '../invariants/monitor.ts';
import { noDuplicateExecution } from '../systems/streamspace/invariants/no-duplicate-execution.ts';
import { noLostCommands } from '../systems/streamspace/invariants/no-lost-commands.ts';
import { noSplitBrain } from '../systems/streamspace/invariants/no-split-brain.ts';

/** Everything a run is a function of (DESIGN decision 6). */
export interface Case {
  profile: string;
  config: ConfigOverrides;
  seed: number;
  schedule: Fault[];
  /** Invariants to check (ids from INVARIANT_IDS). Default: all of them. */
  invariants?: readonly string[];
}

export type Outcome = 'pass' | 'model-failure' | string;

export interface Verdict {
  /** `pass`, `model-failure`, or the id of the first invariant violated. */
  outcome: Outcome;
  violation: Violation | null;
  modelFailure: string | null;
  hash: string;
  healAt: Micros;
  boundUs: Micros;
  bound: BoundTerm[];
  endAt: Micros;
  /** Time from the heal to health (probes delivered), or null if never. */
  recoveryUs: Micros | null;
  steps: number;
  /** The kept trace, when asked for. */
  events?: readonly TraceEvent[];
}

/** Faults never start before the cluster has settled (leader elected, agent connected). */
export const SETTLE_US: Micros = 2 * MINUTE;
/** Extra time after the bound so that commands accepted at the bound can finish. */
const TAIL_US: Micros = 10 * SECOND;

/** Every invariant, in the order they are checked. */
export const INVARIANT_IDS = ['no-split-brain', 'no-duplicate-execution', 'no-lost-commands', 'bounded-recovery'] as const;

/** The monitors for a run; `ids` selects a subset (default: all). */
export function monitorsFor(maxExecutionUs: Micros, ids: readonly string[] = INVARIANT_IDS): Monitor[] {
  return [noSplitBrain, noDuplicateExecution, noLostCommands(maxExecutionUs), boundedRecovery].filter((m) => ids.includes(m.id));
}

export interface RunOptions {
  /** Keep every trace event in the verdict (the hash is the same either way). */
  keepEvents?: boolean;
  /**
   * Also trace every delivered message (`net.recv`, `net.datagram`). The run behaves the same, but
   * the extra events change the trace hash, so a verdict from such a run cannot be checked against
   * a trace file's expectation.
   */
  traceMessages?: boolean;
  /** How the trace hash encodes events (default `interned`; `lines` for version-1 trace files). */
  hashScheme?: TraceHashScheme;
}

/**
 * Runs one case to a verdict: builds the cluster for the profile, applies the schedule, checks the
 * safety monitors on every trace event (the first violation halts the run), probes recovery after
 * the heal, and judges liveness at the end.
 */
export function runCase(c: Case, options: RunOptions = {}): Verdict {
  const config = mergeOverrides(profile(c.profile).config, c.config);
  const trace = { keepEvents: options.keepEvents ?? false, ...(options.hashScheme ? { hashScheme: options.hashScheme } : {}) };
  const simulation = { trace, ...(options.traceMessages ? { traceMessages: true } : {}) };
  const cluster = new StreamSpaceCluster({ seed: c.seed, config, simulation });
  const view = new ClusterView();
  const bound = recoveryBound(cluster.config);
  const boundUs = boundTotal(bound);
  const maxExecutionUs = cluster.config.agent.startSessionUs[1];
  const monitors = monitorsFor(maxExecutionUs, c.invariants);
  let violation: Violation | null = null;
  cluster.sim.trace.subscribe((e) => {
    view.apply(e);
    if (violation !== null) return;
    for (const m of monitors) {
      const v = m.onEvent?.(e, view) ?? null;
      if (v !== null) {
        violation = v;
        cluster.sim.halt(`${v.invariant}: ${v.message}`);
        return;
      }
    }
  });
  const healAt = healTime(c.schedule, SETTLE_US);
  applySchedule(cluster, view, c.schedule, healAt);
  startRecoveryProber(cluster, view, healAt);
  const endAt = healAt + boundUs + maxExecutionUs + TAIL_US;
  const result = cluster.sim.run({ until: endAt });
  if (result.status === 'until-reached') {
    view.lastUnhealthy = unhealthyBecause(cluster, view);
    for (const m of monitors) {
      violation = m.atEnd?.(view, { healAt, boundUs, endAt }) ?? null;
      if (violation !== null) break;
    }
  }
  const modelFailure = result.status === 'model-failure' || result.status === 'step-budget-exhausted'
    ? result.failure?.message ?? result.status
    : null;
  const v = violation as Violation | null;
  return {
    outcome: modelFailure !== null ? 'model-failure' : v === null ? 'pass' : v.invariant,
    violation: v,
    modelFailure,
    hash: cluster.sim.trace.hash(),
    healAt,
    boundUs,
    bound,
    endAt,
    recoveryUs: view.recoveredAt === null ? null : view.recoveredAt - healAt,
    steps: result.steps,
    ...(options.keepEvents ? { events: cluster.sim.trace.events } : {}),
  };
}

/** Merges two override sets section by section (the second wins). */
export function mergeOverrides(a: ConfigOverrides, b: ConfigOverrides): ConfigOverrides {
  const out: Record<string, Record<string, unknown>> = {};
  for (const src of [a, b]) {
    for (const [section, fields] of Object.entries(src)) out[section] = { ...out[section], ...(fields as Record<string, unknown>) };
  }
  return out as ConfigOverrides;
}
