import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import type { ResolvedBehavior, ResolvedScalingRules } from './config.ts';

/**
 * Stabilisation and rate limits of a replica proposal: kubernetes/kubernetes
 * pkg/controller/podautoscaler/horizontal.go, the `normalizeDesiredReplicas*` family. Pure: the
 * controller's per-HPA memory (its `recommendations`, `scaleUpEvents` and `scaleDownEvents` maps)
 * is an `HpaHistory` value passed in and returned.
 *
 * Go's `time.Before`/`After` are strict; the comparisons below keep that, because a sync period
 * that divides a window lands exactly on its edge.
 */

export interface TimestampedRecommendation {
  recommendation: number;
  timestamp: Micros;
}

export interface TimestampedScaleEvent {
  /** Absolute replica change, non-negative. */
  replicaChange: number;
  timestamp: Micros;
  /** Older than the longest policy period: its slot may be reused (`markScaleEventsOutdated`). */
  outdated: boolean;
}

/** The controller's memory of one HPA (lost when kube-controller-manager restarts). */
export interface HpaHistory {
  /** Unstabilised recommendations, one slot per sync, slots older than every window reused. */
  recommendations: readonly TimestampedRecommendation[];
  scaleUpEvents: readonly TimestampedScaleEvent[];
  scaleDownEvents: readonly TimestampedScaleEvent[];
}

export const EMPTY_HISTORY: HpaHistory = Object.freeze({ recommendations: [], scaleUpEvents: [], scaleDownEvents: [] });

export interface Normalized {
  desiredReplicas: number;
  /** The AbleToScale reason of the stabilisation (`ReadyForNewScale`, `ScaleUpStabilized`, `ScaleDownStabilized`). */
  stabilization: string;
  /** The ScalingLimited reason of the limits (`DesiredWithinRange`, `ScaleUpLimit`, `TooManyReplicas`, ...). */
  limit: string;
  recommendations: readonly TimestampedRecommendation[];
}

/** Replaces the last slot that is old for every window, or appends: Go's `foundOldSample`/`oldSampleIndex`. */
function recordRecommendation(recs: readonly TimestampedRecommendation[], oldIndex: number, rec: TimestampedRecommendation): TimestampedRecommendation[] {
  const next = recs.slice();
  if (oldIndex >= 0) next[oldIndex] = rec;
  else next.push(rec);
  return next;
}

/** horizontal.go `recordInitialRecommendation`: the first sync remembers the current size. */
export function recordInitialRecommendation(history: HpaHistory, currentReplicas: number, now: Micros): HpaHistory {
  if (history.recommendations.length > 0) return history;
  return { ...history, recommendations: [{ recommendation: currentReplicas, timestamp: now }] };
}

// ---- behavior-less HPA ------------------------------------------------------------------------

/**
 * horizontal.go `stabilizeRecommendation`: the largest recommendation not older than the window
 * (`!Before(cutoff)`: a recommendation exactly one window old still counts).
 */
function stabilizeRecommendation(recs: readonly TimestampedRecommendation[], prenormalized: number, now: Micros, windowUs: Micros): { value: number; recs: TimestampedRecommendation[] } {
  let maxRecommendation = prenormalized;
  let oldIndex = -1;
  const cutoff = now - windowUs;
  recs.forEach((rec, i) => {
    if (rec.timestamp < cutoff) oldIndex = i;
    else if (rec.recommendation > maxRecommendation) maxRecommendation = rec.recommendation;
  });
  return { value: maxRecommendation, recs: recordRecommendation(recs, oldIndex, { recommendation: prenormalized, timestamp: now }) };
}

/** horizontal.go `calculateScaleUpLimit`: max(2 × current, 4). */
function calculateScaleUpLimit(currentReplicas: number): number {
  return Math.trunc(Math.max(2.0 * currentReplicas, 4.0));
}

/** horizontal.go `convertDesiredReplicasWithRules`: min first, then the lower of max and the scale-up limit. */
function convertDesiredReplicasWithRules(current: number, desired: number, min: number, max: number): { value: number; limit: string } {
  const scaleUpLimit = calculateScaleUpLimit(current);
  const limited = max > scaleUpLimit;
  const maximumAllowed = limited ? scaleUpLimit : max;
  if (desired < min) return { value: min, limit: 'TooFewReplicas' };
  if (desired > maximumAllowed) return { value: maximumAllowed, limit: limited ? 'ScaleUpLimit' : 'TooManyReplicas' };
  return { value: desired, limit: 'DesiredWithinRange' };
}

