import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { scheduleArbitrary, swarmScheduleArbitrary, type ScheduleOptions } from '../faults/arbitraries.ts';
import { drawnByDefault, type FaultRecord } from '../faults/fault-kind.ts';
import { ConfigError, type Deployment, type Deployments, type Instance, type Resolved, type System, type View } from '../contract/system.ts';
import { runCase, type Case, type Verdict } from './run-case.ts';
import { ddmin } from './ddmin.ts';
import { minimize } from './minimize.ts';
import { narrowFaults, narrowOptionsFor } from './narrow-faults.ts';

/**
 * The cases of a campaign, one per seed. A campaign seed decides both the simulation seed and the
 * fault schedule, so a seed's case (and therefore its outcome and trace hash) is the same whichever
 * worker, shard or machine runs it, and `hasim run --seed S` with the same space reruns it.
 */
export interface CaseSpace {
  /** The profile the configuration starts from. */
  profile: string;
  /** Configuration overrides on top of the profile (the system's override shape). Default: none. */
  config?: unknown;
  /** Design fixes switched on besides the profile's. Default: none. */
  fixes?: readonly string[];
  /** Fault kinds that may appear (names). Default: every kind of the system drawn by default (`FaultKind.drawn`). */
  kinds?: readonly string[];
  /** Swarm mode: each seed first draws a subset of kinds and an intensity. Default: true. */
  swarm?: boolean;
  /** Most faults in one schedule (0, or `kinds: []`: fault-free cases). Default 8. */
  maxFaults?: number;
  /** Invariants checked. Default: all. */
  invariants?: readonly string[];
  /**
   * The deployment: a name from the system's `deployments`, or `swarm` (DEPLOYMENT_SWARM): each
   * seed draws a named deployment and perturbs it within the system's documented ranges. Default:
   * none, the profile's configuration as it is, which gives the same cases as naming the system's
   * first deployment (its defaults).
   */
  deployment?: string;
}

/** `CaseSpace.deployment` for swarm mode over the system's deployments. */
export const DEPLOYMENT_SWARM = 'swarm';

/** A seed's deployment: the named one it starts from, whether swarm mode perturbed it, and its overrides. */
export interface SeedDeployment {
  name: string;
  perturbed: boolean;
  overrides: unknown;
}

type AnySystemOf<C> = System<C, Instance, View>;

/**
 * What a case space's schedules are drawn from: the system's kinds drawn by default (or the chosen
 * ones, in the system's order), its roles, when faults may start, and its timing bounds.
 */
export function scheduleOptionsFor<C>(system: AnySystemOf<C>, space: CaseSpace): ScheduleOptions {
  const kinds = space.kinds === undefined ? drawnByDefault(system.faults) : system.faults.filter((k) => space.kinds!.includes(k.kind));
  const timing = system.faultTiming ?? {};
  return {
    kinds, roles: system.roles, startUs: system.settleUs,
    ...(space.maxFaults !== undefined ? { maxFaults: space.maxFaults } : {}),
    ...(timing.maxGapUs !== undefined ? { maxGapUs: timing.maxGapUs } : {}),
    ...(timing.maxDurationUs !== undefined ? { maxDurationUs: timing.maxDurationUs } : {}),
  };
}

/** The schedule arbitrary of a case space (`scheduleOptionsFor`), in swarm mode unless the space turns it off. */
export function scheduleArbitraryFor<C>(system: AnySystemOf<C>, space: CaseSpace): fc.Arbitrary<FaultRecord[]> {
  const options = scheduleOptionsFor(system, space);
  return (space.swarm ?? true) ? swarmScheduleArbitrary(options) : scheduleArbitrary(options);
}

/**
 * The random stream a seed's deployment is drawn from: the seed's generator jumped twice, 2^64
 * steps past the one its schedule is drawn from (jumped once), so that drawing a deployment never
 * moves the schedule's numbers.
 */
function deploymentRandom(seed: number): fc.Random {
  const rng = xoroshiro128plus(seed);
  rng.jump();
  rng.jump();
  return new fc.Random(rng);
}

/**
 * The deployment of a seed in a case space: null without one, the named one as it is, or in swarm
 * mode a named one drawn uniformly and perturbed (no fast-check bias, so every deployment and range
 * value is as likely on every seed). Throws ConfigError for a name the system does not have.
 */
