import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { DEFAULT_MAX_DURATION_US, DEFAULT_MAX_FAULTS, DEFAULT_MAX_GAP_US } from '../faults/arbitraries.ts';
import { rolesOf, type AnyFaultKind, type FaultRecord, type ParamSchema } from '../faults/fault-kind.ts';
import { targetArbitrary } from '../faults/generic.ts';
import { SECOND } from '../sim-cluster/index.ts';
import type { RunCoverage } from '../sim-cluster/statechart/index.ts';
import type { AnySystem } from '../contract/system.ts';
import { scheduleArbitraryFor, scheduleOptionsFor, scheduleValueForSeed, type CaseSpace } from './seeded-case.ts';
import type { RunPairs } from './transition-pairs.ts';

/**
 * Coverage-guided campaigns (`hasim fuzz --guided`, docs/coverage.md#guided-campaigns): a corpus of
 * the cases that reached statechart transitions (or pairs of consecutive transitions) no earlier case
 * had, and part of the seeds spent mutating a corpus case's schedule (shift, add, remove, retarget a
 * fault, change a window) instead of drawing a fresh one.
 *
 * Replay does not depend on workers or timing: seeds come in epochs of `epochSeeds` in seed order,
 * and the case of a seed of epoch k is a pure function of (seed, case space, the corpus as it stood
 * once epochs 0..k-2 were admitted). Admission goes epoch by epoch, each epoch's seeds in seed order,
 * from their runs' coverage alone; the epoch in between (k-1) keeps the workers busy while epoch
 * k-2's last seeds finish. A mutated case keeps its seed's configuration (deployment) and simulation
 * seed; only its schedule comes from the corpus, and it is recorded wherever the seed's case is
 * (results, violations, trace files).
 */
export interface GuidedOptions {
  /**
   * Seeds per epoch. Default 8: a corpus change reaches cases two epochs (16 seeds) later, and up to
   * two epochs (16 seeds) may be in flight at once, enough to keep 8 workers busy.
   */
  epochSeeds?: number;
  /** The share of seeds that mutate a corpus case once the corpus has one (a function of the seed alone). Default 0.5. */
  mutateShare?: number;
  /** Most mutations stacked on one case (1 to this many, drawn per seed). Default 3. */
  maxMutations?: number;
}

export const GUIDED_DEFAULTS: Required<GuidedOptions> = { epochSeeds: 8, mutateShare: 0.5, maxMutations: 3 };

/** A case the corpus kept: the seed that ran it, its schedule, what it added, and where it came from. */
export interface CorpusEntry {
  seed: number;
  schedule: FaultRecord[];
  /** Features (transitions and pairs) no case before it had reached. */
  newFeatures: number;
  /** The corpus case it was mutated from, or null for a drawn case. */
  parent: number | null;
}

/** A seed's mutated case: its schedule, the corpus seed it comes from, and the mutations, in words. */
export interface GuidedCase {
  schedule: FaultRecord[];
  parent: number;
  mutations: string[];
}

/** One seed's run as admission reads it: its schedule (null: the seed's drawn one) and its coverage. */
export interface GuidedRun {
  seed: number;
  schedule: FaultRecord[] | null;
  parent: number | null;
  coverage?: RunCoverage | undefined;
  pairs?: RunPairs | undefined;
}

/**
 * A run's features: every (machine, transition) it took, `t:<machine>:<index>`, and every pair of
 * consecutive transitions of one instance, `p:<machine>:<pair>` (`RunPairs`' encoding).
 */
export function runFeatures(run: Pick<GuidedRun, 'coverage' | 'pairs'>): string[] {
  const out: string[] = [];
  for (const [id, m] of Object.entries(run.coverage ?? {})) for (const t of m.transitions) out.push(`t:${id}:${t}`);
  for (const [id, list] of Object.entries(run.pairs ?? {})) for (const p of list) out.push(`p:${id}:${p}`);
  return out;
}

/** The cases that brought new features, in the order admitted, and every feature seen so far. */
export class Corpus {
  private readonly seen = new Set<string>();
  private readonly list: CorpusEntry[] = [];

  get entries(): readonly CorpusEntry[] {
    return this.list;
  }

  /** Features seen by the runs admission looked at (admitted or not). */
  get features(): number {
    return this.seen.size;
  }

  /**
   * Looks at one run: kept when it has a feature none before had, with the schedule `schedule()`
   * gives (asked only then). Every feature it has is seen from then on.
   */
  admit(seed: number, schedule: () => FaultRecord[], features: readonly string[], parent: number | null): boolean {
    let fresh = 0;
    for (const f of features) {
      if (!this.seen.has(f)) {
        this.seen.add(f);
        fresh++;
      }
    }
    if (fresh > 0) this.list.push({ seed, schedule: schedule(), newFeatures: fresh, parent });
    return fresh > 0;
  }
}

