import { invariantIds } from '../harness/run-case.ts';
import { parseCount, parseDuration, parseFlags, UsageError } from './args.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { runCampaign, type CampaignResult, type Progress } from './campaign/campaign.ts';
import { defaultWorkers, poolExecutor, type Executor } from './campaign/executor.ts';
import { FindingsStore } from './campaign/findings-store.ts';
import { parseShard, WHOLE, type SeedRange } from './campaign/seed-range.ts';
import { githubAnnotations, junitXml, progressLine, summaryJson, summaryLines } from './campaign/summary.ts';
import { CASE_SPACE_FLAGS, caseSpaceArgs, caseSpaceFrom } from './case-space-flags.ts';

export { FUZZ_HELP } from './help.ts';

const DEFAULT_SEEDS = 1000;
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
  /** Stops the campaign like Ctrl-C (tests). Default: SIGINT and SIGTERM. */
  signal?: AbortSignal;
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
    'self-check': { type: 'string' },
    'max-shrink-runs': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`fuzz: unexpected argument '${positionals[0]}'`);
  const { system, space } = caseSpaceFrom(values);
  const budgetMs = values.budget === undefined ? null : parseDuration('budget', values.budget) / 1000;
  const total = values.seeds !== undefined ? parseCount('seeds', values.seeds) : budgetMs === null ? DEFAULT_SEEDS : null;
  const start = values['seed-start'] === undefined ? 0 : parseCount('seed-start', values['seed-start']);
  const workers = values.workers === undefined ? defaultWorkers() : parseCount('workers', values.workers);
  if (workers < 1) throw new UsageError('--workers: must be at least 1');
  let shard = WHOLE;
  if (values.shard !== undefined) {
    const parsed = parseShard(values.shard);
    if (parsed === null) throw new UsageError(`--shard: expected K/N with 1 <= K <= N, got '${values.shard}'`);
    shard = parsed;
  }
  const selfCheckEvery = values['self-check'] === undefined ? 50 : parseCount('self-check', values['self-check']);
  const maxShrinkRuns = values['max-shrink-runs'] === undefined ? 1000 : parseCount('max-shrink-runs', values['max-shrink-runs']);
  const range: SeedRange = { start, total, shard };

  const spaceArgs = caseSpaceArgs(values);
  const shardText = shard.count > 1 ? ` shard ${shard.index}/${shard.count}` : '';
  const header = `hasim fuzz ${spaceArgs}${shardText}`;
  const store = new FindingsStore(values.out, system, space, `hasim fuzz ${spaceArgs} --seed-start ${start}${shardText}`, (seed) => `npx hasim run --seed ${seed} ${spaceArgs}`);

  const isTty = io.isTty ?? false;
  const env = io.env ?? {};
  // The first line comes one period in, when the rate and ETA mean something.
  let lastProgress = 0;
  let lastLine = '';
  const onSeed = (p: Progress): void => {
    const every = isTty ? TTY_PROGRESS_MS : LOG_PROGRESS_MS;
    if (p.elapsedMs - lastProgress < every) return;
    lastProgress = p.elapsedMs;
    lastLine = progressLine(p);
    io.err(isTty ? `\r\x1b[K${lastLine}` : lastLine);
  };

  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130); // a second Ctrl-C: findings are on disk already
    io.err(`${isTty ? '\n' : ''}interrupted: finishing the seeds in flight, cancelling shrinks (unshrunk counterexamples stay in ${values.out})`);
    stop.abort();
  };
  if (io.signal !== undefined) io.signal.addEventListener('abort', onSignal, { once: true });
  else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  io.err(`${header}: ${total === null ? 'until the budget' : `${total} seeds`} from ${start}${budgetMs === null ? '' : `, budget ${values.budget}`}, ${workers} worker${workers === 1 ? '' : 's'}, findings in ${values.out}`);

  const executor = (io.executor ?? poolExecutor)(workers);
  let result: CampaignResult;
  try {
    result = await runCampaign(executor, {
      system: system.name, space, range, budgetMs, selfCheckEvery, maxShrinkRuns, store, signal: stop.signal, onSeed,
      onFinding: (f) => {
        if (f.kind === 'shrunk') io.err(`${isTty ? '\r\x1b[K' : ''}shrunk ${f.invariant} (seed ${f.seed}): ${f.file}`);
        else if (f.file !== null) io.err(`${isTty ? '\r\x1b[K' : ''}found ${f.invariant} at seed ${f.seed}: ${f.file} (shrinking)`);
      },
    });
  } finally {
    if (io.signal === undefined) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await executor.close();
  }
  if (isTty && lastLine !== '') io.err('');

  if (values.results !== undefined) writeFileAtomic(values.results, result.results.map((r) => JSON.stringify(r)).join('\n') + (result.results.length > 0 ? '\n' : ''));
  const checked = space.invariants ?? invariantIds(system);
  if (values.junit !== undefined) writeFileAtomic(values.junit, junitXml(result, header, checked));
  if (env['GITHUB_ACTIONS'] === 'true') for (const line of githubAnnotations(result)) io.out(line);
  if (values.json) io.out(summaryJson(result, { profile: space.profile, seedStart: start, shard: `${shard.index}/${shard.count}`, workers, out: values.out }));
  else for (const line of summaryLines(result, header)) io.out(line);

  const failed = result.invariants.length > 0 || result.mismatches.length > 0;
  return failed ? 1 : result.interrupted ? 130 : 0;
}
