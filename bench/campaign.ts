import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCampaign } from '../src/cli/campaign/campaign.ts';
import { poolExecutor } from '../src/cli/campaign/executor.ts';
import { FindingsStore } from '../src/cli/campaign/findings-store.ts';
import type { CaseSpace } from '../src/harness/seeded-case.ts';
import type { BenchResult } from './measure.ts';
import { streamspace } from '../src/systems/index.ts';

/**
 * The hardened profile, swarm schedules over every fault kind, in the seed-000 deployment (a space
 * without a deployment): `hasim fuzz --deployment seed-000`, the space docs/benchmarks.md measured.
 * `hasim fuzz`'s default draws a deployment per seed (docs/deployments.md gives its rate).
 */
const DEFAULT_SPACE: CaseSpace = { profile: 'hardened', swarm: true };

/**
 * Seeds per second of a whole campaign (`runCampaign` on a worker pool, exactly what `hasim fuzz`
 * runs, self-check off) with `workers` threads. The pool first runs `warmupSeeds` untimed seeds so
 * that thread start-up and JIT warm-up are not charged to the measurement; then `seeds` other
 * seeds are timed. Each seed is one ~11-simulated-minute case (settle, faults, heal, bound, tail).
 */
export async function benchCampaignPool(workers: number, space: CaseSpace = DEFAULT_SPACE, seeds = 400, warmupSeeds = 60): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-bench-'));
  const store = new FindingsStore(dir, streamspace, space, 'the campaign benchmark', (seed) => `seed ${seed}`);
  const executor = poolExecutor(workers);
  try {
    await runCampaign(executor, { system: streamspace.name, space, store, selfCheckEvery: 0, range: { start: 1_000_000, total: warmupSeeds, shard: { index: 1, count: 1 } } });
    const r = await runCampaign(executor, { system: streamspace.name, space, store, selfCheckEvery: 0, range: { start: 0, total: seeds, shard: { index: 1, count: 1 } } });
    return {
      bench: `campaign.${space.profile}-${workers}-worker${workers === 1 ? '' : 's'}`,
      events: r.steps,
      wallMs: Math.round(r.elapsedMs),
      eventsPerMs: Math.round(r.steps / r.elapsedMs),
      simSeconds: r.simUs / 1e6,
      speedup: Math.round(r.simUs / 1000 / r.elapsedMs),
      cases: r.seedsRun,
      violations: r.seedsRun - r.passed,
      seedsPerSecond: Math.round((r.seedsRun / r.elapsedMs) * 1000 * 10) / 10,
    };
  } finally {
    await executor.close();
  }
}
