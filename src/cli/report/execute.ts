import { readFileSync } from 'node:fs';
import Tinypool from 'tinypool';
import { workerFile } from '../worker-file.ts';
import type { Scenario } from '../../systems/streamspace/scenarios/index.ts';
import { runBatch, type Batch } from './batch.ts';
import type { ReportData, RunSummary } from './collect.ts';
import { packageRoot } from '../package-root.ts';

export interface ReportPlan {
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
const BATCH_SEEDS = 20;

/**
 * Runs every scenario over the plan's seeds and profiles and gathers the run summaries, in seed
 * order whatever order the batches finished in. `progress` is told after each batch.
 */
export async function collectReport(plan: ReportPlan, progress: (done: number, total: number) => void = () => {}): Promise<ReportData> {
  const started = performance.now();
  const batches: Batch[] = [];
  for (const s of plan.scenarios) {
    for (const profile of plan.profiles) {
      for (let i = 0; i < plan.seeds; i += BATCH_SEEDS) {
        const seeds = Array.from({ length: Math.min(BATCH_SEEDS, plan.seeds - i) }, (_, k) => plan.firstSeed + i + k);
        batches.push({ name: s.name, profile, seeds });
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
    for (const b of batches) finish(b, runBatch(b));
  } else {
    const pool = new Tinypool({ filename: workerFile('report'), minThreads: plan.jobs, maxThreads: plan.jobs });
    try {
      await Promise.all(batches.map(async (b) => finish(b, await (pool.run(b) as Promise<RunSummary[]>))));
    } finally {
      await pool.destroy();
    }
  }
  return {
    version: packageVersion(),
    commit: plan.commit,
    firstSeed: plan.firstSeed,
    lastSeed: plan.firstSeed + plan.seeds - 1,
    profiles: [...plan.profiles],
    wallMs: Math.round(performance.now() - started),
    scenarios: plan.scenarios.map((s) => ({
      name: s.name, report: s.report, summary: s.summary, procedure: s.procedure, claims: s.claims, metrics: s.metrics,
      profiles: plan.profiles.map((profile) => ({
        profile,
        runs: batches.filter((b) => b.name === s.name && b.profile === profile).flatMap((b) => results.get(b)!),
      })),
    })),
  };
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as { version: string }).version;
}
