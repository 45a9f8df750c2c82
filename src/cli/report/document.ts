import type { MetricDefinition, ScenarioReport } from '../../contract/scenario.ts';
import { invariantIds } from '../../harness/run-case.ts';
import { formatValue } from '../../harness/scenario.ts';
import { claimTally, coverageByProfile, mixedOutcomes, modelFailures, reportSystem, replayCommand, values, violationTally, type ProfileRuns, type ReportData, type ScenarioResult } from './collect.ts';
import { transitionText } from '../../harness/coverage.ts';
import { boundText, profileLabel as labelOf, QUANTILE_DEFINITION } from './definitions.ts';
import { cdf, distribution } from './stats.ts';
import { seedRanges, shardsPresent } from './seed-sets.ts';
import { SYSTEMS } from '../../systems/index.ts';
import type { Condition } from './separation.ts';

/** The report as a list of blocks, rendered as Markdown (markdown.ts) or HTML (html.ts). Text may hold `code`, **bold** and [links](#anchor). */
export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string; id?: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][] }
  | { kind: 'charts'; charts: Chart[] };

/** A CDF per profile of one metric (HTML only). */
export interface Chart {
  title: string;
  unit: MetricDefinition['unit'];
  series: Array<{ label: string; points: Array<{ x: number; y: number }>; never: number; runs: number }>;
}

/**
 * `held/checked` as a percentage, e.g. "37.2% (372/1000)", the runs the claim did not apply to, if
 * any, and in a partial report the seeds it was judged over (`seeds`), which are fewer than the range.
 */
export function heldText(held: number, checked: number, notApplicable = 0, seeds?: number): string {
  const pct = checked === 0 ? 0 : (100 * held) / checked;
  const shown = held === checked || held === 0 ? pct.toFixed(0) : pct.toFixed(1);
  return `${shown}% (${held}/${checked})${notApplicable > 0 ? `; ${notApplicable} runs n/a` : ''}${seeds === undefined ? '' : `; over ${seeds} seeds`}`;
}

/** The seeds a claim row of a partial report holds over: the runs present of its scenario and profile. */
const seedsIf = (data: Pick<ReportData, 'partial'>, p: ProfileRuns): number | undefined => (data.partial === undefined ? undefined : p.runs.length);


/** How the "what separates the runs that failed" tables are made (separation.ts). */
const SEPARATION_DEFINITION = 'What separates the runs that failed: where a claim or invariant held in some runs of a profile and not in others, a small decision tree over the parameters of the scenario\'s plan (drawn from the seed: `faults[0].target.index`, `faults[0].durationUs`, `config.…`, `network.…`; faults in the plan\'s order, its schedule and then its scripted actions) splits the runs, one parameter at a time and at most three deep, where each test leaves the fewest runs whose outcome differs from their side\'s majority and is significant (Fisher\'s exact test at 1%, corrected for every test tried). '
  + 'Each row is a leaf: the runs meeting its tests and how many held. "Errors removed" is the share of the runs a single guess of the majority outcome gets wrong that a guess per leaf gets right; a tree removing less than half is not shown. '
  + 'The plans are drawn again by the hasim that built the report: those of the runs as long as the scenarios\' code has not changed since the commit that ran them.';

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** The invariants every run of the report checked, in words. */
function invariantsDefinition(ids: readonly string[]): string {
  return `Invariants are the ${NUMBER_WORDS[ids.length] ?? String(ids.length)} every hasim run checks (\`npx hasim help\`): ${ids.join(', ')}.`;
}

/** How the report's system presents its scenarios. */
function presentation(data: Pick<ReportData, 'system'>): ScenarioReport {
  const report = reportSystem(data.system).scenarioReport;
  if (report === undefined) throw new Error(`system '${data.system}' has no scenario report`);
  return report;
}

