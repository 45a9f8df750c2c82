import { basename, dirname, join } from 'node:path';
import { registryOf, runCase, type Case, type Verdict } from '../../harness/run-case.ts';
import { faultEnd } from '../../faults/apply.ts';
import { caseOfExpectation } from '../../harness/replay.ts';
import { hashSchemeOf, systemOf, type TraceFile } from '../../harness/trace-file.ts';
import { SYSTEMS } from '../../systems/index.ts';
import { renderExplainHtml } from './html.ts';

/** A trace file replayed into its timeline page, with how the run compares with the file's expectation. */
export interface ExplainedRun {
  html: string;
  verdict: Verdict;
  /** The run gives the outcome and hash the file expects for the profile (or passes, when it names none). */
  matches: boolean;
  comparison: string;
  expected: string | null;
}

/** Where `hasim explain` writes a trace file's page by default: `<name>.<profile>.html` beside it. */
export function explainPagePath(file: string, profile: string): string {
  return join(dirname(file), `${basename(file, '.json')}.${profile}.html`);
}

/**
 * Replays a trace file under a profile and renders its timeline page (`hasim explain`, and the
 * pages a campaign index links to). Two runs: the one the file describes gives the verdict and hash;
 * a second with message events supplies the arrows (they change the hash, not the run).
 */
export function explainTrace(trace: TraceFile, profile: string): ExplainedRun {
  const system = systemOf(trace, SYSTEMS);
  // The expectation's recorded configuration when the file has one for this profile; else the profile as defined now.
  const recorded = trace.expectations.find((x) => x.profile === profile) ?? { profile, outcome: 'pass', hash: '' };
  const c: Case = caseOfExpectation(system, trace, recorded);
  const verdict = runCase(system, c, { hashScheme: hashSchemeOf(trace) });
  const events = runCase(system, c, { keepEvents: true, traceMessages: true }).events!;
  const expectation = trace.expectations.find((x) => x.profile === profile);
  const matches = expectation === undefined ? verdict.outcome === 'pass' : verdict.outcome === expectation.outcome && verdict.hash === expectation.hash;
  const comparison = expectation === undefined
    ? `the trace names no expectation for ${profile}`
    : `expected ${expectation.outcome}: ${verdict.outcome === expectation.outcome ? 'outcome matches' : 'OUTCOME DIFFERS'}, ${verdict.hash === expectation.hash ? 'hash matches' : 'HASH DIFFERS'}`;
  const html = renderExplainHtml({
    system,
    title: `${trace.name} (${profile})`,
    subtitle: trace.explanation,
    events,
    schedule: trace.schedule,
    faultEnd: (f) => faultEnd(registryOf(system), f),
    verdict,
    notes: [`seed ${trace.seed}, ${trace.schedule.length} fault${trace.schedule.length === 1 ? '' : 's'}; ${comparison}`],
  });
  return { html, verdict, matches, comparison, expected: expectation?.outcome ?? null };
}
