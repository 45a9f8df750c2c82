import type { Micros } from '../../../sim-cluster/index.ts';
import type { HpaControllerFlags } from './config.ts';
import type { PodMetric } from './types.ts';

/**
 * The replica proposal for one CPU `Utilization` metric: kubernetes/kubernetes
 * pkg/controller/podautoscaler/replica_calculator.go `GetResourceReplicas`, `groupPods`,
 * `removeMetricsForPods`, and metrics/utilization.go `GetResourceUtilizationRatio`. Pure.
 */

/** What the calculator reads of a pod (the pod lister's view). */
export interface PodStatus {
  name: string;
  /** status.startTime; null while Pending. */
  startedAt: Micros | null;
  /** The Ready condition and its lastTransitionTime. */
  ready: boolean;
  readyChangedAt: Micros;
  /** deletionTimestamp set. */
  deleting: boolean;
}

export interface ResourceReplicasInput {
  now: Micros;
  currentReplicas: number;
  targetUtilization: number;
  /** Per-pod request (millicores), the same for every pod of the template. */
  requestMilli: number;
  pods: readonly PodStatus[];
  /** The metrics API's answer; pods absent from it are "missing". */
  metrics: ReadonlyMap<string, PodMetric>;
  flags: Pick<HpaControllerFlags, 'tolerance' | 'cpuInitializationPeriodUs' | 'initialReadinessDelayUs'>;
}

export type ResourceReplicas =
  | {
    ok: true;
    replicas: number;
    /** Average utilisation (integer percent of the request) over the pods with usable metrics, before any fill-in. */
    utilisation: number;
    readyPods: number;
    unreadyPods: number;
    missingPods: number;
    ignoredPods: number;
  }
  | { ok: false; error: string };

interface Groups {
  readyPodCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/**
 * replica_calculator.go `groupPods` for the `cpu` resource:
 * - deleted or failed pods are ignored (the model has no Failed phase);
 * - Pending pods are unready;
 * - pods without a metric are missing;
 * - within cpu-initialization-period of the start, a pod is unready if not Ready, or if its metric
 *   window began before it became Ready (`metric.Timestamp.Before(LastTransitionTime + Window)`);
 * - after it, only a pod that is not Ready and whose readiness last changed within
 *   initial-readiness-delay of its start (it never became Ready) is unready: a pod that was Ready
 *   and failed later counts with its metric.
 */
function groupPods(input: ResourceReplicasInput): Groups {
  const { now, flags, metrics } = input;
  const groups: Groups = { readyPodCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of input.pods) {
    if (pod.deleting) {
      groups.ignored.add(pod.name);
      continue;
    }
    if (pod.startedAt === null) {
      groups.unready.add(pod.name);
      continue;
    }
    const metric = metrics.get(pod.name);
    if (metric === undefined) {
      groups.missing.add(pod.name);
      continue;
    }
    const unready = pod.startedAt + flags.cpuInitializationPeriodUs > now
      ? !pod.ready || metric.timestamp < pod.readyChangedAt + metric.windowUs
      : !pod.ready && pod.startedAt + flags.initialReadinessDelayUs > pod.readyChangedAt;
    if (unready) groups.unready.add(pod.name);
    else groups.readyPodCount++;
  }
  return groups;
}

/**
 * metrics/utilization.go `GetResourceUtilizationRatio`: utilisation is the integer percent
 * `sum(usage) * 100 / sum(requests)` (int64 division) over the pods that have both a metric and a
 * request; the ratio is that integer over the target.
 */
function utilisationRatio(values: ReadonlyMap<string, number>, requests: ReadonlyMap<string, number>, target: number): { ratio: number; utilisation: number } | null {
  let metricsTotal = 0;
  let requestsTotal = 0;
  for (const [pod, value] of values) {
    const request = requests.get(pod);
    if (request === undefined) continue;
    metricsTotal += value;
    requestsTotal += request;
  }
  if (requestsTotal === 0) return null;
  const utilisation = Math.floor((metricsTotal * 100) / requestsTotal);
  return { ratio: utilisation / target, utilisation };
}

/** replica_calculator.go `Tolerances.isWithin` with the flag's tolerance for both directions. */
function isWithin(ratio: number, tolerance: number): boolean {
  return 1.0 - tolerance <= ratio && ratio <= 1.0 + tolerance;
}

/** replica_calculator.go `GetResourceReplicas` (after the metrics fetch, which the caller did). */
export function getResourceReplicas(input: ResourceReplicasInput): ResourceReplicas {
  const { currentReplicas, targetUtilization, flags } = input;
  if (input.pods.length === 0) return { ok: false, error: 'no pods returned by selector while calculating replica count' };
  const groups = groupPods(input);
  // removeMetricsForPods(ignored), removeMetricsForPods(unready): a mutable copy of the metrics.
  const values = new Map<string, number>();
  for (const [pod, metric] of input.metrics) {
    if (!groups.ignored.has(pod) && !groups.unready.has(pod)) values.set(pod, metric.milli);
  }
  if (values.size === 0) return { ok: false, error: 'did not receive metrics for targeted pods (pods might be unready)' };
  const requests = new Map<string, number>();
  for (const pod of input.pods) requests.set(pod.name, input.requestMilli);

  const first = utilisationRatio(values, requests, targetUtilization);
  if (first === null) return { ok: false, error: 'no metrics returned matched known pods' };
  const { ratio: usageRatio, utilisation } = first;
  const result = (replicas: number): ResourceReplicas => ({
    ok: true, replicas, utilisation,
    readyPods: groups.readyPodCount, unreadyPods: groups.unready.size, missingPods: groups.missing.size, ignoredPods: groups.ignored.size,
  });

  const scaleUpWithUnready = groups.unready.size > 0 && usageRatio > 1.0;
  if (!scaleUpWithUnready && groups.missing.size === 0) {
    if (isWithin(usageRatio, flags.tolerance)) return result(currentReplicas);
    return result(Math.ceil(usageRatio * groups.readyPodCount));
  }

  if (groups.missing.size > 0) {
    if (usageRatio < 1.0) {
      // Scale-down: a missing pod counts as using 100% of its request (or the target, when above 100%).
      const fallbackUtilization = Math.max(100, targetUtilization);
      for (const pod of groups.missing) values.set(pod, Math.floor((input.requestMilli * fallbackUtilization) / 100));
    } else if (usageRatio > 1.0) {
      // Scale-up: a missing pod counts as using nothing.
      for (const pod of groups.missing) values.set(pod, 0);
    }
  }
  // Scale-up: unready pods count as using nothing.
  if (scaleUpWithUnready) for (const pod of groups.unready) values.set(pod, 0);

  const second = utilisationRatio(values, requests, targetUtilization);
  if (second === null) return { ok: false, error: 'no metrics returned matched known pods' };
  const newUsageRatio = second.ratio;
  // No change if the recomputed ratio is within tolerance or reverses the direction.
  if (isWithin(newUsageRatio, flags.tolerance) || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0)) {
    return result(currentReplicas);
  }
  const newReplicas = Math.ceil(newUsageRatio * values.size);
  // Nor if counting the filled-in pods turns a scale-down into growth (or the reverse).
  if ((newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas)) {
    return result(currentReplicas);
  }
  return result(newReplicas);
}
