import { readFileSync } from 'node:fs';
import Tinypool from 'tinypool';
import { workerFile } from '../worker-file.ts';
import type { AnySystem } from '../../contract/system.ts';
import type { Batch } from './batch.ts';
import { summarizeRun, type ReportData, type RunSummary } from './collect.ts';
import { packageRoot } from '../package-root.ts';

type Scenario = NonNullable<AnySystem['scenarios']>[number];

export interface ReportPlan {
  system: AnySystem;
  scenarios: readonly Scenario[];
  profiles: readonly string[];
  firstSeed: number;
  /** The git commit the report states (read by the command, outside the runs). */
  commit: string;
  /** Seeds per scenario and profile. */
  seeds: number;
  /** Worker threads; 1 runs everything in this thread. */
  jobs: number;
}

/** Seeds per batch: large enough that a worker's messaging is negligible, small enough to balance the load. */
export const BATCH_SEEDS = 20;

/** How many batches (the units handed to workers) a plan makes: more threads than that would idle. */
export function batchCount(plan: Pick<ReportPlan, 'scenarios' | 'profiles' | 'seeds'>, batchSeeds: number = BATCH_SEEDS): number {
  return plan.scenarios.length * plan.profiles.length * Math.ceil(plan.seeds / batchSeeds);
}

export interface CollectOptions {
  /** Told after each batch (after each run in this thread). */
  progress?: (done: number, total: number) => void;
  /** Aborting stops starting batches; the ones in flight finish (in this thread: the run in progress). */
  stop?: AbortSignal;
  /** Aborting abandons the batches in flight too. */
  abandon?: AbortSignal;
}

/**
 * The batches of a scenario's seeds under each profile: `seeds` (ascending) cut into runs of
 * `batchSeeds`, scenario by scenario, then profile by profile, so that batches finish roughly in
 * the order a report reads them.
 */
export function planBatches(system: string, scenarios: readonly Scenario[], profiles: readonly string[], seedsOf: (scenario: string, profile: string) => readonly number[], batchSeeds: number = BATCH_SEEDS): Batch[] {
  const batches: Batch[] = [];
  for (const s of scenarios) {
    for (const profile of profiles) {
      const seeds = seedsOf(s.name, profile);
      for (let i = 0; i < seeds.length; i += batchSeeds) batches.push({ system, name: s.name, profile, seeds: seeds.slice(i, i + batchSeeds) });
    }
  }
  return batches;
}

/**
 * Runs the batches on `jobs` threads (1: in this thread) and hands each batch's summaries to
 * `finished` as it finishes (in this thread: each run as it finishes, as a batch of one). Stopping
 * starts no more batches; abandoning drops those in flight.
 */
export async function runBatches(batches: readonly Batch[], jobs: number, finished: (batch: Batch, runs: RunSummary[]) => void, options: CollectOptions = {}): Promise<void> {
  const stopped = (): boolean => options.stop?.aborted === true || options.abandon?.aborted === true;
  if (jobs <= 1) {
    // One run at a time, yielding to the event loop between runs so that a Ctrl-C is noticed.
    for (const b of batches) {
      for (const seed of b.seeds) {
        if (stopped()) return;
        finished({ ...b, seeds: [seed] }, [summarizeRun(b.system, b.name, seed, b.profile)]);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return;
  }
  const pool = new Tinypool({ filename: workerFile('report'), minThreads: jobs, maxThreads: jobs });
  // Aborting a tinypool task ends its worker: that is how a second Ctrl-C abandons the batches in flight.
  const abandon = new AbortController();
  const onAbandon = (): void => abandon.abort();
  options.abandon?.addEventListener('abort', onAbandon);
  try {
    // Twice the threads in flight keeps every worker busy; the rest wait here, so that a stop starts no more.
    const inFlight = new Set<Promise<void>>();
    for (const b of batches) {
      if (stopped()) break;
      const p: Promise<void> = (pool.run(b, { signal: abandon.signal }) as Promise<RunSummary[]>)
        .then((r) => finished(b, r), (error: unknown) => {
          if (!abandon.signal.aborted) throw error;
        })
        .finally(() => inFlight.delete(p));
      p.catch(() => undefined); // awaited below; this only keeps a second failure from being unhandled
      inFlight.add(p);
      if (inFlight.size >= jobs * 2) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    options.abandon?.removeEventListener('abort', onAbandon);
    await pool.destroy();
  }
}

/**
 * Runs every scenario over the plan's seeds and profiles and gathers the run summaries, in seed
 * order whatever order the batches finished in. When stopped, it returns the runs that finished,
 * with `partial` saying how many of how many.
 */
export async function collectReport(plan: ReportPlan, options: CollectOptions = {}): Promise<ReportData> {
  const progress = options.progress ?? (() => undefined);
  const started = performance.now();
  const seeds = Array.from({ length: plan.seeds }, (_, k) => plan.firstSeed + k);
  const batches = planBatches(plan.system.name, plan.scenarios, plan.profiles, () => seeds);
  const total = plan.scenarios.length * plan.profiles.length * plan.seeds;
  const runs = new Map<string, RunSummary[]>();
  let done = 0;
  await runBatches(batches, plan.jobs, (b, r) => {
    const key = `${b.name}\n${b.profile}`;
    runs.set(key, [...(runs.get(key) ?? []), ...r]);
    done += r.length;
    progress(done, total);
  }, options);
  return assembleReport({
    system: plan.system, scenarios: plan.scenarios, profiles: plan.profiles, firstSeed: plan.firstSeed, seeds: plan.seeds,
    version: packageVersion(), commit: plan.commit, wallMs: Math.round(performance.now() - started),
    runsOf: (scenario, profile) => runs.get(`${scenario}\n${profile}`) ?? [],
  });
}

export interface AssembleInput {
  system: AnySystem;
  scenarios: readonly Scenario[];
  profiles: readonly string[];
  firstSeed: number;
  seeds: number;
  version: string;
  commit: string;
  wallMs: number;
  /** A scenario's runs under a profile, in any order, each seed once. */
  runsOf: (scenario: string, profile: string) => readonly RunSummary[];
  /** The runs are missing from runs files (`hasim report --from`), not cut short by an interrupt. */
  missing?: boolean;
}

/**
 * The report's data from its runs, however they were had (run now, read from runs files, or both):
 * each scenario's runs under each profile in seed order, so that the same runs give the same report.
 * Fewer runs than planned make it partial.
 */
export function assembleReport(input: AssembleInput): ReportData {
  const planned = input.scenarios.length * input.profiles.length * input.seeds;
  let done = 0;
  const scenarios = input.scenarios.map((s) => ({
    name: s.name, report: s.report, summary: s.summary, procedure: s.procedure, claims: s.claims, metrics: s.metrics,
    profiles: input.profiles.map((profile) => {
      const runs = [...input.runsOf(s.name, profile)].sort((a, b) => a.seed - b.seed);
      done += runs.length;
      return { profile, runs };
    }),
  }));
  return {
    version: input.version,
    system: input.system.name,
    commit: input.commit,
    firstSeed: input.firstSeed,
    lastSeed: input.firstSeed + input.seeds - 1,
    profiles: [...input.profiles],
    wallMs: input.wallMs,
    ...(done < planned ? { partial: { runs: done, planned, ...(input.missing === true ? { missing: true as const } : {}) } } : {}),
    scenarios,
  };
}

/** This hasim's version (package.json), as reports and runs files state it. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as { version: string }).version;
}
