import { describe, expect, test } from 'vitest';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import {
  EMPTY_HISTORY,
  normalizeDesiredReplicas,
  normalizeDesiredReplicasWithBehaviors,
  recordInitialRecommendation,
  storeScaleEvent,
  type HpaHistory,
} from './behavior.ts';
import { DEFAULT_HPA_CONTROLLER_FLAGS, resolveBehavior, type HorizontalPodAutoscalerBehavior, type ResolvedBehavior } from './config.ts';

/**
 * The examples of the Kubernetes documentation, "Horizontal Pod Autoscaling", section
 * "Configurable scaling behavior" (kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/#configurable-scaling-behavior):
 * "Scaling policies", "Stabilization window", "Default Behavior" and the examples after it.
 */

const flags = DEFAULT_HPA_CONTROLLER_FLAGS;

/**
 * Runs the controller's normalisation once per step, `stepUs` apart from t = 0 (where the first
 * sync remembers the current size), with a constant metric proposal, applying and remembering
 * each rescale as reconcileAutoscaler does; returns the sizes.
 */
function run(behavior: HorizontalPodAutoscalerBehavior, from: number, proposal: number, steps: number, stepUs: Micros, min = 1, max = 100): number[] {
  const resolved: ResolvedBehavior = resolveBehavior(behavior, flags);
  let history: HpaHistory = recordInitialRecommendation(EMPTY_HISTORY, from, 0);
  let current = from;
  const sizes = [current];
  for (let i = 1; i <= steps; i++) {
    const now = i * stepUs;
    const n = normalizeDesiredReplicasWithBehaviors(history, now, current, proposal, min, max, resolved);
    history = { ...history, recommendations: n.recommendations };
    if (n.desiredReplicas !== current) {
      history = storeScaleEvent(history, resolved, current, n.desiredReplicas, now);
      current = n.desiredReplicas;
    }
    sizes.push(current);
  }
  return sizes;
}

describe('scaling policies (docs: Scaling policies)', () => {
  // scaleDown: Pods 4 per 60 s and Percent 10 per 60 s; selectPolicy defaults to Max (the policy
  // allowing the largest change). No window, to see the policies alone.
  const behavior: HorizontalPodAutoscalerBehavior = {
    scaleDown: {
      stabilizationWindowSeconds: 0,
      policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }, { type: 'Percent', value: 10, periodSeconds: 60 }],
    },
  };

  test('80 replicas scaled down towards 10: 8, then 8 again (10% of 72 is 7.2, rounded up), 4 at a time below 40', () => {
    // Docs: from 80 replicas towards 10, the first step removes 8 (10%); at 72, 10% is 7.2,
    // rounded up to 8; below 40 replicas the Pods policy is the larger and 4 go at a time.
    const sizes = run(behavior, 80, 10, 14, 60 * SECOND);
    expect(sizes.slice(0, 3)).toEqual([80, 72, 64]);
    const below40 = sizes.slice(sizes.indexOf(40));
    expect(below40).toEqual([40, 36, 32, 28, 24, 20, 16, 12, 10]);
  });

  test('a period\'s allowance is spent by the changes within it', () => {
    // Synced every 15 s: one step per 60 s period, whatever the number of syncs in between.
    const sizes = run(behavior, 80, 10, 8, 15 * SECOND);
    expect(sizes).toEqual([80, 72, 72, 72, 72, 64, 64, 64, 64]);
  });

  test('selectPolicy Min picks the smallest change; Disabled turns the direction off', () => {
    // Docs, "Example: limit scale down rate": Percent 10 and Pods 5 per 60 s with selectPolicy Min
    // removes at most 5 pods per minute.
    const min = run({ scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Min', policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }, { type: 'Pods', value: 5, periodSeconds: 60 }] } }, 100, 10, 2, 60 * SECOND);
    expect(min).toEqual([100, 95, 90]);
    // Docs, "Example: disable scale down": selectPolicy Disabled.
    expect(run({ scaleDown: { selectPolicy: 'Disabled' } }, 10, 1, 40, 15 * SECOND).at(-1)).toBe(10);
  });
});

