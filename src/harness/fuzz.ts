import type { Instance, System, View } from '../contract/system.ts';
import { runCase } from './run-case.ts';
import { caseForSeed, shrinkSeed, type CaseSpace, type Shrunk } from './seeded-case.ts';

export interface FuzzOptions {
  /** The first seed. Default 0. */
  start?: number;
  /** Seeds to run: start, start + 1, ... */
  seeds: number;
  /** Shrink the lowest failing seed of each outcome to a 1-minimal schedule. Default false. */
  shrink?: boolean;
  /** Shrink budget per counterexample, in runs. Default 1,000. */
  maxShrinkRuns?: number;
}

/** One failing seed. */
export interface SeedFailure {
  seed: number;
  /** The violated invariant, or `model-failure`. */
  outcome: string;
  message: string;
  /** Faults in the seed's schedule. */
  faults: number;
}

export interface FuzzResult {
  seeds: number;
  failures: SeedFailure[];
  /** The lowest failing seed of each outcome, shrunk (with `shrink`). */
  shrunk: Shrunk[];
}

/**
 * A campaign over a seed range, in this thread: each seed's case (a pure function of the system,
 * the space and the seed, as `hasim fuzz` makes it) run to a verdict. The CLI's `hasim fuzz` adds
 * worker threads, shards, budgets and findings files on top of the same cases.
 */
export function fuzz<C, I extends Instance, V extends View>(system: System<C, I, V>, space: CaseSpace, options: FuzzOptions): FuzzResult {
  const start = options.start ?? 0;
  const failures: SeedFailure[] = [];
  for (let seed = start; seed < start + options.seeds; seed++) {
    const c = caseForSeed(system, space, seed);
    const v = runCase(system, c);
    if (v.outcome !== 'pass') failures.push({ seed, outcome: v.outcome, message: v.violation?.message ?? v.modelFailure ?? '', faults: c.schedule.length });
  }
  // Seeds run in order, so the first failure of each outcome is its lowest seed.
  const lowest = [...new Set(failures.map((f) => f.outcome))].map((o) => failures.find((f) => f.outcome === o)!);
  const shrunk = options.shrink && lowest.length > 0
    ? lowest.filter((f) => f.outcome !== 'model-failure').map((f) => shrinkSeed(system, space, f.seed, f.outcome, options.maxShrinkRuns === undefined ? {} : { maxShrinkRuns: options.maxShrinkRuns }))
    : [];
  return { seeds: options.seeds, failures, shrunk };
}

/**
 * The `hasim run` command that reruns one seed of a case space (`--config` needs the overrides in a
 * file). A space without a deployment is the system's first deployment (its defaults), which the
 * command names: the CLI's default is a deployment swarm.
 */
export function rerunCommand(system: { name: string; deployments?: { named: ReadonlyArray<{ name: string }> } | undefined }, space: CaseSpace, seed: number): string {
  const parts = [`npx hasim run --system ${system.name} --seed ${seed} --profile ${space.profile}`];
  const deployment = space.deployment ?? system.deployments?.named[0]?.name;
  if (deployment !== undefined) parts.push(`--deployment ${deployment}`);
  if (space.fixes !== undefined && space.fixes.length > 0) parts.push(`--fixes ${space.fixes.join(',')}`);
  if (space.config !== undefined) parts.push(`--config <a file holding ${JSON.stringify(space.config)}>`);
  if (space.kinds !== undefined) parts.push(`--faults ${space.kinds.join(',')}`);
  if (space.swarm === false) parts.push('--no-swarm');
  if (space.maxFaults !== undefined) parts.push(`--max-faults ${space.maxFaults}`);
  if (space.invariants !== undefined) parts.push(`--invariants ${space.invariants.join(',')}`);
  return parts.join(' ');
}
