import { createHash } from 'node:crypto';
import type { FaultRecord } from '../faults/fault-kind.ts';
import type { Instance, System, View } from '../contract/system.ts';
import { ddmin } from './ddmin.ts';
import { minimize } from './minimize.ts';
import { narrowFaults, narrowOptionsFor } from './narrow-faults.ts';
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
  /** Runs spent: one per candidate, and the greedy search's when it ran (each set of fixes once). */
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
  /** Return the whole verdict too (a shrink's result). */
  verdict?: boolean;
  /** Take the trace hash. Default true; false: `ProbeResult.hash` is empty (a shrink's candidates, `RunOptions.hash`). */
  hash?: boolean;
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
  /** The seed's schedule when it is not the drawn one (a guided campaign's mutated case; `TriageSeed.schedule`). */
  schedule?: FaultRecord[];
}

/** Runs one probe in this thread. */
export function runProbe<C>(system: System<C, Instance, View>, space: CaseSpace, p: ProbeRequest): ProbeResult {
  // The seed's case with its configuration as the space resolves it for that seed, and the schedule asked for.
  const c = caseForSeed(system, triageSpace(space, p.fixes, p.invariant), p.seed);
  const v = runCase(system, p.schedule === null ? c : { ...c, schedule: p.schedule }, p.hash === false ? { hash: false } : {});
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
 * A run triage did not start: the deadline was reached (or triage was stopped) before its turn. Runs
 * already started finish; what they found stands.
 */
export class RunRefused extends Error {
  constructor() {
    super('triage run not started: the deadline was reached or triage was stopped');
    this.name = 'RunRefused';
  }
}

/**
 * A shrink that a refused run cut short. The schedule it had reached still fails (every step it kept
 * is a run that failed), but it is not 1-minimal, or (`minimal`) it is and its last run, the one that
 * gives its verdict, was not made.
 */
export class ShrinkCut extends Error {
  constructor(readonly faultsFound: number, readonly faultsSoFar: number, readonly minimal: boolean) {
    super(`shrink cut short at ${faultsSoFar} of ${faultsFound} faults`);
    this.name = 'ShrinkCut';
  }
}

/**
 * Shrinks a seed for triage, with `fixes` on and only the invariant checked: the search of
 * `shrinkSeed`, pass for pass (the fault-free schedule, then delta debugging of the fault list, then
 * the narrowing of the faults left, at most `maxShrinkRuns` runs for these; then the 1-minimal
 * pass), each schedule run once (without the trace hash but the fault-free one; the minimal one
 * once more, with it, for its verdict), with runs asked of the runner `concurrency` at a time so
 * that a shrink uses every worker (`ShrinkRuns`). Each pass takes the first failing candidate in the
 * order the one-at-a-time search tries them, so the result and the run counts it reports (those of
 * the one-at-a-time search) do not depend on `concurrency`, which only adds the runs started ahead
 * of their turn that a failing one before them made unnecessary. A runner that refuses a run
 * (`RunRefused`: the deadline) cuts the shrink short: it throws `ShrinkCut` with how far it got,
 * never a case presented as minimal.
 */
export async function triageShrink(system: System<any, Instance, View>, space: CaseSpace, runner: TriageRunner, r: ShrinkRequest, maxShrinkRuns = 1000): Promise<Shrunk> {
  const s = triageSpace(space, r.fixes, r.invariant);
  const base = caseForSeed(system, s, r.seed);
  const arbitrary = scheduleArbitraryFor(system, s);
  const faults = r.schedule ?? scheduleValueForSeed(arbitrary, r.seed).value;
  // Candidates need their outcome only: they run without the trace hash, the result once more with
  // it; but the fault-free schedule, the result whenever it fails, runs with it (as in `shrinkSeed`).
  const request = (schedule: FaultRecord[]): ProbeRequest => ({
    seed: r.seed, schedule, fixes: r.fixes, invariant: r.invariant, ...(schedule.length === 0 ? { verdict: true } : { hash: false }),
  });
  const runs = new ShrinkRuns((schedule) => runner.probe(request(schedule)), r.invariant, Math.max(1, runner.concurrency ?? 1));
  // The faults of the last schedule kept: how far a shrink cut short got.
  let soFar = faults.length;
  let current = faults;
  let shrinkSteps = 0;
  let ddminRuns = 0;
  let shrinkRuns = 0;
  let minimal: FaultRecord[];
  try {
    if (faults.length > 0 && maxShrinkRuns > 0) {
      const keep = await runs.replay((fails, withinBudget) => {
        soFar = faults.length;
        const failsWith = (kept: number[]): boolean => {
          const failed = fails(kept.map((i) => faults[i]!));
          if (failed) soFar = kept.length;
          return failed;
        };
        return failsWith([]) ? [] : ddmin(faults.map((_, i) => i), failsWith, withinBudget);
      }, maxShrinkRuns);
      const kept = keep.map((i) => faults[i]!);
      ddminRuns = runs.count;
      const narrowed = await runs.replay((fails, withinBudget) => narrowFaults(kept, fails, narrowOptionsFor(system), withinBudget), maxShrinkRuns);
      current = narrowed.schedule;
      shrinkSteps = narrowed.steps;
      shrinkRuns = runs.count - ddminRuns;
    }
    const from = current;
    minimal = await runs.replay((fails, withinBudget) => minimize(from, (schedule) => {
      const failed = fails(schedule);
      if (failed) soFar = schedule.length;
      return failed;
    }, withinBudget).schedule, Infinity);
  } catch (error) {
    if (error instanceof RunRefused) throw new ShrinkCut(faults.length, soFar, false);
    throw error;
  } finally {
    // No run of a shrink outlives it: those started ahead of a turn that never came finish first.
    await runs.settled();
  }
  const minimizeRuns = runs.count - ddminRuns - shrinkRuns;
  // The minimal schedule's verdict, with its trace hash: the fault-free run's, or one more run.
  let verdict = minimal.length === 0 ? runs.verdictOf(minimal) : undefined;
  try {
    verdict ??= (await runner.probe({ seed: r.seed, schedule: minimal, fixes: r.fixes, invariant: r.invariant, verdict: true })).verdict!;
  } catch (error) {
    if (error instanceof RunRefused) throw new ShrinkCut(faults.length, minimal.length, true);
    throw error;
  }
  return {
    invariant: r.invariant, case: { ...base, schedule: minimal }, verdict,
    faultsFound: faults.length, faultsShrunk: current.length, faultsMinimal: minimal.length, shrinkSteps, ddminRuns, shrinkRuns, minimizeRuns,
  };
}

type Settled = { result: ProbeResult } | { error: unknown };

/**
 * The runs of one shrink, by schedule (its JSON): a schedule is run once however often the passes
 * ask for it, and its result kept. `count` is the runs of the one-at-a-time search: a schedule
 * counts when its turn first comes, whether or not its run was started ahead of it.
 *
 * Each pass is a synchronous search replayed on the results known (`replay`): before it waits for
 * a run, the runs the one-at-a-time search makes next if the runs before them pass are started too,
 * up to `width` runs at once. So a pass waits for one batch at a time, and when a run fails, the
 * runs after it in its batch were spent for nothing (their results are kept, in case a later pass
 * asks for them).
 */
class ShrinkRuns {
  count = 0;
  private readonly started = new Map<string, Promise<ProbeResult>>();
  /** The results of the runs that ended (or their errors: `RunRefused`, a stop). */
  private readonly results = new Map<string, Settled>();
  /** The schedules whose turn came (those `count` counts). */
  private readonly turns = new Set<string>();

  constructor(private readonly run: (schedule: FaultRecord[]) => Promise<ProbeResult>, private readonly invariant: string, private readonly width: number) {}

  /**
   * The result of a synchronous search (`ddmin` after the fault-free schedule, `narrowFaults`, `minimize`) that asks `fails` of
   * schedules in turn, under `withinBudget` (`count` under `maxRuns`), as if it ran each in turn.
   * The search is run on the results known: a schedule without one is taken to pass, and the search
   * goes on to the runs it would make then, until `width` are missing; those start together, and the
   * search is run again from the start, until it ends on results alone. (The search itself runs no
   * case: running it again costs next to nothing, and keeps each pass the one implementation `shrinkSeed` runs.)
   */
  async replay<R>(search: (fails: (schedule: FaultRecord[]) => boolean, withinBudget: () => boolean) => R, maxRuns: number): Promise<R> {
    for (;;) {
      const turns = new Set<string>();
      let count = this.count;
      const missing: Array<Promise<ProbeResult>> = [];
      const fails = (schedule: FaultRecord[]): boolean => {
        const key = JSON.stringify(schedule);
        if (!this.turns.has(key) && !turns.has(key)) {
          turns.add(key);
          count++;
        }
        const known = this.results.get(key);
        if (known !== undefined && 'result' in known) return known.result.outcome === this.invariant;
        // A run that did not end, reached with no result missing before it: its turn really came.
        if (known !== undefined && missing.length === 0) throw known.error;
        missing.push(this.start(schedule, key));
        return false;
      };
      const result = search(fails, () => count < maxRuns && missing.length < this.width);
      if (missing.length === 0) {
        for (const key of turns) this.turns.add(key);
        this.count = count;
        return result;
      }
      await Promise.allSettled(missing);
    }
  }

  /** The verdict a run of `schedule` returned, if it was asked for one and ended. */
  verdictOf(schedule: FaultRecord[]): Verdict | undefined {
    const known = this.results.get(JSON.stringify(schedule));
    return known !== undefined && 'result' in known ? known.result.verdict : undefined;
  }

  /** Resolves once every run started has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.started.values());
  }

  /** A schedule's run, started unless it was. */
  private start(schedule: FaultRecord[], key: string): Promise<ProbeResult> {
    let run = this.started.get(key);
    if (run === undefined) {
      run = this.run(schedule);
      this.started.set(key, run);
      // Kept for `replay`; this also handles the rejection of a run whose turn never comes.
      run.then((result) => this.results.set(key, { result }), (error: unknown) => this.results.set(key, { error }));
    }
    return run;
  }
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
  // Each set of fixes runs once: a pass of the greedy search asks again for sets the pass before tried.
  const outcomes = new Map<string, Promise<ProbeResult>>();
  const probe = (fixes: readonly string[]): Promise<ProbeResult> => {
    const key = fixes.join(',');
    let outcome = outcomes.get(key);
    if (outcome === undefined) {
      outcome = runner.probe({ seed, schedule, fixes: [...context, ...fixes], invariant });
      outcomes.set(key, outcome);
    }
    return outcome;
  };
  const results = await Promise.all(candidates.map((f) => probe([f])));
  const single = candidates.map((fix, i) => ({ fix, outcome: results[i]!.outcome }));
  const removedBy = single.filter((p) => removes(p.outcome, invariant)).map((p) => p.fix);
  let removedTogether: string[] | null = null;
  if (removedBy.length === 0 && candidates.length > 1) {
    if (removes((await probe(candidates)).outcome, invariant)) {
      let set = candidates;
      let dropped = true;
      while (dropped) {
        dropped = false;
        for (const f of [...set]) {
          const without = set.filter((x) => x !== f);
          if (removes((await probe(without)).outcome, invariant)) {
            set = without;
            dropped = true;
          }
        }
      }
      removedTogether = set;
    }
  }
  return { signature: { invariant, kinds: kindsOf(schedule), removedBy, removedTogether }, single, runs: outcomes.size };
}

/** A failing seed of a campaign, as triage needs it. */
export interface TriageSeed {
  seed: number;
  /** Its outcome: the invariant it violated first, or `model-failure`. */
  invariant: string;
  /** The fault kinds of its (unshrunk) schedule. */
  kinds: readonly string[];
  /**
   * Its schedule when it is not the one the seed draws (a guided campaign's mutated case): its
   * checks and its shrink run this schedule. Default: the seed's own.
   */
  schedule?: FaultRecord[];
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
  /**
   * Whether the time given to triage is spent (a budget; the caller's wall clock, which no run ever
   * reads). Asked before each run starts: once it holds, no run starts, the runs in flight finish and
   * count, and the result says what was left undone (`complete: false`, `unfinished`, the seeds left
   * unclassified). It decides how much is done, never what a run gives. Default: never.
   */
  deadlineReached?: () => boolean;
  /** Called when a bug is found, as soon as its signature is known (before later seeds are checked against it). */
  onBug?: (bug: Bug) => void;
  /** Called after each run of triage, with how many runs it made so far. */
  onRun?: (runs: number) => void;
  /** Called at once with a function that returns what triage has found so far (for a result when abandoned). */
  live?: (now: () => TriageResult) => void;
}

/**
 * A round the deadline (or a stop) cut short: a failing seed that no bug found before accounts for
 * (so a further bug, or one already found reached another way), and how far it got.
 */
export interface Unfinished {
  invariant: string;
  seed: number;
  /** The fixes that were on besides the space's (the bugs found before it). */
  context: string[];
  /** `shrink`: stopped while shrinking (the schedule is not minimal); `signature`: shrunk to minimal, signature not computed. */
  stage: 'shrink' | 'signature';
  /** Faults of the seed's schedule, and of the schedule shrunk so far: still failing (every step kept is a run that failed). */
  faultsFound: number;
  faultsSoFar: number;
}

export interface TriageResult {
  /** By invariant, then by lowest seed. Each one's case is minimal and its signature complete. */
  bugs: Bug[];
  /** Failing seeds no bug accounts for (the cap was reached, or triage was stopped or ran out of time), per invariant. */
  unclassified: Array<{ invariant: string; seeds: number[] }>;
  /** Runs made (every run, those of shrinks included) and shrinks (cases already shrunk that were used instead are not counted). */
  runs: number;
  shrinks: number;
  interrupted: boolean;
  /** Whether the deadline stopped triage (a run was refused). */
  deadlineReached: boolean;
  /**
   * Whether triage did everything its bounds (`maxBugs`, `maxShrinkRuns`) allow: false when stopped
   * or out of time. Then each bug is still minimal with its signature complete, but its seed count is
   * a lower bound: a seed unclassified may not have been run with every bug's fixes yet.
   */
  complete: boolean;
  /** The rounds cut short, one per invariant at most, by invariant. */
  unfinished: Unfinished[];
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
 *    for the new bug (adding its fixes is what made the difference). These checks are made lazily,
 *    in seed order, only as far as the next seed they do not remove (the next round's): the bugs
 *    come as early as they can under a deadline, and the result of a complete triage is the same.
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
  let deadlineReached = false;
  let refused = false;
  const concurrency = runner.concurrency ?? 1;
  // Runs are started here, at most twice the runner's concurrency at once (so a worker never waits),
  // rather than all queued in the runner: a run not yet started is one the deadline can still refuse.
  const start = gate(concurrency * 2, () => {
    if (!stopped() && options.deadlineReached?.() === true) deadlineReached = true;
    refused ||= stopped() || deadlineReached;
    return refused;
  });
  const counted: TriageRunner = {
    probe: (p) => start(async () => {
      const r = await runner.probe(p);
      runs++;
      options.onRun?.(runs);
      return r;
    }),
    known: (r) => runner.known?.(r),
    concurrency,
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

  /**
   * How a bug accounts for later seeds of its invariant: a run with `fixes` on (the context once the
   * bug's explaining fixes joined it), or, for a bug no fix removes (`fixes` null), its schedule
   * holding every kind of the bug's minimal case.
   */
  interface Check {
    bug: Bug;
    fixes: string[] | null;
  }
  /** A failing seed no bug accounts for yet, with how many of its invariant's checks it has failed so far. */
  interface Pending extends TriageSeed {
    checked: number;
    /** The bug whose check removed it, once one did. */
    by?: Bug;
  }
  /** One invariant's triage: the seeds no bug accounts for yet, the fixes they are checked with, its bugs. */
  interface State {
    invariant: string;
    left: Pending[];
    context: string[];
    /** One per bug found, in the order found (a bug found again adds none). */
    checks: Check[];
    bugs: Bug[];
    /** The round the deadline cut short, if it did. */
    unfinished: Unfinished | null;
  }
  const breadth = new Map(system.fixes.map((f) => [f.name, f.removes.length]));
  /** The first half of a round: `first` (the lowest seed left), shrunk and attributed; null when stopped or cut short (`st.unfinished` says how far it got). */
  const discover = async (st: State, first: Pending): Promise<{ bug: Bug; isNew: boolean } | null> => {
    const { invariant } = st;
    const cut = (stage: Unfinished['stage'], faultsFound: number, faultsSoFar: number): null => {
      st.unfinished = { invariant, seed: first.seed, context: [...st.context], stage, faultsFound, faultsSoFar };
      return null;
    };
    let shrunk: Shrunk;
    try {
      shrunk = await shrink({ seed: first.seed, fixes: [...st.context], invariant, ...(first.schedule === undefined ? {} : { schedule: first.schedule }) });
    } catch (error) {
      if (error instanceof ShrinkCut) return cut(error.minimal ? 'signature' : 'shrink', error.faultsFound, error.faultsSoFar);
      throw error;
    }
    if (stopped()) return null;
    if (shrunk.verdict.outcome !== invariant) {
      throw new Error(`seed ${first.seed} shrunk for ${invariant} with fixes [${st.context.join(', ')}] ends in ${shrunk.verdict.outcome}: the shrink does not reproduce the violation`);
    }
    let att: Attribution;
    try {
      att = await attribute(system, space, counted, { seed: first.seed, schedule: shrunk.case.schedule, context: st.context, invariant });
    } catch (error) {
      if (error instanceof RunRefused) return cut('signature', shrunk.faultsFound, shrunk.faultsMinimal);
      throw error;
    }
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
    st.left = st.left.filter((s) => s !== first);
    return { bug, isNew };
  };
  /**
   * The second half: a new bug's explaining fixes join the context, and its check is what every
   * seed left is checked with next; `reference`: the bugs that tell how general a fix is.
   */
  const register = (st: State, found: { bug: Bug; isNew: boolean }, reference: readonly Bug[]): void => {
    const { bug, isNew } = found;
    // Past the deadline nothing more is done for a bug: its explaining fixes would be chosen against
    // a reference that may lack a first bug cut short, and no seed can be run with them anyway.
    if (refused || !isNew) return;
    bug.explainedBy = explainingFixes(bug.signature, reference.filter((b) => b !== bug), breadth);
    if (bug.explainedBy.length > 0) st.context = [...st.context, ...bug.explainedBy];
    st.checks.push({ bug, fixes: bug.explainedBy.length > 0 ? [...st.context] : null });
  };
  /** Runs a seed's next checks, in order, until one removes its violation or none is left; a refused run leaves it where it got. */
  const advance = async (st: State, s: Pending): Promise<void> => {
    while (s.by === undefined && s.checked < st.checks.length) {
      const check = st.checks[s.checked]!;
      const removed = check.fixes === null
        ? check.bug.signature.kinds.every((k) => s.kinds.includes(k))
        : removes((await counted.probe({ seed: s.seed, schedule: s.schedule ?? null, fixes: check.fixes, invariant: st.invariant })).outcome, st.invariant);
      s.checked++;
      if (removed) s.by = check.bug;
    }
  };
  /**
   * The lowest seed left that every check so far fails to remove: the next round's seed, or null
   * when none is (or the deadline refused a run). Seeds are checked lazily, a window of them at a
   * time in seed order, so that the next bug is reached after checking only the seeds below it;
   * each seed goes through the checks in the order the bugs were found, as if every seed had been
   * checked at once when each bug was found: the bugs and their seeds are the same either way.
   * With `all`, every seed left is checked through, and null returned (counting the seeds once
   * no new round may start).
   */
  const nextUnexplained = async (st: State, all = false): Promise<Pending | null> => {
    const width = Math.max(1, concurrency * 2);
    try {
      for (let i = 0; i < st.left.length; i += width) {
        const window = st.left.slice(i, i + width);
        const results = await Promise.allSettled(window.map((s) => advance(st, s)));
        for (const r of results) {
          if (r.status === 'rejected' && !(r.reason instanceof RunRefused)) throw r.reason;
        }
        if (refused) return null;
        const stillFailing = window.find((s) => s.by === undefined);
        if (stillFailing !== undefined && !all) return stillFailing;
      }
      return null;
    } finally {
      // Seeds a check removed are counted for its bug, and leave.
      for (const s of st.left) if (s.by !== undefined) s.by.seeds.push(s.seed);
      st.left = st.left.filter((s) => s.by === undefined);
    }
  };
  // No round starts once a run was refused: its seeds' checks would be missing.
  const more = (st: State): boolean => st.left.length > 0 && st.bugs.length < maxBugs && !stopped() && !refused;

  const invariants = [...byInvariant.keys()].sort();
  const states: State[] = invariants.map((invariant) => ({
    invariant, left: byInvariant.get(invariant)!.map((s) => ({ ...s, checked: 0 })), context: [], checks: [], bugs: [], unfinished: null,
  }));
  const result = (): TriageResult => ({
    bugs: states.flatMap((st) => st.bugs.map((b) => ({ ...b, seeds: [...b.seeds].sort((x, y) => x - y) }))),
    unclassified: states.filter((st) => st.left.length > 0).map((st) => ({ invariant: st.invariant, seeds: st.left.map((s) => s.seed) })),
    runs,
    shrinks,
    interrupted: stopped(),
    deadlineReached,
    complete: !stopped() && !refused,
    unfinished: states.flatMap((st) => (st.unfinished === null ? [] : [st.unfinished])),
  });
  options.live?.(result);
  try {
    // The first round of every invariant is discovered first: its bugs (the lowest failing seed of
    // each invariant, shrunk with no fix on) are the reference that tells every later choice how
    // general a fix is. Then each invariant goes on by itself; a round reads only the reference and
    // its own invariant's bugs, so the order in which invariants finish changes nothing. Which
    // invariants have a first round is decided before any starts, so a deadline cuts each one's alike.
    const starting = states.map(more);
    const firsts = await Promise.all(states.map((st, i) => (starting[i] === true ? discover(st, st.left[0]!) : Promise.resolve(null))));
    const reference = states.flatMap((st) => st.bugs);
    await Promise.all(states.map(async (st, i) => {
      const first = firsts[i];
      if (first === null || first === undefined || stopped()) return;
      register(st, first, reference);
      while (more(st)) {
        const next = await nextUnexplained(st);
        if (next === null || stopped()) return;
        const found = await discover(st, next);
        if (found === null) return;
        register(st, found, [...reference.filter((b) => b.signature.invariant !== st.invariant), ...st.bugs]);
      }
      // The bug cap is reached: the seeds left are counted for the bugs found, the rest stay unclassified.
      if (!stopped() && !refused) await nextUnexplained(st, true);
    }));
  } catch (error) {
    // Runs cancelled by the stop reject; what was found before stands.
    if (!stopped()) throw error;
  }
  return result();
}

/**
 * Starts at most `slots` tasks at once, in the order asked. When a task's turn comes and `refuse()`
 * holds, it is not started: it rejects with `RunRefused`.
 */
function gate(slots: number, refuse: () => boolean): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  // A finished task hands its slot to the next one waiting, so the order asked is the order started.
  const release = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else active--;
  };
  return async (task) => {
    if (active < slots) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    if (refuse()) {
      release();
      throw new RunRefused();
    }
    try {
      return await task();
    } finally {
      release();
    }
  };
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
