import { claimApplies, claimHolds, type Claim, type MetricDefinition } from '../../contract/scenario.ts';
import { runScenario } from '../../harness/scenario.ts';
import { compiledMachines, coverageRecorder, CoverageTally, type MachineReach } from '../../harness/coverage.ts';
import type { RunCoverage } from '../../sim-cluster/statechart/index.ts';
import type { AnySystem } from '../../contract/system.ts';
import { SYSTEMS } from '../../systems/index.ts';
import { invariantIds } from '../../harness/run-case.ts';
import { Variation } from '../../contract/variation.ts';
import { planParameters, separate, type JudgedRun, type Leaf, type Separation } from './separation.ts';

/** What the report keeps of one run: small and plain, so that it can come back from a worker thread. */
export interface RunSummary {
  seed: number;
  outcome: string;
  /** The run's trace hash (`hasim run --scenario` prints the same). */
  hash: string;
  /** Every invariant the run violated, with the message of each. */
  violations: Array<{ invariant: string; message: string }>;
  metrics: Record<string, number | null>;
  /** The statechart states and transitions the run reached (docs/coverage.md). */
  coverage: RunCoverage;
}

/** One run of one scenario, reduced to its summary: the per-seed function (pure, so it can run anywhere). */
export function summarizeRun(systemName: string, name: string, seed: number, profile: string): RunSummary {
  const system = reportSystem(systemName);
  const scenario = system.scenarios?.find((s) => s.name === name);
  if (scenario === undefined) throw new Error(`unknown scenario '${name}'`);
  const recorder = coverageRecorder(system);
  const run = runScenario(system, scenario, { seed, profile, statecharts: recorder });
  return { seed, outcome: run.outcome, hash: run.hash, violations: run.violations.map(({ invariant, message }) => ({ invariant, message })), metrics: run.metrics, coverage: recorder.covered() };
}

/** A bundled system by name (reports name theirs; batches carry it to worker threads). */
export function reportSystem(name: string): AnySystem {
  const system = SYSTEMS.find((s) => s.name === name);
  if (system === undefined) throw new Error(`unknown system '${name}'`);
  return system;
}

/** A scenario's runs under one profile, in seed order. */
export interface ProfileRuns {
  profile: string;
  runs: RunSummary[];
}

export interface ScenarioResult {
  name: string;
  report: string;
  summary: string;
  procedure: string;
  claims: readonly Claim[];
  metrics: readonly MetricDefinition[];
  profiles: ProfileRuns[];
}

export interface ReportData {
  version: string;
  /** The system whose scenarios ran (its name). */
  system: string;
  /** The git commit of the hasim checkout that ran it (short hash, "unknown" outside a checkout, " (with uncommitted changes)" when dirty). */
  commit: string;
  /** Seeds first..last (inclusive) for every scenario and profile. */
  firstSeed: number;
  lastSeed: number;
  profiles: string[];
  /** Wall-clock time the runs took, in ms (the command's output states it; the report does not, so that the same runs give the same report). */
  wallMs: number;
  /**
   * Present when runs are missing: the runs there are of those planned. An interrupt cut it short,
   * or with `missing`, the runs files it was built from (`hasim report --from`) lack the others.
   */
  partial?: { runs: number; planned: number; missing?: true };
  scenarios: ScenarioResult[];
}

/** The values of one metric over a profile's runs, in seed order. */
export function values(p: ProfileRuns, metric: string): Array<number | null> {
  return p.runs.map((r) => r.metrics[metric] ?? null);
}

/**
 * How a claim fared under a profile: runs where it held, the first seed where it did not, and the
 * runs it did not apply to (`Claim.appliesWhen`), which are in neither count.
 */
export function claimTally(claim: Claim, p: ProfileRuns): { checked: number; held: number; counterexample: number | null; notApplicable: number } | null {
  let held = 0;
  let checked = 0;
  let notApplicable = 0;
  let counterexample: number | null = null;
  for (const r of p.runs) {
    const ok = claimHolds(claim, r.metrics[claim.metric ?? '']);
    if (ok === undefined) return null;
    if (!claimApplies(claim, r.metrics)) {
      notApplicable++;
      continue;
    }
    checked++;
    if (ok) held++;
    else counterexample ??= r.seed;
  }
  return { checked, held, counterexample, notApplicable };
}

