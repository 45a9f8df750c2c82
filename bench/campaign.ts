import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Tinypool from 'tinypool';
import { runCampaign } from '../src/cli/campaign/campaign.ts';
import type { Executor } from '../src/cli/campaign/executor.ts';
import type { Task, TaskResult } from '../src/cli/campaign/tasks.ts';
import { FindingsStore } from '../src/cli/campaign/findings-store.ts';
import { DEPLOYMENT_SWARM, type CaseSpace } from '../src/harness/seeded-case.ts';
import { peakRssMb, round, summarize, timedAsync, type BenchResult, type Timing } from './measure.ts';
import { streamspace } from '../src/systems/index.ts';

/**
 * The hardened profile, swarm schedules over every fault kind, in the seed-000 deployment (a space
 * without a deployment): `hasim fuzz --deployment seed-000`, the space docs/benchmarks.md measured.
 */
export const SEED_000_SPACE: CaseSpace = { profile: 'hardened', swarm: true };

/** `hasim fuzz`'s default space: the same, with a deployment drawn and perturbed per seed (docs/deployments.md). */
export const SWARM_SPACE: CaseSpace = { profile: 'hardened', swarm: true, deployment: DEPLOYMENT_SWARM };

/**
 * Seed 004's replicated PostgreSQL under every PostgreSQL failover kind and the generic faults
 * that act on it: `hasim fuzz --deployment r004-patroni-async --faults ...` as docs/seed-004.md ran
 * it (hardened: every Patroni deployment runs sync-strict).
 */
export const PATRONI_SPACE: CaseSpace = {
  profile: 'hardened', swarm: true, deployment: 'r004-patroni-async',
  kinds: ['pg-primary-kill', 'pg-switchover', 'pg-dcs-partition', 'pg-sync-standby-down', 'node-failure', 'pod-partition', 'crash', 'partition', 'pause'],
};

/** The worker bundle `hasim fuzz` starts (`npm run bench` builds dist/ first). */
const WORKER = fileURLToPath(new URL('../dist/bin/campaign-worker.js', import.meta.url));

/**
 * `poolExecutor` on the shipped worker bundle: the seeds run the code `hasim fuzz` runs, not the
 * TypeScript sources through a loader (which wraps every function to keep its name, and costs more).
 */
