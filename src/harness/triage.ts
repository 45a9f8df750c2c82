import { createHash } from 'node:crypto';
import type { FaultRecord } from '../faults/fault-kind.ts';
import type { Instance, System, View } from '../contract/system.ts';
import { runCase, type Verdict } from './run-case.ts';
import { caseForSeed, scheduleArbitraryFor, scheduleValueForSeed, type CaseSpace, type Shrunk } from './seeded-case.ts';

/**
 * Distinct bugs instead of one row per invariant (docs/triage.md). A campaign's failing seeds are
 * grouped into bugs by counterfactual attribution over the system's named design fixes: which fixes,
 * switched on one at a time on top of the case's profile, remove the violation from the bug's
 * minimal case. System-agnostic: everything goes through `system.fixes` and `system.resolve`.
 *
 * Every run made here checks only the invariant under triage (`invariants: [I]`), so "the fix
 * removes it" means "the invariant is not violated at all in the run", not "another invariant fired
 * first": a run that checks one invariant halts at that invariant's first violation, and up to there
 * it is the same run as the campaign's. A model failure is never a removal.
 */

/** The outcome of seeds that end in a model failure; triaged like an invariant, with no invariant checked. */
export const MODEL_FAILURE = 'model-failure';

/** What tells a bug apart. */
export interface Signature {
  /** The invariant violated (or `model-failure`). */
  invariant: string;
  /** The fault kinds of the minimal schedule, sorted, each once (`[]`: the bug needs no fault). */
  kinds: string[];
  /** The fixes, in the system's order, each of which switched on alone removes the violation. */
  removedBy: string[];
  /**
   * When no single fix removes it: a 1-minimal set of fixes that remove it together (found greedily,
   * in the system's order); null when one fix alone does, or when not even every fix together does.
   */
  removedTogether: string[] | null;
}

/** One candidate fix switched on alone, and the outcome of the minimal case with it. */
export interface FixProbe {
  fix: string;
  /** `pass`, the invariant (still violated), or `model-failure`. */
  outcome: string;
}

/** A signature with the runs it was computed from. */
export interface Attribution {
  signature: Signature;
  /** Each candidate fix alone (the fixes not already on), in the system's order. */
  single: FixProbe[];
  /** Runs spent: one per candidate, and the greedy search's when it ran. */
  runs: number;
}

/** The canonical text of a signature: equal texts, one bug. */
export function signatureKey(s: Signature): string {
  const fixes = s.removedBy.length > 0 ? s.removedBy.join(',') : s.removedTogether !== null ? s.removedTogether.join('+') : 'none';
  return `${s.invariant}|kinds=${s.kinds.join(',')}|fixes=${fixes}`;
}

/** A short name of a signature: six hex digits of the SHA-256 of its key. */
export function bugId(s: Signature): string {
  return createHash('sha256').update(signatureKey(s)).digest('hex').slice(0, 6);
}

/** What removes a bug, as one phrase: `a, b (each alone)`, `a + b (together)`, `no fix`. */
export function formatRemovers(s: Pick<Signature, 'removedBy' | 'removedTogether'>): string {
  if (s.removedBy.length > 0) return s.removedBy.length === 1 ? s.removedBy[0]! : `${s.removedBy.join(', ')} (each alone)`;
  if (s.removedTogether !== null) return `${s.removedTogether.join(' + ')} (together)`;
  return 'no fix';
}

/** The fault kinds of a schedule, sorted, each once. */
export function kindsOf(schedule: readonly FaultRecord[]): string[] {
  return [...new Set(schedule.map((f) => f.kind as string))].sort();
}

/** Whether an outcome of a run that checks only `invariant` means the fix removed it. */
export function removes(outcome: string, invariant: string): boolean {
  return outcome !== invariant && outcome !== MODEL_FAILURE;
}

/** The space of a triage run: the case's space with `fixes` switched on besides its own, checking only `invariant`. */
export function triageSpace(space: CaseSpace, fixes: readonly string[], invariant: string): CaseSpace {
  return {
    ...space,
    fixes: [...new Set([...(space.fixes ?? []), ...fixes])],
    invariants: invariant === MODEL_FAILURE ? [] : [invariant],
  };
}

/**
 * The named fixes not on in a seed's configuration with `context` switched on: the counterfactual
 * candidates, in the system's order. (A seed's configuration, because a case space may draw it per
 * seed; which fixes are on does not depend on the rest of it.)
 */
