import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AnySystem } from '../../contract/system.ts';
import { resolveSpace, type CaseSpace, type Shrunk } from '../../harness/seeded-case.ts';
import { formatTraceFile, TRACE_FORMAT, TRACE_VERSION, type TraceFile } from '../../harness/trace-file.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import type { SeedResult } from './tasks.ts';

/**
 * Where a campaign puts what it finds, the moment it finds it, so that nothing is lost to a crash or
 * Ctrl-C: every failing seed is one line of `violations.jsonl` (appended whole), and the seeds
 * chosen as examples get a trace file at once, rewritten (atomically) when their shrink finishes.
 */
export class FindingsStore {
  private created = false;

  /**
   * @param origin says which campaign found it, for the trace file's explanation.
   * @param rerunCommand the command that reruns one seed of this campaign.
   */
  constructor(readonly dir: string, private readonly system: AnySystem, private readonly space: CaseSpace, private readonly origin: string, private readonly rerunCommand: (seed: number) => string) {}

  private ensureDir(): void {
    if (!this.created) mkdirSync(this.dir, { recursive: true });
    this.created = true;
  }

  traceFileName(invariant: string, seed: number): string {
    return join(this.dir, `${invariant}-${this.space.profile}-seed-${seed}.json`);
  }

  /** Records a failing seed (one line, written with a single append). */
  recordViolation(r: SeedResult): void {
    this.ensureDir();
    const line = {
      seed: r.seed, profile: this.space.profile, outcome: r.outcome, time: r.violation?.time ?? null,
      message: r.violation?.message ?? r.modelFailure, hash: r.hash, faults: r.faults,
      rerun: this.rerunCommand(r.seed),
    };
    appendFileSync(join(this.dir, 'violations.jsonl'), JSON.stringify(line) + '\n');
  }

  /** Writes the unshrunk counterexample for a failing seed; returns its path. */
  writeUnshrunk(r: SeedResult): string {
    return this.write(r.outcome, r.seed, r.schedule ?? [], r.hash, { shrunk: 'not yet', faultsFound: r.faults });
  }

  /** Replaces a counterexample with its shrunk, 1-minimal form; returns its path. */
  writeShrunk(s: Shrunk): string {
    return this.write(s.invariant, s.case.seed, s.case.schedule, s.verdict.hash, {
      shrunk: 'yes', faultsFound: s.faultsFound, faultsShrunk: s.faultsShrunk, faultsMinimal: s.faultsMinimal,
      shrinkSteps: s.shrinkSteps, shrinkRuns: s.shrinkRuns, minimizeRuns: s.minimizeRuns,
    }, s.verdict.outcome);
  }

  private write(invariant: string, seed: number, schedule: TraceFile['schedule'], hash: string, found: Record<string, number | string>, outcome = invariant): string {
    this.ensureDir();
    const path = this.traceFileName(invariant, seed);
    const resolved = resolveSpace(this.system, this.space);
    const trace: TraceFile = {
      format: TRACE_FORMAT,
      version: TRACE_VERSION,
      system: this.system.name,
      name: `${invariant}-${this.space.profile}-seed-${seed}`,
      explanation: `found by ${this.origin}; explain the mechanism before adding it to traces/`,
      config: this.space.config ?? {},
      ...(this.space.fixes ? { fixes: [...this.space.fixes] } : {}),
      seed,
      schedule,
      ...(this.space.invariants ? { invariants: [...this.space.invariants] } : {}),
      expectations: [{ profile: this.space.profile, fixes: resolved.fixes, config: resolved.config, outcome, hash }],
      found,
    };
    writeFileAtomic(path, formatTraceFile(trace));
    return path;
  }
}
