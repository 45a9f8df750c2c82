import { formatTime } from '../../sim-cluster/index.ts';
import type { Shrunk } from '../../harness/seeded-case.ts';
import { formatRemovers, type FixProbe, type Unfinished } from '../../harness/triage.ts';
import { reachFigures, reachLine } from '../../harness/coverage.ts';
import type { CampaignCoverage, CampaignResult, DeterminismMismatch, GuidedSummary, Progress } from './campaign.ts';

/**
 * What the summaries read of a counterexample's shrink: a campaign has the whole `Shrunk`, a merge
 * of shards (`hasim merge`) only the figures its trace file records, without the shrunk run's verdict.
 */
export type ShrinkFigures = Pick<Shrunk, 'faultsFound' | 'faultsMinimal' | 'shrinkSteps' | 'ddminRuns' | 'shrinkRuns' | 'minimizeRuns'> & {
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

/**
 * One distinct bug as the summaries show it (docs/triage.md): its signature, how many failing seeds
 * are counted for it, and its minimal case. Plain data: `bugs.json` in a findings directory holds
 * these, and `hasim merge` adds them up across shards by signature.
 */
export interface BugRow {
  /** Six hex digits of the SHA-256 of the signature. */
  id: string;
  /** The signature's canonical text: `<invariant>|kinds=<kinds>|fixes=<a,b or a+b or none>`. */
  signature: string;
  invariant: string;
  /** The fault kinds of the minimal case. */
  kinds: string[];
  /** Fixes each of which alone removes it; else `removedTogether`, a 1-minimal set that does (null: none does). */
  removedBy: string[];
  removedTogether: string[] | null;
  /** Fixes that were on besides the campaign's when it was found (those of the bugs found before it). */
  context: string[];
  /** What it added to the fixes later seeds of its invariant were run with (its seeds are those this made pass). */
  explainedBy: string[];
  /** Failing seeds counted for it, the lowest (at most 10), the lowest one. */
  count: number;
  seeds: number[];
  lowestSeed: number;
  /** Its minimal case: the example seed, the trace file, the violation, the schedule's size before and after shrinking. */
  example: { seed: number; file: string; message: string; time: number | null; faultsFound: number; faultsMinimal: number };
  /** Each candidate fix alone on the minimal case, with the outcome. */
  fixes: FixProbe[];
}

/** Failing seeds of an invariant that no bug accounts for (triage stopped or reached --max-bugs). */
export interface UnclassifiedRow {
  invariant: string;
  count: number;
  /** The lowest (at most 10). */
  seeds: number[];
}

/** Whether triage finished, and what it left undone (a campaign's or `hasim triage`'s; a merge of shards does not know). */
export interface TriageStatus {
  /** False when triage was stopped or ran out of budget before it was done. */
  complete: boolean;
  /** Whether the budget's deadline is what stopped it. */
  deadlineReached: boolean;
  unfinished: readonly Unfinished[];
}

/** What the JUnit report and the annotations read: a campaign's result, or a merge of shards. */
export interface ReportInput {
  /** Seeds run, or null when unknown (a merge of findings directories without results files). */
  seedsRun: number | null;
  elapsedMs: number;
  invariants: readonly InvariantRow[];
  mismatches: readonly DeterminismMismatch[];
  /** The distinct bugs, when the failing seeds were triaged (absent or null: they were not). */
  bugs?: readonly BugRow[] | null;
  unclassified?: readonly UnclassifiedRow[];
  /** How triage ended, when known (absent or null: not triaged, or a merge). */
  triage?: TriageStatus | null;
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
  lines.push(...invariantLines(result.invariants), ...bugLines(result.bugs ?? null, result.unclassified ?? [], result.triage), '', ...selfCheckLines(result.selfCheckEvery, result.selfChecks, result.mismatches));
  return lines;
}

const seedsWord = (n: number): string => `${n} seed${n === 1 ? '' : 's'}`;

/** The signature in words: the faults it needs and what removes it. */
export function bugWhat(b: BugRow): string {
  const faults = `faults ${b.example.faultsFound}→${b.example.faultsMinimal} (${b.kinds.length === 0 ? 'no fault needed' : b.kinds.join(', ')})`;
  const context = b.context.length === 0 ? '' : `; found with ${b.context.join(', ')} on`;
  return `${faults}, removed by ${formatRemovers(b)}${context}`;
}

/** A round triage cut short, in words: its seed, its context, and how far it got. */
export function unfinishedWhat(u: Unfinished): string {
  const context = u.context.length === 0 ? '' : ` (with ${u.context.join(', ')} on)`;
  const how = u.stage === 'shrink'
    ? `stopped while shrinking, faults ${u.faultsFound}→${u.faultsSoFar} so far: not minimal, no signature`
    : `shrunk to minimal, faults ${u.faultsFound}→${u.faultsSoFar}, signature not computed`;
  return `${u.invariant} seed ${u.seed}${context}: ${how}`;
}

/** What an incomplete triage left undone, as one sentence; null when it was complete. */
export function incompleteTriage(status: TriageStatus | null | undefined): string | null {
  if (status == null || status.complete) return null;
  return `triage ${status.deadlineReached ? 'reached the end of its budget' : 'was interrupted'} before it was done: each bug listed is minimal with its signature complete, but its seed count is a lower bound, and the unclassified seeds were not all checked against every bug${status.unfinished.length === 0 ? '' : `; ${status.unfinished.length} further failing seed${status.unfinished.length === 1 ? ' was' : 's were'} on the way to a bug`}`;
}

/**
 * The distinct bugs: per bug its id, invariant, seeds, the minimal case's faults, what removes it,
 * and the replay command; then the rounds triage cut short (`status`), the failing seeds no bug
 * accounts for, and what an incomplete triage left undone. Nothing when not triaged.
 */
export function bugLines(bugs: readonly BugRow[] | null, unclassified: readonly UnclassifiedRow[], status?: TriageStatus | null): string[] {
  if (bugs === null || (bugs.length === 0 && unclassified.length === 0)) return [];
  const lines = ['', `  ${bugs.length} distinct bug${bugs.length === 1 ? '' : 's'} (invariant, fault kinds of the minimal case, the fixes that remove it: docs/triage.md)`];
  for (const b of bugs) {
    lines.push(`  ${b.id}  ${b.invariant.padEnd(22)} ${seedsWord(b.count).padStart(10)} from ${String(b.lowestSeed).padEnd(8)} ${bugWhat(b)}`);
    lines.push(`          npx hasim replay ${b.example.file}`);
  }
  for (const u of status?.unfinished ?? []) lines.push(`  unfinished: ${unfinishedWhat(u)}`);
  for (const u of unclassified) {
    lines.push(`  unclassified: ${u.invariant}, ${seedsWord(u.count)} (${u.seeds.join(', ')}${u.count > u.seeds.length ? ', ...' : ''}) that no bug above accounts for`);
  }
  const incomplete = incompleteTriage(status);
  if (incomplete !== null) lines.push(`  ${incomplete}`);
  return lines;
}

/** The bugs as the JSON summaries give them (`hasim fuzz --json`, `hasim merge --json`, `hasim triage --json`). */
export function bugsJson(bugs: readonly BugRow[]): unknown[] {
  return bugs.map((b) => ({
    id: b.id, signature: b.signature, invariant: b.invariant, kinds: b.kinds, removedBy: b.removedBy, removedTogether: b.removedTogether,
    context: b.context, explainedBy: b.explainedBy, count: b.count, lowestSeed: b.lowestSeed, seeds: b.seeds,
    faults: { found: b.example.faultsFound, minimal: b.example.faultsMinimal },
    file: b.example.file, replay: `npx hasim replay ${b.example.file}`, message: b.example.message, fixes: b.fixes,
  }));
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
    bugs: result.bugs === undefined || result.bugs === null ? null : bugsJson(result.bugs),
    unclassified: result.unclassified ?? [],
    triage: result.triage ?? null,
    invariantsChecked: result.invariantsChecked,
    selfCheckEvery: result.selfCheckEvery,
    selfChecks: result.selfChecks,
    mismatches: result.mismatches,
  });
}