/**
 * A campaign's guidance: which corpus each seed's case reads, and admission epoch by epoch. The
 * campaign must admit exactly the epochs a seed's case reads (`epochsRead`) before asking for it,
 * and no more: with one worker epoch k-1 may well be done by then, and admitting it would give
 * another case than on two.
 */
export class Guide {
  readonly corpus = new Corpus();
  readonly options: Required<GuidedOptions>;
  private admitted = 0;
  private readonly arbitrary: fc.Arbitrary<FaultRecord[]>;

  constructor(private readonly system: AnySystem, private readonly space: CaseSpace, private readonly start: number, options: GuidedOptions = {}) {
    this.options = { ...GUIDED_DEFAULTS, ...options };
    if (!Number.isSafeInteger(this.options.epochSeeds) || this.options.epochSeeds < 1) throw new RangeError(`guided: epochSeeds must be a positive integer, got ${this.options.epochSeeds}`);
    this.arbitrary = scheduleArbitraryFor(system, space);
  }

  /** The epoch of a seed: its place in the campaign's seeds, `epochSeeds` at a time. */
  epochOf(seed: number): number {
    return Math.floor((seed - this.start) / this.options.epochSeeds);
  }

  /** How many epochs a seed's case reads the admission of: those before the epoch before its own. */
  epochsRead(seed: number): number {
    return Math.max(0, this.epochOf(seed) - 1);
  }

  /** Epochs admitted so far. */
  get epochsAdmitted(): number {
    return this.admitted;
  }

  /** The seed's mutated case, or null when it draws its own (not chosen to mutate, or nothing in the corpus yet). */
  caseFor(seed: number): GuidedCase | null {
    const read = this.epochsRead(seed);
    if (this.admitted !== read) throw new Error(`guided: seed ${seed} reads the corpus after ${read} epochs, but ${this.admitted} are admitted`);
    return guidedCase(this.system, this.space, seed, this.corpus.entries, this.options);
  }

  /** Admits the next epoch: its runs looked at in seed order, whatever order they finished in. */
  admitEpoch(runs: readonly GuidedRun[]): void {
    for (const r of [...runs].sort((a, b) => a.seed - b.seed)) {
      if (this.epochOf(r.seed) !== this.admitted) throw new Error(`guided: seed ${r.seed} is not of epoch ${this.admitted}`);
      // A drawn case's schedule is drawn again only when it is kept.
      this.corpus.admit(r.seed, () => r.schedule ?? scheduleValueForSeed(this.arbitrary, r.seed).value, runFeatures(r), r.parent);
    }
    this.admitted++;
  }
}

/**
 * The random stream a seed's mutations are drawn from: the seed's generator jumped three times,
 * past the schedule's (once) and the deployment's (twice), so that guidance moves neither.
 */
function mutationRandom(seed: number): fc.Random {
  const rng = xoroshiro128plus(seed);
  rng.jump();
  rng.jump();
  rng.jump();
  return new fc.Random(rng);
}

/**
 * A seed's case under guidance, a pure function of (system, space, seed, corpus, options): whether
 * it mutates (`mutateShare` of the seeds, by its own stream, whatever the corpus), which entry (each
 * alike), and 1 to `maxMutations` mutations. Null: the seed draws its own case.
 */
export function guidedCase(system: AnySystem, space: CaseSpace, seed: number, corpus: readonly CorpusEntry[], options: GuidedOptions = {}): GuidedCase | null {
  const o = { ...GUIDED_DEFAULTS, ...options };
  const random = mutationRandom(seed);
  if (random.nextDouble() >= o.mutateShare || corpus.length === 0) return null;
  const parent = corpus[random.nextInt(0, corpus.length - 1)]!;
  const count = random.nextInt(1, Math.max(1, o.maxMutations));
  const { schedule, mutations } = mutateSchedule(system, space, parent.schedule, random, count);
  return { schedule, parent: parent.seed, mutations };
}

/** Window lengths as the generic and StreamSpace kinds name them: what `window` rescales. */
const WINDOW_PARAMS = ['durationUs', 'downUs'];
const WINDOW_FACTORS = [0.25, 0.5, 2, 4];

type Op = 'shift' | 'add' | 'remove' | 'retarget' | 'window';

/**
 * `count` mutations of a schedule within the case space: each picks one of the operations that apply
 * (shift a fault's time by up to a gap, add a fault drawn fresh from the space's kinds, remove one,
 * redraw one target of a fault within its roles, rescale a window), so the result is a schedule the
 * space's arbitrary could have drawn bounds-wise: kinds, roles and indexes, windows within the
 * longest, times from the settle instant to as far as `maxFaults` gaps reach, at most `maxFaults`
 * faults, ordered by time. Schedule validation (`scheduleProblem`) passes on it (tested).
 */
