import { setMaxListeners } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type AnySystem } from '../contract/system.ts';
import { runCase } from '../harness/run-case.ts';
import { caseForSeed, type CaseSpace, type Shrunk } from '../harness/seeded-case.ts';
import { readTraceFile, TraceFileError, validateSchedule, type TraceFile } from '../harness/trace-file.ts';
import type { FaultRecord } from '../faults/fault-kind.ts';
import { kindsOf, triage, triageSpace, type Bug, type ShrinkRequest, type TriageSeed } from '../harness/triage.ts';
import { SYSTEMS } from '../systems/index.ts';
import { parseCount, parseDuration, parseFlags, UsageError } from './args.ts';
import { bugRow, executorTriageRunner, triageRows } from './campaign/campaign.ts';
import { defaultWorkers, poolExecutor, type Executor } from './campaign/executor.ts';
import { BUGS_FILE, caseSpaceDigest, FindingsStore } from './campaign/findings-store.ts';
import { bugLines, bugsJson, bugWhat, incompleteTriage } from './campaign/summary.ts';
import type { SeedResult } from './campaign/tasks.ts';
import { CASE_SPACE_FLAGS, caseSpaceFrom } from './case-space-flags.ts';
import { DEFAULT_MAX_BUGS } from './fuzz-command.ts';
import { isRecord, jsonLines } from './json-lines.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';

export { TRIAGE_HELP } from './help.ts';

/**
 * `hasim triage DIR`: a findings directory's failing seeds (its `violations.jsonl`) regrouped into
 * distinct bugs, as `hasim fuzz` triages them at the end of a campaign (docs/triage.md). Every seed
 * is rerun first, so the bugs are those of the model as it is now; a seed whose outcome or hash
 * changed since the campaign is named. Shrunk counterexamples already in the directory (an
 * invariant's example, a bug's minimal case) are used instead of shrinking again, so triaging the
 * directory of a triaged campaign reruns no shrink and gives the same bugs.
 */

export interface TriageIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Builds the executor; tests pass their own. Default: a worker-thread pool. */
  executor?: (workers: number) => Executor;
  /** Interrupts triage like Ctrl-C (tests). Default: SIGINT and SIGTERM. */
  signal?: EventTarget;
  /** The wall clock `--budget` is measured on (ms; tests pass their own). No run reads it. Default: performance.now. */
  now?: () => number;
}

/** A failing seed as `violations.jsonl` records it. */
interface Recorded {
  seed: number;
  outcome: string;
  hash: string;
  space: CaseSpace;
  system: AnySystem;
  where: string;
  /** A guided campaign's mutated case: its schedule, recorded on the line (absent: the seed's drawn one). */
  schedule?: FaultRecord[];
}

