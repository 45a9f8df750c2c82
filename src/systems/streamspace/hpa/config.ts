import { MINUTE, SECOND, type Micros } from '../../../sim-cluster/index.ts';

/**
 * The HorizontalPodAutoscaler's configuration: the autoscaling/v2 object's fields the model uses
 * (one `Resource` metric, `cpu`, target type `Utilization`), kube-controller-manager's HPA flags,
 * and the two parameter sets of seed 004 (spec §2 "HPA").
 *
 * Kubernetes sources are cited by file and function (kubernetes/kubernetes, autoscaling/v2 era).
 */

export type ScalingPolicyType = 'Pods' | 'Percent';

/** autoscaling/v2 HPAScalingPolicy: at most `value` pods (or percent) of change per `periodSeconds`. */
export interface HPAScalingPolicy {
  type: ScalingPolicyType;
  value: number;
  periodSeconds: number;
}

/** autoscaling/v2 ScalingPolicySelect. */
export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

/** autoscaling/v2 HPAScalingRules as written in a manifest: any field may be left out. */
export interface HPAScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: SelectPolicy;
  policies?: HPAScalingPolicy[];
}

/** autoscaling/v2 HorizontalPodAutoscalerBehavior as written in a manifest. */
export interface HorizontalPodAutoscalerBehavior {
  scaleUp?: HPAScalingRules;
  scaleDown?: HPAScalingRules;
}

/** Scaling rules after API defaulting and the controller's window initialisation: every field set. */
export interface ResolvedScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: SelectPolicy;
  policies: readonly HPAScalingPolicy[];
}

export interface ResolvedBehavior {
  scaleUp: ResolvedScalingRules;
  scaleDown: ResolvedScalingRules;
}

/** The HPA object, as far as the model reads it. */
export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  /** `metrics[].resource` with name `cpu`, target `Utilization`: averageUtilization (percent of the request). */
  targetCPUUtilizationPercentage: number;
  /**
   * The pod template's CPU request in millicores, the denominator of utilisation
   * (replica_calculator.go `calculateRequests`). One container per pod, as in both deployments.
   */
  cpuRequestMilli: number;
  /**
   * `spec.behavior`, or null when the manifest has none. Null is not the same as the documented
   * defaults: the API server leaves a missing behavior nil (pkg/apis/autoscaling/v2/defaults.go
   * `SetDefaults_HorizontalPodAutoscalerBehavior` only fills a behavior that is present) and the
   * controller then takes its older path (horizontal.go `normalizeDesiredReplicas`): scale-down
   * stabilised over `downscaleStabilizationUs`, scale-up limited to max(2 × current, 4) per sync
   * (`calculateScaleUpLimit`). The defaults "repeat previous HPA behavior" (defaults.go) but differ
   * below 4 replicas: from 2, the old path allows 4, the default policies 6 (2 + 4 pods).
   */
  behavior: HorizontalPodAutoscalerBehavior | null;
}

/** kube-controller-manager's HPA flags (HPAControllerConfiguration). */
export interface HpaControllerFlags {
  /** --horizontal-pod-autoscaler-sync-period: the HPA is reconciled once per period. */
  syncPeriodUs: Micros;
  /** --horizontal-pod-autoscaler-tolerance: no change while |ratio - 1| ≤ tolerance (both directions). */
  tolerance: number;
  /** --horizontal-pod-autoscaler-cpu-initialization-period. */
  cpuInitializationPeriodUs: Micros;
  /** --horizontal-pod-autoscaler-initial-readiness-delay. */
  initialReadinessDelayUs: Micros;
  /** --horizontal-pod-autoscaler-downscale-stabilization: the window of a behavior-less HPA, and the default scaleDown window. */
  downscaleStabilizationUs: Micros;
}

/** pkg/controller/podautoscaler/config/v1alpha1/defaults.go `RecommendedDefaultHPAControllerConfiguration`. */
export const DEFAULT_HPA_CONTROLLER_FLAGS: Readonly<HpaControllerFlags> = Object.freeze({
  syncPeriodUs: 15 * SECOND,
  tolerance: 0.1,
  cpuInitializationPeriodUs: 5 * MINUTE,
  initialReadinessDelayUs: 30 * SECOND,
  downscaleStabilizationUs: 5 * MINUTE,
});

/**
 * pkg/apis/autoscaling/v2/defaults.go `defaultHPAScaleUpRules`: no window, the larger of +4 pods
 * and +100% per 15 s.
 */
export const DEFAULT_SCALE_UP_RULES: Readonly<ResolvedScalingRules> = Object.freeze({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: Object.freeze<HPAScalingPolicy[]>([
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ]),
});

/**
 * defaults.go `defaultHPAScaleDownRules`: -100% per 15 s; its window is left nil there and filled
 * by the controller from --horizontal-pod-autoscaler-downscale-stabilization
 * (horizontal.go `maybeInitScaleDownStabilizationWindow`).
 */
