import { formatTime } from '../../sim-cluster/index.ts';
import type { Shrunk } from '../../harness/seeded-case.ts';
import type { CampaignResult, DeterminismMismatch, Progress } from './campaign.ts';

/**
 * What the summaries read of a counterexample's shrink: a campaign has the whole `Shrunk`, a merge
 * of shards (`hasim merge`) only the figures its trace file records, without the shrunk run's verdict.
 */
export type ShrinkFigures = Pick<Shrunk, 'faultsFound' | 'faultsMinimal' | 'shrinkSteps' | 'shrinkRuns' | 'minimizeRuns'> & {
  verdict?: { violation: { time: number; message: string } | null };
};

/** One violated invariant as the summaries show it (a campaign's `InvariantSummary` is one). */
export interface InvariantRow {
  invariant: string;
  runs: number;
  /** The lowest failing seeds (at most 10), ascending. */
  seeds: number[];
  example: { seed: number; file: string; message: string; shrunk: ShrinkFigures | null } | null;
}

/** What the JUnit report and the annotations read: a campaign's result, or a merge of shards. */
export interface ReportInput {
  /** Seeds run, or null when unknown (a merge of findings directories without results files). */
  seedsRun: number | null;
  elapsedMs: number;
  invariants: readonly InvariantRow[];
  mismatches: readonly DeterminismMismatch[];
}

