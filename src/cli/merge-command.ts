import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { invariantIds } from '../harness/run-case.ts';
import { readTraceFile, TraceFileError } from '../harness/trace-file.ts';
import { SYSTEMS } from '../systems/index.ts';
import { parseFlags, UsageError } from './args.ts';
import type { DeterminismMismatch } from './campaign/campaign.ts';
import { BUGS_FILE } from './campaign/findings-store.ts';
import { bugLines, bugsJson, invariantLines, invariantsJson, junitXml, selfCheckLines, type BugRow, type InvariantRow, type ShrinkFigures, type UnclassifiedRow } from './campaign/summary.ts';
import { isRecord, jsonLines, readText } from './json-lines.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';

export { MERGE_HELP } from './help.ts';

/**
 * `hasim merge DIR... [--results FILE...]`: the shards of one campaign (`hasim fuzz --shard K/N`,
 * each with its own `--out`) merged into one summary and one JUnit report, from what the shards left
 * on disk. A seed's outcome and hash do not depend on the shard that ran it, so merging is counting:
 * the failing seeds of each invariant across shards, the lowest one with a counterexample file as
 * the example, and any seed recorded twice with two different hashes as a determinism mismatch.
 */

/** A failing seed, as a shard's `violations.jsonl` records it. */
interface ViolationRecord {
  seed: number;
  outcome: string;
  hash: string;
  profile: string | null;
  message: string;
  where: string;
}

/** A seed's outcome and hash, as a `--results` file records it. */
interface ResultRecord {
  seed: number;
  outcome: string;
  hash: string;
  where: string;
}

/** A counterexample trace file in a findings directory. */
interface Counterexample {
  invariant: string;
  seed: number;
  file: string;
  profile: string;
  system: string;
  invariants: string[] | null;
  shrunk: ShrinkFigures | null;
}

/** What merge reads of a shard's `hasim fuzz --json` summary. */
interface ShardSummary {
  file: string;
  profile: string | null;
  seedStart: number | null;
  shard: string | null;
  seedsRun: number;
  interrupted: boolean;
  budgetExhausted: boolean;
  elapsedMs: number;
  selfCheckEvery: number | null;
  selfChecks: number;
  invariantsChecked: string[] | null;
  mismatches: DeterminismMismatch[];
  /** The example message per invariant and seed (the shrunk run's, when it was shrunk). */
  messages: Map<string, string>;
}

interface Shard {
  dir: string;
  violations: ViolationRecord[];
  counterexamples: Counterexample[];
  summaries: ShardSummary[];
  /** The shard's `bugs.json`, when it triaged (its files as found in this directory). */
  bugs: { bugs: BugRow[]; unclassified: UnclassifiedRow[] } | null;
}

/** The merged campaign. */
export interface Merged {
  dirs: string[];
  resultFiles: string[];
  profile: string | null;
  /** The shards named by the summaries (`K/N`), and those of the same N no summary names. */
  shards: string[];
  missingShards: string[];
  /** Seeds run, or null when neither results files nor a summary for every directory say. */
  seedsRun: number | null;
  passed: number | null;
  violating: number;
  interrupted: boolean;
  budgetExhausted: boolean;
  elapsedMs: number;
  invariants: InvariantRow[];
  /**
   * The distinct bugs across shards, added up by signature (null when a directory with violations
   * has no `bugs.json`: it did not triage), and the failing seeds no shard's bugs account for.
   */
  bugs: BugRow[] | null;
  unclassified: UnclassifiedRow[];
  /** Directories with violations and no `bugs.json`. */
  untriaged: string[];
  invariantsChecked: string[];
  selfCheckEvery: number | null;
  selfChecks: number | null;
  mismatches: DeterminismMismatch[];
}

const VIOLATIONS = 'violations.jsonl';
const SUMMARY = /^summary(-.+)?\.json$/;

function bad(message: string): never {
  throw new UsageError(`merge: ${message}`);
}