export function mutateSchedule(system: AnySystem, space: CaseSpace, parent: readonly FaultRecord[], random: fc.Random, count: number): { schedule: FaultRecord[]; mutations: string[] } {
  const o = scheduleOptionsFor(system, space);
  const maxFaults = o.maxFaults ?? DEFAULT_MAX_FAULTS;
  const maxGap = o.maxGapUs ?? DEFAULT_MAX_GAP_US;
  const maxDuration = o.maxDurationUs ?? DEFAULT_MAX_DURATION_US;
  const reach = o.startUs + maxFaults * maxGap;
  const kinds = new Map(system.faults.map((k) => [k.kind as string, k as AnyFaultKind<unknown, unknown>]));
  const params = (f: FaultRecord): Array<[string, ParamSchema]> => Object.entries(kinds.get(f.kind)?.params ?? {}) as Array<[string, ParamSchema]>;
  const targets = (f: FaultRecord): string[] => params(f).filter(([, p]) => p.type === 'target').map(([name]) => name);
  const windows = (f: FaultRecord): string[] => params(f).filter(([name, p]) => p.type === 'integer' && WINDOW_PARAMS.includes(name)).map(([name]) => name);
  const pick = <T>(list: readonly T[]): T => list[random.nextInt(0, list.length - 1)]!;
  const indicesWith = (schedule: readonly FaultRecord[], has: (f: FaultRecord) => boolean): number[] => schedule.flatMap((f, i) => (has(f) ? [i] : []));

  let schedule = [...parent];
  const mutations: string[] = [];
  for (let n = 0; n < count; n++) {
    const ops: Op[] = [
      ...(schedule.length > 0 ? ['shift', 'remove'] as const : []),
      ...(schedule.length < maxFaults && o.kinds.length > 0 ? ['add'] as const : []),
      ...(schedule.some((f) => targets(f).length > 0) ? ['retarget'] as const : []),
      ...(schedule.some((f) => windows(f).length > 0) ? ['window'] as const : []),
    ];
    if (ops.length === 0) break;
    const op = pick(ops);
    switch (op) {
      case 'shift': {
        const i = random.nextInt(0, schedule.length - 1);
        const f = schedule[i]!;
        const at = Math.min(reach, Math.max(o.startUs, f.at + random.nextInt(-maxGap, maxGap)));
        schedule[i] = { ...f, at };
        mutations.push(`shift ${f.kind}@${seconds(f.at)} to ${seconds(at)}`);
        break;
      }
      case 'remove': {
        const i = random.nextInt(0, schedule.length - 1);
        mutations.push(`remove ${schedule[i]!.kind}@${seconds(schedule[i]!.at)}`);
        schedule = schedule.filter((_, j) => j !== i);
        break;
      }
      case 'add': {
        const kind = pick(o.kinds);
        const body = kind.arbitrary({ roles: o.roles, maxDurationUs: maxDuration }).generate(random, undefined).value as Omit<FaultRecord, 'at'>;
        const last = schedule.length === 0 ? o.startUs : Math.max(...schedule.map((f) => f.at));
        const at = random.nextInt(o.startUs, Math.min(reach, last + maxGap));
        schedule.push({ ...body, at } as FaultRecord);
        mutations.push(`add ${body.kind}@${seconds(at)}`);
        break;
      }
      case 'retarget': {
        const i = pick(indicesWith(schedule, (f) => targets(f).length > 0));
        const f = schedule[i]!;
        const name = pick(targets(f));
        const p = params(f).find(([x]) => x === name)![1] as Extract<ParamSchema, { type: 'target' }>;
        const target = targetArbitrary(rolesOf(p.of, o.roles), o.roles).generate(random, undefined).value;
        schedule[i] = { ...f, [name]: target };
        mutations.push(`retarget ${f.kind}@${seconds(f.at)} ${name} to ${target.role}${target.index === undefined ? '' : `[${target.index}]`}`);
        break;
      }
      case 'window': {
        const i = pick(indicesWith(schedule, (f) => windows(f).length > 0));
        const f = schedule[i]!;
        const name = pick(windows(f));
        const p = params(f).find(([x]) => x === name)![1] as Extract<ParamSchema, { type: 'integer' }>;
        const factor = pick(WINDOW_FACTORS);
        const low = Math.max(p.min, SECOND);
        const high = Math.max(low, Math.min(p.max, maxDuration));
        const length = Math.min(high, Math.max(low, Math.round((f[name] as number) * factor)));
        schedule[i] = { ...f, [name]: length };
        mutations.push(`window ${f.kind}@${seconds(f.at)} ${name} ×${factor} to ${seconds(length)}`);
        break;
      }
    }
    // In time order, as drawn schedules are (a stable sort: faults at one instant keep their order).
    schedule = [...schedule].sort((a, b) => a.at - b.at);
  }
  return { schedule, mutations };
}

function seconds(us: number): string {
  return `${(us / SECOND).toFixed(1)}s`;
}
