import { setMaxListeners } from 'node:events';
import { invariantIds } from '../../harness/run-case.ts';
import { compiledMachines, CoverageTally, type MachineReach } from '../../harness/coverage.ts';
import type { CaseSpace, Shrunk } from '../../harness/seeded-case.ts';
import { kindsOf, triage, type Bug, type ShrinkRequest, type TriageResult, type TriageRunner, type TriageSeed, type Unfinished } from '../../harness/triage.ts';
import { SYSTEMS } from '../../systems/index.ts';
import type { TraceEvent } from '../../sim-cluster/index.ts';
import type { AnySystem } from '../../contract/system.ts';
import type { Executor } from './executor.ts';
import type { FindingsStore } from './findings-store.ts';
import { selfChecked, shardSeeds, shardSize, type SeedRange } from './seed-range.ts';
import { bugWhat, type BugRow, type UnclassifiedRow } from './summary.ts';
import type { SeedResult } from './tasks.ts';
import { Guide, type GuidedCase, type GuidedOptions, type GuidedRun } from '../../harness/guided.ts';
import type { FaultRecord } from '../../faults/fault-kind.ts';

export interface CampaignOptions {
  /** The system's name (tasks are plain data for worker threads). */
  system: string;
  space: CaseSpace;
  range: SeedRange;
  /**
   * Wall-clock budget (ms) of the whole campaign: seeds, shrinks and triage. Seeds stop starting at
   * the budget, or at `seedShare` of it once a seed has failed and the campaign triages (the rest is
   * triage's); shrinks still running at the budget are cancelled (their unshrunk counterexamples
   * stay on disk); triage starts no run after it and reports what it left undone. The budget only
   * decides how much is done: no run reads the wall clock. Default: none (run the whole range).
   */
  budgetMs?: number | null;
  /**
   * The share of the budget seeds may use once a seed has failed, when the campaign triages. Default
   * 0.5: a seed phase that finds failures leaves the other half to turn them into distinct bugs; one
   * that finds none runs seeds to the end of the budget, since triage then has nothing to do.
   */
  seedShare?: number;
  /**
   * Determinism self-check: about one seed in `selfCheckEvery`, chosen by a hash of the seed
   * (`selfChecked` in seed-range.ts, so every shard and range gets its share), is run a second time,
   * as a separate task (so usually on another worker), and the two trace hashes are compared. 0
   * turns it off. Default 50 (2% more work).
   */
  selfCheckEvery?: number;
  /** Shrink budget per counterexample, in runs (delta debugging and fast-check's shrinker; `ShrinkOptions`). Default 1,000. */
  maxShrinkRuns?: number;
  /** Where findings go, the moment they are found. */
  store: FindingsStore;
  /** Progress callback, called after every seed (rate-limit the display yourself). */
  onSeed?: (progress: Progress) => void;
  /** Called when a failing seed is recorded, and when its shrunk counterexample is written. */
  onFinding?: (event: { kind: 'violation' | 'shrunk'; invariant: string; seed: number; file: string | null }) => void;
  /**
   * Triage the failing seeds into distinct bugs once every seed has run (docs/triage.md), with at
   * most `maxBugs` bugs (shrinks) per invariant. Default: off (one example per invariant only).
   */
  triage?: { maxBugs?: number } | null;
  /** Called when triage finds a bug, with its trace file (written by then). */
  onBug?: (event: { id: string; invariant: string; seed: number; file: string; what: string }) => void;
  /** Called once triage starts, with a function that returns the bugs found so far (a result when the campaign is abandoned). */
  liveTriage?: (now: () => TriageRows) => void;
  /** Aborting stops the campaign: no new seeds, shrinks and triage in flight cancelled; the result is still returned. */
  signal?: AbortSignal;
  /** Wall clock for rates and the budget (the campaign's, never a simulation's). Default performance.now. */
  now?: () => number;
  /**
   * Record the statechart coverage of every seed's run (not of the self-check's reruns, shrinks or
   * triage) into `CampaignResult.coverage`. Default false.
   */
  coverage?: boolean;
  /**
   * Coverage-guided: a corpus of the cases that reached new statechart transitions or transition
   * pairs, and part of the seeds mutating their schedules (src/harness/guided.ts). Records coverage
   * as `coverage` does. Needs the whole range (no shard). Default: off (every seed draws its case).
   */
  guided?: GuidedOptions | null;
}

