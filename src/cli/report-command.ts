import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { findScenario, SCENARIOS, type Scenario } from '../model/scenarios/index.ts';
import { PROFILES } from '../model/profiles.ts';
import { parseCount, parseFlags, UsageError } from './args.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { claimTally, modelFailures, violationTally, type ReportData } from './report/collect.ts';
import { reportDocument } from './report/document.ts';
import { collectReport } from './report/execute.ts';
import { renderHtml } from './report/html.ts';
import { renderMarkdown } from './report/markdown.ts';

/** Seeds per scenario and profile by default: the p99 is then the 10th largest of 1,000 values (2,000 runs per scenario). */
export const DEFAULT_REPORT_SEEDS = 1000;
/** The files a report is written to, in `--out`. */
export const REPORT_FILE = 'streamspace-seed-reports';

export const REPORT_HELP = `hasim report [--scenario NAME[,NAME...]]... [--seeds N] [--profiles P[,P...]] [--out DIR] [--jobs N] [--json]
  Runs every scenario of the StreamSpace seed reports (or those named) over seeds 0..N-1 (default
  ${DEFAULT_REPORT_SEEDS}) under each profile (default streamspace-v2,hardened) and writes
  DIR/${REPORT_FILE}.md and .html (default DIR docs/): each claim of the seed reports, the share of
  runs in which it held with a replay command for one that did not, the distribution of every
  metric (min, p50, p95, p99, max; CDFs in the HTML), invariant violations and availability.
  --jobs sets the worker threads (default: one per core); the report does not depend on it.
  --json prints a summary per scenario and profile instead of text.
  Exit 0 when no run violated an invariant, 1 when one did (the report is written either way).`;

interface ReportOptions {
  scenarios: Scenario[];
  seeds: number;
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
  const profiles = (values.profiles ?? 'streamspace-v2,hardened').split(',').map((p) => p.trim());
  for (const p of profiles) if (!(p in PROFILES)) throw new UsageError(`--profiles: unknown profile '${p}' (known: ${Object.keys(PROFILES).join(', ')})`);
  const jobs = values.jobs === undefined ? availableParallelism() : parseCount('jobs', values.jobs);
  if (jobs < 1) throw new UsageError('--jobs: expected at least 1');
  return { scenarios, seeds, profiles, out: values.out, jobs, json: values.json };
}

/** `hasim report`. */
export async function reportCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const o = parseReportArgs(argv);
  const data = await collectReport({ scenarios: o.scenarios, profiles: o.profiles, firstSeed: 0, seeds: o.seeds, jobs: o.jobs });
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
    version: data.version, seeds: [data.firstSeed, data.lastSeed], wallMs: data.wallMs,
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