export function candidateFixes(system: System<any, Instance, View>, space: CaseSpace, context: readonly string[], seed: number): string[] {
  const on = new Set(caseForSeed(system, { ...space, fixes: [...(space.fixes ?? []), ...context] }, seed).fixes);
  return system.fixes.map((f) => f.name).filter((f) => !on.has(f));
}

/** One run of triage: a seed's case (its own schedule, or `schedule`) with `fixes` on besides the space's, checking only `invariant`. */
export interface ProbeRequest {
  seed: number;
  /** The schedule to run; null: the seed's own. */
  schedule: FaultRecord[] | null;
  fixes: readonly string[];
  invariant: string;
  /** Return the whole verdict too (the last run of a shrink). */
  verdict?: boolean;
}

export interface ProbeResult {
  outcome: string;
  hash: string;
  verdict?: Verdict;
}

/** A shrink of a seed for `invariant`, with `fixes` on besides the space's (checking only the invariant, unless it is a known case). */
export interface ShrinkRequest {
  seed: number;
  fixes: readonly string[];
  invariant: string;
}

/** Runs one probe in this thread. */
export function runProbe<C>(system: System<C, Instance, View>, space: CaseSpace, p: ProbeRequest): ProbeResult {
  // The seed's case with its configuration as the space resolves it for that seed, and the schedule asked for.
  const c = caseForSeed(system, triageSpace(space, p.fixes, p.invariant), p.seed);
  const v = runCase(system, p.schedule === null ? c : { ...c, schedule: p.schedule });
  return { outcome: v.outcome, hash: v.hash, ...(p.verdict === true ? { verdict: v } : {}) };
}

/**
 * Where triage's runs happen: in this thread, or on a campaign's workers. Any runner gives the same
 * results; `concurrency` only says how many runs are worth asking for at once.
 */
export interface TriageRunner {
  probe(p: ProbeRequest): Promise<ProbeResult>;
  /** A case shrunk already (a campaign's example of an invariant, a file on disk), used instead of shrinking. */
  known?(r: ShrinkRequest): Shrunk | undefined;
  /** Runs worth keeping in flight at once. Default 1. */
  concurrency?: number;
}

/** Runs triage in this thread (tests, the library). */
export function inlineTriageRunner(system: System<any, Instance, View>, space: CaseSpace): TriageRunner {
  return { probe: async (p) => runProbe(system, space, p) };
}

/**
 * The first of `candidates` for which `fails` holds, asking for up to `width` at once, and how many a
 * one-at-a-time search would have tried (up to and including it): the answer and the count do not
 * depend on `width`, which only lets runs overlap.
 */
async function firstFailing<T>(candidates: Iterator<T>, width: number, limit: number, fails: (c: T) => Promise<boolean>): Promise<{ found: T | null; tried: number }> {
  let tried = 0;
  while (tried < limit) {
    const batch: T[] = [];
    while (batch.length < width && tried + batch.length < limit) {
      const next = candidates.next();
      if (next.done === true) break;
      batch.push(next.value);
    }
    if (batch.length === 0) break;
    const results = await Promise.all(batch.map(fails));
    const i = results.indexOf(true);
    if (i >= 0) return { found: batch[i]!, tried: tried + i + 1 };
    tried += batch.length;
  }
  return { found: null, tried };
}

/**
 * Shrinks a seed for triage, with `fixes` on and only the invariant checked: the same search as
 * \`shrinkSeed\` (fast-check's shrinker depth first, taking the first smaller schedule that still
 * fails, at most \`maxShrinkRuns\` runs; then the 1-minimal pass that drops single faults), with the
 * runs of each step asked of the runner \`concurrency\` at a time so that a shrink uses every worker.
 * The result, and the run counts it reports, are those of the one-at-a-time search.
 */
