import type { AnySystem } from '../contract/system.ts';
import { runCase, type Case, type Verdict } from './run-case.ts';
import { hashSchemeOf, TRACE_VERSION, type Expectation, type TraceFile } from './trace-file.ts';

export interface ReplayResult {
  expectation: Expectation;
  case: Case;
  verdict: Verdict;
  outcomeMatches: boolean;
  hashMatches: boolean;
  /**
   * How the expectation's profile, as this build defines it, differs from the configuration the file
   * recorded (null: it does not, or the file records none). The replay uses the recorded one.
   */
  drift: string | null;
}

/** The case an expectation stands for: its recorded configuration, or (files before version 3) its profile as defined now. */
export function caseOfExpectation(system: AnySystem, trace: TraceFile, expectation: Expectation): Case {
  const resolved = expectation.config === undefined ? system.resolve(expectation.profile, trace.config, trace.fixes ?? []) : system.reresolve(expectation.config);
  return {
    profile: expectation.profile, fixes: resolved.fixes, config: resolved.config, seed: trace.seed, schedule: trace.schedule,
    ...(trace.invariants ? { invariants: trace.invariants } : {}),
  };
}

/** What differs between a recorded configuration and the profile's current one: fixes, then fields. */
export function profileDrift(system: AnySystem, trace: TraceFile, expectation: Expectation): string | null {
  if (expectation.config === undefined) return null;
  let now;
  try {
    now = system.resolve(expectation.profile, trace.config, trace.fixes ?? []);
  } catch (error) {
    return `profile ${expectation.profile} no longer resolves (${(error as Error).message})`;
  }
  const recorded = system.reresolve(expectation.config);
  const parts: string[] = [];
  const added = now.fixes.filter((f) => !recorded.fixes.includes(f));
  const removed = recorded.fixes.filter((f) => !now.fixes.includes(f));
  if (added.length > 0) parts.push(`now adds fixes ${added.join(', ')}`);
  if (removed.length > 0) parts.push(`no longer has fixes ${removed.join(', ')}`);
  const fields = changedFields(recorded.config, now.config).filter((f) => !f.startsWith('fixes.'));
  if (fields.length > 0) parts.push(`changes ${fields.join(', ')}`);
  return parts.length === 0 ? null : `profile ${expectation.profile} ${parts.join('; ')} since this file was recorded`;
}

function changedFields(a: unknown, b: unknown, prefix = ''): string[] {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null || Array.isArray(a)) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix.slice(0, -1)];
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.flatMap((k) => changedFields((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${prefix}${k}.`));
}

/** Replays a trace file under each of its expectations, hashing as the file's version did. */
export function replayTrace(system: AnySystem, trace: TraceFile, options: { keepEvents?: boolean } = {}): ReplayResult[] {
  const runOptions = { ...options, hashScheme: hashSchemeOf(trace) };
  return trace.expectations.map((expectation) => {
    const c = caseOfExpectation(system, trace, expectation);
    const verdict = runCase(system, c, runOptions);
    return {
      expectation, case: c, verdict,
      outcomeMatches: verdict.outcome === expectation.outcome, hashMatches: verdict.hash === expectation.hash,
      drift: profileDrift(system, trace, expectation),
    };
  });
}

/** One re-recorded expectation: what it was and what it is now. */
export interface ExpectationUpdate {
  profile: string;
  before: Expectation;
  after: Expectation;
  /** One line per change (fixes, configuration fields, outcome, hash); empty when nothing changed. */
  changes: string[];
}

/**
 * Re-records a trace file after an intentional model change: each expectation's profile is
 * resolved as this build defines it (with the file's overrides), the case rerun, and the resolved
 * configuration, outcome and hash written in the current format version.
 */
export function updateTrace(system: AnySystem, trace: TraceFile): { trace: TraceFile; updates: ExpectationUpdate[] } {
  const scheme = hashSchemeOf(trace);
  const reencoded = scheme === hashSchemeOf({ version: TRACE_VERSION }) ? '' : ` (re-encoded: the file's hashes were taken with the ${scheme} encoding of its format version ${trace.version})`;
  const updates = trace.expectations.map((before): ExpectationUpdate => {
    const resolved = system.resolve(before.profile, trace.config, trace.fixes ?? []);
    const c: Case = {
      profile: before.profile, fixes: resolved.fixes, config: resolved.config, seed: trace.seed, schedule: trace.schedule,
      ...(trace.invariants ? { invariants: trace.invariants } : {}),
    };
    const verdict = runCase(system, c);
    const after: Expectation = { profile: before.profile, fixes: resolved.fixes, config: resolved.config, outcome: verdict.outcome, hash: verdict.hash };
    const changes: string[] = [];
    if (before.config === undefined) changes.push(`records the resolved configuration (fixes: ${resolved.fixes.length === 0 ? 'none' : resolved.fixes.join(', ')})`);
    else {
      const drift = profileDrift(system, trace, before);
      if (drift !== null) changes.push(drift);
    }
    if (before.outcome !== after.outcome) changes.push(`outcome ${before.outcome} → ${after.outcome}`);
    if (before.hash !== after.hash) changes.push(`hash ${before.hash.slice(0, 12)}… → ${after.hash.slice(0, 12)}…${reencoded}`);
    return { profile: before.profile, before, after, changes };
  });
  const { format, name, explanation, config, fixes, seed, schedule, invariants, found } = trace;
  return {
    trace: {
      format, version: TRACE_VERSION, system: system.name, name, explanation, config, ...(fixes ? { fixes } : {}), seed, schedule,
      ...(invariants ? { invariants } : {}),
      expectations: updates.map((u) => u.after),
      ...(found ? { found } : {}),
    },
    updates,
  };
}