/** horizontal.go `normalizeDesiredReplicas`, for an HPA whose spec has no behavior. */
export function normalizeDesiredReplicas(
  history: HpaHistory, now: Micros, current: number, prenormalized: number, min: number, max: number, downscaleStabilizationUs: Micros,
): Normalized {
  const stabilized = stabilizeRecommendation(history.recommendations, prenormalized, now, downscaleStabilizationUs);
  const converted = convertDesiredReplicasWithRules(current, stabilized.value, min, max);
  return {
    desiredReplicas: converted.value,
    stabilization: stabilized.value !== prenormalized ? 'ScaleDownStabilized' : 'ReadyForNewScale',
    limit: converted.limit,
    recommendations: stabilized.recs,
  };
}

// ---- behavior ---------------------------------------------------------------------------------

/**
 * horizontal.go `stabilizeRecommendationWithBehaviors`: the current size brought within
 * [min of the recommendations in the scale-up window, max of those in the scale-down window]
 * (each including the new proposal; `After(cutoff)`: a recommendation exactly one window old is out).
 */
function stabilizeRecommendationWithBehaviors(
  recs: readonly TimestampedRecommendation[], now: Micros, current: number, desired: number, behavior: ResolvedBehavior,
): { value: number; reason: string; recs: TimestampedRecommendation[] } {
  let upRecommendation = desired;
  const upCutoff = now - behavior.scaleUp.stabilizationWindowSeconds * SECOND;
  let downRecommendation = desired;
  const downCutoff = now - behavior.scaleDown.stabilizationWindowSeconds * SECOND;
  let oldIndex = -1;
  recs.forEach((rec, i) => {
    if (rec.timestamp > upCutoff) upRecommendation = Math.min(rec.recommendation, upRecommendation);
    if (rec.timestamp > downCutoff) downRecommendation = Math.max(rec.recommendation, downRecommendation);
    if (rec.timestamp < upCutoff && rec.timestamp < downCutoff) oldIndex = i;
  });
  let recommendation = current;
  if (recommendation < upRecommendation) recommendation = upRecommendation;
  if (recommendation > downRecommendation) recommendation = downRecommendation;
  return {
    value: recommendation,
    reason: desired >= current ? 'ScaleUpStabilized' : 'ScaleDownStabilized',
    recs: recordRecommendation(recs, oldIndex, { recommendation: desired, timestamp: now }),
  };
}

/** horizontal.go `getReplicasChangePerPeriod`: the replicas changed by events newer than one period (`After(cutoff)`). */
export function getReplicasChangePerPeriod(periodSeconds: number, events: readonly TimestampedScaleEvent[], now: Micros): number {
  const cutoff = now - periodSeconds * SECOND;
  let replicas = 0;
  for (const e of events) if (e.timestamp > cutoff) replicas += e.replicaChange;
  return replicas;
}

/**
 * horizontal.go `calculateScaleUpLimitWithScalingRules`: per policy, the size at the start of its
 * period (current − added + removed within it) plus the policy's allowance (Percent rounded up);
 * Max takes the largest, Min the smallest; Disabled allows nothing.
 */
