import { runCase, type Verdict } from './run-case.ts';
import type { Expectation, TraceFile } from './trace-file.ts';

export interface ReplayResult {
  expectation: Expectation;
  verdict: Verdict;
  outcomeMatches: boolean;
  hashMatches: boolean;
}

/** Replays a trace file under each of its expectations. */
export function replayTrace(trace: TraceFile, options: { keepEvents?: boolean } = {}): ReplayResult[] {
  return trace.expectations.map((expectation) => {
    const verdict = runCase({ profile: expectation.profile, config: trace.config, seed: trace.seed, schedule: trace.schedule, ...(trace.invariants ? { invariants: trace.invariants } : {}) }, options);
    return { expectation, verdict, outcomeMatches: verdict.outcome === expectation.outcome, hashMatches: verdict.hash === expectation.hash };
  });
}
