/**
 * The HorizontalPodAutoscaler (autoscaling/v2, CPU Utilization) and the metrics-server, as
 * standalone modules: the wiring adapts a cluster's API Deployment to `ScaleTarget`/`ScaledPod`
 * and starts both on the simulation.
 */
export type { CpuCounter, PodMetric, ResourceMetrics, ScaledPod, ScaleTarget } from './types.ts';
export {
  DEFAULT_HPA_CONTROLLER_FLAGS,
  DEFAULT_SCALE_DOWN_POLICIES,
  DEFAULT_SCALE_UP_RULES,
  JEWELRY_SHOP_HPA,
  STREAMSPACE_CHART_HPA,
  resolveBehavior,
  type HorizontalPodAutoscalerBehavior,
  type HPAScalingPolicy,
  type HPAScalingRules,
  type HpaControllerFlags,
  type HpaParameterSet,
  type HpaSpec,
  type ResolvedBehavior,
  type ResolvedScalingRules,
  type ScalingPolicyType,
  type SelectPolicy,
} from './config.ts';
export { getResourceReplicas, type PodStatus, type ResourceReplicas, type ResourceReplicasInput } from './replica-calculator.ts';
export {
  EMPTY_HISTORY,
  getReplicasChangePerPeriod,
  normalizeDesiredReplicas,
  normalizeDesiredReplicasWithBehaviors,
  recordInitialRecommendation,
  storeScaleEvent,
  type HpaHistory,
  type Normalized,
  type TimestampedRecommendation,
  type TimestampedScaleEvent,
} from './behavior.ts';
export { reconcileAutoscaler, type MetricProposal, type ReconcileInput, type ReconcileResult, type ScalingActive } from './reconcile.ts';
export { MetricsServer, type MetricsServerOptions } from './metrics-server.ts';
export { HorizontalPodAutoscaler, HPA_PROCESS, type HorizontalPodAutoscalerOptions, type ResourceMetricsSource } from './hpa-controller.ts';
export { hpaEvents, type HpaEvents } from './events.ts';