export async function triageShrink(system: System<any, Instance, View>, space: CaseSpace, runner: TriageRunner, r: ShrinkRequest, maxShrinkRuns = 1000): Promise<Shrunk> {
  const s = triageSpace(space, r.fixes, r.invariant);
  const base = caseForSeed(system, s, r.seed);
  const arbitrary = scheduleArbitraryFor(system, s);
  let current = scheduleValueForSeed(arbitrary, r.seed);
  const width = Math.max(1, runner.concurrency ?? 1);
  const fails = async (schedule: FaultRecord[]): Promise<boolean> => (await runner.probe({ seed: r.seed, schedule, fixes: r.fixes, invariant: r.invariant })).outcome === r.invariant;
  const faultsFound = current.value.length;
  let shrinkSteps = 0;
  let shrinkRuns = 0;
  for (;;) {
    const step = await firstFailing(arbitrary.shrink(current.value, current.context)[Symbol.iterator](), width, maxShrinkRuns - shrinkRuns, (c) => fails(c.value));
    shrinkRuns += step.tried;
    if (step.found === null) break;
    current = step.found;
    shrinkSteps++;
  }
  let schedule = current.value;
  let minimizeRuns = 0;
  for (;;) {
    const without = schedule.map((_, i) => schedule.filter((__, j) => j !== i));
    const step = await firstFailing(without[Symbol.iterator](), width, without.length, fails);
    minimizeRuns += step.tried;
    if (step.found === null) break;
    schedule = step.found;
  }
  const last = await runner.probe({ seed: r.seed, schedule, fixes: r.fixes, invariant: r.invariant, verdict: true });
  return {
    invariant: r.invariant, case: { ...base, schedule }, verdict: last.verdict!,
    faultsFound, faultsShrunk: current.value.length, faultsMinimal: schedule.length, shrinkSteps, shrinkRuns, minimizeRuns,
  };
}

/**
 * The signature of a minimal case: its invariant, its fault kinds, and the fixes that remove it.
 * Each candidate fix (a named fix not already on with `context`) is switched on alone and the case
 * rerun; when none removes it, the greedy search looks for a 1-minimal set that does: every
 * candidate on together (if the violation survives that, no set does), then fixes dropped one at a
 * time in the system's order while the rest still remove it, until a whole pass drops none.
 */
export async function attribute(system: System<any, Instance, View>, space: CaseSpace, runner: TriageRunner, c: { seed: number; schedule: FaultRecord[]; context: readonly string[]; invariant: string }): Promise<Attribution> {
  const { seed, schedule, context, invariant } = c;
  const candidates = candidateFixes(system, space, context, seed);
  const probe = (fixes: readonly string[]): Promise<ProbeResult> => runner.probe({ seed, schedule, fixes: [...context, ...fixes], invariant });
  const results = await Promise.all(candidates.map((f) => probe([f])));
  let runs = candidates.length;
  const single = candidates.map((fix, i) => ({ fix, outcome: results[i]!.outcome }));
  const removedBy = single.filter((p) => removes(p.outcome, invariant)).map((p) => p.fix);
  let removedTogether: string[] | null = null;
  if (removedBy.length === 0 && candidates.length > 1) {
    runs++;
    if (removes((await probe(candidates)).outcome, invariant)) {
      let set = candidates;
      let dropped = true;
      while (dropped) {
        dropped = false;
        for (const f of [...set]) {
          const without = set.filter((x) => x !== f);
          runs++;
          if (removes((await probe(without)).outcome, invariant)) {
            set = without;
            dropped = true;
          }
        }
      }
      removedTogether = set;
    }
  }
  return { signature: { invariant, kinds: kindsOf(schedule), removedBy, removedTogether }, single, runs };
}

/** A failing seed of a campaign, as triage needs it. */
export interface TriageSeed {
  seed: number;
  /** Its outcome: the invariant it violated first, or `model-failure`. */
  invariant: string;
  /** The fault kinds of its (unshrunk) schedule. */
  kinds: readonly string[];
}

/** A distinct bug: a signature, the seeds counted for it, and its minimal case. */
export interface Bug {
  id: string;
  key: string;
  signature: Signature;
  /** Fixes that were on besides the space's when it was found (those of the bugs found before it); its example is a case of that configuration. */
  context: string[];
  /**
   * What it adds to the fixes later seeds of its invariant are checked with: its most specific
   * single remover, or its whole minimal set; empty when no fix removes it.
   */
  explainedBy: string[];
  /** Every seed counted for it, ascending; the first is its example. */
  seeds: number[];
  /** The minimal case: the example seed shrunk under `context`. */
  example: Shrunk;
  /** Each candidate fix alone on the minimal case. */
  single: FixProbe[];
}

