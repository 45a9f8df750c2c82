import { invariantIds } from '../harness/run-case.ts';
import { compiledMachines } from '../harness/coverage.ts';
import { join } from 'node:path';
import { parseCount, parseDuration, parseFlags, UsageError } from './args.ts';
import type { WriteFs } from './atomic-write.ts';
import { runCampaign, type CampaignResult, type Progress, type TriageRows } from './campaign/campaign.ts';
import { defaultWorkers, poolExecutor, type Executor } from './campaign/executor.ts';
import { FindingsStore } from './campaign/findings-store.ts';
import { INDEX_FILE, writeCampaignIndex } from './campaign-index/write-index.ts';
import { CampaignRecorder } from './campaign/partial-result.ts';
import { parseShard, shardSize, WHOLE, type SeedRange } from './campaign/seed-range.ts';
import { coverageJson, coverageLines, githubAnnotations, guidedJson, guidedLines, junitXml, progressLine, summaryJson, summaryLines } from './campaign/summary.ts';
import { CASE_SPACE_FLAGS, caseSpaceArgs, caseSpaceFrom } from './case-space-flags.ts';
import { coverageFile, formatCoverageFile } from './coverage-file.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';

export { FUZZ_HELP } from './help.ts';

const DEFAULT_SEEDS = 1000;
/** Bugs (shrinks) triage looks for per invariant before it leaves the remaining seeds unclassified. */
export const DEFAULT_MAX_BUGS = 16;
/** Progress cadence: a redrawn line on a terminal, a plain line now and then in logs. */
const TTY_PROGRESS_MS = 250;
const LOG_PROGRESS_MS = 10_000;

export interface FuzzIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stderr is a terminal (a redrawn progress line) or a log (periodic plain lines). */
  isTty?: boolean;
  env?: Record<string, string | undefined>;
  /** Builds the executor; tests pass their own. Default: a worker-thread pool. */
  executor?: (workers: number) => Executor;
  /**
   * Interrupts the campaign like Ctrl-C (tests): each `abort` event is one Ctrl-C, so an AbortSignal
   * gives one and an EventTarget may give a second. Default: SIGINT and SIGTERM.
   */
  signal?: EventTarget;
  /** The file-system calls of the final writes (tests make them fail). Default: node:fs. */
  fs?: WriteFs;
}

