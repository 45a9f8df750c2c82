import type { Micros } from '../../../sim-cluster/index.ts';
import {
  normalizeDesiredReplicas,
  normalizeDesiredReplicasWithBehaviors,
  recordInitialRecommendation,
  storeScaleEvent,
  type HpaHistory,
} from './behavior.ts';
import { resolveBehavior, type HpaControllerFlags, type HpaSpec } from './config.ts';
import { getResourceReplicas, type PodStatus } from './replica-calculator.ts';
import type { ResourceMetrics } from './types.ts';

/**
 * One sync of one HPA: kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go
 * `reconcileAutoscaler` with a single CPU Utilization metric (`computeReplicasForMetrics` →
 * `computeStatusForResourceMetric` → replica_calculator.go `GetResourceReplicas`), then the
 * normalisation (behavior.ts). Pure: the same input always gives the same result, so the
 * controller's decisions can be tested without a simulation.
 */

export interface ReconcileInput {
  now: Micros;
  /** The target's scale.spec.replicas. */
  currentReplicas: number;
  /** The pods the HPA's selector matches. */
  pods: readonly PodStatus[];
  /** The resource metrics API's answer for those pods. */
  metrics: ResourceMetrics;
  spec: HpaSpec;
  flags: HpaControllerFlags;
  history: HpaHistory;
}

/** The HPA's ScalingActive condition: whether a replica count could be computed. */
export interface ScalingActive {
  active: boolean;
  /** `ValidMetricFound`, `FailedGetResourceMetric` or `ScalingDisabled` (horizontal.go). */
  reason: string;
}

/** What the metric proposed (null when the sync did not compute one). */
export interface MetricProposal {
  replicas: number;
  utilisation: number;
  readyPods: number;
  unreadyPods: number;
  missingPods: number;
}

export interface ReconcileResult {
  /** The size the HPA wants; equal to `currentReplicas` when it does not rescale. */
  desiredReplicas: number;
  rescale: boolean;
  /** The rescale reason, as the controller's SuccessfulRescale event words it ('' when no rescale). */
  reason: string;
  /** Why it could not compute a count (the metrics error), when ScalingActive is false for that. */
  error: string | null;
  scalingActive: ScalingActive;
  proposal: MetricProposal | null;
  history: HpaHistory;
}

const CPU_METRIC = 'cpu resource utilization (percentage of request)';

/** horizontal.go `reconcileAutoscaler` from `recordInitialRecommendation` to the rescale decision. */
export function reconcileAutoscaler(input: ReconcileInput): ReconcileResult {
  const { now, currentReplicas, spec, flags } = input;
  let history = recordInitialRecommendation(input.history, currentReplicas, now);
  const minReplicas = spec.minReplicas;
  const behavior = spec.behavior === null ? null : resolveBehavior(spec.behavior, flags);
  const unchanged = (scalingActive: ScalingActive, error: string | null, proposal: MetricProposal | null): ReconcileResult => ({
    desiredReplicas: currentReplicas, rescale: false, reason: '', error, scalingActive, proposal, history,
  });
  const rescaled = (desired: number, reason: string, scalingActive: ScalingActive, proposal: MetricProposal | null): ReconcileResult => {
    if (desired === currentReplicas) return unchanged(scalingActive, null, proposal);
    history = storeScaleEvent(history, behavior, currentReplicas, desired, now);
    return { desiredReplicas: desired, rescale: true, reason, error: null, scalingActive, proposal, history };
  };

  // The ScalingActive condition is left as it was on the out-of-range branches; the model reports
  // them as active (the condition a running HPA has).
  const valid: ScalingActive = { active: true, reason: 'ValidMetricFound' };
  if (currentReplicas === 0 && minReplicas !== 0) {
    return unchanged({ active: false, reason: 'ScalingDisabled' }, null, null);
  }
  if (currentReplicas > spec.maxReplicas) return rescaled(spec.maxReplicas, 'Current number of replicas above Spec.MaxReplicas', valid, null);
  if (currentReplicas < minReplicas) return rescaled(minReplicas, 'Current number of replicas below Spec.MinReplicas', valid, null);

  // computeStatusForResourceMetric: a failed fetch or computation sets ScalingActive false
  // (FailedGetResourceMetric) and reconcileAutoscaler returns before normalising: no scale, and no
  // recommendation recorded for this sync.
  // The message is wrapped as computeStatusForResourceMetricGeneric wraps it.
  const failed = (error: string) => unchanged({ active: false, reason: 'FailedGetResourceMetric' }, `failed to get cpu utilization: ${error}`, null);
  if (!input.metrics.ok) return failed(`unable to get metrics for resource cpu: ${input.metrics.error}`);
  const calc = getResourceReplicas({
    now, currentReplicas, targetUtilization: spec.targetCPUUtilizationPercentage, requestMilli: spec.cpuRequestMilli,
    pods: input.pods, metrics: input.metrics.pods, flags,
  });
  if (!calc.ok) return failed(calc.error);
  const proposal: MetricProposal = {
    replicas: calc.replicas, utilisation: calc.utilisation, readyPods: calc.readyPods, unreadyPods: calc.unreadyPods, missingPods: calc.missingPods,
  };

  // desiredReplicas starts at 0 and takes the metric's proposal when larger: the proposal, which is never negative.
  const desired = calc.replicas;
  let reason = '';
  if (desired > currentReplicas) reason = `${CPU_METRIC} above target`;
  if (desired < currentReplicas) reason = 'All metrics below target';
  const normalized = behavior === null
    ? normalizeDesiredReplicas(history, now, currentReplicas, desired, minReplicas, spec.maxReplicas, flags.downscaleStabilizationUs)
    : normalizeDesiredReplicasWithBehaviors(history, now, currentReplicas, desired, minReplicas, spec.maxReplicas, behavior);
  history = { ...history, recommendations: normalized.recommendations };
  return rescaled(normalized.desiredReplicas, reason, valid, proposal);
}