/** One line saying how the report was produced: the command that reproduces it, seeds, version, commit, time. */
export function provenance(data: ReportData): string {
  const runs = data.partial?.runs ?? data.scenarios.length * data.profiles.length * (data.lastSeed - data.firstSeed + 1);
  const names = data.scenarios.map((x) => x.name);
  const report = presentation(data);
  const everyScenario = names.length === (reportSystem(data.system).scenarios?.length ?? 0);
  const defaultProfiles = data.profiles.join(',') === report.defaultProfiles.join(',');
  const profileLabel = (p: string): string => labelOf(report, p);
  const flags = [
    ...(data.system === SYSTEMS[0]!.name ? [] : [`--system ${data.system}`]),
    ...(everyScenario ? [] : [`--scenario ${names.join(',')}`]),
    ...(data.firstSeed === 0 ? [] : [`--seed-start ${data.firstSeed}`]),
    `--seeds ${data.lastSeed - data.firstSeed + 1}`,
    ...(defaultProfiles ? [] : [`--profiles ${data.profiles.join(',')}`]),
  ];
  const which = everyScenario ? 'every scenario' : `scenario${names.length === 1 ? '' : 's'} ${names.join(', ')}`;
  // No wall time: the same runs give the same report, whether run at once or in shards and merged (--from).
  return `Generated by \`npx hasim report ${flags.join(' ')}\` (hasim ${data.version}, commit${data.commit.includes(', ') ? 's' : ''} ${data.commit}): seeds ${data.firstSeed}-${data.lastSeed} `
    + `of ${which} under ${data.profiles.length === 1 ? 'the profile' : 'each profile'} (${data.profiles.map(profileLabel).join(', ')}), ${runs} runs${data.partial === undefined ? '' : ` of ${data.partial.planned} planned`}. `
    + 'Seed 0 of each scenario is the seed report\'s own procedure; the others vary it. Every run replays bit for bit with the command given.';
}

/** The report's title; a partial report says so in it. */
export function reportTitle(data: ReportData): string {
  const partial = data.partial === undefined ? '' : data.partial.missing === true ? ` (PARTIAL: ${data.partial.runs} of ${data.partial.planned} runs)` : ' (PARTIAL: interrupted)';
  return `${presentation(data).title}${partial}`;
}

/** Most ranges of missing seeds listed per scenario and profile; past them, the shards present are named if shards explain them, else the rest are counted. */
const MAX_RANGES = 12;

/** Per scenario and profile of a partial report: the seeds requested, those present, the ones missing. */
export function presence(data: ReportData, profileLabel: (p: string) => string): string[] {
  return data.scenarios.flatMap((s) => s.profiles.map((p) => {
    const have = new Set(p.runs.map((r) => r.seed));
    const missing: number[] = [];
    for (let seed = data.firstSeed; seed <= data.lastSeed; seed++) if (!have.has(seed)) missing.push(seed);
    const ranges = seedRanges(missing);
    const shards = ranges.length > MAX_RANGES ? shardsPresent(data.firstSeed, data.lastSeed, have) : null;
    const shown = ranges.length > MAX_RANGES ? `${ranges.slice(0, MAX_RANGES).join(', ')} and ${ranges.length - MAX_RANGES} more ranges` : ranges.join(', ');
    const which = missing.length === 0 ? '' : shards !== null ? `: ${shards}` : ` (missing ${shown})`;
    return `${s.name} under ${profileLabel(p.profile)}: seeds ${data.firstSeed}-${data.lastSeed} requested, ${p.runs.length} present${which}`;
  }));
}

/** The whole report as blocks. */
export function reportDocument(data: ReportData): Block[] {
  const report = presentation(data);
  const profileLabel = (p: string): string => labelOf(report, p);
  const out: Block[] = [];
  out.push({ kind: 'heading', level: 1, text: reportTitle(data) });
  if (data.partial !== undefined) {
    out.push({ kind: 'paragraph', text: data.partial.missing === true
      ? `**Partial report: the runs files hold ${data.partial.runs} of the ${data.partial.planned} runs requested.** Each scenario and profile shows only the runs present, `
        + 'so its counts, shares and distributions cover fewer seeds than the range below names, and not always the same ones; each claim says over how many seeds it holds. Run the missing seeds into a runs file (`--runs`) and build the report again.'
      : `**Partial report: interrupted after ${data.partial.runs} of ${data.partial.planned} runs.** Each scenario and profile shows only the runs that finished, `
        + 'so its counts, shares and distributions cover fewer seeds than the range below names, and not always the same ones; each claim says over how many seeds it holds. Rerun the command to complete it.' });
    out.push({ kind: 'list', items: presence(data, profileLabel) });
  }
  out.push({ kind: 'paragraph', text: provenance(data) });
  out.push({ kind: 'paragraph', text: report.introduction });
  out.push({ kind: 'heading', level: 2, text: 'Definitions' });
  out.push({ kind: 'list', items: [...report.definitions, QUANTILE_DEFINITION,
    invariantsDefinition(invariantIds(reportSystem(data.system))), SEPARATION_DEFINITION] });
  out.push({ kind: 'heading', level: 2, text: 'Claims at a glance' });
  const rows: string[][] = [];
  for (const s of data.scenarios) {
    for (const c of s.claims) {
      const metric = s.metrics.find((m) => m.id === c.metric);
      const tallies = s.profiles.map((p) => claimTally(c, p));
      if (tallies.some((t) => t === null)) continue;
      rows.push([s.report, `[${s.name}](#${s.name})`, c.text, `${c.metric} ${boundText(c, metric, report)}`, ...tallies.map((t, i) => heldText(t!.held, t!.checked, t!.notApplicable, seedsIf(data, s.profiles[i]!)))]);
    }
  }
  out.push({ kind: 'table', head: ['report', 'scenario', 'claim', 'metric and bound', ...data.profiles.map((p) => `holds (${profileLabel(p)})`)], rows });
  for (const s of data.scenarios) out.push(...scenarioSection(s, report, data));
  out.push(...coverageSection(data, profileLabel));
  return out;
}