/** What a guided campaign did: its epochs, its corpus, how many seeds ran a mutated case. */
export interface GuidedSummary {
  epochSeeds: number;
  mutateShare: number;
  /** Epochs whose runs were admitted (the seeds of the last two epochs run are not: no case read them). */
  epochsAdmitted: number;
  /** Cases in the corpus, and how many of them were mutated cases themselves. */
  corpus: number;
  corpusMutated: number;
  /** Features (transitions and transition pairs) the admitted runs reached. */
  features: number;
  /** Seeds that ran a mutated case. */
  mutatedSeeds: number;
}

/** A campaign's statechart coverage: the seeds it covers and, per machine of the system, what they reached. */
export interface CampaignCoverage {
  runs: number;
  machines: MachineReach[];
}

export interface Progress {
  done: number;
  /** Seeds this shard will run, or null under a budget. */
  total: number | null;
  violations: number;
  elapsedMs: number;
  simUs: number;
}

/** Per invariant: how many seeds violated it, and the shrunk counterexample of the lowest such seed. */
export interface InvariantSummary {
  invariant: string;
  runs: number;
  /** The lowest failing seeds (at most 10), ascending. */
  seeds: number[];
  example: { seed: number; file: string; shrunk: Shrunk | null; message: string } | null;
}

export interface DeterminismMismatch {
  seed: number;
  hashes: [string, string];
  /** The first event where two fresh reruns differ, or null if the reruns agreed with each other (or were not run). */
  divergence: { index: number; first: TraceEvent | null; second: TraceEvent | null } | null;
  /**
   * Where the two hashes were recorded, when they come from two records of the seed rather than
   * from the self-check's rerun (`hasim merge` compares the shards' records of a seed).
   */
  where?: string;
}

export interface CampaignResult {
  seedsRun: number;
  passed: number;
  interrupted: boolean;
  budgetExhausted: boolean;
  elapsedMs: number;
  simUs: number;
  steps: number;
  invariants: InvariantSummary[];
  /**
   * The invariants every seed was checked against, when known (a merge of shards lists them all in
   * its JUnit report, violated or not).
   */
  invariantsChecked?: string[];
  /** The self-check's rate (about one seed in this many; 0 = off), and how many seeds it reran. */
  selfCheckEvery: number;
  selfChecks: number;
  mismatches: DeterminismMismatch[];
  /**
   * Every seed's outcome and hash, ascending by seed; a guided campaign's mutated cases add their
   * schedule, the corpus seed it was mutated from and the mutations (`hasim run --seed S --schedule`
   * reruns one).
   */
  results: Array<{ seed: number; outcome: string; hash: string } & Partial<SeedCase>>;
  /** The distinct bugs and the failing seeds none accounts for, when the campaign triaged (null or absent: it did not). */
  bugs?: BugRow[] | null;
  unclassified?: UnclassifiedRow[];
  /**
   * Triage's runs (single runs with fixes on, and shrinks), wall time, whether it did all its bounds
   * allow (false: stopped, or out of budget), whether the budget stopped it, and the rounds it cut short.
   */
  triage?: (Pick<TriageRows, 'runs' | 'shrinks' | 'complete' | 'deadlineReached' | 'unfinished'> & { elapsedMs: number }) | null;
  /** The statechart coverage of the seeds run, when the campaign recorded it (`CampaignOptions.coverage`, or guided). */
  coverage?: CampaignCoverage | null;
  /** A guided campaign's corpus and figures (null or absent: not guided). */
  guided?: GuidedSummary | null;
}

/** A guided seed's mutated case, as results and violations record it. */
export interface SeedCase {
  schedule: FaultRecord[];
  parent: number;
  mutations: string[];
}

