import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioReport } from '../contract/scenario.ts';
import type { AnySystem } from '../contract/system.ts';
import { parseCount, parseFlags, UsageError } from './args.ts';
import type { WriteFs } from './atomic-write.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';
import { claimTally, coverageByProfile, mixedOutcomes, modelFailures, violationTally, type ReportData } from './report/collect.ts';
import { reachFigures } from '../harness/coverage.ts';
import { presence, reportDocument, reportTitle } from './report/document.ts';
import { systemFrom } from './case-space-flags.ts';
import { assembleReport, batchCount, collectReport, packageVersion } from './report/execute.ts';
import { present, readRunsFiles } from './report/from-files.ts';
import type { RunStore } from './report/run-store.ts';
import { summaryOf } from './report/runs-file.ts';
import { runIntoFile } from './report/resume.ts';
import { parseShard, shardSeeds, WHOLE, type Shard } from './campaign/seed-range.ts';
import { renderHtml } from './report/html.ts';
import { renderMarkdown } from './report/markdown.ts';

import { DEFAULT_REPORT_SEEDS } from './help.ts';
import { packageRoot } from './package-root.ts';
export { DEFAULT_REPORT_SEEDS, REPORT_HELP } from './help.ts';

interface ReportOptions {
  system: AnySystem;
  /** How the system presents its report (file name, title, default profiles). */
  report: ScenarioReport;
  scenarios: Array<NonNullable<AnySystem['scenarios']>[number]>;
  seeds: number;
  seedStart: number;
  profiles: string[];
  out: string;
  jobs: number;
  json: boolean;
  /** `--runs FILE`: where every finished run is appended, and the runs already there are not run again. */
  runs: string | null;
  /** `--shard K/N`: the part of the seeds this command runs (1/1: all). */
  shard: Shard;
  /** `--from FILE...`: build the report from runs files instead of running. */
  from: string[] | null;
  /** Which of the flags the plan comes from were given (`--from` takes the others from the files). */
  given: { scenarios: boolean; profiles: boolean; seeds: boolean };
}

const FLAGS = {
  system: { type: 'string' },
  scenario: { type: 'string', multiple: true },
  seeds: { type: 'string' },
  'seed-start': { type: 'string' },
  profiles: { type: 'string' },
  out: { type: 'string', default: 'docs' },
  jobs: { type: 'string' },
  json: { type: 'boolean', default: false },
  runs: { type: 'string' },
  shard: { type: 'string' },
  from: { type: 'string', multiple: true },
} as const;

/**
 * The runs files of `--from FILE...` (null without it): `--from a.jsonl b.jsonl`, or a shell glob,
 * makes the arguments after the first file files too. Flags that run something do not go with it.
 */
function fromFiles(values: ReturnType<typeof parseFlags<typeof FLAGS>>['values'], positionals: string[]): string[] | null {
  const from = values.from === undefined ? null : [...values.from, ...positionals];
  if (from === null && positionals.length > 0) throw new UsageError(`report: unexpected argument '${positionals[0]}'`);
  if (from !== null) {
    const running = (['runs', 'shard', 'jobs'] as const).find((f) => values[f] !== undefined);
    if (running !== undefined) throw new UsageError(`--from builds the report from runs files and runs nothing: --${running} does not go with it`);
  }
  return from;
}

/**
 * Parses `hasim report` flags; bad input is a UsageError naming it. `systemOfFiles` is the system
 * of the runs files given with `--from`, the default when `--system` is not given.
 */
