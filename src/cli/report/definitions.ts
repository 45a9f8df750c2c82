import type { Claim, MetricDefinition } from '../../contract/scenario.ts';
import { formatValue } from '../../harness/scenario.ts';
import type { ScenarioReport } from '../../contract/scenario.ts';

export const QUANTILE_DEFINITION =
  'Quantiles are nearest-rank over the runs in which the metric happened (p99 of n values is the value at rank ceil(0.99 n)); "never" counts the runs in which it did not happen '
  + '(a recovery that never came before the end of the run). A claim of "N seconds" taken from logs with whole-second timestamps holds in a run when the measured time is under N + 1 s; '
  + 'a claim without a number ("commands route to the new pod") holds when the metric happened at all.';

/** A claim's bound in words: "≤ 3.000s", "≥ 99.390%", "happens". */
export function boundText(claim: Claim, metric: MetricDefinition | undefined, report: Pick<ScenarioReport, 'happens'>): string {
  if (metric === undefined) return '';
  if (report.happens !== undefined && claim.atMost === report.happens) return 'happens';
  const parts: string[] = [];
  if (claim.atLeast !== undefined) parts.push(`≥ ${formatValue(claim.atLeast, metric.unit)}`);
  if (claim.atMost !== undefined) parts.push(`≤ ${formatValue(claim.atMost, metric.unit)}`);
  return parts.join(' and ');
}

/** A profile's name as the report shows it. */
export function profileLabel(report: ScenarioReport, profile: string): string {
  return report.profileLabel?.(profile) ?? profile;
}