/**
 * Statechart coverage of the report's runs, per profile (docs/coverage.md): leaf states and
 * transitions reached of each machine the system lists, and the transitions no run took.
 */
function coverageSection(data: ReportData, profileLabel: (p: string) => string): Block[] {
  const byProfile = coverageByProfile(data);
  const out: Block[] = [{ kind: 'heading', level: 2, text: 'Statechart coverage', id: 'statechart-coverage' }];
  if (byProfile.every((p) => p.machines.length === 0)) {
    out.push({ kind: 'paragraph', text: 'The system lists no statecharts (`System.machines`): nothing to measure.' });
    return out;
  }
  out.push({ kind: 'paragraph', text: 'What the runs above exercised of the statecharts the system lists (`hasim machines`, docs/machines.md), over every scenario and seed of each profile: '
    + 'the leaf states some run ended a step in and the transitions some run took, of those the definition has. A transition no run takes is a finding in itself: a path of the design nothing exercises, or a fault the scenarios lack (docs/coverage.md).' });
  out.push({
    kind: 'table',
    head: ['machine', 'profile', 'runs', 'leaf states reached', 'transitions reached'],
    rows: byProfile.flatMap((p) => p.machines.map((m) => [m.id, profileLabel(p.profile), String(p.runs), `${m.states.reached}/${m.states.total}`, `${m.transitions.reached}/${m.transitions.total}`])),
  });
  for (const p of byProfile) {
    for (const m of p.machines) {
      const unreached = m.transitions.list.filter((t) => !t.reached);
      const states = m.states.list.filter((x) => !x.reached);
      const what = `${m.id} under ${profileLabel(p.profile)}`;
      if (unreached.length === 0 && states.length === 0) {
        out.push({ kind: 'paragraph', text: `${what}: every leaf state and transition reached.` });
        continue;
      }
      out.push({ kind: 'paragraph', text: `${what}: not reached by any run:` });
      out.push({ kind: 'list', items: [...states.map((x) => `state \`${x.id}\``), ...unreached.map((t) => `\`${transitionText(t)}\``)] });
    }
  }
  return out;
}

