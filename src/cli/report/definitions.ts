import type { Claim, MetricDefinition } from '../../contract/scenario.ts';
import { formatValue } from '../../harness/scenario.ts';
import { HAPPENS, SAMPLE_PERIOD_US } from '../../systems/streamspace/scenarios/index.ts';

/** Stated in every report: what availability means here. */
export const AVAILABILITY_DEFINITION =
  'Availability is the fraction of simulated time, from a scenario\'s fault to the end of its run, in which a command issued on any ready API pod '
  + '(every pod the Service would send a request to) would be delivered to the agent\'s current WebSocket connection. It is judged from the cluster\'s state every '
  + `${SAMPLE_PERIOD_US / 1000} ms of simulated time, following SendCommandToAgent: a pod whose hub holds the agent's current connection delivers locally; `
  + 'a pod holding a stale entry for the agent delivers nothing; any other pod delivers only if it runs the Redis hub, Redis is up, agent:<id>:connected is "true", '
  + 'agent:<id>:pod names the pod holding the connection and that pod is subscribed to its channel. A paused pod delivers nothing. The run ends at the heal + the recovery '
  + 'bound B + the longest command + 10 s (as `hasim replay` judges runs), so the window is about 7-14 minutes.';

export const QUANTILE_DEFINITION =
  'Quantiles are nearest-rank over the runs in which the metric happened (p99 of n values is the value at rank ceil(0.99 n)); "never" counts the runs in which it did not happen '
  + '(a recovery that never came before the end of the run). A claim of "N seconds" taken from logs with whole-second timestamps holds in a run when the measured time is under N + 1 s; '
  + 'a claim without a number ("commands route to the new pod") holds when the metric happened at all.';

/** A claim's bound in words: "≤ 3.000s", "≥ 99.390%", "happens". */
export function boundText(claim: Claim, metric: MetricDefinition | undefined): string {
  if (metric === undefined) return '';
  if (claim.atMost === HAPPENS) return 'happens';
  const parts: string[] = [];
  if (claim.atLeast !== undefined) parts.push(`≥ ${formatValue(claim.atLeast, metric.unit)}`);
  if (claim.atMost !== undefined) parts.push(`≤ ${formatValue(claim.atMost, metric.unit)}`);
  return parts.join(' and ');
}

/** A profile's name as the report shows it. */
export function profileLabel(profile: string): string {
  return profile === 'streamspace-v2' ? 'as built' : profile;
}

/** The profiles a report compares unless told otherwise: as built, then with every design fix. */
export const DEFAULT_REPORT_PROFILES = ['streamspace-v2', 'hardened'] as const;