describe('stabilization window (docs: Stabilization window)', () => {
  test('a scale-down takes the highest recommendation of the last 300 s', () => {
    // Docs: to scale down, the controller looks at the desired states computed within the window
    // and takes the highest.
    const resolved = resolveBehavior({ scaleDown: { stabilizationWindowSeconds: 300 } }, flags);
    let history: HpaHistory = EMPTY_HISTORY;
    const step = (now: Micros, proposal: number) => {
      const n = normalizeDesiredReplicasWithBehaviors(history, now, 10, proposal, 1, 100, resolved);
      history = { ...history, recommendations: n.recommendations };
      return n;
    };
    expect(step(0, 10).desiredReplicas).toBe(10);
    expect(step(60 * SECOND, 8).desiredReplicas).toBe(10);
    expect(step(120 * SECOND, 5)).toMatchObject({ desiredReplicas: 10, stabilization: 'ScaleDownStabilized' });
    // At 300 s the first recommendation is exactly one window old: out (`After(cutoff)`).
    expect(step(300 * SECOND, 4).desiredReplicas).toBe(8);
    expect(step(361 * SECOND, 4).desiredReplicas).toBe(5);
    expect(step(421 * SECOND, 4).desiredReplicas).toBe(4);
  });

  test('a scale-up window takes the lowest recommendation', () => {
    const resolved = resolveBehavior({ scaleUp: { stabilizationWindowSeconds: 60 } }, flags);
    let history: HpaHistory = EMPTY_HISTORY;
    const step = (now: Micros, proposal: number) => {
      const n = normalizeDesiredReplicasWithBehaviors(history, now, 2, proposal, 1, 100, resolved);
      history = { ...history, recommendations: n.recommendations };
      return n.desiredReplicas;
    };
    expect(step(0, 2)).toBe(2);
    expect(step(30 * SECOND, 6)).toBe(2);
    expect(step(61 * SECOND, 6)).toBe(6);
  });
});

describe('default behavior (docs: Default Behavior)', () => {
  test('a behavior block without rules gets the defaults: +100% or +4 pods per 15 s, whichever is more', () => {
    // Docs: no scale-up window; two policies, at most 4 pods or 100% of the running replicas
    // added every 15 s, whichever allows more.
    expect(resolveBehavior({}, flags)).toEqual({
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
      scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    });
    expect(run({}, 1, 40, 3, 15 * SECOND)).toEqual([1, 5, 10, 20]);
    expect(run({}, 2, 10, 1, 15 * SECOND)).toEqual([2, 6]);
  });

  test('the default scale-down: held for 300 s, then straight to the proposal', () => {
    // Docs: a 300 s scale-down window and one policy allowing 100% of the replicas to go.
    const sizes = run({}, 10, 2, 22, 15 * SECOND);
    // The remembered size (10, at 0 s) leaves the window when it is 300 s old (`After(cutoff)`).
    expect(sizes.indexOf(2)).toBe(20);
    expect(sizes.slice(19)).toEqual([10, 2, 2, 2]);
  });

  test('an HPA without a behavior takes the older path: max(2 × current, 4) per sync', () => {
    // horizontal.go normalizeDesiredReplicas / calculateScaleUpLimit: from 2, at most 4 (the
    // default policies would allow 6).
    let recs = EMPTY_HISTORY.recommendations;
    const sizes = [2];
    for (let i = 1; i <= 3; i++) {
      const n = normalizeDesiredReplicas({ ...EMPTY_HISTORY, recommendations: recs }, i * 15 * SECOND, sizes.at(-1)!, 20, 2, 10, flags.downscaleStabilizationUs);
      recs = n.recommendations;
      sizes.push(n.desiredReplicas);
    }
    expect(sizes).toEqual([2, 4, 8, 10]);
  });
});