/** Triage's bugs as the summaries show them. */
export interface TriageRows {
  bugs: BugRow[];
  unclassified: UnclassifiedRow[];
  runs: number;
  shrinks: number;
  /** Whether triage did all its bounds allow: false when stopped or out of budget (`TriageResult.complete`). */
  complete: boolean;
  /** Whether the budget's deadline stopped it. */
  deadlineReached: boolean;
  /** The rounds the deadline (or a stop) cut short: seeds on their way to a bug, not shrunk to minimal or without a signature. */
  unfinished: Unfinished[];
}

/** Triage of no failing seed: nothing to do, so complete. */
const NOTHING_TO_TRIAGE: TriageRows = { bugs: [], unclassified: [], runs: 0, shrinks: 0, complete: true, deadlineReached: false, unfinished: [] };

/** A triaged bug as a row: `file` is its example's trace file, `faultsFound` its seed's schedule size. */
export function bugRow(b: Bug, file: string): BugRow {
  const v = b.example.verdict;
  return {
    id: b.id, signature: b.key, invariant: b.signature.invariant, kinds: b.signature.kinds,
    removedBy: b.signature.removedBy, removedTogether: b.signature.removedTogether, context: b.context, explainedBy: b.explainedBy,
    count: b.seeds.length, seeds: b.seeds.slice(0, 10), lowestSeed: b.seeds[0]!,
    example: {
      seed: b.example.case.seed, file, message: v.violation?.message ?? v.modelFailure ?? '', time: v.violation?.time ?? null,
      faultsFound: b.example.faultsFound, faultsMinimal: b.example.faultsMinimal,
    },
    fixes: b.single,
  };
}

/** Triage's result as rows, the files of its bugs looked up by signature. */
export function triageRows(t: TriageResult, files: ReadonlyMap<string, string>): TriageRows {
  return {
    bugs: t.bugs.map((b) => bugRow(b, files.get(b.key) ?? '')),
    unclassified: t.unclassified.map((u) => ({ invariant: u.invariant, count: u.seeds.length, seeds: u.seeds.slice(0, 10) })),
    runs: t.runs,
    shrinks: t.shrinks,
    complete: t.complete,
    deadlineReached: t.deadlineReached,
    unfinished: t.unfinished,
  };
}

/**
 * Runs a campaign over a shard's seeds on an executor. Results do not depend on the executor's
 * concurrency or on the order seeds finish: counts are sums, the example of each invariant is its
 * lowest failing seed (a lower one found later is shrunk too, and the shrink of the one it replaces
 * cancelled), and `results` is sorted by seed. A shrink is a task of its own while seeds keep being
 * started (`withShrinkLane` runs it beside the seeds' workers); the campaign waits for the shrinks
 * once every seed has run.
 */