function bad(message: string): never {
  throw new UsageError(`triage: ${message}`);
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The case space a `violations.jsonl` line records (its `space`), checked field by field; null when the line has none. */
function recordedSpace(v: Record<string, unknown>, where: string): CaseSpace | null {
  const s = v['space'];
  if (s === undefined) return null;
  if (!isRecord(s) || typeof s['profile'] !== 'string') bad(`${where}: space must be an object with a profile`);
  const space: CaseSpace = { profile: s['profile'] as string };
  for (const [key, value] of Object.entries(s)) {
    switch (key) {
      case 'profile':
        break;
      case 'config':
        if (!isRecord(value)) bad(`${where}: space.config must be an object`);
        space.config = value;
        break;
      case 'fixes':
      case 'kinds':
      case 'invariants':
        if (!isStrings(value)) bad(`${where}: space.${key} must be an array of names`);
        space[key] = value;
        break;
      case 'swarm':
        if (typeof value !== 'boolean') bad(`${where}: space.swarm must be true or false`);
        space.swarm = value;
        break;
      case 'maxFaults':
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(`${where}: space.maxFaults must be a non-negative integer`);
        space.maxFaults = value;
        break;
      default:
        // Fields of newer case spaces (a deployment) are passed on as they are; the case check below judges them.
        (space as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return space;
}

/** The case space of an older line, from its `rerun` command (`npx hasim run --seed S <case-space flags>`). */
function spaceFromRerun(v: Record<string, unknown>, where: string): { system: AnySystem; space: CaseSpace } {
  const rerun = v['rerun'];
  if (typeof rerun !== 'string') bad(`${where}: neither a space nor a rerun command to find the seed's case by`);
  const words = rerun.split(/\s+/).filter((w) => w !== '');
  const at = words.indexOf('run');
  if (at < 0) bad(`${where}: rerun is not a hasim run command: ${rerun}`);
  const { values } = parseFlags(words.slice(at + 1), { ...CASE_SPACE_FLAGS, seed: { type: 'string' } });
  return caseSpaceFrom(values);
}

function readRecorded(path: string): Recorded[] {
  const out: Recorded[] = [];
  for (const { value: v, where } of jsonLines(path, bad)) {
    const seed = v['seed'];
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) bad(`${where}: seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
    const outcome = v['outcome'];
    const hash = v['hash'];
    if (typeof outcome !== 'string' || outcome === '' || typeof hash !== 'string') bad(`${where}: outcome and hash must be strings`);
    const systemName = typeof v['system'] === 'string' ? v['system'] : SYSTEMS[0]!.name;
    const space = recordedSpace(v, where);
    const found = space !== null
      ? { system: SYSTEMS.find((s) => s.name === systemName) ?? bad(`${where}: unknown system '${systemName}'`), space }
      : spaceFromRerun(v, where);
    try {
      caseForSeed(found.system, found.space, seed);
    } catch (error) {
      if (error instanceof ConfigError) bad(`${where}: the recorded case space does not resolve (${error.message})`);
      throw error;
    }
    let schedule: FaultRecord[] | undefined;
    if (v['schedule'] !== undefined) {
      try {
        schedule = validateSchedule(v['schedule'], where, found.system);
      } catch (error) {
        if (error instanceof TraceFileError) bad(error.message);
        throw error;
      }
    }
    out.push({ seed, outcome, hash, where, ...found, ...(schedule === undefined ? {} : { schedule }) });
  }
  return out;
}

/** The shrunk counterexamples in the directory, by seed, invariant and the fixes on besides the space's. */
interface OnDisk {
  file: string;
  trace: TraceFile;
  /** The bug's context fixes, or null for an invariant's example (a case of the campaign's own space). */
  context: string[] | null;
}

function shrunkFiles(dir: string, digest: string): OnDisk[] {
  const out: OnDisk[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json') || name === BUGS_FILE || !name.includes(`-${digest}-`)) continue;
    let trace: TraceFile;
    try {
      trace = readTraceFile(join(dir, name), SYSTEMS);
    } catch (error) {
      if (error instanceof TraceFileError) continue; // not a counterexample of this campaign: summaries, other files
      throw error;
    }
    if (trace.found?.['shrunk'] !== 'yes') continue;
    const context = trace.found['bug'] === undefined ? null : String(trace.found['context'] ?? '').split(',').filter((f) => f !== '');
    out.push({ file: join(dir, name), trace, context });
  }
  return out;
}

/**
 * A shrunk case from a file, rerun now: used only when it still ends in the invariant with the
 * recorded hash (a model changed since would make it a different case).
 */
function shrunkFromFile(system: AnySystem, space: CaseSpace, d: OnDisk, invariant: string): Shrunk | undefined {
  const s = d.context === null ? space : triageSpace(space, d.context, invariant);
  const c = { ...caseForSeed(system, s, d.trace.seed), schedule: d.trace.schedule };
  const verdict = runCase(system, c);
  const expected = d.trace.expectations[0]!;
  if (verdict.outcome !== invariant || verdict.hash !== expected.hash) return undefined;
  const found = d.trace.found ?? {};
  const n = (k: string, dflt: number): number => (typeof found[k] === 'number' ? found[k] : dflt);
  return {
    invariant, case: c, verdict,
    faultsFound: n('faultsFound', c.schedule.length), faultsShrunk: n('faultsShrunk', c.schedule.length), faultsMinimal: c.schedule.length,
    shrinkSteps: n('shrinkSteps', 0), ...(typeof found['ddminRuns'] === 'number' ? { ddminRuns: found['ddminRuns'] } : {}), shrinkRuns: n('shrinkRuns', 0), minimizeRuns: n('minimizeRuns', 0),
  };
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/**
 * `hasim triage DIR`. Exit 1 when the directory's seeds hold a bug (or failing seeds no bug accounts
 * for, or recorded failing seeds the budget left unchecked), 0 when they hold none, 2 on bad input,
 * 130 interrupted with none.
 */
export async function triageCommand(argv: string[], io: TriageIo): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    workers: { type: 'string' },
    budget: { type: 'string' },
    'max-bugs': { type: 'string' },
    'max-shrink-runs': { type: 'string' },
    digest: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError('triage: expected one findings directory (a campaign\'s --out)');
  const dir = positionals[0]!;
  try {
    if (!statSync(dir).isDirectory()) bad(`${dir}: not a directory`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    bad(`${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : `cannot read (${(error as Error).message})`}`);
  }
  const workersWanted = values.workers === undefined ? defaultWorkers() : parseCount('workers', values.workers);
  if (workersWanted < 1) throw new UsageError('--workers: must be at least 1');
  const maxBugs = values['max-bugs'] === undefined ? DEFAULT_MAX_BUGS : parseCount('max-bugs', values['max-bugs']);
  if (maxBugs < 1) throw new UsageError('--max-bugs: must be at least 1');
  const maxShrinkRuns = values['max-shrink-runs'] === undefined ? 1000 : parseCount('max-shrink-runs', values['max-shrink-runs']);
  const budgetMs = values.budget === undefined ? null : parseDuration('budget', values.budget) / 1000;
  const violations = join(dir, 'violations.jsonl');
  if (!existsSync(violations)) bad(`${dir}: no violations.jsonl (not a findings directory of hasim fuzz)`);

  // One campaign's seeds: a directory shared by campaigns over several case spaces is triaged one space at a time.
  const recorded = readRecorded(violations);
  const spaces = new Map<string, Recorded[]>();
  for (const r of recorded) {
    const key = `${r.system.name}/${caseSpaceDigest(r.system, r.space)}`;
    spaces.set(key, [...(spaces.get(key) ?? []), r]);
  }
  let chosen: Recorded[];
  if (values.digest !== undefined) {
    chosen = [...spaces].find(([k]) => k.endsWith(`/${values.digest}`))?.[1] ?? bad(`--digest ${values.digest}: no seeds of that case space in ${dir} (there are: ${[...spaces.keys()].map((k) => k.split('/')[1]).join(', ')})`);
  } else if (spaces.size > 1) {
    bad(`${dir} holds the seeds of campaigns over ${spaces.size} case spaces (digests ${[...spaces.keys()].map((k) => k.split('/')[1]).join(', ')}): choose one with --digest`);
  } else chosen = [...spaces.values()][0] ?? [];
  // A seed recorded twice (a retried shard) counts once.
  const bySeed = new Map<number, Recorded>();
  for (const r of chosen) if (!bySeed.has(r.seed)) bySeed.set(r.seed, r);
  const seeds = [...bySeed.values()].sort((a, b) => a.seed - b.seed);
  if (seeds.length === 0) {
    io.out(values.json ? JSON.stringify({ dir, seeds: 0, changed: [], bugs: [], unclassified: [] }) : `hasim triage ${dir}: no failing seeds`);
    return 0;
  }
  const { system, space } = seeds[0]!;
  const digest = caseSpaceDigest(system, space);
  checkOutputPaths([{ flag: 'DIR', path: dir, kind: 'dir' }, { flag: 'DIR', path: join(dir, BUGS_FILE), kind: 'file' }]);

  const stop = new AbortController();
  // Every queued run listens to the stop signal: a round queues one per seed left.
  setMaxListeners(0, stop.signal);
  const onSignal = (): void => {
    io.err('interrupted: stopping triage; writing what was found');
    stop.abort();
  };
  if (io.signal !== undefined) io.signal.addEventListener('abort', onSignal);
  else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const workers = Math.max(1, Math.min(workersWanted, seeds.length));
  const executor = (io.executor ?? poolExecutor)(workers);
  const now = io.now ?? (() => performance.now());
  const started = now();
  // The budget covers the reruns and triage: after it no run starts (those in flight finish).
  const deadlineReached = (): boolean => budgetMs !== null && now() - started >= budgetMs;
  io.err(`hasim triage ${dir}: ${seeds.length} failing seeds of a ${space.profile} campaign (case space ${digest}), ${workers} worker${workers === 1 ? '' : 's'}${budgetMs === null ? '' : `, budget ${values.budget}`}`);
  const store = new FindingsStore(dir, system, space, `hasim triage ${dir}`, (seed) => `npx hasim run --seed ${seed} (see ${violations})`);
  try {
    // Every seed again, as the model is now: its outcome decides the invariant it is triaged for. Twice
    // as many at once as there are workers (so none waits), lowest first, so that the budget can
    // stop the ones not started: those are left unchecked (null).
    const rerun: Array<SeedResult | null> = seeds.map(() => null);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < seeds.length && !stop.signal.aborted && !deadlineReached()) {
        const i = next++;
        const { seed, schedule } = seeds[i]!;
        const done = await executor.run({ type: 'run', system: system.name, space, seed, ...(schedule === undefined ? {} : { schedule }) }, stop.signal);
        if (done.type !== 'run') throw new Error(`expected a run result, got ${done.type}`);
        rerun[i] = done.result;
      }
    };
    try {
      await Promise.all(Array.from({ length: workers * 2 }, lane));
      if (stop.signal.aborted) throw new Error('interrupted');
    } catch (error) {
      // Runs cancelled by an interrupt reject: nothing was triaged yet.
      if (!stop.signal.aborted) throw error;
      io.out(values.json ? JSON.stringify({ dir, digest, profile: space.profile, seeds: seeds.length, interrupted: true, bugs: [], unclassified: [] }) : `hasim triage ${dir} (interrupted): stopped while rerunning the ${seeds.length} failing seeds; nothing triaged`);
      return 130;
    }
    const unchecked = seeds.filter((_, i) => rerun[i] === null).map((r) => r.seed);
    const changed = seeds.flatMap((r, i) => {
      const n = rerun[i];
      return n != null && (n.outcome !== r.outcome || n.hash !== r.hash)
        ? [{ seed: r.seed, recorded: { outcome: r.outcome, hash: r.hash }, now: { outcome: n.outcome, hash: n.hash } }]
        : [];
    });
    for (const c of changed) io.err(`seed ${c.seed} changed since the campaign: ${c.recorded.outcome} (${c.recorded.hash.slice(0, 12)}) then, ${c.now.outcome} (${c.now.hash.slice(0, 12)}) now`);
    const failing = rerun.filter((r): r is SeedResult => r !== null && r.outcome !== 'pass');
    const triageSeeds: TriageSeed[] = failing.map((r) => {
      const schedule = bySeed.get(r.seed)?.schedule;
      return { seed: r.seed, invariant: r.outcome, kinds: kindsOf(r.schedule ?? []), ...(schedule === undefined ? {} : { schedule }) };
    });

    // Shrunk cases already on disk, reused when they still reproduce.
    const onDisk = shrunkFiles(dir, digest);
    const files = new Map<string, string>();
    const reused = new Map<Shrunk, string>();
    const known = (request: ShrinkRequest): Shrunk | undefined => {
      // Checking a file is a run too: none starts after the budget.
      if (deadlineReached()) return undefined;
      for (const d of onDisk) {
        if (d.trace.seed !== request.seed || d.trace.expectations[0]!.outcome !== request.invariant) continue;
        if (!sameSet(d.context ?? [], request.fixes)) continue;
        const s = shrunkFromFile(system, space, d, request.invariant);
        if (s !== undefined) {
          reused.set(s, d.file);
          return s;
        }
      }
      return undefined;
    };
    const runner = executorTriageRunner(executor, system.name, space, stop.signal, known);
    const fileOf = (b: Bug): string => reused.get(b.example) ?? store.writeBug(b);
    const result = await triage(system, space, triageSeeds, runner, {
      maxBugs,
      maxShrinkRuns,
      signal: stop.signal,
      deadlineReached,
      onBug: (b) => {
        const file = fileOf(b);
        files.set(b.key, file);
        io.err(`bug ${b.id} (${b.signature.invariant}, seed ${b.example.case.seed}): ${bugWhat(bugRow(b, file))}: ${file}`);
      },
    });
    // Seeds the budget left unchecked make the triage incomplete, whatever triage itself did.
    const rows = { ...triageRows(result, files), ...(unchecked.length > 0 ? { complete: false, deadlineReached: true } : {}) };
    store.writeBugs(rows, result.interrupted);
    const outputs = new Outputs();
    for (const f of store.failures()) outputs.add(`DIR ${f}`);
    const elapsedMs = Math.round(now() - started);
    if (values.json) {
      io.out(JSON.stringify({
        dir, digest, profile: space.profile, seeds: seeds.length, failing: failing.length, changed, unchecked, interrupted: result.interrupted,
        bugs: bugsJson(rows.bugs), unclassified: rows.unclassified,
        triage: { runs: rows.runs, shrinks: rows.shrinks, elapsedMs, complete: rows.complete, deadlineReached: rows.deadlineReached, unfinished: rows.unfinished },
      }));
    } else {
      const stopped = result.interrupted ? ' (interrupted)' : rows.deadlineReached ? ' (budget reached)' : '';
      io.out(`hasim triage ${dir}${stopped}: ${seeds.length} recorded failing seeds, ${failing.length} failing now, ${rows.bugs.length} distinct bug${rows.bugs.length === 1 ? '' : 's'}`);
      io.out(`  ${rows.runs} runs, ${rows.shrinks} shrinks, ${Math.round(elapsedMs / 1000)}s`);
      if (unchecked.length > 0) io.out(`  ${unchecked.length} recorded failing seeds not rerun before the budget ran out (${unchecked.slice(0, 10).join(', ')}${unchecked.length > 10 ? ', ...' : ''}): not triaged`);
      const lines = bugLines(rows.bugs, rows.unclassified, rows);
      // bugLines says nothing when there is no bug nor seed left; an incomplete triage must still say so.
      const incomplete = incompleteTriage(rows);
      for (const line of lines.length === 0 && incomplete !== null ? [`  ${incomplete}`] : lines) io.out(line);
      if (changed.length > 0) io.out(`  ${changed.length} seeds changed since the campaign (${changed.map((c) => c.seed).join(', ')}): the model is not the one the campaign ran`);
    }
    const failure = outputs.failure();
    if (failure !== null) {
      io.err(`hasim: ${failure}`);
      return 2;
    }
    if (rows.bugs.length > 0 || rows.unclassified.length > 0 || unchecked.length > 0) return 1;
    return result.interrupted ? 130 : 0;
  } finally {
    if (io.signal !== undefined) io.signal.removeEventListener('abort', onSignal);
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await executor.close();
  }
}
