import { runCase, type Verdict } from './run-case.ts';
import { hashSchemeOf, type Expectation, type TraceFile } from './trace-file.ts';

export interface ReplayResult {
  expectation: Expectation;
  verdict: Verdict;
  outcomeMatches: boolean;
  hashMatches: boolean;
}

/** Replays a trace file under each of its expectations, hashing as the file's version did. */
export function replayTrace(trace: TraceFile, options: { keepEvents?: boolean } = {}): ReplayResult[] {
  const runOptions = { ...options, hashScheme: hashSchemeOf(trace) };
  return trace.expectations.map((expectation) => {
    const verdict = runCase({ profile: expectation.profile, config: trace.config, seed: trace.seed, schedule: trace.schedule, ...(trace.invariants ? { invariants: trace.invariants } : {}) }, runOptions);
    return { expectation, verdict, outcomeMatches: verdict.outcome === expectation.outcome, hashMatches: verdict.hash === expectation.hash };
  });
}