/** The statechart coverage as one line of the summary (docs/coverage.md): per machine, leaf states and transitions reached. */
export function coverageLines(coverage: CampaignCoverage, file: string): string[] {
  const machines = coverage.machines.length === 0 ? 'the system lists no statecharts' : coverage.machines.map(reachLine).join('; ');
  return [`  statechart coverage of ${coverage.runs} seed${coverage.runs === 1 ? '' : 's'}: ${machines} (${file})`];
}

/** The statechart coverage as `hasim fuzz --json` gives it: the figures and the unreached transitions (the file has the rest). */
export function coverageJson(coverage: CampaignCoverage, file: string): unknown {
  return {
    file,
    runs: coverage.runs,
    machines: coverage.machines.map(reachFigures),
  };
}

/** Transitions reached over every machine, of those their definitions have. */
export function transitionsReached(coverage: CampaignCoverage | null): { reached: number; total: number } {
  const machines = coverage?.machines ?? [];
  return { reached: machines.reduce((n, m) => n + m.transitions.reached, 0), total: machines.reduce((n, m) => n + m.transitions.total, 0) };
}

/** A guided campaign's corpus and coverage as a line of the summary (docs/coverage.md#guided-campaigns). */
export function guidedLines(g: GuidedSummary, coverage: CampaignCoverage | null): string[] {
  const t = transitionsReached(coverage);
  return [
    `  guided: ${seedsWord(g.mutatedSeeds)} ran a mutated case; corpus of ${g.corpus} case${g.corpus === 1 ? '' : 's'} (${g.corpusMutated} of them mutated) from ${g.epochsAdmitted} epoch${g.epochsAdmitted === 1 ? '' : 's'} of ${g.epochSeeds} seeds, `
      + `${g.features} transitions and transition pairs; ${t.reached}/${t.total} transitions reached`,
  ];
}

