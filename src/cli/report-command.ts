import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findScenario, SCENARIOS, type Scenario } from '../systems/streamspace/scenarios/index.ts';
import { PROFILES } from '../systems/streamspace/profiles.ts';
import { parseCount, parseFlags, UsageError } from './args.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { claimTally, modelFailures, violationTally, type ReportData } from './report/collect.ts';
import { reportDocument } from './report/document.ts';
import { DEFAULT_REPORT_PROFILES } from './report/definitions.ts';
import { collectReport } from './report/execute.ts';
import { renderHtml } from './report/html.ts';
import { renderMarkdown } from './report/markdown.ts';

import { DEFAULT_REPORT_SEEDS, REPORT_FILE } from './help.ts';
import { packageRoot } from './package-root.ts';
export { DEFAULT_REPORT_SEEDS, REPORT_FILE, REPORT_HELP } from './help.ts';

interface ReportOptions {
  scenarios: Scenario[];
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
    scenario: { type: 'string', multiple: true },
    seeds: { type: 'string' },
    'seed-start': { type: 'string' },
    profiles: { type: 'string' },
    out: { type: 'string', default: 'docs' },
    jobs: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`report: unexpected argument '${positionals[0]}'`);
  const names = (values.scenario ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const scenarios = names.length === 0 ? [...SCENARIOS] : names.map((name) => {
    const s = findScenario(name);
    if (s === undefined) throw new UsageError(`--scenario: unknown scenario '${name}' (see: hasim list)`);
    return s;
  });
  const seeds = values.seeds === undefined ? DEFAULT_REPORT_SEEDS : parseCount('seeds', values.seeds);
  if (seeds < 1) throw new UsageError('--seeds: expected at least 1');
  const seedStart = values['seed-start'] === undefined ? 0 : parseCount('seed-start', values['seed-start']);
  if (!Number.isSafeInteger(seedStart + (seeds - 1))) throw new UsageError('--seed-start: the last seed would not be a safe integer');
  const profiles = values.profiles === undefined ? [...DEFAULT_REPORT_PROFILES] : values.profiles.split(',').map((p) => p.trim());
  for (const p of profiles) if (!(p in PROFILES)) throw new UsageError(`--profiles: unknown profile '${p}' (known: ${Object.keys(PROFILES).join(', ')})`);
  const jobs = values.jobs === undefined ? availableParallelism() : parseCount('jobs', values.jobs);
  if (jobs < 1) throw new UsageError('--jobs: expected at least 1');
  return { scenarios, seeds, seedStart, profiles, out: values.out, jobs, json: values.json };
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

/** `hasim report`. */
export async function reportCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const o = parseReportArgs(argv);
  const data = await collectReport({ scenarios: o.scenarios, profiles: o.profiles, firstSeed: o.seedStart, seeds: o.seeds, jobs: o.jobs, commit: gitCommit() });
  const blocks = reportDocument(data);
  const md = join(o.out, `${REPORT_FILE}.md`);
  const html = join(o.out, `${REPORT_FILE}.html`);
  writeFileAtomic(md, renderMarkdown(blocks));
  writeFileAtomic(html, renderHtml(blocks, 'The StreamSpace seed reports, rerun as seeded simulations'));
  const violated = data.scenarios.some((s) => s.profiles.some((p) => violationTally(p).size > 0 || modelFailures(p).length > 0));
  if (o.json) {
    out(JSON.stringify({ files: [md, html], ...summary(data) }));
  } else {
    const runs = data.scenarios.length * data.profiles.length * o.seeds;
    out(`${runs} runs (${data.scenarios.length} scenarios x ${data.profiles.length} profiles x ${o.seeds} seeds) in ${(data.wallMs / 1000).toFixed(1)} s with ${o.jobs} worker(s)`);
    out(`wrote ${md} and ${html}`);
  }
  return violated ? 1 : 0;
}

/** Per scenario and profile: claims held, invariant violations, model failures. */
function summary(data: ReportData) {
  return {
    version: data.version, commit: data.commit, seeds: [data.firstSeed, data.lastSeed], wallMs: data.wallMs,
    scenarios: data.scenarios.map((s) => ({
      name: s.name,
      profiles: s.profiles.map((p) => ({
        profile: p.profile,
        claims: s.claims.map((c) => ({ text: c.text, metric: c.metric ?? null, ...claimTally(c, p) })),
        violations: Object.fromEntries([...violationTally(p)].map(([k, v]) => [k, { count: v.count, seed: v.seed }])),
        modelFailures: modelFailures(p).length,
      })),
    })),
  };
}