export function parseReportArgs(argv: string[], systemOfFiles?: AnySystem): ReportOptions {
  const { values, positionals } = parseFlags(argv, FLAGS);
  const from = fromFiles(values, positionals);
  if (values.shard !== undefined && values.runs === undefined) throw new UsageError('--shard: needs --runs FILE (a shard appends its runs there; hasim report --from builds the report from the shards\' files)');
  let shard = WHOLE;
  if (values.shard !== undefined) shard = parseShard(values.shard) ?? (() => {
    throw new UsageError(`--shard: expected K/N with 1 <= K <= N, got '${values.shard}'`);
  })();
  const system = values.system === undefined && systemOfFiles !== undefined ? systemOfFiles : systemFrom(values.system);
  const report = system.scenarioReport;
  const known = system.scenarios ?? [];
  if (report === undefined || known.length === 0) throw new UsageError(`report: the system '${system.name}' has no scenario report`);
  const names = (values.scenario ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const scenarios = names.length === 0 ? [...known] : names.map((name) => {
    const s = known.find((x) => x.name === name);
    if (s === undefined) throw new UsageError(`--scenario: unknown scenario '${name}' (see: hasim list)`);
    return s;
  });
  const seeds = values.seeds === undefined ? DEFAULT_REPORT_SEEDS : parseCount('seeds', values.seeds);
  if (seeds < 1) throw new UsageError('--seeds: expected at least 1');
  const seedStart = values['seed-start'] === undefined ? 0 : parseCount('seed-start', values['seed-start']);
  if (!Number.isSafeInteger(seedStart + (seeds - 1))) throw new UsageError('--seed-start: the last seed would not be a safe integer');
  const profiles = values.profiles === undefined ? [...report.defaultProfiles] : values.profiles.split(',').map((p) => p.trim());
  const profileNames = system.profiles.map((p) => p.name);
  for (const p of profiles) if (!profileNames.includes(p)) throw new UsageError(`--profiles: unknown profile '${p}' (known: ${profileNames.join(', ')})`);
  const jobs = values.jobs === undefined ? availableParallelism() : parseCount('jobs', values.jobs);
  if (jobs < 1) throw new UsageError('--jobs: expected at least 1');
  return {
    system, report, scenarios, seeds, seedStart, profiles, out: values.out, jobs, json: values.json, runs: values.runs ?? null, shard, from,
    given: { scenarios: names.length > 0, profiles: values.profiles !== undefined, seeds: values.seeds !== undefined || values['seed-start'] !== undefined },
  };
}

/**
 * The git commit of the checkout at `dir` (default: this hasim's), as the report states it: the
 * short hash, with " (with uncommitted changes)" when `git status --porcelain` lists anything, or
 * "unknown" when `dir` is not a git checkout of hasim (its package.json untracked or no repository)
 * or git cannot be run. Read once per report, never
 * inside a run.
 */
export function gitCommit(dir: string = fileURLToPath(packageRoot())): string {
  const git = (args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  try {
    // A checkout of this code, not some other repository that merely contains it (node_modules).
    git(['ls-files', '--error-unmatch', 'package.json']);
    const commit = git(['rev-parse', '--short', 'HEAD']);
    return git(['status', '--porcelain']) === '' ? commit : `${commit} (with uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

export interface ReportIo {
  err?: (line: string) => void;
  /**
   * Interrupts the report like Ctrl-C (tests): each `abort` event is one Ctrl-C, so an AbortSignal
   * gives one and an EventTarget may give a second. Default: SIGINT and SIGTERM.
   */
  signal?: EventTarget;
  /** The file-system calls of the report's writes (tests make them fail). Default: node:fs. */
  fs?: WriteFs;
}

/**
 * `hasim report`. A Ctrl-C (or SIGTERM) stops starting runs and lets the ones in flight finish; a
 * second abandons those too. Either way the runs that finished are written as a report marked
 * partial in its title, its first paragraph and the JSON summary; exit 130, or 1 when a run violated
 * an invariant. With `--runs FILE` every finished run is appended to FILE, and the runs in it are
 * not run again; with `--shard K/N` too, only every N-th seed is run and no report is written;
 * with `--from FILE...` nothing is run and the report is built from the files.
 */
export async function reportCommand(argv: string[], out: (line: string) => void, io: ReportIo = {}): Promise<number> {
  const err = io.err ?? ((l: string) => void process.stderr.write(l + '\n'));
  const flags = parseFlags(argv, FLAGS);
  const from = fromFiles(flags.values, flags.positionals);
  if (from !== null) return fromCommand(argv, flags.values.system, from, out, io);
  const o = parseReportArgs(argv);
  const sharded = o.shard.count > 1;
  const md = join(o.out, `${o.report.file}.md`);
  const html = join(o.out, `${o.report.file}.html`);
  checkOutputPaths([
    o.runs !== null && { flag: '--runs', path: o.runs, kind: 'file' },
    // A shard writes no report: the shards' runs files make it (--from).
    !sharded && { flag: '--out', path: o.out, kind: 'dir' },
    !sharded && { flag: '--out', path: md, kind: 'file' },
    !sharded && { flag: '--out', path: html, kind: 'file' },
  ]);
  const commit = gitCommit();
  const started = performance.now();
  if (o.runs === null) {
    // A thread per batch at most: more would start, load the model, and idle.
    const jobs = Math.max(1, Math.min(o.jobs, batchCount(o)));
    const data = await interruptible(err, io, 'writing a partial report', (options) => collectReport({ system: o.system, scenarios: o.scenarios, profiles: o.profiles, firstSeed: o.seedStart, seeds: o.seeds, jobs, commit }, options));
    return writeReport(o, data, `in ${(data.wallMs / 1000).toFixed(1)} s with ${jobs} worker(s)`, {}, out, io);
  }
  const runsFile = o.runs;
  const r = await interruptible(err, io, sharded ? `stopping (each finished run is in ${runsFile})` : 'writing a partial report', (options) => runIntoFile({
    system: o.system, scenarios: o.scenarios, profiles: o.profiles, seedStart: o.seedStart, seeds: o.seeds, shard: o.shard,
    file: runsFile, version: packageVersion(), commit, jobs: o.jobs,
  }, options));
  if (r.torn) err(`${runsFile}: its last line was cut off mid-write (a killed report); that run is run again`);
  const wall = `in ${((performance.now() - started) / 1000).toFixed(1)} s with ${r.jobs} worker(s); ${r.present} were in ${runsFile}, ${r.appended} appended`;
  const extra = { runsFile, present: r.present, appended: r.appended };
  if (!sharded) {
    const data = storeReport(o, r.store, false, performance.now() - started);
    return writeReport(o, data, wall, extra, out, io);
  }
  // A shard: its runs are in the file; say what they found and how to build the report.
  const seeds = new Set(shardSeeds({ start: o.seedStart, total: o.seeds, shard: o.shard }));
  const shardRuns = r.store.lines().filter((l) => seeds.has(l.seed) && o.profiles.includes(l.profile) && o.scenarios.some((s) => s.name === l.scenario));
  const violating = shardRuns.filter((l) => l.violations.length > 0 || l.outcome === 'model-failure').length;
  const shardText = `${o.shard.index}/${o.shard.count}`;
  if (o.json) {
    out(JSON.stringify({ shard: shardText, seeds: [o.seedStart, o.seedStart + o.seeds - 1], partial: r.interrupted, runs: { done: r.present + r.appended, planned: r.planned }, violating, wallMs: Math.round(performance.now() - started), ...extra }));
  } else {
    out(`shard ${shardText}: ${r.interrupted ? `PARTIAL (interrupted): ${r.present + r.appended} of ` : ''}${r.planned} runs (${o.scenarios.length} scenarios x ${o.profiles.length} profiles x ${seeds.size} seeds) ${wall}`);
    if (violating > 0) out(`${violating} runs violated an invariant or failed the model`);
    out(`no report written for a shard: when every shard is done, hasim report --from <each shard's runs file> --out DIR`);
  }
  return violating > 0 ? 1 : r.interrupted ? 130 : 0;
}

/**
 * `hasim report --from FILE...`: the report of the runs the files hold, as a command with the same
 * flags writes it, without running anything. The scenarios, profiles and seeds not given as flags
 * are those of the files. Runs missing make it partial, naming them; runs outside the flags' plan
 * are left out.
 */
function fromCommand(argv: string[], systemFlag: string | undefined, files: string[], out: (line: string) => void, io: ReportIo): number {
  const read = readRunsFiles(files, packageVersion(), systemFlag === undefined ? undefined : systemFrom(systemFlag));
  const system = read.store.systemOf!;
  const o = parseReportArgs(argv, system);
  checkOutputPaths([
    { flag: '--out', path: o.out, kind: 'dir' },
    { flag: '--out', path: join(o.out, `${o.report.file}.md`), kind: 'file' },
    { flag: '--out', path: join(o.out, `${o.report.file}.html`), kind: 'file' },
  ]);
  const inFiles = present(read.store, system);
  const plan: ReportOptions = {
    ...o,
    scenarios: o.given.scenarios ? o.scenarios : inFiles.scenarios,
    profiles: o.given.profiles ? o.profiles : inFiles.profiles,
    ...(o.given.seeds ? {} : { seedStart: inFiles.seedStart, seeds: inFiles.seeds }),
  };
  const data = storeReport(plan, read.store, true, 0);
  const used = data.scenarios.reduce((n, s) => n + s.profiles.reduce((m, p) => m + p.runs.length, 0), 0);
  const left = read.store.size - used;
  const notes = [
    ...(left > 0 ? [`${left} runs in the files are outside the scenarios, profiles or seeds asked for and are left out`] : []),
    ...read.torn.map((f) => `${f}: its last line was cut off mid-write (a killed report); that run is missing`),
  ];
  return writeReport(plan, data, `from ${files.length} runs file${files.length === 1 ? '' : 's'}`, { from: files, leftOut: left, torn: read.torn }, out, io, notes);
}

/**
 * The report's data from a store of runs: the plan's scenarios, profiles and seeds, the runs there
 * are of them. Runs missing are an interrupt's, or with `fromFiles` the files' (`--from`).
 */
function storeReport(o: Pick<ReportOptions, 'system' | 'scenarios' | 'profiles' | 'seedStart' | 'seeds'>, store: RunStore, fromFiles: boolean, wallMs: number): ReportData {
  const last = o.seedStart + o.seeds - 1;
  const lines = new Map(o.scenarios.flatMap((s) => o.profiles.map((p) => [`${s.name}\n${p}`, store.linesOf(s.name, p, o.seedStart, last)] as const)));
  // The commits that ran them: one for a report run at once, several for shards run at different ones.
  const commits = [...new Set([...lines.values()].flatMap((list) => list.map((l) => l.commit)))].sort();
  return assembleReport({
    system: o.system, scenarios: o.scenarios, profiles: o.profiles, firstSeed: o.seedStart, seeds: o.seeds,
    version: packageVersion(), commit: commits.length === 0 ? gitCommit() : commits.join(', '), wallMs: Math.round(wallMs),
    runsOf: (s, p) => (lines.get(`${s}\n${p}`) ?? []).map(summaryOf),
    ...(fromFiles ? { missing: true } : {}),
  });
}

/** Runs `work` with Ctrl-C and SIGTERM (or `io.signal`) as its stop and abandon signals; `then` says what follows an interrupt. */
async function interruptible<T>(err: (line: string) => void, io: ReportIo, then: string, work: (options: { stop: AbortSignal; abandon: AbortSignal }) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const abandon = new AbortController();
  const onSignal = (): void => {
    if (!stop.signal.aborted) {
      err(`interrupted: finishing the runs in flight, then ${then}; interrupt again to stop now`);
      stop.abort();
    } else if (!abandon.signal.aborted) {
      err(`interrupted again: abandoning the runs in flight; ${then}`);
      abandon.abort();
    }
  };
  if (io.signal !== undefined) io.signal.addEventListener('abort', onSignal);
  else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    return await work({ stop: stop.signal, abandon: abandon.signal });
  } finally {
    if (io.signal !== undefined) io.signal.removeEventListener('abort', onSignal);
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

/**
 * Writes the report's Markdown and HTML files and prints what it holds: `how` says how the runs
 * were had, `extra` goes into the JSON summary, `notes` are printed after the text summary.
 * Exit 1 when a run violated an invariant, 130 when interrupted, else 0.
 */
function writeReport(o: ReportOptions, data: ReportData, how: string, extra: Record<string, unknown>, out: (line: string) => void, io: ReportIo, notes: string[] = []): number {
  const md = join(o.out, `${o.report.file}.md`);
  const html = join(o.out, `${o.report.file}.html`);
  const blocks = reportDocument(data);
  // Each file on its own: a failed write costs that file, not the other or the printed summary.
  const outputs = new Outputs(io.fs);
  const written = [
    outputs.write('--out', md, renderMarkdown(blocks)) ? md : null,
    outputs.write('--out', html, renderHtml(blocks, reportTitle(data))) ? html : null,
  ].filter((f): f is string => f !== null);
  const violated = data.scenarios.some((s) => s.profiles.some((p) => violationTally(p).size > 0 || modelFailures(p).length > 0));
  const seeds = data.lastSeed - data.firstSeed + 1;
  if (o.json) {
    out(JSON.stringify({ files: written, ...summary(data), ...extra }));
  } else {
    const planned = data.scenarios.length * data.profiles.length * seeds;
    const cause = data.partial?.missing === true ? 'missing runs' : 'interrupted';
    const runs = data.partial === undefined ? `${planned} runs` : `PARTIAL (${cause}): ${data.partial.runs} of ${planned} runs`;
    out(`${runs} (${data.scenarios.length} scenarios x ${data.profiles.length} profiles x ${seeds} seeds) ${how}`);
    if (data.partial !== undefined) for (const line of presence(data, (p) => p)) out(`  ${line}`);
    if (written.length > 0) out(`wrote ${written.join(' and ')}${data.partial === undefined ? '' : ' (marked partial)'}`);
    for (const n of notes) out(n);
  }
  outputs.throwIfFailed();
  return violated ? 1 : data.partial !== undefined && data.partial.missing !== true ? 130 : 0;
}

/** Per scenario and profile: claims held, invariant violations, model failures. */
function summary(data: ReportData) {
  return {
    version: data.version, commit: data.commit, seeds: [data.firstSeed, data.lastSeed], wallMs: data.wallMs,
    partial: data.partial !== undefined,
    runs: { done: data.partial?.runs ?? data.scenarios.length * data.profiles.length * (data.lastSeed - data.firstSeed + 1), planned: data.partial?.planned ?? data.scenarios.length * data.profiles.length * (data.lastSeed - data.firstSeed + 1) },
    scenarios: data.scenarios.map((s) => ({
      name: s.name,
      profiles: s.profiles.map((p) => ({
        profile: p.profile,
        claims: s.claims.map((c) => ({ text: c.text, metric: c.metric ?? null, ...claimTally(c, p) })),
        violations: Object.fromEntries([...violationTally(p)].map(([k, v]) => [k, { count: v.count, seed: v.seed }])),
        modelFailures: modelFailures(p).length,
      })),
      // What separates the runs where a claim or invariant held from the others (the report's section).
      mixed: mixedOutcomes(s, data.system),
    })),
    // Statechart coverage per profile, over every scenario (the report's section; docs/coverage.md).
    coverage: coverageByProfile(data).map((p) => ({
      profile: p.profile,
      runs: p.runs,
      machines: p.machines.map(reachFigures),
    })),
  };
}
