import { formatTime } from '../sim-cluster/index.ts';
import { readTraceFile, systemOf, TraceFileError } from '../harness/trace-file.ts';
import { SYSTEMS } from '../systems/index.ts';
import { parseFlags, UsageError } from './args.ts';
import { writeFailure, writeFileAtomic } from './atomic-write.ts';
import { explainPagePath, explainTrace } from './explain/page.ts';
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
  const target = values.out ?? explainPagePath(file, profile);
  checkOutputPaths([{ flag: values.out === undefined ? '--out (default)' : '--out', path: target, kind: 'file' }]);

  const { html, verdict, matches, comparison, expected } = explainTrace(trace, profile);
  try {
    writeFileAtomic(target, html);
  } catch (error) {
    throw new UsageError(`could not write ${values.out === undefined ? 'the page' : '--out'} ${target} (${writeFailure(error)})`);
  }
  if (values.json) {
    out(JSON.stringify({
      file, profile, html: target, bytes: Buffer.byteLength(html), match: matches,
      outcome: verdict.outcome, expected, hash: verdict.hash,
      violation: verdict.violation === null ? null : { invariant: verdict.violation.invariant, time: verdict.violation.time, message: verdict.violation.message },
    }));
  } else {
    const at = verdict.violation === null ? '' : ` at ${formatTime(verdict.violation.time)}`;
    out(`${trace.name} (${profile}): ${verdict.outcome}${at}; ${comparison}`);
    out(target);
  }
  return matches ? 0 : 1;
}
