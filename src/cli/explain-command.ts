import { basename, dirname, join } from 'node:path';
import { formatTime } from '../sim-cluster/index.ts';
import { PROFILES } from '../systems/streamspace/profiles.ts';
import { runCase, type Case } from '../harness/run-case.ts';
import { hashSchemeOf, readTraceFile, TraceFileError } from '../harness/trace-file.ts';
import { parseFlags, UsageError } from './args.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { renderExplainHtml } from './explain/html.ts';

export const EXPLAIN_HELP = `hasim explain FILE [--profile P] [--out FILE.html] [--json]
  Replays a trace file and writes a self-contained HTML timeline of the run (opens offline): a
  lane per process with its states, leadership, the Lease holder, the pods holding the agent's
  connection, the Redis routing key, faults shaded, the violation marked, message arrows on demand,
  hover details. Prints the page's path.
  --profile P   the profile to run (default: the trace's first expectation)
  --out FILE    where to write the page (default: next to FILE, <name>.<profile>.html)
  --json        print a JSON summary instead
  Exit 0 when the run gives the outcome and hash the trace expects for that profile (or passes, for
  a profile it names no expectation for), 1 otherwise.`;

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
    trace = readTraceFile(file);
  } catch (error) {
    if (error instanceof TraceFileError) throw new UsageError(error.message);
    throw error;
  }
  const profile = values.profile ?? trace.expectations[0]!.profile;
  if (!(profile in PROFILES)) throw new UsageError(`--profile: unknown profile '${profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
  const target = values.out ?? join(dirname(file), `${basename(file, '.json')}.${profile}.html`);

  const c: Case = { profile, config: trace.config, seed: trace.seed, schedule: trace.schedule, ...(trace.invariants ? { invariants: trace.invariants } : {}) };
  const verdict = runCase(c, { hashScheme: hashSchemeOf(trace) });
  // Message events change the hash but not the run: a second run supplies them for the arrows,
  // while the verdict and hash come from the run the trace file describes.
  const events = runCase(c, { keepEvents: true, traceMessages: true }).events!;
  const expectation = trace.expectations.find((x) => x.profile === profile);
  const matches = expectation === undefined ? verdict.outcome === 'pass' : verdict.outcome === expectation.outcome && verdict.hash === expectation.hash;
  const comparison = expectation === undefined
    ? `the trace names no expectation for ${profile}`
    : `expected ${expectation.outcome}: ${verdict.outcome === expectation.outcome ? 'outcome matches' : 'OUTCOME DIFFERS'}, ${verdict.hash === expectation.hash ? 'hash matches' : 'HASH DIFFERS'}`;
  const html = renderExplainHtml({
    title: `${trace.name} (${profile})`,
    subtitle: trace.explanation,
    events,
    schedule: trace.schedule,
    verdict,
    notes: [`seed ${trace.seed}, ${trace.schedule.length} fault${trace.schedule.length === 1 ? '' : 's'}; ${comparison}`],
  });
  try {
    writeFileAtomic(target, html);
  } catch (error) {
    throw new UsageError(`cannot write ${target} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
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
