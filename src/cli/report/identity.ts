import { createHash } from 'node:crypto';
import type { AnySystem } from '../../contract/system.ts';
import { canonicalJson } from '../campaign/findings-store.ts';
import type { RunSummary } from './collect.ts';

/**
 * What must be the same for two runs of a scenario to sit in one report, when they were run apart
 * (in shards, on other machines, days apart: `hasim report --runs`). A run is a pure function of
 * (scenario, profile, seed) *and the code*; the code is what this pins down, in three parts:
 *
 * - `hasim`, the package version;
 * - `definition`, a digest of the scenario as the report presents it: its name, report, summary,
 *   procedure, claims (text, metric, bounds, appliesWhen, note) and metric definitions. It is
 *   computed without running anything, so `hasim report --from` checks it against this hasim too,
 *   and an edited bound or metric cannot be judged with runs of the old one;
 * - `seed0`, a digest of seed 0's run under the profile (its trace hash, outcome and metrics). The
 *   model, the kernel, the scenario's plan and its measurements are code, not data; seed 0 is the
 *   seed report's own procedure, so almost any change to what the scenario exercises changes its
 *   trace hash or its metrics. It costs one run per scenario and profile per invocation (1% of a
 *   shard of 100 seeds), and that run is seed 0's line when the shard has seed 0.
 *
 * Not the git commit: a commit changes with every edit of the docs, and the runs of a 10-hour report
 * must survive those. A change that leaves seed 0 untouched and changes another seed is not caught;
 * the replay command in the report reruns any seed it shows, at the code it states.
 */
export interface RunIdentity {
  hasim: string;
  definition: string;
  seed0: string;
}

type Scenario = NonNullable<AnySystem['scenarios']>[number];

const digest = (value: unknown, length: number): string => createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);

/** The digest of a scenario's definition: everything of it the report prints or judges by (12 hex digits). */
export function definitionDigest(system: AnySystem, scenario: Scenario): string {
  const { name, report, summary, procedure, claims, metrics } = scenario;
  return digest({ system: system.name, name, report, summary, procedure, claims, metrics }, 12);
}

/** The digest of seed 0's run of a scenario under a profile (12 hex digits). */
export function seed0Digest(run: Pick<RunSummary, 'outcome' | 'hash' | 'metrics'>): string {
  return digest({ outcome: run.outcome, hash: run.hash, metrics: run.metrics }, 12);
}