function calculateScaleUpLimitWithScalingRules(current: number, history: HpaHistory, rules: ResolvedScalingRules, now: Micros): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pickMin = rules.selectPolicy === 'Min';
  let result = pickMin ? 2 ** 31 - 1 : -(2 ** 31);
  for (const policy of rules.policies) {
    const added = getReplicasChangePerPeriod(policy.periodSeconds, history.scaleUpEvents, now);
    const deleted = getReplicasChangePerPeriod(policy.periodSeconds, history.scaleDownEvents, now);
    const periodStartReplicas = current - added + deleted;
    const proposed = policy.type === 'Pods'
      ? periodStartReplicas + policy.value
      : Math.ceil(periodStartReplicas * (1 + policy.value / 100));
    result = pickMin ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/**
 * horizontal.go `calculateScaleDownLimitWithBehaviors`: per policy, the period's start size minus
 * the allowance (Percent: `int32(start × (1 − value/100))`, truncated); Max (the default) takes the
 * smallest size, i.e. the largest change, Min the largest size; Disabled allows nothing.
 */
function calculateScaleDownLimitWithBehaviors(current: number, history: HpaHistory, rules: ResolvedScalingRules, now: Micros): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pickLargestSize = rules.selectPolicy === 'Min';
  let result = pickLargestSize ? -(2 ** 31) : 2 ** 31 - 1;
  for (const policy of rules.policies) {
    const added = getReplicasChangePerPeriod(policy.periodSeconds, history.scaleUpEvents, now);
    const deleted = getReplicasChangePerPeriod(policy.periodSeconds, history.scaleDownEvents, now);
    const periodStartReplicas = current - added + deleted;
    const proposed = policy.type === 'Pods'
      ? periodStartReplicas - policy.value
      : Math.trunc(periodStartReplicas * (1 - policy.value / 100));
    result = pickLargestSize ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/** horizontal.go `convertDesiredReplicasWithBehaviorRate`: the rate limits, then min/max. */
function convertDesiredReplicasWithBehaviorRate(
  history: HpaHistory, now: Micros, current: number, desired: number, min: number, max: number, behavior: ResolvedBehavior,
): { value: number; limit: string } {
  if (desired > current) {
    // A limit below the current size (events still in their period) holds the size.
    const scaleUpLimit = Math.max(calculateScaleUpLimitWithScalingRules(current, history, behavior.scaleUp, now), current);
    const limited = max > scaleUpLimit;
    const maximumAllowed = limited ? scaleUpLimit : max;
    if (desired > maximumAllowed) return { value: maximumAllowed, limit: limited ? 'ScaleUpLimit' : 'TooManyReplicas' };
  } else if (desired < current) {
    const scaleDownLimit = Math.min(calculateScaleDownLimitWithBehaviors(current, history, behavior.scaleDown, now), current);
    const limited = min < scaleDownLimit;
    const minimumAllowed = limited ? scaleDownLimit : min;
    if (desired < minimumAllowed) return { value: minimumAllowed, limit: limited ? 'ScaleDownLimit' : 'TooFewReplicas' };
  }
  return { value: desired, limit: 'DesiredWithinRange' };
}

/**
 * horizontal.go `normalizeDesiredReplicasWithBehaviors`: stabilise over the windows, then apply
 * the policies' rates and [min, max].
 */
export function normalizeDesiredReplicasWithBehaviors(
  history: HpaHistory, now: Micros, current: number, prenormalized: number, min: number, max: number, behavior: ResolvedBehavior,
): Normalized {
  const stabilized = stabilizeRecommendationWithBehaviors(history.recommendations, now, current, prenormalized, behavior);
  const converted = convertDesiredReplicasWithBehaviorRate(history, now, current, stabilized.value, min, max, behavior);
  return {
    desiredReplicas: converted.value,
    stabilization: stabilized.value !== prenormalized ? stabilized.reason : 'ReadyForNewScale',
    limit: converted.limit,
    recommendations: stabilized.recs,
  };
}

/** horizontal.go `getLongestPolicyPeriod`. */
function getLongestPolicyPeriod(rules: ResolvedScalingRules): number {
  let longest = 0;
  for (const policy of rules.policies) if (policy.periodSeconds > longest) longest = policy.periodSeconds;
  return longest;
}

/** horizontal.go `markScaleEventsOutdated` then the slot reuse of `storeScaleEvent`. */
function storeEvent(events: readonly TimestampedScaleEvent[], longestPolicyPeriod: number, replicaChange: number, now: Micros): TimestampedScaleEvent[] {
  const cutoff = now - longestPolicyPeriod * SECOND;
  const next = events.map((e) => (e.timestamp < cutoff ? { ...e, outdated: true } : e));
  const oldIndex = next.findLastIndex((e) => e.outdated);
  const event: TimestampedScaleEvent = { replicaChange, timestamp: now, outdated: false };
  if (oldIndex >= 0) next[oldIndex] = event;
  else next.push(event);
  return next;
}

/**
 * horizontal.go `storeScaleEvent`: a rescale is remembered for the rate limits; a behavior-less
 * HPA keeps none ("they will not be used").
 */
export function storeScaleEvent(history: HpaHistory, behavior: ResolvedBehavior | null, prevReplicas: number, newReplicas: number, now: Micros): HpaHistory {
  if (behavior === null) return history;
  if (newReplicas > prevReplicas) {
    return { ...history, scaleUpEvents: storeEvent(history.scaleUpEvents, getLongestPolicyPeriod(behavior.scaleUp), newReplicas - prevReplicas, now) };
  }
  return { ...history, scaleDownEvents: storeEvent(history.scaleDownEvents, getLongestPolicyPeriod(behavior.scaleDown), prevReplicas - newReplicas, now) };
}