/** A guided campaign's figures as `hasim fuzz --json` gives them, with the transitions reached. */
export function guidedJson(g: GuidedSummary, coverage: CampaignCoverage | null): unknown {
  return { ...g, transitions: transitionsReached(coverage) };
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
      shrunk: inv.example.shrunk === null ? null : shrinkJson(inv.example.shrunk),
    },
  }));
}

/** A shrink's figures in the JSON summaries: `ddminRuns` only where delta debugging ran. */
function shrinkJson(s: ShrinkFigures): Record<string, number> {
  return {
    faultsFound: s.faultsFound, faultsMinimal: s.faultsMinimal, shrinkSteps: s.shrinkSteps,
    ...(s.ddminRuns !== undefined ? { ddminRuns: s.ddminRuns } : {}), shrinkRuns: s.shrinkRuns, minimizeRuns: s.minimizeRuns,
  };
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * JUnit XML, which is what CI dashboards show: per invariant checked, a passing test case when no
 * seed violated it; when one did, a failing test case per distinct bug of it (and one for its
 * unclassified seeds) if the seeds were triaged, else one for the invariant (with the example's
 * message and replay command); and one for the determinism self-check.
 */
export function junitXml(result: ReportInput, suite: string, invariants: readonly string[]): string {
  const cases: string[] = [];
  const seconds = (result.elapsedMs / 1000).toFixed(3);
  const failing = (name: string, message: string, body: string): string =>
    `    <testcase classname="${xml(suite)}" name="${xml(name)}">\n      <failure message="${xml(message)}">${xml(body)}</failure>\n    </testcase>`;
  let failures = 0;
  const caseOf = (inv: InvariantRow, verb: string): void => {
    const bugs = (result.bugs ?? []).filter((b) => b.invariant === inv.invariant);
    const unclassified = (result.unclassified ?? []).find((u) => u.invariant === inv.invariant);
    if (bugs.length === 0 && unclassified === undefined) {
      cases.push(failing(inv.invariant, `${ofSeeds(inv.runs, result.seedsRun)} ${verb} ${inv.invariant}`, failureText(inv)));
      failures++;
      return;
    }
    for (const b of bugs) {
      cases.push(failing(`${inv.invariant}: bug ${b.id}`, `${ofSeeds(b.count, result.seedsRun)}: ${inv.invariant}, ${bugWhat(b)}`, bugText(b)));
      failures++;
    }
    if (unclassified !== undefined) {
      const unfinished = (result.triage?.unfinished ?? []).filter((u) => u.invariant === inv.invariant).map((u) => `unfinished: ${unfinishedWhat(u)}`);
      const why = result.triage?.complete === false ? ` (${result.triage.deadlineReached ? 'triage reached the end of its budget' : 'triage was interrupted'} before it was done)` : '';
      cases.push(failing(`${inv.invariant}: unclassified`, `${ofSeeds(unclassified.count, result.seedsRun)} ${verb} ${inv.invariant} and no bug accounts for them${why}`,
        [`failing seeds: ${unclassified.seeds.join(', ')}${unclassified.count > unclassified.seeds.length ? ', ...' : ''}`, ...unfinished].join('\n')));
      failures++;
    }
  };
  for (const id of invariants) {
    const inv = result.invariants.find((i) => i.invariant === id);
    if (inv === undefined) cases.push(`    <testcase classname="${xml(suite)}" name="${xml(id)}"/>`);
    else caseOf(inv, 'violate');
  }
  for (const inv of result.invariants.filter((i) => !invariants.includes(i.invariant))) caseOf(inv, 'end in');
  // Triage that was not done is not a pass: a skipped case says so on the dashboard (the bugs and seeds above already fail the report).
  const incomplete = incompleteTriage(result.triage);
  if (incomplete !== null) cases.push(`    <testcase classname="${xml(suite)}" name="triage">\n      <skipped message="${xml(incomplete)}"/>\n    </testcase>`);
  if (result.mismatches.length === 0) cases.push(`    <testcase classname="${xml(suite)}" name="determinism self-check"/>`);
  else {
    cases.push(failing('determinism self-check', `${result.mismatches.length} seeds gave two trace hashes`, result.mismatches.map((m) => `seed ${m.seed}`).join('\n')));
    failures++;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="${xml(suite)}" tests="${cases.length}" failures="${failures}" errors="0"${incomplete === null ? '' : ' skipped="1"'} time="${seconds}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}

/** A bug's details: its example, its replay command, the fixes that remove it, its seeds. */
function bugText(b: BugRow): string {
  return [
    `bug ${b.id} (${b.signature})`,
    `seed ${b.example.seed}: ${b.example.message}`,
    `replay: npx hasim replay ${b.example.file}`,
    `removed by: ${formatRemovers(b)}${b.context.length === 0 ? '' : ` (found with ${b.context.join(', ')} on)`}`,
    `failing seeds: ${b.seeds.join(', ')}${b.count > b.seeds.length ? ', ...' : ''}`,
  ].join('\n');
}

/** `3 of 40 seeds`, or `3 seeds` when the number run is not known. */
function ofSeeds(runs: number, seedsRun: number | null): string {
  return seedsRun === null ? `${runs} seeds` : `${runs} of ${seedsRun} seeds`;
}

function failureText(inv: InvariantRow): string {
  if (inv.example === null) return '';
  return `seed ${inv.example.seed}: ${exampleMessage(inv)}\nreplay: npx hasim replay ${inv.example.file}\nfailing seeds: ${inv.seeds.join(', ')}${inv.runs > inv.seeds.length ? ', ...' : ''}`;
}

/** GitHub Actions workflow commands: one error annotation per bug when triaged (and per invariant with unclassified seeds), else per violated invariant. */
export function githubAnnotations(result: ReportInput): string[] {
  const escape = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const property = (s: string): string => escape(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const annotation = (file: string | undefined, title: string, text: string): string =>
    `::error ${[...(file ? [`file=${property(file)}`] : []), `title=${property(title)}`].join(',')}::${escape(text)}`;
  const lines: string[] = [];
  for (const inv of result.invariants) {
    const bugs = (result.bugs ?? []).filter((b) => b.invariant === inv.invariant);
    const unclassified = (result.unclassified ?? []).find((u) => u.invariant === inv.invariant);
    if (bugs.length === 0 && unclassified === undefined) {
      lines.push(annotation(inv.example?.file, `hasim: ${inv.invariant}`, `${ofSeeds(inv.runs, result.seedsRun)} violate ${inv.invariant}. ${failureText(inv)}`));
      continue;
    }
    for (const b of bugs) lines.push(annotation(b.example.file, `hasim: bug ${b.id} (${b.invariant})`, `${ofSeeds(b.count, result.seedsRun)} violate ${b.invariant}: ${bugWhat(b)}. ${bugText(b)}`));
    if (unclassified !== undefined) {
      const incomplete = incompleteTriage(result.triage);
      lines.push(annotation(undefined, `hasim: ${inv.invariant} (unclassified)`, `${ofSeeds(unclassified.count, result.seedsRun)} violate ${inv.invariant} and no bug accounts for them: ${unclassified.seeds.join(', ')}${incomplete === null ? '' : `. ${incomplete}`}`));
    }
  }
  for (const m of result.mismatches) lines.push(`::error title=${property('hasim: nondeterminism')}::${escape(`seed ${m.seed} gave two trace hashes; this is a framework bug`)}`);
  return lines;
}