function scenarioSection(s: ScenarioResult, report: ScenarioReport, data: ReportData): Block[] {
  const system = data.system;
  const profileLabel = (p: string): string => labelOf(report, p);
  const out: Block[] = [];
  out.push({ kind: 'heading', level: 2, text: s.name, id: s.name });
  out.push({ kind: 'paragraph', text: `Report ${s.report}: ${s.summary}.` }, { kind: 'paragraph', text: `Procedure: ${s.procedure}` });
  out.push({ kind: 'heading', level: 3, text: 'Claims' });
  const claims: string[][] = [];
  for (const c of s.claims) {
    const metric = s.metrics.find((m) => m.id === c.metric);
    for (const p of s.profiles) {
      const t = claimTally(c, p);
      if (t === null) continue;
      const counter = t.counterexample === null ? '—' : `\`${replayCommand(s.name, t.counterexample, p.profile, system)}\``;
      claims.push([c.text, `${c.metric} ${boundText(c, metric, report)}`, profileLabel(p.profile), heldText(t.held, t.checked, t.notApplicable, seedsIf(data, p)), counter]);
    }
  }
  out.push({ kind: 'table', head: ['claim', 'metric and bound', 'profile', 'held', 'first counterexample'], rows: claims });
  const notes = s.claims.flatMap((c) => {
    const parts = [
      ...(c.appliesWhen === undefined ? [] : [`judged only in the runs where ${c.appliesWhen} ≥ 1; the others are counted as n/a.`]),
      ...(c.note === undefined ? [] : [c.note]),
    ];
    return parts.length === 0 ? [] : [`${c.text} — ${parts.join(' ')}`];
  });
  if (notes.length > 0) out.push({ kind: 'paragraph', text: 'Notes on these claims (the mechanism behind the runs that break them):' }, { kind: 'list', items: notes });
  out.push({ kind: 'heading', level: 3, text: 'Measured distributions' });
  const dists: string[][] = [];
  const charts: Chart[] = [];
  for (const m of s.metrics) {
    for (const p of s.profiles) {
      const d = distribution(values(p, m.id));
      const f = (v: number | null): string => (v === null ? '—' : formatValue(v, m.unit));
      dists.push([m.id, profileLabel(p.profile), String(d.runs), String(d.never), f(d.min), f(d.p50), f(d.p95), f(d.p99), f(d.max)]);
    }
    if (m.unit !== 'count') {
      charts.push({
        title: m.id, unit: m.unit,
        series: s.profiles.map((p) => {
          const v = values(p, m.id);
          return { label: profileLabel(p.profile), points: cdf(v), never: v.filter((x) => x === null).length, runs: v.length };
        }),
      });
    }
  }
  out.push({ kind: 'table', head: ['metric', 'profile', 'runs', 'never', 'min', 'p50', 'p95', 'p99', 'max'], rows: dists });
  out.push({ kind: 'charts', charts });
  out.push({ kind: 'heading', level: 3, text: 'Invariants' });
  const invariants: string[][] = [];
  // The report's own system's invariants, in the order it checks them.
  const ids = invariantIds(reportSystem(system));
  for (const p of s.profiles) {
    const tally = violationTally(p);
    for (const inv of ids) {
      const t = tally.get(inv);
      const example = t === undefined ? '—' : `\`${replayCommand(s.name, t.seed, p.profile, system)}\`: ${t.message}`;
      invariants.push([inv, profileLabel(p.profile), `${t?.count ?? 0} of ${p.runs.length}`, example]);
    }
    const failures = modelFailures(p);
    if (failures.length > 0) invariants.push(['model failure', profileLabel(p.profile), `${failures.length} of ${p.runs.length}`, `\`${replayCommand(s.name, failures[0]!.seed, p.profile, system)}\``]);
  }
  out.push({ kind: 'table', head: ['invariant', 'profile', 'runs violating', 'first example'], rows: invariants });
  out.push(...failingRunsSection(s, data, profileLabel));
  out.push({ kind: 'heading', level: 3, text: 'Metric definitions' });
  out.push({ kind: 'list', items: s.metrics.map((m: MetricDefinition) => `**${m.id}** (${unitText(m.unit)}): ${m.definition}.`) });
  return out;
}

/** The scenario's claims and invariants that held in some runs and not in others, each with the rules that separate them (collect.ts `mixedOutcomes`). */
function failingRunsSection(s: ScenarioResult, data: ReportData, profileLabel: (p: string) => string): Block[] {
  const rows: string[][] = [];
  for (const m of mixedOutcomes(s, data.system)) {
    if (m.separation === null) {
      rows.push([m.what, profileLabel(m.profile), `no rule on the plan's parameters removes half the errors (held in ${heldText(m.held, m.runs)})`, '', '']);
      continue;
    }
    const { rules, explained } = m.separation;
    rules.forEach((rule, i) => {
      rows.push([i === 0 ? m.what : '', i === 0 ? profileLabel(m.profile) : '', rule.conditions.map(conditionText).join(' and ') || 'every run', heldText(rule.held, rule.runs), i === 0 ? `${Math.round(100 * explained)}%` : '']);
    });
  }
  if (rows.length === 0) return [];
  return [
    { kind: 'heading', level: 3, text: 'What separates the runs that failed', id: `${s.name}-separation` },
    { kind: 'paragraph', text: 'The claims and invariants that held in some runs of a profile and not in others, each with the rules on its plan\'s parameters that best tell those runs apart (see the definitions above).' },
    { kind: 'table', head: ['claim or invariant', 'profile', 'runs where', 'held', 'errors removed'], rows },
  ];
}

function conditionText(c: Condition): string {
  return `\`${c.parameter}\` ${c.op} \`${c.value}\``;
}

function unitText(unit: MetricDefinition['unit']): string {
  return unit === 'us' ? 'time' : unit;
}