function bundledPool(workers: number): Executor {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run the benchmarks with npm run bench, which builds it`);
  const pool = new Tinypool({ filename: WORKER, minThreads: workers, maxThreads: workers });
  return {
    concurrency: workers,
    run: (task: Task, signal?: AbortSignal) => pool.run(task, signal === undefined ? {} : { signal }) as Promise<TaskResult>,
    close: () => pool.destroy(),
  };
}

/**
 * Seeds per second of a whole campaign (`runCampaign` on a pool of the worker bundle, exactly what
 * `hasim fuzz` runs, self-check off) with `workers` threads. The pool first runs `warmupSeeds` untimed seeds so
 * that thread start-up and JIT warm-up are not charged to the measurement; then the same `seeds`
 * seeds are timed `repeats` times. Reported: seeds/s of the median and of the fastest repeat, the
 * CPU time per seed (every thread of the process: workers and the campaign's own), and the peak RSS
 * of the process so far. Each seed is one ~11-simulated-minute case (settle, faults, heal, bound, tail).
 */
export async function benchCampaignPool(workers: number, space: CaseSpace = SEED_000_SPACE, seeds = 400, repeats = 3, warmupSeeds = 60): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-bench-'));
  const store = new FindingsStore(dir, streamspace, space, 'the campaign benchmark', (seed) => `seed ${seed}`);
  const executor = bundledPool(workers);
  const campaign = (start: number, total: number): ReturnType<typeof runCampaign> =>
    runCampaign(executor, { system: streamspace.name, space, store, selfCheckEvery: 0, range: { start, total, shard: { index: 1, count: 1 } } });
  try {
    await campaign(1_000_000, warmupSeeds);
    const timings: Timing[] = [];
    let last: Awaited<ReturnType<typeof runCampaign>> | undefined;
    for (let i = 0; i < repeats; i++) {
      const t = await timedAsync(() => campaign(0, seeds));
      last = t.value;
      timings.push(t);
    }
    const r = last!;
    const { median, min } = summarize(timings);
    const deployment = space.deployment === DEPLOYMENT_SWARM ? 'swarm' : space.deployment ?? 'seed-000';
    return {
      bench: `campaign.${space.profile}-${deployment}-${workers}-worker${workers === 1 ? '' : 's'}`,
      events: r.steps,
      wallMs: Math.round(median.wallMs),
      wallMinMs: Math.round(min.wallMs),
      eventsPerMs: Math.round(r.steps / median.wallMs),
      simSeconds: r.simUs / 1e6,
      speedup: Math.round(r.simUs / 1000 / median.wallMs),
      cases: r.seedsRun,
      violations: r.seedsRun - r.passed,
      seedsPerSecond: round((r.seedsRun / median.wallMs) * 1000, 1),
      seedsPerSecondBest: round((r.seedsRun / min.wallMs) * 1000, 1),
      cpuMsPerSeed: round(median.cpuMs / r.seedsRun, 1),
      cpuUsPerEvent: round((median.cpuMs * 1000) / r.steps, 3),
      peakRssMb: peakRssMb(),
    };
  } finally {
    await executor.close();
  }
}

/**
 * The cost of statechart coverage (`hasim fuzz --coverage`, docs/coverage.md): the same `seeds` seeds
 * of the seed-000 space on one pool of `workers`, timed `repeats` times without coverage and with it,
 * alternately (so that a change of the machine's load between them hits both), after `warmupSeeds`
 * untimed seeds of each. Reported: seeds/s and CPU per seed of the medians without and with it, and
 * their ratios (`coverageRatio`: seeds/s with over without; `cpuRatio`: CPU per seed without over
 * with): the bound is a drop of at most 10%, a ratio of at least 0.9.
 */
export async function benchCampaignCoverage(workers = 2, seeds = 200, repeats = 3, warmupSeeds = 60): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-bench-'));
  const space = SEED_000_SPACE;
  const store = new FindingsStore(dir, streamspace, space, 'the coverage benchmark', (seed) => `seed ${seed}`);
  const executor = bundledPool(workers);
  const campaign = (start: number, total: number, coverage: boolean): ReturnType<typeof runCampaign> =>
    runCampaign(executor, { system: streamspace.name, space, store, selfCheckEvery: 0, coverage, range: { start, total, shard: { index: 1, count: 1 } } });
  try {
    await campaign(1_000_000, warmupSeeds, false);
    await campaign(2_000_000, warmupSeeds, true);
    const off: Timing[] = [];
    const on: Timing[] = [];
    let last: Awaited<ReturnType<typeof runCampaign>> | undefined;
    for (let i = 0; i < repeats; i++) {
      off.push(await timedAsync(() => campaign(0, seeds, false)));
      const t = await timedAsync(() => campaign(0, seeds, true));
      last = t.value;
      on.push(t);
    }
    const r = last!;
    const without = summarize(off).median;
    const withIt = summarize(on).median;
    const perSecond = (t: Timing): number => (r.seedsRun / t.wallMs) * 1000;
    return {
      bench: `campaign.hardened-seed-000-coverage-${workers}-worker${workers === 1 ? '' : 's'}`,
      events: r.steps,
      wallMs: Math.round(withIt.wallMs),
      eventsPerMs: Math.round(r.steps / withIt.wallMs),
      simSeconds: r.simUs / 1e6,
      speedup: Math.round(r.simUs / 1000 / withIt.wallMs),
      cases: r.seedsRun,
      seedsPerSecondWithout: round(perSecond(without), 1),
      seedsPerSecond: round(perSecond(withIt), 1),
      coverageRatio: round(perSecond(withIt) / perSecond(without), 3),
      cpuMsPerSeedWithout: round(without.cpuMs / r.seedsRun, 1),
      cpuMsPerSeed: round(withIt.cpuMs / r.seedsRun, 1),
      cpuRatio: round(without.cpuMs / withIt.cpuMs, 3),
      cpuUsPerEvent: round((withIt.cpuMs * 1000) / r.steps, 3),
      // What the seeds reached: `id states transitions`, reached/total.
      coverage: (r.coverage?.machines ?? []).map((m) => `${m.id} ${m.states.reached}/${m.states.total} ${m.transitions.reached}/${m.transitions.total}`),
      peakRssMb: peakRssMb(),
    };
  } finally {
    await executor.close();
  }
}

/**
 * `memory.campaign-20k` (run only when named: it takes minutes): 20,000 seeds of the seed-000 space
 * on a pool of `workers`, with the process's RSS every 2,000 seeds and its peak. Flat means the
 * readings stop growing once the pool is warm: a campaign keeps per seed only its result line.
 */
export async function benchCampaignMemory(workers = 2, seeds = 20_000): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-bench-'));
  const space = SEED_000_SPACE;
  const store = new FindingsStore(dir, streamspace, space, 'the memory benchmark', (seed) => `seed ${seed}`);
  const executor = bundledPool(workers);
  const rssMb: number[] = [];
  try {
    const t = await timedAsync(() => runCampaign(executor, {
      system: streamspace.name, space, store, selfCheckEvery: 0, range: { start: 0, total: seeds, shard: { index: 1, count: 1 } },
      onSeed: (p) => {
        if (p.done % 2_000 === 0) rssMb.push(Math.round(process.memoryUsage().rss / 1e6));
      },
    }));
    const r = t.value;
    return {
      bench: `memory.campaign-20k-${workers}-workers`,
      events: r.steps,
      wallMs: Math.round(t.wallMs),
      eventsPerMs: Math.round(r.steps / t.wallMs),
      cases: r.seedsRun,
      violations: r.seedsRun - r.passed,
      seedsPerSecond: round((r.seedsRun / t.wallMs) * 1000, 1),
      cpuMsPerSeed: round(t.cpuMs / r.seedsRun, 1),
      rssMbEvery2000Seeds: rssMb,
      peakRssMb: peakRssMb(),
    };
  } finally {
    await executor.close();
  }
}

/** The as-built profile in `hasim fuzz`'s default space (a deployment drawn per seed): where guidance is measured. */
export const AS_BUILT_SPACE: CaseSpace = { profile: 'streamspace-v2', swarm: true, deployment: DEPLOYMENT_SWARM };

/**
 * Guided against unguided (`hasim fuzz --guided`, docs/coverage.md#guided-campaigns): the same
 * `seeds` seeds of the as-built space on one pool of `workers`, without and with guidance (epochs of
 * `epochSeeds`), no triage, self-check off. A fixed seed count rather than a time, so the figures
 * do not depend on the machine's load: per side the statechart transitions reached (over every
 * machine), the features (transitions and transition pairs) the guided corpus saw, the distinct
 * invariants violated, and seeds/s (after a few untimed seeds that warm the pool up). `executor`
 * replaces the pool of the worker bundle (the TypeScript sources' pool, when dist/ is not built).
 */
export async function benchCampaignGuided(workers = 2, seeds = 96, epochSeeds = 8, executor: Executor = bundledPool(workers)): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-bench-'));
  const space = AS_BUILT_SPACE;
  const store = new FindingsStore(dir, streamspace, space, 'the guided benchmark', (seed) => `seed ${seed}`);
  const campaign = (guided: boolean): ReturnType<typeof runCampaign> =>
    runCampaign(executor, { system: streamspace.name, space, store, selfCheckEvery: 0, coverage: true, guided: guided ? { epochSeeds } : null, range: { start: 0, total: seeds, shard: { index: 1, count: 1 } } });
  const side = (t: Timing & { value: Awaited<ReturnType<typeof runCampaign>> }): Record<string, number | string> => {
    const machines = t.value.coverage?.machines ?? [];
    return {
      transitions: `${machines.reduce((n, m) => n + m.transitions.reached, 0)}/${machines.reduce((n, m) => n + m.transitions.total, 0)}`,
      invariantsViolated: t.value.invariants.length,
      // A run halts at its first violation: cases that fail earlier simulate less and run faster.
      simSeconds: Math.round(t.value.simUs / 1e6),
      steps: t.value.steps,
      seedsPerSecond: round((t.value.seedsRun / t.wallMs) * 1000, 1),
      // Every thread of the process: steadier than wall time on a shared machine, and blind to which side ran first.
      cpuMsPerSeed: round(t.cpuMs / t.value.seedsRun, 1),
    };
  };
  try {
    // Thread start-up and JIT warm-up are charged to neither side.
    await runCampaign(executor, { system: streamspace.name, space, store, selfCheckEvery: 0, range: { start: 1_000_000, total: 8 * workers, shard: { index: 1, count: 1 } } });
    const unguided = await timedAsync(() => campaign(false));
    const guided = await timedAsync(() => campaign(true));
    const g = guided.value.guided!;
    return {
      bench: `campaign.guided-vs-unguided-${workers}-worker${workers === 1 ? '' : 's'}`,
      events: guided.value.steps,
      wallMs: Math.round(guided.wallMs),
      eventsPerMs: Math.round(guided.value.steps / guided.wallMs),
      cases: guided.value.seedsRun,
      unguided: side(unguided),
      guided: { ...side(guided), corpus: g.corpus, features: g.features, mutatedSeeds: g.mutatedSeeds },
      peakRssMb: peakRssMb(),
    };
  } finally {
    await executor.close();
  }
}
