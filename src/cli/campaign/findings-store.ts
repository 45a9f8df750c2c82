import { createHash } from 'node:crypto';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AnySystem } from '../../contract/system.ts';
import { drawnByDefault } from '../../faults/fault-kind.ts';
import { invariantIds } from '../../harness/run-case.ts';
import { resolveSeed, type CaseSpace, type Shrunk } from '../../harness/seeded-case.ts';
import { formatTraceFile, TRACE_FORMAT, TRACE_VERSION, type TraceFile } from '../../harness/trace-file.ts';
import { triageSpace, type Bug } from '../../harness/triage.ts';
import { makeDirs, writeFailure, writeFileAtomic } from '../atomic-write.ts';
import type { SeedCase, TriageRows } from './campaign.ts';
import type { SeedResult } from './tasks.ts';

/** The file in a findings directory that lists its distinct bugs (docs/triage.md). */
export const BUGS_FILE = 'bugs.json';
/** What `bugs.json` says it is. */
export const BUGS_FORMAT = 'hasim-bugs';

/** JSON with object keys sorted at every level, so that the order of a config file's keys does not matter. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A short digest (6 hex digits of SHA-256) of a case space: the system, the profile, the fixes, the
 * configuration overrides, the fault kinds, swarm mode, the most faults, the invariants and the
 * deployment, with defaults made explicit and lists sorted, so that flags meaning the same space give
 * the same digest (no deployment and the system's first, its defaults, are the same space, and keep
 * the digest spaces had before deployments existed).
 * It is part of every counterexample's file name: two campaigns over different spaces writing to one
 * --out cannot overwrite each other's files, while shards of one campaign (same space, disjoint
 * seeds) share it.
 */
export function caseSpaceDigest(system: AnySystem, space: CaseSpace): string {
  const sorted = (names: readonly string[]): string[] => [...new Set(names)].sort();
  const canonical = {
    system: system.name,
    profile: space.profile,
    fixes: sorted(space.fixes ?? []),
    config: space.config ?? {},
    kinds: sorted(space.kinds ?? drawnByDefault(system.faults).map((k) => k.kind as string)),
    swarm: space.swarm ?? true,
    maxFaults: space.maxFaults ?? 8,
    invariants: sorted(space.invariants ?? invariantIds(system)),
    ...(space.deployment === undefined || space.deployment === system.deployments?.named[0]?.name ? {} : { deployment: space.deployment }),
  };
  return createHash('sha256').update(canonicalJson(canonical)).digest('hex').slice(0, 6);
}

/**
 * Where a campaign puts what it finds, the moment it finds it, so that nothing is lost to a crash or
 * Ctrl-C: every failing seed is one line of `violations.jsonl` (appended whole), and the seeds
 * chosen as examples get a trace file at once, rewritten (atomically) when their shrink finishes.
 *
 * One trace file per invariant and campaign: when a lower failing seed becomes the example, the
 * file of the one it replaces is removed, and that seed's shrink, should it finish later, writes
 * nothing. Removing rather than listing it: the summary names one example per invariant, and a
 * leftover file would read as a second finding; the replaced seed stays in `violations.jsonl` with
 * its rerun command, so nothing is lost.
 *
 * A write that fails (a full disk, the directory removed meanwhile) does not stop the campaign: it
 * is remembered in `failures()` for the command to report after its summary.
 */
export class FindingsStore {
  private created = false;
  /** The digest of the case space in every trace file name. */
  readonly digest: string;
  /** The current example of each invariant (outcome): its seed and file. */
  private readonly examples = new Map<string, { seed: number; file: string }>();
  /** Files that could not be written, with why. */
  private readonly failed = new Map<string, string>();

  /**
   * @param origin says which campaign found it, for the trace file's explanation.
   * @param rerunCommand the command that reruns one seed of this campaign.
   */
  constructor(readonly dir: string, private readonly system: AnySystem, private readonly space: CaseSpace, private readonly origin: string, private readonly rerunCommand: (seed: number) => string) {
    this.digest = caseSpaceDigest(system, space);
  }

  private ensureDir(): void {
    if (!this.created) makeDirs(this.dir);
    this.created = true;
  }

  /** `<invariant>-<profile>-<digest>-seed-<seed>.json` in the findings directory. */
  traceFileName(invariant: string, seed: number): string {
    return join(this.dir, `${invariant}-${this.space.profile}-${this.digest}-seed-${seed}.json`);
  }

  /** `<invariant>-<profile>-<digest>-bug-<id>-seed-<seed>.json`: the minimal case of a distinct bug found by triage. */
  bugFileName(invariant: string, id: string, seed: number): string {
    return join(this.dir, `${invariant}-${this.space.profile}-${this.digest}-bug-${id}-seed-${seed}.json`);
  }

  /** The current example of an invariant (the lowest failing seed written so far), if any. */
  example(invariant: string): { seed: number; file: string } | undefined {
    return this.examples.get(invariant);
  }

  /** Every write that failed, as `PATH (REASON)`, in the order they failed. */
  failures(): string[] {
    return [...this.failed].map(([path, why]) => `${path} (${why})`);
  }

  /** Why a file could not be written, or undefined when it was (or was never tried). */
  failure(path: string): string | undefined {
    return this.failed.get(path);
  }

  private fail(path: string, error: unknown): void {
    if (!this.failed.has(path)) this.failed.set(path, writeFailure(error));
  }

