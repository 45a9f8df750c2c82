import { statSync } from 'node:fs';
import type { AnySystem } from '../../contract/system.ts';
import { UsageError } from '../args.ts';
import { shardSeeds, type Shard } from '../campaign/seed-range.ts';
import type { Batch } from './batch.ts';
import type { RunSummary } from './collect.ts';
import { planBatches, runBatches, type CollectOptions } from './execute.ts';
import { definitionDigest, seed0Digest, type RunIdentity } from './identity.ts';
import { RunStore } from './run-store.ts';
import { readRunsFile, runLine, RunsFileWriter } from './runs-file.ts';

type Scenario = NonNullable<AnySystem['scenarios']>[number];

export interface ResumePlan {
  system: AnySystem;
  scenarios: readonly Scenario[];
  profiles: readonly string[];
  /** The seeds asked for, over all shards: seedStart..seedStart+seeds-1. */
  seedStart: number;
  seeds: number;
  /** The part of them this command runs (`--shard K/N`; 1/1 for all). */
  shard: Shard;
  /** The runs file: read first (the runs in it are not run again), appended to as each run finishes. */
  file: string;
  version: string;
  commit: string;
  jobs: number;
}

export interface ResumeResult {
  /** Every run of the file and of this command, checked. */
  store: RunStore;
  /** Runs of this command's seeds already in the file. */
  present: number;
  /** Runs this command ran and appended. */
  appended: number;
  /** Runs this command's seeds need in all (in the file or run now). */
  planned: number;
  /** Threads the runs used. */
  jobs: number;
  /** An interrupt stopped the probes or the runs before every one was done. */
  interrupted: boolean;
  /** Whether the file ended in a line cut off mid-write (dropped, its run run again). */
  torn: boolean;
}

/** Bad input about the runs file: one line, exit 2. */
function bad(message: string): never {
  throw new UsageError(`report: ${message}`);
}

/**
 * `hasim report --runs FILE [--shard K/N]`: runs what the file does not hold yet of this command's
 * seeds, appending each run as it finishes. First seed 0 of every scenario and profile is run (the
 * identity of the code, identity.ts) and compared with the file's lines: runs of other code in the
 * file are bad input, before anything is appended. Seed 0's run is kept when the command's seeds
 * include it.
 */
export async function runIntoFile(plan: ResumePlan, options: CollectOptions): Promise<ResumeResult> {
  const store = new RunStore(plan.version, bad, plan.system);
  let tornAt: number | null = null;
  if (statSync(plan.file, { throwIfNoEntry: false }) !== undefined) {
    const read = readRunsFile(plan.file, bad);
    tornAt = read.tornAt;
    for (const { line, where } of read.lines) store.add(line, where);
  }
  const pairs = plan.scenarios.flatMap((s) => plan.profiles.map((profile) => ({ scenario: s, profile })));
  const key = (scenario: string, profile: string): string => `${scenario}\n${profile}`;
  const seeds = [...shardSeeds({ start: plan.seedStart, total: plan.seeds, shard: plan.shard })];
  const planned = pairs.length * seeds.length;
  const present = pairs.reduce((n, p) => n + seeds.filter((seed) => store.has(p.scenario.name, p.profile, seed)).length, 0);
  const result = (appended: number, jobs: number, interrupted: boolean): ResumeResult => ({ store, present, appended, planned, jobs, interrupted, torn: tornAt !== null });
  if (present === planned) return result(0, 0, false);

  // Seed 0 of each scenario and profile: the identity of the code that runs now.
  const probes = new Map<string, RunSummary>();
  const probeJobs = Math.max(1, Math.min(plan.jobs, pairs.length));
  await runBatches(planBatches(plan.system.name, plan.scenarios, plan.profiles, () => [0], 1), probeJobs, (b, runs) => probes.set(key(b.name, b.profile), runs[0]!), options);
  if (probes.size < pairs.length) return result(0, probeJobs, true);
  const identities = new Map<string, RunIdentity>();
  for (const { scenario, profile } of pairs) {
    const seed0 = seed0Digest(probes.get(key(scenario.name, profile))!);
    const inFile = store.seed0Of(scenario.name, profile);
    if (inFile !== undefined && inFile.seed0 !== seed0) {
      bad(`${inFile.where}: ${scenario.name} under ${profile} was run by other code (seed-0 digest ${inFile.seed0}; this hasim's is ${seed0}): runs of different code are not mixed (use a new runs file)`);
    }
    identities.set(key(scenario.name, profile), { hasim: plan.version, definition: definitionDigest(plan.system, scenario), seed0 });
  }

  const writer = new RunsFileWriter(plan.file, tornAt);
  let appended = 0;
  const range: [number, number] = [plan.seedStart, plan.seedStart + plan.seeds - 1];
  const record = (scenario: string, profile: string, run: RunSummary): void => {
    const s = plan.scenarios.find((x) => x.name === scenario)!;
    const line = runLine({ ...identities.get(key(scenario, profile))!, commit: plan.commit, system: plan.system.name, range }, s, profile, run);
    writer.append(line);
    store.add(line, `${plan.file} (this run)`);
    appended++;
  };
  try {
    for (const { scenario, profile } of pairs) {
      if (seeds.includes(0) && !store.has(scenario.name, profile, 0)) record(scenario.name, profile, probes.get(key(scenario.name, profile))!);
    }
    // One seed per batch: each run is appended when it finishes, not when its batch does.
    const batches: Batch[] = planBatches(plan.system.name, plan.scenarios, plan.profiles, (s, p) => seeds.filter((seed) => !store.has(s, p, seed)), 1);
    const jobs = Math.max(1, Math.min(plan.jobs, batches.length));
    await runBatches(batches, jobs, (b, runs) => {
      for (const run of runs) record(b.name, b.profile, run);
    }, options);
    return result(appended, jobs, present + appended < planned);
  } finally {
    writer.close();
  }
}