/** `hasim fuzz`. */
export async function fuzzCommand(argv: string[], io: FuzzIo): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    ...CASE_SPACE_FLAGS,
    seeds: { type: 'string' },
    budget: { type: 'string' },
    'seed-start': { type: 'string' },
    workers: { type: 'string' },
    shard: { type: 'string' },
    out: { type: 'string', default: 'hasim-findings' },
    junit: { type: 'string' },
    results: { type: 'string' },
    coverage: { type: 'string' },
    guided: { type: 'boolean', default: false },
    'guided-epoch': { type: 'string' },
    'self-check': { type: 'string' },
    'max-shrink-runs': { type: 'string' },
    'no-triage': { type: 'boolean', default: false },
    'max-bugs': { type: 'string' },
    html: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`fuzz: unexpected argument '${positionals[0]}'`);
  const { system, space } = caseSpaceFrom(values);
  const budgetMs = values.budget === undefined ? null : parseDuration('budget', values.budget) / 1000;
  const total = values.seeds !== undefined ? parseCount('seeds', values.seeds) : budgetMs === null ? DEFAULT_SEEDS : null;
  const start = values['seed-start'] === undefined ? 0 : parseCount('seed-start', values['seed-start']);
  const requestedWorkers = values.workers === undefined ? defaultWorkers() : parseCount('workers', values.workers);
  if (requestedWorkers < 1) throw new UsageError('--workers: must be at least 1');
  let shard = WHOLE;
  if (values.shard !== undefined) {
    const parsed = parseShard(values.shard);
    if (parsed === null) throw new UsageError(`--shard: expected K/N with 1 <= K <= N, got '${values.shard}'`);
    shard = parsed;
  }
  // A guided seed's case reads the corpus of every seed before it: a shard alone does not have them.
  if (values['guided-epoch'] !== undefined && !values.guided) throw new UsageError('--guided-epoch needs --guided');
  const epochSeeds = values['guided-epoch'] === undefined ? undefined : parseCount('guided-epoch', values['guided-epoch']);
  if (epochSeeds !== undefined && epochSeeds < 1) throw new UsageError('--guided-epoch: must be at least 1');
  if (values.guided && shard.count > 1) throw new UsageError('--guided and --shard cannot be combined: a guided seed\'s case depends on the coverage of every seed before it, not only its shard\'s (docs/coverage.md#guided-campaigns)');
  const selfCheckEvery = values['self-check'] === undefined ? 50 : parseCount('self-check', values['self-check']);
  const maxShrinkRuns = values['max-shrink-runs'] === undefined ? 1000 : parseCount('max-shrink-runs', values['max-shrink-runs']);
  const maxBugs = values['max-bugs'] === undefined ? DEFAULT_MAX_BUGS : parseCount('max-bugs', values['max-bugs']);
  if (maxBugs < 1) throw new UsageError('--max-bugs: must be at least 1');
  if (values['no-triage'] && values['max-bugs'] !== undefined) throw new UsageError('--max-bugs and --no-triage contradict each other');
  const range: SeedRange = { start, total, shard };
  if (total !== null && !Number.isSafeInteger(start + total)) throw new UsageError('--seed-start: the last seed would not be a safe integer');
  // A thread per seed at most: each one loads the model before its first seed, for nothing if it gets none.
  const seedsToRun = shardSize(range);
  const workers = seedsToRun === null ? requestedWorkers : Math.max(1, Math.min(requestedWorkers, seedsToRun));
  // Every output is checked before the first seed: a bad path is bad input, not an hour's campaign lost.
  checkOutputPaths([
    { flag: '--out', path: values.out, kind: 'dir' },
    { flag: '--out', path: join(values.out, 'violations.jsonl'), kind: 'file' },
    values.results !== undefined && { flag: '--results', path: values.results, kind: 'file' },
    values.junit !== undefined && { flag: '--junit', path: values.junit, kind: 'file' },
    values.coverage !== undefined && { flag: '--coverage', path: values.coverage, kind: 'file' },
    values.html && { flag: '--html', path: join(values.out, INDEX_FILE), kind: 'file' },
  ]);

  const spaceArgs = caseSpaceArgs(values);
  const shardText = shard.count > 1 ? ` shard ${shard.index}/${shard.count}` : '';
  // The flags that decide a guided seed's case are part of the campaign's name and rerun command.
  const guidedText = values.guided ? ` --guided${epochSeeds === undefined ? '' : ` --guided-epoch ${epochSeeds}`}` : '';
  const header = `hasim fuzz ${spaceArgs}${guidedText}${shardText}`;
  const store = new FindingsStore(values.out, system, space, `hasim fuzz ${spaceArgs}${guidedText} --seed-start ${start}${shardText}`, (seed) => `npx hasim run --seed ${seed} ${spaceArgs}`);

  const isTty = io.isTty ?? false;
  const env = io.env ?? {};
  // The first line comes one period in, when the rate and ETA mean something.
  let lastProgress = 0;
  let lastLine = '';
  // The current example's seed per invariant, to say when a lower seed replaces one and to pass over the shrinks of replaced ones.
  const examples = new Map<string, { seed: number; file: string }>();
  const onSeed = (p: Progress): void => {
    const every = isTty ? TTY_PROGRESS_MS : LOG_PROGRESS_MS;
    if (p.elapsedMs - lastProgress < every) return;
    lastProgress = p.elapsedMs;
    lastLine = progressLine(p);
    io.err(isTty ? `\r\x1b[K${lastLine}` : lastLine);
  };

  // The first Ctrl-C stops starting seeds and lets the ones in flight finish; a second one abandons
  // them. Either way the results, the JUnit report and the summary of what was collected are written.
  const stop = new AbortController();
  let hardStop: () => void = () => undefined;
  const hardStopped = new Promise<'abandoned'>((resolve) => {
    hardStop = () => resolve('abandoned');
  });
  const onSignal = (): void => {
    if (stop.signal.aborted) {
      io.err(`${isTty ? '\n' : ''}interrupted again: abandoning the seeds in flight; writing what was collected`);
      hardStop();
      return;
    }
    io.err(`${isTty ? '\n' : ''}interrupted: finishing the seeds in flight, cancelling shrinks (unshrunk counterexamples stay in ${values.out}); interrupt again to stop now`);
    stop.abort();
  };
  if (io.signal !== undefined) io.signal.addEventListener('abort', onSignal);
  else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  io.err(`${header}: ${total === null ? 'until the budget' : `${total} seeds`} from ${start}${budgetMs === null ? '' : `, budget ${values.budget}`}, ${workers} worker${workers === 1 ? '' : 's'}, findings in ${values.out}`);

  const recorder = new CampaignRecorder((io.executor ?? poolExecutor)(workers));
  // What triage has found so far, for a campaign abandoned while it triages.
  let triagedSoFar: (() => TriageRows) | null = null;
  const started = performance.now();
  let result: CampaignResult;
  try {
    const campaign = runCampaign(recorder.executor, {
      system: system.name, space, range, budgetMs, selfCheckEvery, maxShrinkRuns, store, signal: stop.signal, onSeed,
      coverage: values.coverage !== undefined,
      guided: values.guided ? (epochSeeds === undefined ? {} : { epochSeeds }) : null,
      triage: values['no-triage'] ? null : { maxBugs },
      liveTriage: (now) => {
        triagedSoFar = now;
        const failing = now().unclassified.reduce((n, u) => n + u.count, 0);
        io.err(`${isTty ? '\r\x1b[K' : ''}triage: ${failing} failing seeds into distinct bugs${budgetMs === null ? '' : ' until the budget ends'} (docs/triage.md; --no-triage skips it)`);
      },
      onBug: (b) => {
        const unwritten = store.failure(b.file);
        io.err(`${isTty ? '\r\x1b[K' : ''}bug ${b.id} (${b.invariant}, seed ${b.seed}): ${b.what}: ${unwritten === undefined ? b.file : `${b.file} NOT WRITTEN (${unwritten})`}`);
      },
      onFinding: (f) => {
        const clear = isTty ? '\r\x1b[K' : '';
        const unwritten = f.file === null ? undefined : store.failure(f.file);
        const file = unwritten === undefined ? f.file : `${f.file} NOT WRITTEN (${unwritten})`;
        if (f.kind === 'shrunk') {
          if (examples.get(f.invariant)?.seed === f.seed) io.err(`${clear}shrunk ${f.invariant} (seed ${f.seed}): ${file}`);
        } else if (f.file !== null) {
          const replaced = examples.get(f.invariant);
          examples.set(f.invariant, { seed: f.seed, file: f.file });
          io.err(`${clear}found ${f.invariant} at seed ${f.seed}: ${file} (shrinking${replaced === undefined ? '' : `; replaces seed ${replaced.seed}, whose file is removed`})`);
        }
      },
    });
    const first = await Promise.race([campaign, hardStopped]);
    if (first === 'abandoned') {
      recorder.abandon();
      campaign.catch(() => undefined); // it waits on tasks that never settle; nothing will come of it
      result = recorder.result(store, performance.now() - started, selfCheckEvery, values.coverage === undefined ? null : compiledMachines(system));
      const triaged = (triagedSoFar as (() => TriageRows) | null)?.() ?? null;
      if (triaged !== null) {
        const triage: CampaignResult['triage'] = { runs: triaged.runs, shrinks: triaged.shrinks, elapsedMs: 0, complete: false, deadlineReached: triaged.deadlineReached, unfinished: triaged.unfinished };
        Object.assign(result, { bugs: triaged.bugs, unclassified: triaged.unclassified, triage });
      }
    } else result = first;
  } finally {
    if (io.signal !== undefined) io.signal.removeEventListener('abort', onSignal);
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await recorder.executor.close();
  }
  if (isTty && lastLine !== '') io.err('');

  // Each output on its own: a full disk costs the file it hits, not the others or the summary.
  const outputs = new Outputs(io.fs);
  for (const f of store.failures()) outputs.add(`--out ${f}`);
  if (values.results !== undefined) outputs.write('--results', values.results, result.results.map((r) => JSON.stringify(r)).join('\n') + (result.results.length > 0 ? '\n' : ''));
  const checked = space.invariants ?? invariantIds(system);
  if (values.junit !== undefined) outputs.write('--junit', values.junit, junitXml(result, header, checked));
  const coverage = result.coverage ?? null;
  if (values.coverage !== undefined && coverage !== null) {
    outputs.write('--coverage', values.coverage, formatCoverageFile(coverageFile(system.name, space, start, `${shard.index}/${shard.count}`, coverage, result.interrupted)));
  }
  if (values.html) {
    const range = { start, total, shard: `${shard.index}/${shard.count}` };
    const index = writeCampaignIndex(values.out, { header, system, space, digest: store.digest, range, result, checked }, outputs, '--html');
    io.err(`campaign index: ${index}`);
  }
  // Annotations go to stderr, which the Actions runner reads too: stdout stays the summary alone (one JSON object with --json).
  if (env['GITHUB_ACTIONS'] === 'true') for (const line of githubAnnotations(result)) io.err(line);
  const coverageSummary = values.coverage !== undefined && coverage !== null ? { coverage: coverageJson(coverage, values.coverage) } : {};
  const guidedSummary = result.guided == null ? {} : { guided: guidedJson(result.guided, coverage) };
  if (values.json) io.out(summaryJson(result, { profile: space.profile, ...(space.deployment !== undefined ? { deployment: space.deployment } : {}), seedStart: start, shard: `${shard.index}/${shard.count}`, workers, out: values.out, ...coverageSummary, ...guidedSummary }));
  else {
    for (const line of summaryLines(result, header)) io.out(line);
    if (values.coverage !== undefined && coverage !== null) for (const line of coverageLines(coverage, values.coverage)) io.out(line);
    if (result.guided != null) for (const line of guidedLines(result.guided, coverage)) io.out(line);
  }

  const failure = outputs.failure();
  if (failure !== null) {
    io.err(`hasim: ${failure}`);
    return 2;
  }
  const failed = result.invariants.length > 0 || result.mismatches.length > 0;
  return failed ? 1 : result.interrupted ? 130 : 0;
}
