import { SECOND } from '../../../sim-cluster/index.ts';
import { SETTLE_US } from '../config.ts';
import type { ConfigOverrides } from '../config.ts';
import type { Claim } from '../../../contract/scenario.ts';
import type { Variation } from '../../../contract/variation.ts';

/** The claims, timings and load the scenarios of all three reports share. */

/**
 * A claim of "N seconds" read from logs with whole-second timestamps holds in a run when the
 * measured time is under N + 1 s.
 */
export const loggedSeconds = (n: number): number => (n + 1) * SECOND;

/** Report 000's availability arithmetic, quoted by every scenario that measures a failure's downtime. */
export const AVAILABILITY_CLAIM: Claim = {
  text: '"Uptime percentage: 99.39% (exceeds 99% SLA)", from "Downtime per failure: 11 seconds (worst case)" with 2 failures an hour',
  metric: 'implied-hourly-availability', atLeast: 0.9939,
};

export const ZERO_DATA_LOSS: Claim = { text: '"Zero Data Loss: All state preserved across failures"', metric: 'commands-lost', atMost: 0 };

/** The seeded user load as a config override (idle in the base case, as the reports' clusters were). */
export const users = (v: Variation): ConfigOverrides => ({ workload: { requestIntervalUs: v.userRequestIntervalUs() } });

/** Faults are injected once the cluster has settled (leader elected, agent connected, mapping stored), with up to 30 s of seeded delay. */
export const faultInstant = (v: Variation): number => SETTLE_US + v.offset(30 * SECOND);

/**
 * The heal of a scenario that deletes pods: 30 s after the fault, once every replacement pod
 * (created after `podReplacementUs`, 5 s) has started; the recovery bound counts from there.
 */
export const AFTER_REPLACEMENTS = 30 * SECOND;

/** Any claim without a number that says something happens at all: it holds when the metric is not `never`. */
export const HAPPENS = Number.MAX_SAFE_INTEGER;
