import type { Micros } from '../../../sim-cluster/index.ts';

/**
 * The cluster as the HorizontalPodAutoscaler and the metrics-server see it. The wiring adapts the
 * simulated cluster to these interfaces; the HPA modules know nothing else about it.
 *
 * Every instant here is read on one clock, the one the controller's `now` comes from: the model
 * does not separate the kubelet's clock (which stamps StartTime, the Ready condition and metric
 * points) from kube-controller-manager's (`time.Now()` in the controller).
 */

/** Cumulative CPU time a pod's container has used, in µs of CPU (like cAdvisor's usage counter). */
export interface CpuCounter {
  /**
   * The counter at `now`: non-decreasing, and 0 at the container's start (cAdvisor counts from
   * it; the metrics-server's fresh-container rule relies on that, pkg/storage/pod.go `Store`).
   */
  cpuUsageUs(now: Micros): number;
}

export interface ScaledPod {
  name: string;
  /**
   * Container start instant (µs), or null when not started (the pod is Pending). Stands for the
   * pod's `status.startTime`, which the real kubelet sets slightly earlier (before image pulls).
   */
  startedAt: Micros | null;
  /** Whether the pod is Ready, and since when its readiness last changed (the Ready condition's lastTransitionTime). */
  ready: boolean;
  readyChangedAt: Micros;
  /** Marked for deletion (deletionTimestamp set): ignored by the HPA. */
  deleting: boolean;
  cpu: CpuCounter;
}

export interface ScaleTarget {
  /** The Deployment's spec.replicas. */
  replicas(): number;
  /** The pods its selector matches (the HPA's pod lister), including Pending and terminating ones. */
  pods(): ScaledPod[];
  /** Write spec.replicas (the Deployment controller creates or deletes pods). */
  scale(replicas: number): void;
}

/**
 * One pod's CPU metric as the resource metrics API returns it to the HPA
 * (pkg/controller/podautoscaler/metrics/client.go `getPodMetrics`): the usage rate over
 * `[timestamp - window, timestamp]`, in millicores (Quantity.MilliValue).
 */
export interface PodMetric {
  milli: number;
  timestamp: Micros;
  windowUs: Micros;
}

/**
 * The outcome of `GetResourceMetric` (metrics/client.go): the pods' metrics, or the error that
 * makes the HPA skip the sync (the API did not answer, or answered an empty list).
 */
export type ResourceMetrics =
  | { ok: true; pods: ReadonlyMap<string, PodMetric> }
  | { ok: false; error: string };
