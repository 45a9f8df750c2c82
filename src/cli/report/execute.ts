import { readFileSync } from 'node:fs';
import Tinypool from 'tinypool';
import { workerFile } from '../worker-file.ts';
import type { AnySystem } from '../../contract/system.ts';
import type { Batch } from './batch.ts';
import { summarizeRun, type ReportData, type RunSummary } from './collect.ts';
import { packageRoot } from '../package-root.ts';

export interface ReportPlan {
  system: AnySystem;
  scenarios: ReadonlyArray<NonNullable<AnySystem['scenarios']>[number]>;
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
export function batchCount(plan: Pick<ReportPlan, 'scenarios' | 'profiles' | 'seeds'>): number {
  return plan.scenarios.length * plan.profiles.length * Math.ceil(plan.seeds / BATCH_SEEDS);
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
 * Runs every scenario over the plan's seeds and profiles and gathers the run summaries, in seed
 * order whatever order the batches finished in. When stopped, it returns the runs that finished,
 * with `partial` saying how many of how many.
 */
export async function collectReport(plan: ReportPlan, options: CollectOptions = {}): Promise<ReportData> {
  const progress = options.progress ?? (() => undefined);
  const stopped = (): boolean => options.stop?.aborted === true || options.abandon?.aborted === true;
  const started = performance.now();
  const batches: Batch[] = [];
  for (const s of plan.scenarios) {
    for (const profile of plan.profiles) {
      for (let i = 0; i < plan.seeds; i += BATCH_SEEDS) {
        const seeds = Array.from({ length: Math.min(BATCH_SEEDS, plan.seeds - i) }, (_, k) => plan.firstSeed + i + k);
        batches.push({ system: plan.system.name, name: s.name, profile, seeds });
      }
    }
  }
  const total = plan.scenarios.length * plan.profiles.length * plan.seeds;
  let done = 0;
  const results = new Map<Batch, RunSummary[]>();
  const finish = (b: Batch, r: RunSummary[]): void => {
    results.set(b, r);
    done += r.length;
    progress(done, total);
  };
  if (plan.jobs <= 1) {
    // One run at a time, yielding to the event loop between runs so that a Ctrl-C is noticed.
    for (const b of batches) {
      if (stopped()) break;
      const runs: RunSummary[] = [];
      for (const seed of b.seeds) {
        if (stopped()) break;
        runs.push(summarizeRun(b.system, b.name, seed, b.profile));
        done++;
        progress(done, total);
        await new Promise((resolve) => setImmediate(resolve));
      }
      results.set(b, runs);
    }
  } else {
    const pool = new Tinypool({ filename: workerFile('report'), minThreads: plan.jobs, maxThreads: plan.jobs });
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
          .then((r) => finish(b, r), (error: unknown) => {
            if (!abandon.signal.aborted) throw error;
          })
          .finally(() => inFlight.delete(p));
        p.catch(() => undefined); // awaited below; this only keeps a second failure from being unhandled
        inFlight.add(p);
        if (inFlight.size >= plan.jobs * 2) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    } finally {
      options.abandon?.removeEventListener('abort', onAbandon);
      await pool.destroy();
    }
  }
  return {
    version: packageVersion(),
    system: plan.system.name,
    commit: plan.commit,
    firstSeed: plan.firstSeed,
    lastSeed: plan.firstSeed + plan.seeds - 1,
    profiles: [...plan.profiles],
    wallMs: Math.round(performance.now() - started),
    ...(done < total ? { partial: { runs: done, planned: total } } : {}),
    scenarios: plan.scenarios.map((s) => ({
      name: s.name, report: s.report, summary: s.summary, procedure: s.procedure, claims: s.claims, metrics: s.metrics,
      profiles: plan.profiles.map((profile) => ({
        profile,
        runs: batches.filter((b) => b.name === s.name && b.profile === profile).flatMap((b) => results.get(b) ?? []),
      })),
    })),
  };
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as { version: string }).version;
}
