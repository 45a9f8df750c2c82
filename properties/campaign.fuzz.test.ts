import { test, expect } from 'vitest';
import { runCampaign } from '../src/cli/campaign/campaign.ts';
import { defaultWorkers, poolExecutor } from '../src/cli/campaign/executor.ts';
import { FindingsStore } from '../src/cli/campaign/findings-store.ts';
import { summaryLines } from '../src/cli/campaign/summary.ts';
import { streamspace } from '../src/systems/index.ts';

/**
 * `npm run fuzz`: a long swarm campaign over every fault kind and, like `hasim fuzz`, the deployment
 * swarm (each seed draws a named deployment and perturbs it, docs/deployments.md), with the engine
 * `hasim fuzz` uses (a worker per core, the determinism self-check on). Its case space is the one
 * of `hasim fuzz --profile P --deployment D --seed-start S --seeds N`. Knobs (environment):
 * HASIM_FUZZ_PROFILE (default hardened, the profile that must pass), HASIM_FUZZ_DEPLOYMENT (default
 * swarm; a named deployment narrows it), HASIM_FUZZ_SEEDS (default 2000), HASIM_FUZZ_SEED_START
 * (default 0), HASIM_FUZZ_OUT (default .fuzz-out). Violations are shrunk and written to
 * HASIM_FUZZ_OUT as trace files; the test fails with the summary and their replay commands.
 */
const profile = process.env['HASIM_FUZZ_PROFILE'] ?? 'hardened';
const deployment = process.env['HASIM_FUZZ_DEPLOYMENT'] ?? 'swarm';
const seeds = Number(process.env['HASIM_FUZZ_SEEDS'] ?? 2000);
const start = Number(process.env['HASIM_FUZZ_SEED_START'] ?? 0);
const out = process.env['HASIM_FUZZ_OUT'] ?? '.fuzz-out';

test(`swarm campaign: ${seeds} seeds of ${profile} from seed ${start}, deployment ${deployment}, every fault kind`, async () => {
  const space = { profile, deployment, swarm: true };
  const rerun = (seed: number): string => `npx hasim run --seed ${seed} --profile ${profile} --deployment ${deployment}`;
  const store = new FindingsStore(out, streamspace, space, `npm run fuzz (profile ${profile}, seeds ${start}..${start + seeds - 1})`, rerun);
  const executor = poolExecutor(defaultWorkers());
  try {
    const result = await runCampaign(executor, { system: streamspace.name, space, store, range: { start, total: seeds, shard: { index: 1, count: 1 } } });
    const summary = summaryLines(result, `npm run fuzz (HASIM_FUZZ_PROFILE=${profile} HASIM_FUZZ_DEPLOYMENT=${deployment})`).join('\n');
    console.log(summary);
    expect(result.mismatches, summary).toEqual([]);
    expect(result.invariants, summary).toEqual([]);
  } finally {
    await executor.close();
  }
}, 24 * 3600 * 1000);