export function deploymentForSeed<C>(system: AnySystemOf<C>, space: CaseSpace, seed: number): SeedDeployment | null {
  if (space.deployment === undefined) return null;
  const deployments = system.deployments;
  if (deployments === undefined) throw new ConfigError(`system '${system.name}' has no deployments`);
  if (space.deployment === DEPLOYMENT_SWARM) {
    const arbitrary = fc.constantFrom(...swarmDeployments(deployments)).chain((d) => deployments.perturb(d).map((overrides): SeedDeployment => ({ name: d.name, perturbed: true, overrides })));
    return arbitrary.generate(deploymentRandom(seed), undefined).value;
  }
  const named = deployments.named.find((d) => d.name === space.deployment);
  if (named === undefined) throw new ConfigError(`unknown deployment '${space.deployment}' (known: ${[...deployments.named.map((d) => d.name), DEPLOYMENT_SWARM].join(', ')})`);
  return { name: named.name, perturbed: false, overrides: named.overrides };
}

/** What a seed's configuration is resolved from and to. */
export interface SeedConfiguration<C> {
  resolved: Resolved<C>;
  /** The overrides over the profile: the deployment's with the space's on top (a trace file's `config`). */
  overrides: unknown;
  deployment: SeedDeployment | null;
}

/** The configuration of one seed of a case space: the profile, the seed's deployment, the space's overrides, its fixes. */
export function resolveSeed<C>(system: AnySystemOf<C>, space: CaseSpace, seed: number): SeedConfiguration<C> {
  const deployment = deploymentForSeed(system, space, seed);
  const own = space.config ?? {};
  const overrides = deployment === null ? own : system.deployments!.overlay(deployment.overrides, own);
  return { resolved: system.resolve(space.profile, overrides, space.fixes ?? []), overrides, deployment };
}

/**
 * The resolved configuration of a case space (throws ConfigError on bad overrides or fix names).
 * In deployment swarm mode the configuration depends on the seed: pass it (or use `resolveSeed`).
 */
export function resolveSpace<C>(system: AnySystemOf<C>, space: CaseSpace, seed?: number): Resolved<C> {
  if (seed === undefined && space.deployment === DEPLOYMENT_SWARM) throw new Error('resolveSpace: a deployment swarm resolves per seed; pass the seed');
  return resolveSeed(system, space, seed ?? 0).resolved;
}

/**
 * fast-check's bias frequency for a seed. fast-check itself lowers the bias towards small values as a
 * check goes on (frequency 2 on the first run, up to 6 around run 10,000); cycling the seed through
 * the same range gives every stretch of seeds that mix, and keeps it a function of the seed alone.
 */
function biasFactor(seed: number): number {
  return 2 + (seed % 5);
}

/**
 * A seed's schedule as a fast-check value, as `caseForSeed` draws it (shrinkers need its context):
 * the seed's generator jumped once, fast-check's bias cycling with the seed.
 */
export function scheduleValueForSeed(arbitrary: fc.Arbitrary<FaultRecord[]>, seed: number): fc.Value<FaultRecord[]> {
  const rng = xoroshiro128plus(seed);
  rng.jump();
  return arbitrary.generate(new fc.Random(rng), biasFactor(seed));
}

function caseOf<C>(space: CaseSpace, configured: SeedConfiguration<C>, seed: number, schedule: FaultRecord[]): Case<C> {
  const { resolved, deployment } = configured;
  return {
    profile: space.profile,
    fixes: resolved.fixes,
    config: resolved.config,
    seed,
    schedule,
    ...(space.invariants ? { invariants: space.invariants } : {}),
    ...(deployment !== null ? { deployment: { name: deployment.name, perturbed: deployment.perturbed } } : {}),
  };
}

/**
 * The case a campaign runs for `seed`: a pure function of (system, space, seed). The schedule is
 * drawn as it always was; a deployment, when the space has one, comes from a stream of its own.
 * `schedule` replaces the drawn one (a guided campaign's mutated case, `src/harness/guided.ts`):
 * the configuration and the simulation seed stay the seed's.
 */
export function caseForSeed<C>(system: AnySystemOf<C>, space: CaseSpace, seed: number, schedule?: FaultRecord[]): Case<C> {
  return caseOf(space, resolveSeed(system, space, seed), seed, schedule ?? scheduleValueForSeed(scheduleArbitraryFor(system, space), seed).value);
}

export interface ShrinkOptions {
  /**
   * Most runs spent on delta debugging and fast-check's shrinker, before the 1-minimal pass (a
   * schedule already run costs none). Default 1,000.
   */
  maxShrinkRuns?: number;
  /**
   * The seed's schedule when it is not the one the seed draws (a guided campaign's mutated case).
   * It shrinks as a drawn one does. Default: the drawn schedule.
   */
  schedule?: FaultRecord[];
}

