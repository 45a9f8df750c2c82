import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../cli/atomic-write.ts';
import { formatTraceFile, traceFileFor } from '../invariants/trace-file.ts';
import { runCase } from '../invariants/run-case.ts';
import type { Finding } from './find.ts';

/**
 * Writes a finding as a trace file in `dir` (atomically: a reader never sees half a file) and
 * returns its path. The expectation is recomputed by replaying the shrunk case.
 */
export function saveFinding(finding: Finding, dir: string, explanation: string): string {
  mkdirSync(dir, { recursive: true });
  const c = finding.case;
  const name = `${finding.invariant}-${c.profile}-seed-${c.seed}`;
  const trace = traceFileFor((profile) => runCase({ ...c, profile }), {
    name,
    explanation,
    config: c.config,
    seed: c.seed,
    schedule: c.schedule,
    found: {
      runsToFind: finding.runsToFind, faultsFound: finding.faultsFound, faultsShrunk: finding.faultsShrunk,
      faultsMinimal: finding.faultsMinimal, shrinkSteps: finding.shrinkSteps, minimizeRuns: finding.minimizeRuns, shrinkMs: finding.shrinkMs,
    },
  }, [c.profile]);
  const path = join(dir, `${name}.json`);
  writeFileAtomic(path, formatTraceFile(trace));
  return path;
}