/** Seeds per second, simulated seconds per wall second, and the ETA, from a progress snapshot. */
export function rates(p: Progress): { seedsPerSecond: number; simSecondsPerSecond: number; etaMs: number | null } {
  const s = p.elapsedMs / 1000;
  const seedsPerSecond = s > 0 ? p.done / s : 0;
  return {
    seedsPerSecond,
    simSecondsPerSecond: s > 0 ? p.simUs / 1e6 / s : 0,
    etaMs: p.total === null || seedsPerSecond === 0 ? null : ((p.total - p.done) / seedsPerSecond) * 1000,
  };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One progress line: seeds done, rate, violations, simulated time per wall second, ETA. */
export function progressLine(p: Progress): string {
  const r = rates(p);
  const done = p.total === null ? `${p.done} seeds` : `${p.done}/${p.total} seeds`;
  const eta = r.etaMs === null ? '' : `, ETA ${duration(r.etaMs)}`;
  return `${done}, ${r.seedsPerSecond.toFixed(1)} seeds/s, ${p.violations} violating, ${Math.round(r.simSecondsPerSecond)} sim s/s, ${duration(p.elapsedMs)} elapsed${eta}`;
}

/** The end-of-campaign summary: totals, one row per violated invariant with its replay command, the self-check. */
export function summaryLines(result: CampaignResult, header: string): string[] {
  const p: Progress = { done: result.seedsRun, total: null, violations: result.seedsRun - result.passed, elapsedMs: result.elapsedMs, simUs: result.simUs };
  const r = rates(p);
  const stop = result.interrupted ? ' (interrupted)' : result.budgetExhausted ? ' (budget reached)' : '';
  const lines = [
    `${header}: ${result.seedsRun} seeds${stop}, ${result.passed} passed, ${result.seedsRun - result.passed} violating`,
    `  ${r.seedsPerSecond.toFixed(1)} seeds/s, ${Math.round(r.simSecondsPerSecond)} simulated s per wall s, ${duration(result.elapsedMs)}`,
  ];
  lines.push(...invariantLines(result.invariants), '', ...selfCheckLines(result.selfCheckEvery, result.selfChecks, result.mismatches));
  return lines;
}

/** The table of violated invariants (count, lowest seed, shrink, replay command) and each example's message; none when nothing was violated. */
export function invariantLines(invariants: readonly InvariantRow[]): string[] {
  if (invariants.length === 0) return [];
  const lines = ['', `  ${'invariant'.padEnd(24)} ${'runs'.padStart(6)}  ${'seed'.padStart(10)}  faults   replay`];
  for (const inv of invariants) {
    const ex = inv.example;
    const faults = ex?.shrunk ? `${ex.shrunk.faultsFound}→${ex.shrunk.faultsMinimal}` : 'unshrunk';
    lines.push(`  ${inv.invariant.padEnd(24)} ${String(inv.runs).padStart(6)}  ${String(ex?.seed ?? '').padStart(10)}  ${faults.padEnd(8)} ${ex ? `npx hasim replay ${ex.file}` : ''}`);
  }
  for (const inv of invariants) {
    if (inv.example === null) continue;
    const at = inv.example.shrunk?.verdict?.violation?.time;
    lines.push(`  ${inv.invariant}${at === undefined ? '' : ` at ${formatTime(at)}`}: ${exampleMessage(inv)}`);
  }
  return lines;
}

/**
 * The self-check's line (`every` 0: off; null: not known) and a paragraph per mismatch: one found
 * by a rerun names the first event where two fresh reruns differ; one found between two records of
 * the same seed (`where`, from `hasim merge`) names them.
 */
export function selfCheckLines(every: number | null, selfChecks: number | null, mismatches: readonly DeterminismMismatch[]): string[] {
  const rate = every === null || every === 0 ? '' : ` (about 1 seed in ${every}, chosen by a hash of the seed)`;
  const lines = [every === 0 && mismatches.length === 0
    ? '  determinism self-check: off'
    : `  determinism self-check: ${selfChecks === null ? 'an unknown number of' : selfChecks} seeds rerun, ${mismatches.length} mismatches${rate}`];
  for (const m of mismatches) {
    lines.push(`  FRAMEWORK BUG: seed ${m.seed} gave two trace hashes (${m.hashes[0].slice(0, 12)} vs ${m.hashes[1].slice(0, 12)})`);
    lines.push(m.where !== undefined
      ? `    recorded in ${m.where}`
      : m.divergence === null
        ? '    two fresh reruns agreed with each other: the first runs were disturbed by state outside the case'
        : `    fresh reruns first differ at event ${m.divergence.index}: ${JSON.stringify(m.divergence.first)} vs ${JSON.stringify(m.divergence.second)}`);
  }
  return lines;
}

function exampleMessage(inv: InvariantRow): string {
  return inv.example?.shrunk?.verdict?.violation?.message ?? inv.example?.message ?? '';
}

/** The summary as one JSON object (`--json`). */
export function summaryJson(result: CampaignResult, extra: Record<string, unknown>): string {
  const r = rates({ done: result.seedsRun, total: null, violations: 0, elapsedMs: result.elapsedMs, simUs: result.simUs });
  return JSON.stringify({
    ...extra,
    seedsRun: result.seedsRun,
    passed: result.passed,
    violating: result.seedsRun - result.passed,
    interrupted: result.interrupted,
    budgetExhausted: result.budgetExhausted,
    elapsedMs: Math.round(result.elapsedMs),
    seedsPerSecond: Math.round(r.seedsPerSecond * 10) / 10,
    simSecondsPerSecond: Math.round(r.simSecondsPerSecond),
    invariants: invariantsJson(result.invariants),
    invariantsChecked: result.invariantsChecked,
    selfCheckEvery: result.selfCheckEvery,
    selfChecks: result.selfChecks,
    mismatches: result.mismatches,
  });
}

/** The violated invariants as the JSON summaries give them (`hasim fuzz --json`, `hasim merge --json`). */
export function invariantsJson(invariants: readonly InvariantRow[]): unknown[] {
  return invariants.map((inv) => ({
    invariant: inv.invariant,
    runs: inv.runs,
    seeds: inv.seeds,
    example: inv.example === null ? null : {
      seed: inv.example.seed,
      file: inv.example.file,
      replay: `npx hasim replay ${inv.example.file}`,
      message: exampleMessage(inv),
      shrunk: inv.example.shrunk === null ? null : {
        faultsFound: inv.example.shrunk.faultsFound, faultsMinimal: inv.example.shrunk.faultsMinimal,
        shrinkSteps: inv.example.shrunk.shrinkSteps, shrinkRuns: inv.example.shrunk.shrinkRuns, minimizeRuns: inv.example.shrunk.minimizeRuns,
      },
    },
  }));
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * JUnit XML: one test case per invariant checked (failed with the example's message and replay
 * command when violated) and one for the determinism self-check, which is what CI dashboards show.
 */
export function junitXml(result: ReportInput, suite: string, invariants: readonly string[]): string {
  const cases: string[] = [];
  const seconds = (result.elapsedMs / 1000).toFixed(3);
  for (const id of invariants) {
    const inv = result.invariants.find((i) => i.invariant === id);
    cases.push(inv === undefined
      ? `    <testcase classname="${xml(suite)}" name="${xml(id)}"/>`
      : `    <testcase classname="${xml(suite)}" name="${xml(id)}">\n      <failure message="${xml(`${ofSeeds(inv.runs, result.seedsRun)} violate ${id}`)}">${xml(failureText(inv))}</failure>\n    </testcase>`);
  }
  const other = result.invariants.filter((i) => !invariants.includes(i.invariant));
  for (const inv of other) {
    cases.push(`    <testcase classname="${xml(suite)}" name="${xml(inv.invariant)}">\n      <failure message="${xml(`${ofSeeds(inv.runs, result.seedsRun)} end in ${inv.invariant}`)}">${xml(failureText(inv))}</failure>\n    </testcase>`);
  }
  cases.push(result.mismatches.length === 0
    ? `    <testcase classname="${xml(suite)}" name="determinism self-check"/>`
    : `    <testcase classname="${xml(suite)}" name="determinism self-check">\n      <failure message="${xml(`${result.mismatches.length} seeds gave two trace hashes`)}">${xml(result.mismatches.map((m) => `seed ${m.seed}`).join('\n'))}</failure>\n    </testcase>`);
  const failures = result.invariants.length + (result.mismatches.length > 0 ? 1 : 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="${xml(suite)}" tests="${cases.length}" failures="${failures}" errors="0" time="${seconds}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}

/** `3 of 40 seeds`, or `3 seeds` when the number run is not known. */
function ofSeeds(runs: number, seedsRun: number | null): string {
  return seedsRun === null ? `${runs} seeds` : `${runs} of ${seedsRun} seeds`;
}

function failureText(inv: InvariantRow): string {
  if (inv.example === null) return '';
  return `seed ${inv.example.seed}: ${exampleMessage(inv)}\nreplay: npx hasim replay ${inv.example.file}\nfailing seeds: ${inv.seeds.join(', ')}${inv.runs > inv.seeds.length ? ', ...' : ''}`;
}

/** GitHub Actions workflow commands: one error annotation per violated invariant. */
export function githubAnnotations(result: ReportInput): string[] {
  const escape = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const property = (s: string): string => escape(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const lines = result.invariants.map((inv) => {
    const file = inv.example?.file;
    const props = [...(file ? [`file=${property(file)}`] : []), `title=${property(`hasim: ${inv.invariant}`)}`].join(',');
    return `::error ${props}::${escape(`${ofSeeds(inv.runs, result.seedsRun)} violate ${inv.invariant}. ${failureText(inv)}`)}`;
  });
  for (const m of result.mismatches) lines.push(`::error title=${property('hasim: nondeterminism')}::${escape(`seed ${m.seed} gave two trace hashes; this is a framework bug`)}`);
  return lines;
}
