import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { EMPTY_HISTORY } from './behavior.ts';
import { DEFAULT_HPA_CONTROLLER_FLAGS, type HpaSpec } from './config.ts';
import { reconcileAutoscaler } from './reconcile.ts';
import { getResourceReplicas, type PodStatus } from './replica-calculator.ts';
import type { PodMetric } from './types.ts';

/**
 * The examples of the Kubernetes documentation, "Horizontal Pod Autoscaling", section "Algorithm
 * details" (kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/#algorithm-details),
 * checked against replica_calculator.go `GetResourceReplicas` as modelled.
 */

const NOW: Micros = 30 * MINUTE;
const REQUEST = 200;
const flags = DEFAULT_HPA_CONTROLLER_FLAGS;

/** A pod started long ago and Ready since then. */
function running(name: string): PodStatus {
  return { name, startedAt: 0, ready: true, readyChangedAt: 10 * SECOND, deleting: false };
}

function metric(milli: number): PodMetric {
  return { milli, timestamp: NOW - 5 * SECOND, windowUs: 15 * SECOND };
}

/** Pods `p0..` with the given CPU (millicores), `null` for a pod without a metric. */
function pods(usage: (number | null)[]): { pods: PodStatus[]; metrics: Map<string, PodMetric> } {
  const list = usage.map((_, i) => running(`p${i}`));
  const metrics = new Map<string, PodMetric>();
  usage.forEach((m, i) => {
    if (m !== null) metrics.set(`p${i}`, metric(m));
  });
  return { pods: list, metrics };
}

function replicas(usage: (number | null)[], target: number, currentReplicas = usage.length) {
  return getResourceReplicas({ now: NOW, currentReplicas, targetUtilization: target, requestMilli: REQUEST, flags, ...pods(usage) });
}

describe('replica calculation (docs: Algorithm details)', () => {
  test('200m against a 100m target doubles the replicas; 50m halves them', () => {
    // Docs: a current value of 200m against a desired 100m doubles the replicas (ratio 2.0).
    // With a 200m request, a 100m target is 50%.
    expect(replicas([200, 200, 200], 50)).toMatchObject({ ok: true, replicas: 6, utilisation: 100 });
    // Docs: 50m against 100m halves them (ratio 0.5).
    expect(replicas([50, 50, 50, 50], 50)).toMatchObject({ ok: true, replicas: 2, utilisation: 25 });
  });

  test('no scaling while the ratio is within the 0.1 tolerance (inclusive)', () => {
    // Docs: no scaling when the ratio is close enough to 1.0, within the tolerance (0.1 by default).
    expect(replicas([110, 110, 110], 50)).toMatchObject({ replicas: 3, utilisation: 55 }); // 1.1
    expect(replicas([90, 90, 90], 50)).toMatchObject({ replicas: 3, utilisation: 45 }); // 0.9
    expect(replicas([112, 112, 112], 50)).toMatchObject({ replicas: 4, utilisation: 56 }); // 1.12
    expect(replicas([88, 88, 88], 50)).toMatchObject({ replicas: 3, utilisation: 44 }); // 0.88: ceil(2.64)
  });

  test('utilisation is an integer percent of the summed requests', () => {
    // utilization.go GetResourceUtilizationRatio: (sum usage × 100) / sum requests, truncated.
    expect(replicas([161, 0], 80)).toMatchObject({ utilisation: 40 });
  });

  test('missing metrics count as 100% on a scale-down', () => {
    // Docs: pods without metrics are assumed to use 100% of the desired value when scaling down.
    // 3 pods at 10%, 1 missing, target 50%: without
    // the rule ceil(0.2 × 3) = 1; with it (3 × 20m + 200m) / 800m = 32% → ceil(0.64 × 4) = 3.
    expect(replicas([20, 20, 20, null], 50)).toMatchObject({ ok: true, replicas: 3, utilisation: 10, missingPods: 1 });
  });

  test('missing metrics count as 0% on a scale-up, and no change when that brings the ratio within tolerance', () => {
    // Docs: ... and 0% when scaling up; no action if the recomputed ratio is within tolerance.
    // 2 pods at 100%, 2 missing, target 50%: 400m / 800m = 50%, ratio 1.0.
    expect(replicas([200, 200, null, null], 50)).toMatchObject({ replicas: 4, utilisation: 100, missingPods: 2 });
    // 3 at 100% and 1 missing: 600m / 800m = 75% → ceil(1.5 × 4) = 6.
    expect(replicas([200, 200, 200, null], 50)).toMatchObject({ replicas: 6 });
  });

  test('no change when filling in missing pods reverses the direction', () => {
    // Docs: no action if the recomputed ratio reverses the direction.
    // 1 pod at 40% (ratio 0.8, down), 3 missing at 100%: 85% → 1.7, up.
    expect(replicas([80, null, null, null], 50)).toMatchObject({ replicas: 4, utilisation: 40 });
  });

  test('not-yet-ready pods count as 0% on a scale-up and are set aside on a scale-down', () => {
    const ready = [running('a'), running('b'), running('c')];
    // Started 40 s ago, not Ready yet: within the CPU initialization period.
    const starting: PodStatus = { name: 'new', startedAt: NOW - 40 * SECOND, ready: false, readyChangedAt: NOW - 40 * SECOND, deleting: false };
    const calc = (usage: number, startupSpike: number) => getResourceReplicas({
      now: NOW, currentReplicas: 4, targetUtilization: 50, requestMilli: REQUEST, flags,
      pods: [...ready, starting],
      metrics: new Map([['a', metric(usage)], ['b', metric(usage)], ['c', metric(usage)], ['new', metric(startupSpike)]]),
    });
    // Scale-up: (3 × 200m + 0) / 800m = 75% → ceil(1.5 × 4) = 6, not ceil(2 × 4) = 8.
    expect(calc(200, 200)).toMatchObject({ replicas: 6, utilisation: 100, unreadyPods: 1, readyPods: 3 });
    // Scale-down: the starting pod's spike is ignored and it is not counted: ceil(0.2 × 3) = 1.
    expect(calc(20, 1000)).toMatchObject({ replicas: 1, utilisation: 10, unreadyPods: 1, readyPods: 3 });
  });

  test('Ready pods whose metric window began before they became Ready are set aside during the initialization period', () => {
    // Docs: with CPU, a pod not yet ready, or whose latest metric point predates its readiness,
    // is set aside.
    const justReady: PodStatus = { name: 'x', startedAt: NOW - MINUTE, ready: true, readyChangedAt: NOW - 20 * SECOND, deleting: false };
    const early = { milli: 600, timestamp: NOW - 10 * SECOND, windowUs: 15 * SECOND }; // window from NOW-25 s
    const late = { milli: 600, timestamp: NOW, windowUs: 15 * SECOND }; // window from NOW-15 s
    const calc = (m: PodMetric) => getResourceReplicas({
      now: NOW, currentReplicas: 2, targetUtilization: 50, requestMilli: REQUEST, flags,
      pods: [running('a'), justReady], metrics: new Map([['a', metric(100)], ['x', m]]),
    });
    expect(calc(early)).toMatchObject({ unreadyPods: 1, replicas: 2 });
    expect(calc(late)).toMatchObject({ unreadyPods: 0, readyPods: 2, utilisation: 175 });
  });

  test('after the initialization period, only pods that never became Ready are set aside', () => {
    // Docs: the first readiness cannot be known exactly, so an unready pod counts as "not yet
    // ready" when its readiness changed within --horizontal-pod-autoscaler-initial-readiness-delay
    // (30 s) of its start.
    const neverReady: PodStatus = { name: 'n', startedAt: 0, ready: false, readyChangedAt: 10 * SECOND, deleting: false };
    const failedLater: PodStatus = { name: 'f', startedAt: 0, ready: false, readyChangedAt: 10 * MINUTE, deleting: false };
    const calc = (pod: PodStatus) => getResourceReplicas({
      now: NOW, currentReplicas: 2, targetUtilization: 50, requestMilli: REQUEST, flags,
      pods: [running('a'), pod], metrics: new Map([['a', metric(20)], [pod.name, metric(20)]]),
    });
    expect(calc(neverReady)).toMatchObject({ unreadyPods: 1, readyPods: 1 });
    expect(calc(failedLater)).toMatchObject({ unreadyPods: 0, readyPods: 2 });
  });

  test('pods being deleted are discarded, Pending pods are unready', () => {
    // Docs: pods being deleted (deletion timestamp set) and failed pods are discarded.
    const deleting: PodStatus = { ...running('d'), deleting: true };
    const pending: PodStatus = { name: 'q', startedAt: null, ready: false, readyChangedAt: NOW, deleting: false };
    const r = getResourceReplicas({
      now: NOW, currentReplicas: 4, targetUtilization: 50, requestMilli: REQUEST, flags,
      pods: [running('a'), running('b'), deleting, pending],
      metrics: new Map([['a', metric(50)], ['b', metric(50)], ['d', metric(1000)]]),
    });
    expect(r).toMatchObject({ ok: true, utilisation: 25, replicas: 1, ignoredPods: 1, unreadyPods: 1 });
  });

  test('no usable metric is an error', () => {
    expect(replicas([null, null], 50)).toEqual({ ok: false, error: 'did not receive metrics for targeted pods (pods might be unready)' });
  });
});