export interface Shrunk<C = unknown> {
  invariant: string;
  case: Case<C>;
  verdict: Verdict;
  faultsFound: number;
  /** Faults left before the 1-minimal pass. */
  faultsShrunk: number;
  faultsMinimal: number;
  /** Values the narrowing pass moved (before it, in trace files written before 2026-12-02: successful fast-check shrink steps). */
  shrinkSteps: number;
  /**
   * Runs of each pass: delta debugging (absent only in trace files written before it), the
   * narrowing of times and parameters (fast-check's shrinker in files written before it), the
   * 1-minimal pass. A schedule is run once per shrink at most, the result once more for its
   * verdict with the trace hash (not counted here) unless it is the fault-free schedule.
   */
  ddminRuns?: number;
  shrinkRuns: number;
  minimizeRuns: number;
}

/**
 * Shrinks a failing seed's schedule while the same invariant still fails (a different violation is a
 * different finding), in passes that each start from what the one before left:
 * 1. delta debugging (`ddmin`) of the fault list, each fault kept at its time, after a try of the
 *    empty schedule: it drops most faults in a few runs;
 * 2. the narrowing of the faults left (`narrowFaults`): each fault earlier, then each of its
 *    numeric parameters (windows, delays) towards its simplest value, at its target or by a bounded
 *    bisection, then its roundest value in reach: a few runs per field, times to a millisecond or
 *    about 1/128 of the distance they moved;
 * 3. the 1-minimal pass, since narrowing times can make a fault unnecessary.
 * Outcomes are kept by schedule, so no schedule runs twice; candidates run without the trace hash,
 * and the result once more with it, for its verdict (unless it is the fault-free schedule, which
 * runs with it). The seed never shrinks. The result is a
 * pure function of (system, space, seed, invariant, maxShrinkRuns, schedule).
 */
export function shrinkSeed<C, I extends Instance, V extends View>(system: System<C, I, V>, space: CaseSpace, seed: number, invariant: string, options: ShrinkOptions = {}): Shrunk<C> {
  const maxShrinkRuns = options.maxShrinkRuns ?? 1000;
  const arbitrary = scheduleArbitraryFor(system, space);
  const configured = resolveSeed(system, space, seed);
  // Whether each schedule run still failed, by its JSON. Candidates need their outcome only, so
  // they run without the trace hash, and the result once more with it; but the fault-free
  // schedule, the result whenever it fails, runs with it.
  const failed = new Map<string, boolean>();
  let faultFree: Verdict | null = null;
  let runs = 0;
  const stillFails = (schedule: FaultRecord[]): boolean => {
    const key = JSON.stringify(schedule);
    let fails = failed.get(key);
    if (fails === undefined) {
      runs++;
      const v = runCase(system, caseOf(space, configured, seed, schedule), schedule.length === 0 ? {} : { hash: false });
      if (schedule.length === 0) faultFree = v;
      fails = v.outcome === invariant;
      failed.set(key, fails);
    }
    return fails;
  };
  const withinBudget = (): boolean => runs < maxShrinkRuns;

  const faults = options.schedule ?? scheduleValueForSeed(arbitrary, seed).value;
  let current = faults;
  let shrinkSteps = 0;
  let ddminRuns = 0;
  let shrinkRuns = 0;
  if (faults.length > 0 && withinBudget()) {
    const keep = stillFails([]) ? [] : ddmin(faults.map((_, i) => i), (kept) => stillFails(kept.map((i) => faults[i]!)), withinBudget);
    current = keep.map((i) => faults[i]!);
    ddminRuns = runs;
    const narrowed = narrowFaults(current, stillFails, narrowOptionsFor(system), withinBudget);
    current = narrowed.schedule;
    shrinkSteps = narrowed.steps;
    shrinkRuns = runs - ddminRuns;
  }
  const faultsShrunk = current.length;
  const minimal = minimize(current, stillFails).schedule;
  const minimizeRuns = runs - ddminRuns - shrinkRuns;
  const c = caseOf(space, configured, seed, minimal);
  return {
    invariant,
    case: c,
    verdict: minimal.length === 0 && faultFree !== null ? faultFree : runCase(system, c),
    faultsFound: faults.length,
    faultsShrunk,
    faultsMinimal: minimal.length,
    shrinkSteps,
    ddminRuns,
    shrinkRuns,
    minimizeRuns,
  };
}

/** The named deployments swarm mode draws from: those not marked `inSwarm: false`. */
export function swarmDeployments(deployments: Deployments<unknown>): Deployment[] {
  return deployments.named.filter((d) => d.inSwarm !== false);
}
