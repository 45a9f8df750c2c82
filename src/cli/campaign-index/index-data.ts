import type { AnySystem } from '../../contract/system.ts';
import type { FaultRecord } from '../../faults/fault-kind.ts';
import { deploymentForSeed, type CaseSpace } from '../../harness/seeded-case.ts';
import type { CampaignResult } from '../campaign/campaign.ts';
import type { BugRow, InvariantRow, TriageStatus, UnclassifiedRow } from '../campaign/summary.ts';
import type { ProgressSeries } from './progress-chart.ts';

/** What a campaign's index page shows, as plain data: computed once, rendered by html.ts. */
export interface CampaignIndex {
  /** The campaign's command line, as its summary's first line names it. */
  header: string;
  system: string;
  space: CaseSpace;
  digest: string;
  /** The seed range asked for: first seed, count (null: until the budget), shard `K/N`. */
  range: { start: number; total: number | null; shard: string };
  totals: {
    seedsRun: number; passed: number; violating: number; interrupted: boolean; budgetExhausted: boolean;
    elapsedMs: number; seedsPerSecond: number; simSecondsPerSecond: number;
  };
  /** Every invariant checked, violated or not, with its example when violated. */
  invariants: Array<{ invariant: string; runs: number; bugs: number; row: InvariantRow | null }>;
  /** Null: the campaign did not triage. */
  bugs: BugRow[] | null;
  unclassified: UnclassifiedRow[];
  triage: TriageStatus | null;
  /** Per deployment the seeds drew (one row, `(the profile's own)`, without deployments): seeds, and failing seeds per invariant. */
  deployments: Array<{ name: string; seeds: number; failing: Record<string, number> }>;
  progress: ProgressSeries[];
  selfCheck: { every: number; reran: number; mismatches: CampaignResult['mismatches'] };
  /** Per trace file of the page (bugs and examples): its minimal schedule and its timeline page, when written. */
  files: Map<string, { schedule: readonly FaultRecord[]; explainPage: string | null }>;
}

const NO_DEPLOYMENT = '(the profile\'s own)';

/** Seeds run per deployment, and how many of them failed each invariant; rows in the system's order of deployments. */
function deploymentRows(system: AnySystem, space: CaseSpace, results: CampaignResult['results']): CampaignIndex['deployments'] {
  const rows = new Map<string, { name: string; seeds: number; failing: Record<string, number> }>();
  for (const r of results) {
    const name = deploymentForSeed(system, space, r.seed)?.name ?? NO_DEPLOYMENT;
    const row = rows.get(name) ?? { name, seeds: 0, failing: {} };
    row.seeds++;
    if (r.outcome !== 'pass') row.failing[r.outcome] = (row.failing[r.outcome] ?? 0) + 1;
    rows.set(name, row);
  }
  const order = [NO_DEPLOYMENT, ...(system.deployments?.named.map((d) => d.name) ?? [])];
  return [...rows.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

/**
 * How the campaign's findings grew over its seeds: failing seeds per invariant, and distinct bugs
 * counted at each bug's lowest seed (the seed that first showed it, in seed order).
 */
function progressSeries(results: CampaignResult['results'], bugs: readonly BugRow[] | null): ProgressSeries[] {
  const perInvariant = new Map<string, Array<[number, number]>>();
  results.forEach((r, i) => {
    if (r.outcome === 'pass') return;
    const steps = perInvariant.get(r.outcome) ?? [];
    steps.push([i + 1, (steps.at(-1)?.[1] ?? 0) + 1]);
    perInvariant.set(r.outcome, steps);
  });
  const series: ProgressSeries[] = [...perInvariant].sort(([a], [b]) => (a < b ? -1 : 1)).map(([inv, steps]) => ({ label: `failing seeds, ${inv}`, steps }));
  if (bugs !== null && bugs.length > 0) {
    const position = new Map(results.map((r, i) => [r.seed, i + 1]));
    const firsts = bugs.map((b) => position.get(b.lowestSeed) ?? results.length).sort((a, b) => a - b);
    series.push({ label: 'distinct bugs', steps: firsts.map((at, i): [number, number] => [at, i + 1]) });
  }
  return series;
}

export interface IndexSource {
  header: string;
  system: AnySystem;
  space: CaseSpace;
  digest: string;
  range: CampaignIndex['range'];
  result: CampaignResult;
  /** The invariants every seed was checked against. */
  checked: readonly string[];
  files: CampaignIndex['files'];
}

/** The index's data from a finished (or interrupted) campaign. */
export function campaignIndex(src: IndexSource): CampaignIndex {
  const { result } = src;
  const bugs = result.bugs ?? null;
  const elapsedS = Math.max(result.elapsedMs, 1) / 1000;
  return {
    header: src.header,
    system: src.system.name,
    space: src.space,
    digest: src.digest,
    range: src.range,
    totals: {
      seedsRun: result.seedsRun, passed: result.passed, violating: result.seedsRun - result.passed,
      interrupted: result.interrupted, budgetExhausted: result.budgetExhausted, elapsedMs: result.elapsedMs,
      seedsPerSecond: result.seedsRun / elapsedS, simSecondsPerSecond: result.simUs / 1e6 / elapsedS,
    },
    // Every invariant checked, then any other outcome seeds ended in (a model failure).
    invariants: [...new Set([...src.checked, ...result.invariants.map((r) => r.invariant)])].map((invariant) => {
      const row = result.invariants.find((r) => r.invariant === invariant) ?? null;
      return { invariant, runs: row?.runs ?? 0, bugs: bugs?.filter((b) => b.invariant === invariant).length ?? 0, row };
    }),
    bugs,
    unclassified: result.unclassified ?? [],
    triage: result.triage ?? null,
    deployments: deploymentRows(src.system, src.space, result.results),
    progress: progressSeries(result.results, bugs),
    selfCheck: { every: result.selfCheckEvery, reran: result.selfChecks, mismatches: result.mismatches },
    files: src.files,
  };
}