export async function runCampaign(executor: Executor, options: CampaignOptions): Promise<CampaignResult> {
  const now = options.now ?? (() => performance.now());
  const t0 = now();
  const selfCheckEvery = options.selfCheckEvery ?? 50;
  const maxShrinkRuns = options.maxShrinkRuns ?? 1000;
  const { system, space, store, range } = options;
  const total = shardSize(range);
  const seeds = shardSeeds(range);
  const results: CampaignResult['results'] = [];
  const byInvariant = new Map<string, InvariantSummary>();
  const mismatches: DeterminismMismatch[] = [];
  const shrinks = new Map<string, AbortController>();
  const pendingShrinks = new Set<Promise<void>>();
  let simUs = 0;
  let steps = 0;
  let violations = 0;
  let selfChecks = 0;
  let budgetExhausted = false;
  const guide = options.guided == null ? null : new Guide(systemNamed(system), space, range.start, options.guided);
  if (guide !== null && range.shard.count > 1) throw new RangeError('a guided campaign runs the whole range: its corpus reads every seed before it (no shards)');
  // Sums and minimums: the same figures whatever order the seeds finish in.
  const coverage = options.coverage === true || guide !== null ? new CoverageTally(compiledMachines(systemNamed(system))) : null;
  // A guided campaign's mutated cases, by seed, and the runs of each epoch not admitted yet.
  const mutated = new Map<number, GuidedCase>();
  const epochRuns = new Map<number, GuidedRun[]>();
  const epochTasks = new Map<number, Array<Promise<void>>>();
  const scheduleOf = (seed: number): { schedule?: FaultRecord[] } => {
    const m = mutated.get(seed);
    return m === undefined ? {} : { schedule: m.schedule };
  };

  const stopped = (): boolean => options.signal?.aborted === true;
  const budgetMs = options.budgetMs ?? null;
  const seedShare = options.seedShare ?? 0.5;
  // Also once the timer that ends the wait for shrinks has fired: that is the budget's end too.
  let budgetEnded = false;
  const overBudget = (): boolean => budgetEnded || (budgetMs !== null && now() - t0 >= budgetMs);
  // Seeds leave the rest of the budget to triage once there is something to triage.
  const seedsOverBudget = (): boolean => overBudget() || (budgetMs !== null && options.triage != null && violations > 0 && now() - t0 >= seedShare * budgetMs);

  const startShrink = (r: SeedResult, file: string): void => {
    const key = `${r.outcome}/${r.seed}`;
    const controller = new AbortController();
    shrinks.set(key, controller);
    const p = executor.run({ type: 'shrink', system, space, seed: r.seed, invariant: r.outcome, maxShrinkRuns, ...scheduleOf(r.seed) }, controller.signal)
      .then((done) => {
        if (done.type !== 'shrink') throw new Error(`expected a shrink result, got ${done.type}`);
        store.writeShrunk(done.shrunk);
        const summary = byInvariant.get(r.outcome)!;
        if (summary.example?.seed === r.seed) summary.example.shrunk = done.shrunk;
        options.onFinding?.({ kind: 'shrunk', invariant: r.outcome, seed: r.seed, file });
      }, (error: unknown) => {
        // A cancelled shrink leaves the unshrunk counterexample on disk; anything else is a bug.
        if (!controller.signal.aborted) throw error;
      })
      .finally(() => {
        shrinks.delete(key);
        pendingShrinks.delete(p);
      });
    pendingShrinks.add(p);
  };

  const failing: TriageSeed[] = [];
  const onFailure = (r: SeedResult): void => {
    violations++;
    failing.push({ seed: r.seed, invariant: r.outcome, kinds: kindsOf(r.schedule ?? []), ...scheduleOf(r.seed) });
    store.recordViolation(r, seedCase(mutated.get(r.seed)));
    let summary = byInvariant.get(r.outcome);
    if (summary === undefined) {
      summary = { invariant: r.outcome, runs: 0, seeds: [], example: null };
      byInvariant.set(r.outcome, summary);
    }
    summary.runs++;
    summary.seeds = [...summary.seeds, r.seed].sort((a, b) => a - b).slice(0, 10);
    let file: string | null = null;
    if (summary.example === null || r.seed < summary.example.seed) {
      // The example it replaces will not be reported: its shrink, if still queued or running, is not needed.
      if (summary.example !== null) shrinks.get(`${r.outcome}/${summary.example.seed}`)?.abort();
      file = store.writeUnshrunk(r);
      summary.example = { seed: r.seed, file, shrunk: null, message: r.violation?.message ?? r.modelFailure ?? '' };
      startShrink(r, file);
    }
    options.onFinding?.({ kind: 'violation', invariant: r.outcome, seed: r.seed, file });
  };

  const diagnose = async (seed: number, hashes: [string, string]): Promise<void> => {
    const task = { type: 'events', system, space, seed, ...scheduleOf(seed) } as const;
    const [a, b] = await Promise.all([executor.run(task), executor.run(task)]);
    if (a.type !== 'events' || b.type !== 'events') throw new Error('expected event lists');
    mismatches.push({ seed, hashes, divergence: firstDivergence(a.events, b.events) });
  };

  const runOne = async (seed: number): Promise<void> => {
    const done = await executor.run({ type: 'run', system, space, seed, ...(coverage === null ? {} : { coverage: true }), ...(guide === null ? {} : { pairs: true }), ...scheduleOf(seed) });
    if (done.type !== 'run') throw new Error(`expected a run result, got ${done.type}`);
    const r = done.result;
    const m = mutated.get(seed);
    results.push({ seed, outcome: r.outcome, hash: r.hash, ...seedCase(m) });
    if (coverage !== null && r.coverage !== undefined) coverage.add(seed, r.coverage);
    if (guide !== null) {
      const epoch = guide.epochOf(seed);
      epochRuns.set(epoch, [...(epochRuns.get(epoch) ?? []), { seed, schedule: m?.schedule ?? null, parent: m?.parent ?? null, coverage: r.coverage, pairs: r.pairs }]);
    }
    simUs += r.simUs;
    steps += r.steps;
    if (r.outcome !== 'pass') onFailure(r);
    options.onSeed?.({ done: results.length, total, violations, elapsedMs: now() - t0, simUs });
    if (selfChecked(seed, selfCheckEvery) && !stopped()) {
      selfChecks++;
      const again = await executor.run({ type: 'run', system, space, seed, ...scheduleOf(seed) });
      if (again.type !== 'run') throw new Error(`expected a run result, got ${again.type}`);
      if (again.result.hash !== r.hash) await diagnose(seed, [r.hash, again.result.hash]);
    }
  };

  // Keep twice the executor's concurrency in flight so a worker never waits for the main thread.
  const inFlight = new Set<Promise<void>>();
  for (const seed of seeds) {
    // The corpus a guided seed's case reads: every epoch before the one before its own, admitted in
    // seed order once all its seeds have run (and not one epoch more, whatever has finished).
    while (guide !== null && !stopped() && guide.epochsAdmitted < guide.epochsRead(seed)) {
      const epoch = guide.epochsAdmitted;
      await Promise.all(epochTasks.get(epoch) ?? []);
      guide.admitEpoch(epochRuns.get(epoch) ?? []);
      epochRuns.delete(epoch);
      epochTasks.delete(epoch);
    }
    if (stopped()) break;
    if (seedsOverBudget()) {
      budgetExhausted = true;
      break;
    }
    const c = guide?.caseFor(seed) ?? null;
    if (c !== null) mutated.set(seed, c);
    const p = runOne(seed).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (guide !== null) {
      const epoch = guide.epochOf(seed);
      epochTasks.set(epoch, [...(epochTasks.get(epoch) ?? []), p]);
    }
    if (inFlight.size >= executor.concurrency * 2) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (stopped()) for (const c of shrinks.values()) c.abort();
  const allShrunk = async (): Promise<void> => {
    while (pendingShrinks.size > 0) await Promise.all(pendingShrinks);
  };
  if (budgetMs !== null && pendingShrinks.size > 0) {
    // Shrinks run until the budget's end at most; then they are cancelled, as an interrupt does.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        budgetEnded = true;
        resolve();
      }, Math.max(0, t0 + budgetMs - now()));
    });
    await Promise.race([allShrunk(), deadline]);
    clearTimeout(timer);
    for (const c of shrinks.values()) c.abort();
  }
  await allShrunk();

  let triaged: TriageRows | null = null;
  let triageMs = 0;
  if (options.triage != null && !stopped()) {
    const t1 = now();
    triaged = failing.length === 0 ? NOTHING_TO_TRIAGE : await triageFailures(executor, options, failing, byInvariant, maxShrinkRuns, overBudget);
    triageMs = now() - t1;
  }

  results.sort((a, b) => a.seed - b.seed);
  return {
    seedsRun: results.length,
    passed: results.filter((r) => r.outcome === 'pass').length,
    interrupted: stopped(),
    budgetExhausted,
    elapsedMs: now() - t0,
    simUs,
    steps,
    invariants: [...byInvariant.values()].sort((a, b) => a.invariant.localeCompare(b.invariant)),
    invariantsChecked: checkedInvariants(system, space),
    selfCheckEvery,
    selfChecks,
    mismatches: mismatches.sort((a, b) => a.seed - b.seed),
    results,
    bugs: triaged?.bugs ?? null,
    unclassified: triaged?.unclassified ?? [],
    triage: triaged === null ? null : {
      runs: triaged.runs, shrinks: triaged.shrinks, elapsedMs: triageMs, complete: triaged.complete, deadlineReached: triaged.deadlineReached, unfinished: triaged.unfinished,
    },
    coverage: coverage === null ? null : { runs: coverage.runs, machines: coverage.summary() },
    guided: guide === null ? null : {
      epochSeeds: guide.options.epochSeeds, mutateShare: guide.options.mutateShare, epochsAdmitted: guide.epochsAdmitted,
      corpus: guide.corpus.entries.length, corpusMutated: guide.corpus.entries.filter((e) => e.parent !== null).length,
      features: guide.corpus.features, mutatedSeeds: mutated.size,
    },
  };
}

