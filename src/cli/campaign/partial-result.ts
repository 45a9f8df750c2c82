import { CoverageTally } from '../../harness/coverage.ts';
import type { Shrunk } from '../../harness/seeded-case.ts';
import type { CompiledMachine } from '../../sim-cluster/statechart/index.ts';
import type { CampaignResult, DeterminismMismatch, InvariantSummary } from './campaign.ts';
import type { Executor } from './executor.ts';
import type { FindingsStore } from './findings-store.ts';
import type { SeedResult } from './tasks.ts';

/**
 * Watches a campaign's executor so that a campaign abandoned mid-way (a second Ctrl-C) still has a
 * result to write: every finished task is recorded, and `result()` rebuilds from them what the
 * campaign would have reported for those seeds. `abandon()` makes the tasks still in flight never
 * settle, so the campaign stops where it is without an error; the pool is then closed under them.
 */
export class CampaignRecorder {
  private readonly runs = new Map<number, SeedResult[]>();
  private readonly shrunk = new Map<string, Shrunk>();
  private abandoned = false;
  readonly executor: Executor;

  constructor(inner: Executor) {
    this.executor = {
      concurrency: inner.concurrency,
      close: () => inner.close(),
      run: (task, signal) => new Promise((resolve, reject) => {
        inner.run(task, signal).then((r) => {
          this.record(r);
          if (!this.abandoned) resolve(r);
        }, (error: unknown) => {
          if (!this.abandoned) reject(error);
        });
      }),
    };
  }

  private record(r: Awaited<ReturnType<Executor['run']>>): void {
    if (r.type === 'run') this.runs.set(r.result.seed, [...(this.runs.get(r.result.seed) ?? []), r.result]);
    else if (r.type === 'shrink') this.shrunk.set(`${r.shrunk.invariant}/${r.shrunk.case.seed}`, r.shrunk);
  }

  /** Stops passing results on: the campaign waits on tasks that will never settle. */
  abandon(): void {
    this.abandoned = true;
  }

  /**
   * The campaign's result over the seeds that finished: counts, per-invariant summaries with the
   * store's current examples, self-checks, and hash mismatches (without the diagnosis of where the
   * runs diverge, which may not have finished), and with `coverageOf` (the system's compiled
   * machines, when the campaign recorded coverage) the coverage of those seeds.
   */
  result(store: FindingsStore, elapsedMs: number, selfCheckEvery: number, coverageOf: readonly CompiledMachine[] | null = null): CampaignResult {
    const firsts = [...this.runs.values()].map((attempts) => attempts[0]!).sort((a, b) => a.seed - b.seed);
    const tally = coverageOf === null ? null : new CoverageTally(coverageOf);
    for (const r of firsts) if (r.coverage !== undefined) tally?.add(r.seed, r.coverage);
    const byInvariant = new Map<string, InvariantSummary>();
    for (const r of firsts) {
      if (r.outcome === 'pass') continue;
      let s = byInvariant.get(r.outcome);
      if (s === undefined) {
        s = { invariant: r.outcome, runs: 0, seeds: [], example: null };
        byInvariant.set(r.outcome, s);
      }
      s.runs++;
      if (s.seeds.length < 10) s.seeds.push(r.seed);
    }
    for (const s of byInvariant.values()) {
      const ex = store.example(s.invariant);
      if (ex === undefined) continue;
      const r = this.runs.get(ex.seed)?.[0];
      s.example = { seed: ex.seed, file: ex.file, shrunk: this.shrunk.get(`${s.invariant}/${ex.seed}`) ?? null, message: r?.violation?.message ?? r?.modelFailure ?? '' };
    }
    const rerun = [...this.runs.values()].filter((attempts) => attempts.length > 1);
    const mismatches: DeterminismMismatch[] = rerun
      .filter((attempts) => attempts[0]!.hash !== attempts[1]!.hash)
      .map((attempts) => ({
        seed: attempts[0]!.seed, hashes: [attempts[0]!.hash, attempts[1]!.hash], divergence: null,
        where: 'the seed\'s run and its self-check rerun (the campaign was stopped before the reruns that find where they diverge)',
      }));
    return {
      seedsRun: firsts.length,
      passed: firsts.filter((r) => r.outcome === 'pass').length,
      interrupted: true,
      budgetExhausted: false,
      elapsedMs,
      simUs: firsts.reduce((sum, r) => sum + r.simUs, 0),
      steps: firsts.reduce((sum, r) => sum + r.steps, 0),
      invariants: [...byInvariant.values()].sort((a, b) => a.invariant.localeCompare(b.invariant)),
      selfCheckEvery,
      selfChecks: rerun.length,
      mismatches: mismatches.sort((a, b) => a.seed - b.seed),
      results: firsts.map((r) => ({ seed: r.seed, outcome: r.outcome, hash: r.hash })),
      coverage: tally === null ? null : { runs: tally.runs, machines: tally.summary() },
    };
  }
}
