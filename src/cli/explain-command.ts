import { basename, dirname, join } from 'node:path';
import { formatTime } from '../sim-cluster/index.ts';
import { registryOf, runCase, type Case } from '../harness/run-case.ts';
import { faultEnd } from '../faults/apply.ts';
import { caseOfExpectation } from '../harness/replay.ts';
import { hashSchemeOf, readTraceFile, systemOf, TraceFileError } from '../harness/trace-file.ts';
import { SYSTEMS } from '../systems/index.ts';
import { parseFlags, UsageError } from './args.ts';
import { writeFailure, writeFileAtomic } from './atomic-write.ts';
import { renderExplainHtml } from './explain/html.ts';
import { checkOutputPaths } from './output-paths.ts';

export { EXPLAIN_HELP } from './help.ts';

/** `hasim explain FILE`. */
export function explainCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    profile: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError('explain: expected exactly one trace file');
  const file = positionals[0]!;
  let trace;
  try {
    trace = readTraceFile(file, SYSTEMS);
  } catch (error) {
    if (error instanceof TraceFileError) throw new UsageError(error.message);
    throw error;
  }
  const system = systemOf(trace, SYSTEMS);
  const profile = values.profile ?? trace.expectations[0]!.profile;
  const profiles = system.profiles.map((p) => p.name);
  if (!profiles.includes(profile)) throw new UsageError(`--profile: unknown profile '${profile}' (known: ${profiles.join(', ')})`);
  const target = values.out ?? join(dirname(file), `${basename(file, '.json')}.${profile}.html`);
  checkOutputPaths([{ flag: values.out === undefined ? '--out (default)' : '--out', path: target, kind: 'file' }]);

  // The expectation's recorded configuration when the file has one for this profile; else the profile as defined now.
  const recorded = trace.expectations.find((x) => x.profile === profile) ?? { profile, outcome: 'pass', hash: '' };
  const c: Case = caseOfExpectation(system, trace, recorded);
  const verdict = runCase(system, c, { hashScheme: hashSchemeOf(trace) });
  // Message events change the hash but not the run: a second run supplies them for the arrows,
  // while the verdict and hash come from the run the trace file describes.
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
  try {
    writeFileAtomic(target, html);
  } catch (error) {
    throw new UsageError(`could not write ${values.out === undefined ? 'the page' : '--out'} ${target} (${writeFailure(error)})`);
  }
  if (values.json) {
    out(JSON.stringify({
      file, profile, html: target, bytes: Buffer.byteLength(html), match: matches,
      outcome: verdict.outcome, expected: expectation?.outcome ?? null, hash: verdict.hash,
      violation: verdict.violation === null ? null : { invariant: verdict.violation.invariant, time: verdict.violation.time, message: verdict.violation.message },
    }));
  } else {
    const at = verdict.violation === null ? '' : ` at ${formatTime(verdict.violation.time)}`;
    out(`${trace.name} (${profile}): ${verdict.outcome}${at}; ${comparison}`);
    out(target);
  }
  return matches ? 0 : 1;
}