/** A mutated case as results and violations record it (nothing for a seed that drew its own). */
function seedCase(m: GuidedCase | undefined): Partial<SeedCase> {
  return m === undefined ? {} : { schedule: m.schedule, parent: m.parent, mutations: m.mutations };
}

/**
 * Triage on the campaign's executor, after its seeds: every run is a task, so the workers share it.
 * The first bug of each invariant is the invariant's example, shrunk already, and keeps its file;
 * every other bug's minimal case is written as a trace file of its own when it is found, and
 * `bugs.json` when triage ends (or stops, or `deadlineReached` holds: no run starts after that).
 */
async function triageFailures(executor: Executor, options: CampaignOptions, failing: readonly TriageSeed[], byInvariant: ReadonlyMap<string, InvariantSummary>, maxShrinkRuns: number, deadlineReached: () => boolean): Promise<TriageRows> {
  const { system: name, space, store, signal } = options;
  const system = systemNamed(name);
  // Every queued run listens to the stop signal: a round queues one per seed left.
  if (signal !== undefined) setMaxListeners(0, signal);
  const runner = executorTriageRunner(executor, name, space, signal, (request) => {
    const ex = byInvariant.get(request.invariant)?.example;
    return request.fixes.length === 0 && ex?.seed === request.seed && ex.shrunk != null ? ex.shrunk : undefined;
  });
  const files = new Map<string, string>();
  const fileOf = (b: Bug): string => {
    const ex = byInvariant.get(b.signature.invariant)?.example;
    return b.context.length === 0 && ex != null && ex.seed === b.example.case.seed ? ex.file : store.writeBug(b);
  };
  const result = await triage(system, space, failing, runner, {
    maxShrinkRuns,
    ...(options.triage?.maxBugs !== undefined ? { maxBugs: options.triage.maxBugs } : {}),
    ...(signal !== undefined ? { signal } : {}),
    deadlineReached,
    onBug: (b) => {
      const file = fileOf(b);
      files.set(b.key, file);
      const row = bugRow(b, file);
      options.onBug?.({ id: b.id, invariant: b.signature.invariant, seed: row.example.seed, file, what: bugWhat(row) });
    },
    live: (now) => options.liveTriage?.(() => triageRows(now(), files)),
  });
  const rows = triageRows(result, files);
  store.writeBugs(rows, result.interrupted);
  return rows;
}