function seedOf(v: Record<string, unknown>, where: string): number {
  const seed = v['seed'];
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) bad(`${where}: seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
  return seed;
}

function stringOf(v: Record<string, unknown>, key: string, where: string): string {
  const s = v[key];
  if (typeof s !== 'string' || s === '') bad(`${where}: ${key} must be a non-empty string, got ${JSON.stringify(s)}`);
  return s;
}

function readViolations(path: string): ViolationRecord[] {
  return jsonLines(path, bad).map(({ value, where }) => ({
    seed: seedOf(value, where),
    outcome: stringOf(value, 'outcome', where),
    hash: stringOf(value, 'hash', where),
    profile: typeof value['profile'] === 'string' ? value['profile'] : null,
    message: typeof value['message'] === 'string' ? value['message'] : '',
    where,
  }));
}

function readResults(path: string): ResultRecord[] {
  return jsonLines(path, bad).map(({ value, where }) => ({ seed: seedOf(value, where), outcome: stringOf(value, 'outcome', where), hash: stringOf(value, 'hash', where), where }));
}

const FIGURES = ['faultsFound', 'faultsMinimal', 'shrinkSteps', 'shrinkRuns', 'minimizeRuns'] as const;

function readCounterexample(path: string): Counterexample | null {
  let trace;
  try {
    trace = readTraceFile(path, SYSTEMS);
  } catch (error) {
    if (error instanceof TraceFileError) bad(error.message);
    throw error;
  }
  // The campaign's expectation is the file's first (a findings store writes exactly one).
  const expectation = trace.expectations[0]!;
  // A bug's minimal case (triage) is a case of its own configuration, not an invariant's example: bugs.json lists it.
  if (expectation.outcome === 'pass' || trace.found?.['bug'] !== undefined) return null;
  const found = trace.found ?? {};
  // `ddminRuns` only where delta debugging ran (not in files written before it).
  const ddminRuns = found['ddminRuns'];
  const shrunk = found['shrunk'] === 'yes' && FIGURES.every((k) => typeof found[k] === 'number')
    ? { ...Object.fromEntries(FIGURES.map((k) => [k, found[k] as number])), ...(typeof ddminRuns === 'number' ? { ddminRuns } : {}) } as unknown as ShrinkFigures
    : null;
  return { invariant: expectation.outcome, seed: trace.seed, file: path, profile: expectation.profile, system: trace.system, invariants: trace.invariants ?? null, shrunk };
}

/**
 * A shard's `hasim fuzz --json` summary. The file may hold lines before the JSON (GitHub Actions
 * annotations, when the output was copied with tee): the summary is the last line that is a JSON
 * object. An empty file is a shard that stopped before printing one (`hasim fuzz --json > FILE`
 * creates the file first): no summary, not a corrupt one.
 */
function readSummary(path: string): ShardSummary | null {
  const text = readText(path, bad);
  if (text.trim() === '') return null;
  const line = text.split('\n').filter((l) => l.trimStart().startsWith('{')).at(-1);
  if (line === undefined) bad(`${path}: no hasim fuzz --json summary in it`);
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (error) {
    bad(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(v)) bad(`${path}: expected a JSON object`);
  const count = (key: string): number => {
    const n = v[key];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) bad(`${path}: ${key} must be a non-negative number, got ${JSON.stringify(n)}`);
    return n;
  };
  const mismatches = v['mismatches'];
  if (!Array.isArray(mismatches)) bad(`${path}: mismatches must be an array`);
  for (const m of mismatches) {
    if (!isRecord(m) || typeof m['seed'] !== 'number' || !Array.isArray(m['hashes']) || m['hashes'].length !== 2) bad(`${path}: a mismatch must have a seed and two hashes`);
  }
  const invariants = Array.isArray(v['invariants']) ? v['invariants'] : bad(`${path}: invariants must be an array`);
  const messages = new Map<string, string>();
  for (const inv of invariants) {
    if (!isRecord(inv) || typeof inv['invariant'] !== 'string') bad(`${path}: every invariant must name its invariant`);
    const ex = inv['example'];
    if (isRecord(ex) && typeof ex['seed'] === 'number' && typeof ex['message'] === 'string') messages.set(`${inv['invariant']}/${ex['seed']}`, ex['message']);
  }
  const checked = v['invariantsChecked'];
  return {
    file: path,
    profile: typeof v['profile'] === 'string' ? v['profile'] : null,
    seedStart: typeof v['seedStart'] === 'number' ? v['seedStart'] : null,
    shard: typeof v['shard'] === 'string' ? v['shard'] : null,
    seedsRun: count('seedsRun'),
    interrupted: v['interrupted'] === true,
    budgetExhausted: v['budgetExhausted'] === true,
    elapsedMs: count('elapsedMs'),
    selfCheckEvery: typeof v['selfCheckEvery'] === 'number' ? v['selfCheckEvery'] : null,
    selfChecks: count('selfChecks'),
    invariantsChecked: Array.isArray(checked) && checked.every((c) => typeof c === 'string') ? checked as string[] : null,
    mismatches: mismatches as DeterminismMismatch[],
    messages,
  };
}

/**
 * A findings directory's `bugs.json` (written by `hasim fuzz` or `hasim triage`): its bugs, with
 * each file named as it is in this directory (the shard may have been moved, as CI artifacts are).
 */
export function readBugs(path: string, dir: string): { bugs: BugRow[]; unclassified: UnclassifiedRow[] } {
  let v: unknown;
  try {
    v = JSON.parse(readText(path, bad));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    bad(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(v) || v['format'] !== 'hasim-bugs' || !Array.isArray(v['bugs']) || !Array.isArray(v['unclassified'])) bad(`${path}: not a hasim bugs file (format "hasim-bugs", bugs, unclassified)`);
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((e) => typeof e === 'string');
  const numbers = (x: unknown): x is number[] => Array.isArray(x) && x.every((e) => typeof e === 'number' && Number.isSafeInteger(e) && e >= 0);
  const bugs = (v['bugs'] as unknown[]).map((b, i): BugRow => {
    const where = `${path}: bugs[${i}]`;
    if (!isRecord(b)) bad(`${where}: expected an object`);
    const ex = b['example'];
    if (typeof b['id'] !== 'string' || typeof b['signature'] !== 'string' || typeof b['invariant'] !== 'string' || !strings(b['kinds']) || !strings(b['removedBy'])
      || !(b['removedTogether'] === null || strings(b['removedTogether'])) || !strings(b['context']) || typeof b['count'] !== 'number' || !numbers(b['seeds'])
      || typeof b['lowestSeed'] !== 'number' || !isRecord(ex) || typeof ex['seed'] !== 'number' || typeof ex['file'] !== 'string' || !Array.isArray(b['fixes'])) {
      bad(`${where}: expected id, signature, invariant, kinds, removedBy, removedTogether, context, count, seeds, lowestSeed, example and fixes`);
    }
    const example = ex as Record<string, unknown>;
    return {
      ...(b as unknown as BugRow),
      explainedBy: strings(b['explainedBy']) ? b['explainedBy'] : [],
      example: {
        seed: example['seed'] as number, file: join(dir, basename(example['file'] as string)),
        message: typeof example['message'] === 'string' ? example['message'] : '', time: typeof example['time'] === 'number' ? example['time'] : null,
        faultsFound: typeof example['faultsFound'] === 'number' ? example['faultsFound'] : 0, faultsMinimal: typeof example['faultsMinimal'] === 'number' ? example['faultsMinimal'] : 0,
      },
    };
  });
  const unclassified = (v['unclassified'] as unknown[]).map((u, i): UnclassifiedRow => {
    if (!isRecord(u) || typeof u['invariant'] !== 'string' || typeof u['count'] !== 'number' || !numbers(u['seeds'])) bad(`${path}: unclassified[${i}]: expected invariant, count and seeds`);
    return { invariant: u['invariant'] as string, count: u['count'] as number, seeds: u['seeds'] as number[] };
  });
  return { bugs, unclassified };
}

/**
 * The bugs of several shards as one list: bugs with the same signature are one bug (their counts
 * added, their seeds merged, the example the one of the lowest seed); unclassified seeds add up per
 * invariant. Ordered by invariant, then lowest seed.
 */
export function mergeBugs(lists: ReadonlyArray<{ bugs: readonly BugRow[]; unclassified: readonly UnclassifiedRow[] }>): { bugs: BugRow[]; unclassified: UnclassifiedRow[] } {
  const bySignature = new Map<string, BugRow>();
  for (const b of lists.flatMap((l) => l.bugs)) {
    const m = bySignature.get(b.signature);
    if (m === undefined) {
      bySignature.set(b.signature, { ...b, seeds: [...b.seeds] });
      continue;
    }
    const lower = b.lowestSeed < m.lowestSeed;
    bySignature.set(b.signature, {
      ...(lower ? b : m),
      count: m.count + b.count,
      seeds: [...new Set([...m.seeds, ...b.seeds])].sort((x, y) => x - y).slice(0, 10),
      lowestSeed: Math.min(m.lowestSeed, b.lowestSeed),
    });
  }
  const unclassified = new Map<string, UnclassifiedRow>();
  for (const u of lists.flatMap((l) => l.unclassified)) {
    const m = unclassified.get(u.invariant);
    unclassified.set(u.invariant, m === undefined ? { ...u } : { invariant: u.invariant, count: m.count + u.count, seeds: [...new Set([...m.seeds, ...u.seeds])].sort((x, y) => x - y).slice(0, 10) });
  }
  return {
    bugs: [...bySignature.values()].sort((a, b) => a.invariant.localeCompare(b.invariant) || a.lowestSeed - b.lowestSeed),
    unclassified: [...unclassified.values()].sort((a, b) => a.invariant.localeCompare(b.invariant)),
  };
}

/** One findings directory: its violations, counterexamples and summaries; other files (JUnit, results, HTML) are not its to read. */
function readShard(dir: string): Shard {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) bad(`${dir}: not a directory`);
    entries = readdirSync(dir).sort();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    return bad(`${dir}: ${code === 'ENOENT' ? 'no such directory' : `cannot read (${code ?? (error as Error).message})`}`);
  }
  const shard: Shard = { dir, violations: [], counterexamples: [], summaries: [], bugs: null };
  for (const name of entries) {
    const path = join(dir, name);
    if (name === VIOLATIONS) shard.violations = readViolations(path);
    else if (name === BUGS_FILE) shard.bugs = readBugs(path, dir);
    else if (SUMMARY.test(name)) {
      const summary = readSummary(path);
      if (summary !== null) shard.summaries.push(summary);
    }
    else if (name.endsWith('.json')) {
      const c = readCounterexample(path);
      if (c !== null) shard.counterexamples.push(c);
    }
  }
  return shard;
}

/** Splits `--results A B C` (every argument up to the next flag) and `--results=A` off the other arguments. */
function takeResults(argv: readonly string[]): { results: string[]; rest: string[] } {
  const results: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--results=')) {
      results.push(a.slice('--results='.length));
    } else if (a === '--results') {
      const before = results.length;
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) results.push(argv[++i]!);
      if (results.length === before) throw new UsageError('--results: expects one or more files');
    } else rest.push(a);
  }
  return { results, rest };
}

/** Merges what the shards left on disk. Throws a UsageError (exit 2) on a missing directory or a corrupt file. */
export function mergeShards(dirs: readonly string[], resultFiles: readonly string[]): Merged {
  // The same directory named twice (a glob and a path) counts once.
  const seen = new Set<string>();
  const unique = dirs.filter((d) => {
    let key = d;
    try {
      key = realpathSync(d);
    } catch {
      // A missing directory is reported by readShard.
    }
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const shards = unique.map(readShard);
  const results = resultFiles.map((f) => ({ file: f, records: readResults(f) }));

  // One campaign: every record names the same profile.
  const profiles = new Map<string, string>();
  for (const s of shards) {
    for (const v of s.violations) if (v.profile !== null && !profiles.has(v.profile)) profiles.set(v.profile, v.where);
    for (const c of s.counterexamples) if (!profiles.has(c.profile)) profiles.set(c.profile, c.file);
    for (const m of s.summaries) if (m.profile !== null && !profiles.has(m.profile)) profiles.set(m.profile, m.file);
  }
  if (profiles.size > 1) {
    const [a, b] = [...profiles];
    bad(`the shards are of different campaigns: profile ${a![0]} in ${a![1]}, ${b![0]} in ${b![1]}`);
  }

  // Every record of a seed, checked against the first: two hashes for one seed is a determinism failure.
  const mismatches = new Map<number, DeterminismMismatch>();
  const first = new Map<number, { outcome: string; hash: string; where: string }>();
  const record = (seed: number, outcome: string, hash: string, where: string): void => {
    const f = first.get(seed);
    if (f === undefined) first.set(seed, { outcome, hash, where });
    else if ((f.hash !== hash || f.outcome !== outcome) && !mismatches.has(seed)) {
      mismatches.set(seed, { seed, hashes: [f.hash, hash], divergence: null, where: `${f.where} (${f.outcome}) and ${where} (${outcome})` });
    }
  };
  for (const { records } of results) for (const r of records) record(r.seed, r.outcome, r.hash, r.where);
  for (const s of shards) for (const v of s.violations) record(v.seed, v.outcome, v.hash, v.where);
  for (const s of shards) for (const m of s.summaries) for (const x of m.mismatches) if (!mismatches.has(x.seed)) mismatches.set(x.seed, x);

  // Failing seeds per invariant: every record that says so, a counterexample file included.
  const failing = new Map<string, Set<number>>();
  const fail = (invariant: string, seed: number): void => {
    const set = failing.get(invariant) ?? new Set<number>();
    set.add(seed);
    failing.set(invariant, set);
  };
  for (const [seed, f] of first) if (f.outcome !== 'pass') fail(f.outcome, seed);
  const counterexamples = shards.flatMap((s) => s.counterexamples);
  for (const c of counterexamples) if (!first.has(c.seed)) fail(c.invariant, c.seed);
  const violatingSeeds = new Set([...failing.values()].flatMap((s) => [...s]));

  const messages = new Map<string, string>();
  for (const s of shards) for (const v of s.violations) if (!messages.has(`${v.outcome}/${v.seed}`)) messages.set(`${v.outcome}/${v.seed}`, v.message);
  // A summary's message for its example is the shrunk run's: preferred.
  for (const s of shards) for (const m of s.summaries) for (const [k, msg] of m.messages) messages.set(k, msg);

  const invariants: InvariantRow[] = [...failing].sort(([a], [b]) => a.localeCompare(b)).map(([invariant, set]) => {
    const seeds = [...set].sort((a, b) => a - b);
    // The example: the lowest failing seed that has a counterexample file in some shard.
    const ex = counterexamples.filter((c) => c.invariant === invariant).sort((a, b) => a.seed - b.seed || a.file.localeCompare(b.file))[0];
    return {
      invariant, runs: seeds.length, seeds: seeds.slice(0, 10),
      example: ex === undefined ? null : { seed: ex.seed, file: ex.file, message: messages.get(`${invariant}/${ex.seed}`) ?? '', shrunk: ex.shrunk },
    };
  });

  // Bugs: a directory that found violations and has no bugs.json did not triage, and leaves the merged list unknown.
  const untriaged = shards.filter((s) => s.bugs === null && (s.violations.length > 0 || s.counterexamples.length > 0)).map((s) => s.dir);
  const triaged = shards.flatMap((s) => (s.bugs === null ? [] : [s.bugs]));
  const bugs = untriaged.length > 0 || (triaged.length === 0 && violatingSeeds.size > 0) ? null : mergeBugs(triaged);

  const summaries = shards.flatMap((s) => s.summaries);
  const everyDirSummarized = shards.length > 0 && shards.every((s) => s.summaries.length > 0);
  let seedsRun: number | null = null;
  if (results.length > 0) seedsRun = new Set([...first.keys(), ...violatingSeeds]).size;
  else if (everyDirSummarized) seedsRun = summaries.reduce((n, m) => n + m.seedsRun, 0);

  const everies = new Set(summaries.map((m) => m.selfCheckEvery));
  const labels = [...new Set(summaries.map((m) => m.shard).filter((s): s is string => s !== null))];
  const counts = new Set(labels.map((l) => l.split('/')[1]));
  const missingShards = counts.size !== 1 ? [] : Array.from({ length: Number([...counts][0]) }, (_, i) => `${i + 1}/${[...counts][0]}`).filter((l) => !labels.includes(l));

  return {
    dirs: shards.map((s) => s.dir),
    resultFiles: [...resultFiles],
    profile: profiles.size === 1 ? [...profiles.keys()][0]! : null,
    shards: labels.sort((a, b) => Number(a.split('/')[0]) - Number(b.split('/')[0])),
    missingShards,
    seedsRun,
    passed: seedsRun === null ? null : seedsRun - violatingSeeds.size,
    violating: violatingSeeds.size,
    // A directory's summaries are its attempts, in the order of their names (summary-<UTC time>.json
    // sorts by time): an interrupted attempt that a later one resumed is not an interrupted shard.
    interrupted: shards.some((s) => s.summaries.at(-1)?.interrupted === true),
    budgetExhausted: summaries.some((m) => m.budgetExhausted),
    elapsedMs: summaries.reduce((n, m) => n + m.elapsedMs, 0),
    invariants,
    bugs: bugs?.bugs ?? null,
    unclassified: bugs?.unclassified ?? [],
    untriaged,
    invariantsChecked: checkedInvariants(summaries, counterexamples),
    selfCheckEvery: everies.size === 1 ? [...everies][0]! : null,
    selfChecks: everyDirSummarized ? summaries.reduce((n, m) => n + m.selfChecks, 0) : null,
    mismatches: [...mismatches.values()].sort((a, b) => a.seed - b.seed),
  };
}

/**
 * The invariants the campaign checked, for the JUnit report's passing cases: as the summaries list
 * them; without summaries, those the counterexamples record, or else every invariant of their
 * system (of the default system when there are none).
 */
function checkedInvariants(summaries: readonly ShardSummary[], counterexamples: readonly Counterexample[]): string[] {
  // In the order the shards list them, as their own JUnit reports do.
  const listed = summaries.flatMap((m) => m.invariantsChecked ?? []);
  if (listed.length > 0) return [...new Set(listed)];
  const recorded = counterexamples.flatMap((c) => c.invariants ?? []);
  if (recorded.length > 0) return [...new Set(recorded)];
  const system = SYSTEMS.find((s) => s.name === counterexamples[0]?.system) ?? SYSTEMS[0]!;
  return invariantIds(system);
}

function header(m: Merged): string {
  const dirs = `${m.dirs.length} findings director${m.dirs.length === 1 ? 'y' : 'ies'}`;
  const stop = m.interrupted ? ' (a shard was interrupted)' : m.budgetExhausted ? ' (budget reached)' : '';
  return m.seedsRun === null
    ? `hasim merge: ${dirs}, ${m.violating} violating seeds (seeds run: not known without --results files or a summary in every directory)`
    : `hasim merge: ${dirs}, ${m.seedsRun} seeds${stop}, ${m.passed} passed, ${m.violating} violating`;
}

/** The merged summary as text: totals, the shards, the violated invariants, the self-check. */
export function mergeLines(m: Merged): string[] {
  const lines = [header(m)];
  const of = m.profile === null ? '' : ` of ${m.profile}`;
  if (m.shards.length > 0) lines.push(`  shards ${m.shards.join(', ')}${of}${m.missingShards.length > 0 ? ` (no summary here from ${m.missingShards.join(', ')})` : ''}`);
  else if (m.profile !== null) lines.push(`  profile ${m.profile}`);
  lines.push(...invariantLines(m.invariants), ...bugLines(m.bugs, m.unclassified));
  if (m.untriaged.length > 0) lines.push('', `  bugs: not known (${m.untriaged.join(', ')} did not triage: hasim triage DIR)`);
  lines.push('', ...selfCheckLines(m.selfCheckEvery, m.selfChecks, m.mismatches));
  return lines;
}

/** The merged summary as one JSON object. */
export function mergeJson(m: Merged): string {
  return JSON.stringify({
    dirs: m.dirs, results: m.resultFiles, profile: m.profile, shards: m.shards, missingShards: m.missingShards,
    seedsRun: m.seedsRun, passed: m.passed, violating: m.violating, interrupted: m.interrupted, budgetExhausted: m.budgetExhausted,
    invariants: invariantsJson(m.invariants), bugs: m.bugs === null ? null : bugsJson(m.bugs), unclassified: m.unclassified, untriaged: m.untriaged,
    invariantsChecked: m.invariantsChecked,
    selfCheckEvery: m.selfCheckEvery, selfChecks: m.selfChecks, mismatches: m.mismatches,
  });
}

/** `hasim merge`. Exit 1 when any shard found a violation or a determinism mismatch, 0 otherwise. */
export function mergeCommand(argv: string[], out: (line: string) => void): number {
  const { results, rest } = takeResults(argv);
  const { values, positionals } = parseFlags(rest, {
    junit: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length === 0) throw new UsageError('merge: expected one or more findings directories (the shards\' --out)');
  checkOutputPaths([values.junit !== undefined && { flag: '--junit', path: values.junit, kind: 'file' }]);
  const merged = mergeShards(positionals, results);
  const outputs = new Outputs();
  if (values.junit !== undefined) {
    const suite = `hasim merge${merged.profile === null ? '' : ` --profile ${merged.profile}`}${merged.shards.length > 0 ? ` (${merged.shards.length} shards)` : ''}`;
    outputs.write('--junit', values.junit, junitXml(merged, suite, merged.invariantsChecked));
  }
  if (values.json) out(mergeJson(merged));
  else for (const line of mergeLines(merged)) out(line);
  // A report that could not be written is reported after the summary, which still has the findings.
  outputs.throwIfFailed();
  return merged.invariants.length > 0 || merged.mismatches.length > 0 ? 1 : 0;
}
