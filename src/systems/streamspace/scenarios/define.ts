import { type Micros, type NetworkOptions, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { Claim, MetricDefinition, ScenarioSpec, ScriptedAction as ContractAction } from '../../../contract/scenario.ts';
import type { Variation } from '../../../contract/variation.ts';
import type { StreamSpaceCluster } from '../cluster/cluster.ts';
import type { ConfigOverrides, StreamSpaceConfig } from '../config.ts';
import type { StreamSpaceFault } from '../faults.ts';
import type { ClusterView } from '../invariants/cluster-view.ts';
import type { RoutingSeries } from '../invariants/routing-availability.ts';
import { formatSteps, timeline } from './timeline.ts';

/** A StreamSpace scenario as the harness runs it. */
export type Scenario = ScenarioSpec<StreamSpaceConfig, StreamSpaceCluster, ClusterView>;
/** A scripted action; its fault record, when it is one, is a StreamSpace fault. */
export type ScriptedAction = Omit<ContractAction<StreamSpaceCluster, ClusterView>, 'asFault'> & { asFault?: StreamSpaceFault };

/** What one seed of a scenario does: the deployment, the faults and the scripted actions. */
export interface ScenarioPlan {
  /** The scenario's deployment, applied over the profile's overrides. Default: the profile's. */
  config?: ConfigOverrides;
  network?: Partial<NetworkOptions>;
  /** The instant the scenario's fault sequence starts: metrics and availability are measured from it. */
  faultAt: Micros;
  schedule: StreamSpaceFault[];
  actions?: ScriptedAction[];
  /**
   * When the harness stops every fault (the heal: partitions healed, nodes back, Redis started if
   * it is down) and the recovery bound starts. Default: when the last fault or action ends. A
   * scenario that deletes pods sets it after the replacements have started, so that the heal does
   * not start a deleted Redis early.
   */
  healAt?: Micros;
  /**
   * The scenario's users go on to this instant, past the heal: the run lasts the recovery bound
   * after it too, so that every command they had accepted can be judged. Default: the heal.
   */
  workUntil?: Micros;
}

/** Everything a StreamSpace scenario's `measure` may read after the run. */
export interface Observation {
  cluster: StreamSpaceCluster;
  view: ClusterView;
  events: readonly TraceEvent[];
  faultAt: Micros;
  healAt: Micros;
  endAt: Micros;
  /** The routing state from `faultAt` to `endAt`, sampled every SAMPLE_PERIOD_US (the run's routing-availability measure). */
  routing: RoutingSeries;
}

export interface ScenarioDefinition {
  name: string;
  report: '000' | '002' | '003' | '004';
  summary: string;
  procedure: string;
  claims: Claim[];
  metrics: MetricDefinition[];
  plan(variation: Variation): ScenarioPlan;
  measure(observation: Observation): Record<string, number | null>;
}

/** The timeline in a run's account covers this long after the fault. */
const TIMELINE_US: Micros = 3 * 60 * 1_000_000;

/**
 * A StreamSpace scenario: its routing metrics read the routing state the run's routing-availability
 * measure sampled from the scenario's fault instant on (the harness starts it there), and its
 * account is the StreamSpace timeline (who held the agent, what Redis mapped) after the fault.
 */
export function defineScenario(spec: ScenarioDefinition): Scenario {
  return {
    ...spec,
    measure: (o) => spec.measure({
      cluster: o.instance, view: o.view, events: o.events, faultAt: o.faultAt, healAt: o.healAt, endAt: o.endAt,
      routing: o.view.routing!,
    }),
    timeline: (events, faultAt) => formatSteps(timeline(events, faultAt).filter((s) => s.atUs <= TIMELINE_US)),
  };
}