/** A bundled system by name (campaign options name theirs, as tasks do). */
export function systemNamed(name: string): AnySystem {
  const system = SYSTEMS.find((s) => s.name === name);
  if (system === undefined) throw new Error(`unknown system '${name}'`);
  return system;
}

function checkedInvariants(systemName: string, space: CaseSpace): string[] {
  if (space.invariants !== undefined) return [...space.invariants];
  const system = SYSTEMS.find((s) => s.name === systemName);
  return system === undefined ? [] : invariantIds(system);
}

/** The first index where two event lists differ (by their canonical JSON), or null if identical. */
export function firstDivergence(a: readonly TraceEvent[], b: readonly TraceEvent[]): DeterminismMismatch['divergence'] {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (JSON.stringify(x) !== JSON.stringify(y)) return { index: i, first: x ?? null, second: y ?? null };
  }
  return null;
}

/**
 * Triage's runs as tasks of a campaign executor (`known`: a shrunk case to use instead of shrinking
 * again, such as an invariant's example or a trace file already on disk).
 */
export function executorTriageRunner(executor: Executor, system: string, space: CaseSpace, signal: AbortSignal | undefined, known: (request: ShrinkRequest) => Shrunk | undefined = () => undefined): TriageRunner {
  return {
    concurrency: executor.concurrency,
    known,
    probe: async (p) => {
      const r = await executor.run({ type: 'probe', system, space, seed: p.seed, probe: p }, signal);
      if (r.type !== 'probe') throw new Error(`expected a probe result, got ${r.type}`);
      return r.result;
    },
  };
}