export interface TriageOptions {
  /** Most bugs (shrinks) per invariant; the seeds left are unclassified. Default 16. */
  maxBugs?: number;
  /** Shrink budget of fast-check's shrinker per minimal case, in runs. Default 1,000. */
  maxShrinkRuns?: number;
  /** Aborting stops triage where it is; what was found is returned. */
  signal?: AbortSignal;
  /** Called when a bug is found, as soon as its signature is known (before later seeds are checked against it). */
  onBug?: (bug: Bug) => void;
  /** Called after each run of triage, with how many runs it made so far. */
  onRun?: (runs: number) => void;
  /** Called at once with a function that returns what triage has found so far (for a result when abandoned). */
  live?: (now: () => TriageResult) => void;
}

export interface TriageResult {
  /** By invariant, then by lowest seed. */
  bugs: Bug[];
  /** Failing seeds no bug accounts for (the cap was reached, or triage was stopped), per invariant. */
  unclassified: Array<{ invariant: string; seeds: number[] }>;
  /** Runs made (every run, those of shrinks included) and shrinks (cases already shrunk that were used instead are not counted). */
  runs: number;
  shrinks: number;
  interrupted: boolean;
}

/**
 * Groups failing seeds into bugs, per invariant, in rounds:
 *
 * 1. the lowest seed no bug accounts for yet is shrunk with the fixes of the bugs found before on
 *    (none in the first round), and the signature of its minimal case is computed; a new signature
 *    is a new bug, with that seed as its example;
 * 2. the new bug's most specific remover (see `explainingFixes`) joins those fixes; when no single
 *    fix removes it, its minimal set does;
 * 3. every seed left is run once with those fixes on: a seed whose invariant goes away is counted
 *    for the new bug (adding its fixes is what made the difference).
 *
 * A bug that no fix removes gives no fix to check seeds with: the seeds left whose schedules hold
 * every kind of its minimal case are counted for it. Everything is a function of the seeds and the
 * space: each round takes the lowest seed left, its runs do not depend on when other runs finish,
 * so any worker count gives the same bugs.
 */