describe('reconcileAutoscaler', () => {
  const spec: HpaSpec = { minReplicas: 2, maxReplicas: 10, targetCPUUtilizationPercentage: 50, cpuRequestMilli: REQUEST, behavior: null };
  const input = (usage: (number | null)[]) => ({ now: NOW, currentReplicas: usage.length, ...pods(usage), spec, flags, history: EMPTY_HISTORY });

  test('a metrics error keeps the replicas and sets ScalingActive false (FailedGetResourceMetric)', () => {
    const r = reconcileAutoscaler({ ...input([400, 400]), metrics: { ok: false, error: 'no metrics returned from resource metrics API' } });
    expect(r).toMatchObject({ rescale: false, desiredReplicas: 2, proposal: null, scalingActive: { active: false, reason: 'FailedGetResourceMetric' } });
    expect(r.error).toBe('failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API');
    // Only the initial recommendation (the current size) is remembered.
    expect(r.history.recommendations).toEqual([{ recommendation: 2, timestamp: NOW }]);
  });

  test('a valid metric scales, clamped to [min, max], with the controller\'s reason', () => {
    const { pods: list, metrics } = pods([1000, 1000]);
    const r = reconcileAutoscaler({ ...input([1000, 1000]), pods: list, metrics: { ok: true, pods: metrics } });
    // 500% of a 50% target: ceil(10 × 2) = 20; a behavior-less HPA adds at most max(2 × 2, 4).
    expect(r).toMatchObject({ rescale: true, desiredReplicas: 4, reason: 'cpu resource utilization (percentage of request) above target' });
    expect(r.proposal).toMatchObject({ replicas: 20, utilisation: 500 });
  });

  test('replicas outside [min, max] are brought back without metrics', () => {
    const r = reconcileAutoscaler({ ...input([]), currentReplicas: 12, metrics: { ok: false, error: 'down' } });
    expect(r).toMatchObject({ rescale: true, desiredReplicas: 10, reason: 'Current number of replicas above Spec.MaxReplicas' });
  });
});