  /**
   * Records a failing seed (one line, written with a single append). A guided campaign's mutated
   * case (`mutated`) is not the seed's drawn one: the line carries its schedule, the corpus seed it
   * was mutated from and the mutations, and its rerun command reads the schedule from a file.
   */
  recordViolation(r: SeedResult, mutated: Partial<SeedCase> = {}): void {
    const file = join(this.dir, 'violations.jsonl');
    const line = {
      seed: r.seed, profile: this.space.profile, outcome: r.outcome, time: r.violation?.time ?? null,
      message: r.violation?.message ?? r.modelFailure, hash: r.hash, faults: r.faults,
      rerun: mutated.schedule === undefined ? this.rerunCommand(r.seed) : `${this.rerunCommand(r.seed)} --schedule SCHEDULE.json (this line's schedule)`,
      ...mutated,
      // The case space itself, so that \`hasim triage\` can rerun the seed without parsing the command.
      system: this.system.name, space: this.space,
    };
    try {
      this.ensureDir();
      appendFileSync(file, JSON.stringify(line) + '\n');
    } catch (error) {
      this.fail(file, error);
    }
  }

  /**
   * Writes the unshrunk counterexample for a failing seed, the invariant's new example; removes the
   * file of the example it replaces. Returns its path.
   */
  writeUnshrunk(r: SeedResult): string {
    const previous = this.examples.get(r.outcome);
    this.examples.set(r.outcome, { seed: r.seed, file: this.traceFileName(r.outcome, r.seed) });
    if (previous !== undefined && previous.seed !== r.seed) {
      try {
        rmSync(previous.file, { force: true });
      } catch {
        // A file that cannot be removed is a leftover, not a lost finding.
      }
    }
    return this.write(r.outcome, r.seed, r.schedule ?? [], r.hash, { shrunk: 'not yet', faultsFound: r.faults });
  }

  /**
   * Replaces a counterexample with its shrunk, 1-minimal form; returns its path. The shrink of an
   * example that a lower seed has replaced since writes nothing: its file was removed.
   */
  writeShrunk(s: Shrunk): string {
    const current = this.examples.get(s.invariant);
    if (current !== undefined && current.seed !== s.case.seed) return this.traceFileName(s.invariant, s.case.seed);
    if (current === undefined) this.examples.set(s.invariant, { seed: s.case.seed, file: this.traceFileName(s.invariant, s.case.seed) });
    return this.write(s.invariant, s.case.seed, s.case.schedule, s.verdict.hash, shrinkFigures(s), s.verdict.outcome);
  }

  /**
   * Writes the minimal case of a bug found by triage: a trace file of the campaign's space with the
   * bug's context fixes on and only its invariant checked, as triage shrank it. Returns its path.
   */
  writeBug(b: Bug): string {
    const { example, signature } = b;
    return this.write(signature.invariant, example.case.seed, example.case.schedule, example.verdict.hash, {
      ...shrinkFigures(example), bug: b.id, signature: b.key, context: b.context.join(','),
    }, example.verdict.outcome, { id: b.id, space: triageSpace(this.space, b.context, signature.invariant) });
  }

  /** Writes `bugs.json`: the campaign's distinct bugs (rewritten whole, atomically). */
  writeBugs(rows: TriageRows, interrupted: boolean): void {
    const path = join(this.dir, BUGS_FILE);
    const data = {
      format: BUGS_FORMAT, version: 1, system: this.system.name, profile: this.space.profile, digest: this.digest, space: this.space,
      interrupted, complete: rows.complete, deadlineReached: rows.deadlineReached,
      runs: rows.runs, shrinks: rows.shrinks, bugs: rows.bugs, unclassified: rows.unclassified, unfinished: rows.unfinished,
    };
    try {
      this.ensureDir();
      writeFileAtomic(path, JSON.stringify(data, null, 2) + '\n');
    } catch (error) {
      this.fail(path, error);
    }
  }

  /** A trace file of the campaign's space, or (`bug`) of a bug's space under its own name. */
  private write(invariant: string, seed: number, schedule: TraceFile['schedule'], hash: string, found: Record<string, number | string>, outcome = invariant, bug?: { id: string; space: CaseSpace }): string {
    const space = bug?.space ?? this.space;
    const path = bug === undefined ? this.traceFileName(invariant, seed) : this.bugFileName(invariant, bug.id, seed);
    // The seed's own configuration: with a deployment swarm it differs from seed to seed.
    const { resolved, overrides } = resolveSeed(this.system, space, seed);
    const trace: TraceFile = {
      format: TRACE_FORMAT,
      version: TRACE_VERSION,
      system: this.system.name,
      name: `${invariant}-${space.profile}-${bug === undefined ? '' : `bug-${bug.id}-`}seed-${seed}`,
      explanation: `found by ${this.origin}; explain the mechanism before adding it to traces/`,
      config: overrides,
      ...(space.fixes && (bug === undefined || space.fixes.length > 0) ? { fixes: [...space.fixes] } : {}),
      seed,
      schedule,
      ...(space.invariants ? { invariants: [...space.invariants] } : {}),
      expectations: [{ profile: space.profile, fixes: resolved.fixes, config: resolved.config, outcome, hash }],
      found,
    };
    try {
      this.ensureDir();
      writeFileAtomic(path, formatTraceFile(trace));
    } catch (error) {
      this.fail(path, error);
    }
    return path;
  }
}

/** What a trace file's `found` records of a shrink. */
function shrinkFigures(s: Shrunk): Record<string, number | string> {
  return {
    shrunk: 'yes', faultsFound: s.faultsFound, faultsShrunk: s.faultsShrunk, faultsMinimal: s.faultsMinimal,
    shrinkSteps: s.shrinkSteps, ...(s.ddminRuns !== undefined ? { ddminRuns: s.ddminRuns } : {}), shrinkRuns: s.shrinkRuns, minimizeRuns: s.minimizeRuns,
  };
}