export async function triage(system: System<any, Instance, View>, space: CaseSpace, seeds: readonly TriageSeed[], runner: TriageRunner, options: TriageOptions = {}): Promise<TriageResult> {
  const maxBugs = options.maxBugs ?? 16;
  const stopped = (): boolean => options.signal?.aborted === true;
  let runs = 0;
  let shrinks = 0;
  const counted: TriageRunner = {
    probe: async (p) => {
      const r = await runner.probe(p);
      runs++;
      options.onRun?.(runs);
      return r;
    },
    known: (r) => runner.known?.(r),
    concurrency: runner.concurrency ?? 1,
  };
  const shrink = async (r: ShrinkRequest): Promise<Shrunk> => {
    const k = runner.known?.(r);
    if (k !== undefined) return k;
    shrinks++;
    return triageShrink(system, space, counted, r, options.maxShrinkRuns ?? 1000);
  };
  const byInvariant = new Map<string, TriageSeed[]>();
  for (const s of [...seeds].sort((a, b) => a.seed - b.seed)) {
    const list = byInvariant.get(s.invariant) ?? [];
    if (list.at(-1)?.seed !== s.seed) list.push(s);
    byInvariant.set(s.invariant, list);
  }

  /** One invariant's triage: the seeds no bug accounts for yet, the fixes they are checked with, its bugs. */
  interface State {
    invariant: string;
    left: TriageSeed[];
    context: string[];
    bugs: Bug[];
  }
  const breadth = new Map(system.fixes.map((f) => [f.name, f.removes.length]));
  /** The first half of a round: the lowest seed left, shrunk and attributed; null when stopped. */
  const discover = async (st: State): Promise<{ bug: Bug; isNew: boolean } | null> => {
    const { invariant } = st;
    const first = st.left[0]!;
    const shrunk = await shrink({ seed: first.seed, fixes: [...st.context], invariant });
    if (stopped()) return null;
    if (shrunk.verdict.outcome !== invariant) {
      throw new Error(`seed ${first.seed} shrunk for ${invariant} with fixes [${st.context.join(', ')}] ends in ${shrunk.verdict.outcome}: the shrink does not reproduce the violation`);
    }
    const att = await attribute(system, space, counted, { seed: first.seed, schedule: shrunk.case.schedule, context: st.context, invariant });
    if (stopped()) return null;
    const key = signatureKey(att.signature);
    let bug = st.bugs.find((b) => b.key === key);
    const isNew = bug === undefined;
    if (bug === undefined) {
      bug = { id: bugId(att.signature), key, signature: att.signature, context: [...st.context], explainedBy: [], seeds: [], example: shrunk, single: att.single };
      st.bugs.push(bug);
      options.onBug?.(bug);
    }
    bug.seeds.push(first.seed);
    st.left = st.left.slice(1);
    return { bug, isNew };
  };
  /**
   * The second half: a new bug's explaining fixes join the context and every seed left is run once
   * with them; `reference`: the bugs that tell how general a fix is.
   */
  const apply = async (st: State, found: { bug: Bug; isNew: boolean }, reference: readonly Bug[]): Promise<void> => {
    const { bug, isNew } = found;
    const { invariant } = st;
    if (isNew) bug.explainedBy = explainingFixes(bug.signature, reference.filter((b) => b !== bug), breadth);
    if (isNew && bug.explainedBy.length > 0) {
      st.context = [...st.context, ...bug.explainedBy];
      const results = await Promise.all(st.left.map((s) => counted.probe({ seed: s.seed, schedule: null, fixes: [...st.context], invariant })));
      if (stopped()) return;
      st.left = st.left.filter((s, i) => {
        if (!removes(results[i]!.outcome, invariant)) return true;
        bug.seeds.push(s.seed);
        return false;
      });
    } else if (bug.explainedBy.length === 0) {
      st.left = st.left.filter((s) => {
        if (!bug.signature.kinds.every((k) => s.kinds.includes(k))) return true;
        bug.seeds.push(s.seed);
        return false;
      });
    }
  };
  const more = (st: State): boolean => st.left.length > 0 && st.bugs.length < maxBugs && !stopped();

  const invariants = [...byInvariant.keys()].sort();
  const states: State[] = invariants.map((invariant) => ({ invariant, left: byInvariant.get(invariant)!, context: [], bugs: [] }));
  const result = (): TriageResult => ({
    bugs: states.flatMap((st) => st.bugs.map((b) => ({ ...b, seeds: [...b.seeds].sort((x, y) => x - y) }))),
    unclassified: states.filter((st) => st.left.length > 0).map((st) => ({ invariant: st.invariant, seeds: st.left.map((s) => s.seed) })),
    runs,
    shrinks,
    interrupted: stopped(),
  });
  options.live?.(result);
  try {
    // The first round of every invariant is discovered first: its bugs (the lowest failing seed of
    // each invariant, shrunk with no fix on) are the reference that tells every later choice how
    // general a fix is. Then each invariant goes on by itself; a round reads only the reference and
    // its own invariant's bugs, so the order in which invariants finish changes nothing.
    const firsts = await Promise.all(states.map((st) => (more(st) ? discover(st) : Promise.resolve(null))));
    const reference = states.flatMap((st) => st.bugs);
    await Promise.all(states.map(async (st, i) => {
      const first = firsts[i];
      if (first === null || first === undefined || stopped()) return;
      await apply(st, first, reference);
      while (more(st)) {
        const found = await discover(st);
        if (found === null) return;
        await apply(st, found, [...reference.filter((b) => b.signature.invariant !== st.invariant), ...st.bugs]);
      }
    }));
  } catch (error) {
    // Runs cancelled by the stop reject; what was found before stands.
    if (!stopped()) throw error;
  }
  return result();
}

/**
 * The fixes a new bug adds to those later seeds are checked with: its single remover that removes
 * the fewest bugs found before it (its invariant's, and the first of every other invariant), then
 * the one the system documents as removing the fewest findings (`Fix.removes`), then the system's
 * order. A general fix (a redelivery safety net, one that changes every run's timing) would count
 * bugs not yet seen as this one. When no single fix removes it: its minimal set; none when nothing
 * removes it.
 */
export function explainingFixes(s: Signature, before: readonly Bug[], breadth: ReadonlyMap<string, number> = new Map()): string[] {
  if (s.removedBy.length === 0) return s.removedTogether ?? [];
  const shared = (f: string): number => before.filter((b) => b.signature.removedBy.includes(f) || (b.signature.removedTogether ?? []).includes(f)).length;
  const score = (f: string): [number, number] => [shared(f), breadth.get(f) ?? 0];
  let best = s.removedBy[0]!;
  for (const f of s.removedBy) {
    const [a, b] = score(f);
    const [x, y] = score(best);
    if (a < x || (a === x && b < y)) best = f;
  }
  return [best];
}