/** Runs violating each invariant, with the first such seed and its message. */
export function violationTally(p: ProfileRuns): Map<string, { count: number; seed: number; message: string }> {
  const out = new Map<string, { count: number; seed: number; message: string }>();
  for (const r of p.runs) {
    for (const v of r.violations) {
      const t = out.get(v.invariant);
      if (t === undefined) out.set(v.invariant, { count: 1, seed: r.seed, message: v.message });
      else t.count++;
    }
  }
  return out;
}

/** Runs that ended in a model failure (the model itself broke: a bug to fix, not a finding). */
export function modelFailures(p: ProfileRuns): RunSummary[] {
  return p.runs.filter((r) => r.outcome === 'model-failure');
}

/** Per profile, the statechart coverage of its runs over every scenario: what the report's runs exercised of each machine. */
export function coverageByProfile(data: ReportData): Array<{ profile: string; runs: number; machines: MachineReach[] }> {
  const machines = compiledMachines(reportSystem(data.system));
  return data.profiles.map((profile) => {
    const tally = new CoverageTally(machines);
    for (const s of data.scenarios) for (const p of s.profiles) if (p.profile === profile) for (const r of p.runs) tally.add(r.seed, r.coverage);
    return { profile, runs: tally.runs, machines: tally.summary() };
  });
}

/** The command that replays one run (`--system` only when it is not the default system). */
export function replayCommand(name: string, seed: number, profile: string, system: string = SYSTEMS[0]!.name): string {
  return `npx hasim run${system === SYSTEMS[0]!.name ? '' : ` --system ${system}`} --scenario ${name} --seed ${seed} --profile ${profile}`;
}

/** A claim or invariant that held in some runs of a profile and not in others, and what separates them (null: no rule on the plans does). */
export interface MixedOutcome {
  /** The claim's text, or `invariant <id>`. */
  what: string;
  profile: string;
  held: number;
  runs: number;
  separation: Separation | null;
}

/**
 * Every claim (over the runs it applies to) and invariant of a scenario that held in some runs of
 * a profile and not in others, with the rules on the seeds' plans that tell them apart
 * (separation.ts). The plans are drawn again from the seeds by this hasim's scenario code.
 */
export function mixedOutcomes(s: ScenarioResult, systemName: string): MixedOutcome[] {
  const system = reportSystem(systemName);
  const spec = system.scenarios?.find((x) => x.name === s.name);
  if (spec === undefined) throw new Error(`unknown scenario '${s.name}'`);
  const plans = new Map<number, Map<string, Leaf>>();
  const parametersOf = (seed: number): Map<string, Leaf> => {
    let p = plans.get(seed);
    if (p === undefined) plans.set(seed, (p = planParameters(spec.plan(new Variation(seed)))));
    return p;
  };
  const out: MixedOutcome[] = [];
  const judge = (what: string, profile: string, runs: RunSummary[], ok: (r: RunSummary) => boolean): void => {
    const judged: JudgedRun[] = runs.map((r) => ({ ok: ok(r), parameters: parametersOf(r.seed) }));
    const held = judged.filter((r) => r.ok).length;
    if (held > 0 && held < judged.length) out.push({ what, profile, held, runs: judged.length, separation: separate(judged) });
  };
  for (const c of s.claims) {
    for (const p of s.profiles) {
      if (claimTally(c, p) === null) continue;
      judge(c.text, p.profile, p.runs.filter((r) => claimApplies(c, r.metrics)), (r) => claimHolds(c, r.metrics[c.metric ?? '']) === true);
    }
  }
  for (const inv of invariantIds(system)) {
    for (const p of s.profiles) judge(`invariant ${inv}`, p.profile, p.runs, (r) => !r.violations.some((v) => v.invariant === inv));
  }
  return out;
}
