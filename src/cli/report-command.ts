import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioReport } from '../contract/scenario.ts';
import type { AnySystem } from '../contract/system.ts';
import { parseCount, parseFlags, UsageError } from './args.ts';
import type { WriteFs } from './atomic-write.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';
import { claimTally, coverageByProfile, modelFailures, violationTally, type ReportData } from './report/collect.ts';
import { reachFigures } from '../harness/coverage.ts';
import { reportDocument, reportTitle } from './report/document.ts';
import { systemFrom } from './case-space-flags.ts';
import { batchCount, collectReport } from './report/execute.ts';
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
}

/** Parses `hasim report` flags; bad input is a UsageError naming it. */
export function parseReportArgs(argv: string[]): ReportOptions {
  const { values, positionals } = parseFlags(argv, {
    system: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    seeds: { type: 'string' },
    'seed-start': { type: 'string' },
    profiles: { type: 'string' },
    out: { type: 'string', default: 'docs' },
    jobs: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`report: unexpected argument '${positionals[0]}'`);
  const system = systemFrom(values.system);
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
  return { system, report, scenarios, seeds, seedStart, profiles, out: values.out, jobs, json: values.json };
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
 * an invariant.
 */
export async function reportCommand(argv: string[], out: (line: string) => void, io: ReportIo = {}): Promise<number> {
  const err = io.err ?? ((l: string) => void process.stderr.write(l + '\n'));
  const o = parseReportArgs(argv);
  const md = join(o.out, `${o.report.file}.md`);
  const html = join(o.out, `${o.report.file}.html`);
  checkOutputPaths([
    { flag: '--out', path: o.out, kind: 'dir' },
    { flag: '--out', path: md, kind: 'file' },
    { flag: '--out', path: html, kind: 'file' },
  ]);
  // A thread per batch at most: more would start, load the model, and idle.
  const jobs = Math.max(1, Math.min(o.jobs, batchCount(o)));

  const stop = new AbortController();
  const abandon = new AbortController();
  const onSignal = (): void => {
    if (!stop.signal.aborted) {
      err('interrupted: finishing the runs in flight, then writing a partial report; interrupt again to stop now');
      stop.abort();
    } else if (!abandon.signal.aborted) {
      err('interrupted again: abandoning the runs in flight; writing a partial report');
      abandon.abort();
    }
  };
  if (io.signal !== undefined) io.signal.addEventListener('abort', onSignal);
  else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let data: ReportData;
  try {
    data = await collectReport({ system: o.system, scenarios: o.scenarios, profiles: o.profiles, firstSeed: o.seedStart, seeds: o.seeds, jobs, commit: gitCommit() }, { stop: stop.signal, abandon: abandon.signal });
  } finally {
    if (io.signal !== undefined) io.signal.removeEventListener('abort', onSignal);
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  const blocks = reportDocument(data);
  // Each file on its own: a failed write costs that file, not the other or the printed summary.
  const outputs = new Outputs(io.fs);
  const written = [
    outputs.write('--out', md, renderMarkdown(blocks)) ? md : null,
    outputs.write('--out', html, renderHtml(blocks, reportTitle(data))) ? html : null,
  ].filter((f): f is string => f !== null);
  const violated = data.scenarios.some((s) => s.profiles.some((p) => violationTally(p).size > 0 || modelFailures(p).length > 0));
  if (o.json) {
    out(JSON.stringify({ files: written, ...summary(data) }));
  } else {
    const planned = data.scenarios.length * data.profiles.length * o.seeds;
    const runs = data.partial === undefined ? `${planned} runs` : `PARTIAL (interrupted): ${data.partial.runs} of ${planned} runs`;
    out(`${runs} (${data.scenarios.length} scenarios x ${data.profiles.length} profiles x ${o.seeds} seeds) in ${(data.wallMs / 1000).toFixed(1)} s with ${jobs} worker(s)`);
    if (written.length > 0) out(`wrote ${written.join(' and ')}${data.partial === undefined ? '' : ' (marked partial)'}`);
  }
  outputs.throwIfFailed();
  return violated ? 1 : data.partial !== undefined ? 130 : 0;
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
    })),
    // Statechart coverage per profile, over every scenario (the report's section; docs/coverage.md).
    coverage: coverageByProfile(data).map((p) => ({
      profile: p.profile,
      runs: p.runs,
      machines: p.machines.map(reachFigures),
    })),
  };
}