export const DEFAULT_SCALE_DOWN_POLICIES: Readonly<Omit<ResolvedScalingRules, 'stabilizationWindowSeconds'>> = Object.freeze({
  selectPolicy: 'Max',
  policies: Object.freeze<HPAScalingPolicy[]>([{ type: 'Percent', value: 100, periodSeconds: 15 }]),
});

/**
 * A present behavior with its unset fields filled: defaults.go `GenerateHPAScaleUpRules`,
 * `GenerateHPAScaleDownRules` (`copyHPAScalingRules` keeps every field the manifest sets), then
 * horizontal.go `maybeInitScaleDownStabilizationWindow` for a scaleDown without a window.
 */
export function resolveBehavior(behavior: HorizontalPodAutoscalerBehavior, flags: HpaControllerFlags): ResolvedBehavior {
  const up = behavior.scaleUp ?? {};
  const down = behavior.scaleDown ?? {};
  return {
    scaleUp: {
      stabilizationWindowSeconds: up.stabilizationWindowSeconds ?? DEFAULT_SCALE_UP_RULES.stabilizationWindowSeconds,
      selectPolicy: up.selectPolicy ?? DEFAULT_SCALE_UP_RULES.selectPolicy,
      policies: up.policies ?? DEFAULT_SCALE_UP_RULES.policies,
    },
    scaleDown: {
      stabilizationWindowSeconds: down.stabilizationWindowSeconds ?? Math.floor(flags.downscaleStabilizationUs / SECOND),
      selectPolicy: down.selectPolicy ?? DEFAULT_SCALE_DOWN_POLICIES.selectPolicy,
      policies: down.policies ?? DEFAULT_SCALE_DOWN_POLICIES.policies,
    },
  };
}

/** A parameter set with where each value comes from. */
export interface HpaParameterSet {
  spec: HpaSpec;
  source: string;
}

/**
 * The StreamSpace chart at 15f3690: chart/templates/hpa.yaml renders the API HPA from
 * `api.autoscaling` (chart/values.yaml:312-317: enabled false, minReplicas 2, maxReplicas 10,
 * targetCPUUtilizationPercentage 80, targetMemoryUtilizationPercentage 80) and a behavior only when
 * `api.autoscaling.behavior` is set, which values.yaml does not: behavior nil. CPU request 200m
 * (chart/values.yaml:236-242; limit 1000m).
 *
 * Only CPU is modelled. The memory metric (80%) is left out: the controller takes the largest
 * proposal over the metrics (horizontal.go `computeReplicasForMetrics`), so a memory proposal
 * above the CPU one would scale further up and could hold a scale-down.
 */
export const STREAMSPACE_CHART_HPA: Readonly<HpaParameterSet> = Object.freeze({
  spec: Object.freeze({ minReplicas: 2, maxReplicas: 10, targetCPUUtilizationPercentage: 80, cpuRequestMilli: 200, behavior: null }),
  source: 'streamspace 15f3690 chart/templates/hpa.yaml, chart/values.yaml:236-242 (cpu request 200m), :312-317 (api.autoscaling); no behavior block; memory target 80% not modelled',
});

/**
 * Seed 004's own HPA (m1ndvortex/jewely k8s/django-hpa.yaml): min 3, max 10, CPU 70% (memory 80%
 * left out, as above), scaleUp window 0 with 100% and 2 pods per 15 s, selectPolicy Max; scaleDown
 * window 300 s with 50% per 60 s, selectPolicy Min. The seed's Django container requests 500m CPU
 * (k8s/django-deployment.yaml); modelled on StreamSpace's API Deployment the request is the chart's
 * 200m, which is what this set uses.
 */
export const JEWELRY_SHOP_HPA: Readonly<HpaParameterSet> = Object.freeze({
  spec: Object.freeze({
    minReplicas: 3,
    maxReplicas: 10,
    targetCPUUtilizationPercentage: 70,
    cpuRequestMilli: 200,
    behavior: Object.freeze({
      scaleUp: {
        stabilizationWindowSeconds: 0,
        policies: [
          { type: 'Percent', value: 100, periodSeconds: 15 },
          { type: 'Pods', value: 2, periodSeconds: 15 },
        ],
        selectPolicy: 'Max',
      },
      scaleDown: {
        stabilizationWindowSeconds: 300,
        policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
        selectPolicy: 'Min',
      },
    } satisfies HorizontalPodAutoscalerBehavior),
  }),
  source: 'm1ndvortex/jewely k8s/django-hpa.yaml (min 3, max 10, cpu 70%, behavior); memory target 80% not modelled; cpu request: the StreamSpace chart\'s 200m (the seed\'s Django requests 500m)',
});
