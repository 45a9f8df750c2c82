import { formatTime } from '../sim-cluster/index.ts';
import { formatBound } from '../systems/streamspace/invariants/bounded-recovery.ts';
import { formatSchedule } from '../harness/report.ts';
import { replayTrace } from '../harness/replay.ts';
import { readTraceFile, TraceFileError } from '../harness/trace-file.ts';
import { parseFlags, UsageError } from './args.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { formatTimeline, runTimeline } from './explain/timeline.ts';

export const REPLAY_HELP = `hasim replay FILE [--trace out.jsonl] [--timeline] [--json]
  Reruns a trace file under each profile it names and checks the outcome and the trace hash.
  --timeline prints each run's key events after its verdict: faults, crashes and restarts,
  leadership, agent connections, the violated command's life, the violation.
  Exit 0 when every expectation matches, 1 when one does not.`;

/** `hasim replay FILE`. */
export function replayCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    trace: { type: 'string' },
    timeline: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError('replay: expected exactly one trace file');
  let trace;
  try {
    trace = readTraceFile(positionals[0]!);
  } catch (error) {
    if (error instanceof TraceFileError) throw new UsageError(error.message);
    throw error;
  }
  const results = replayTrace(trace, { keepEvents: values.trace !== undefined || values.timeline });
  const timelineOf = (r: (typeof results)[number]) => runTimeline(r.verdict.events!, r.verdict);
  if (values.trace !== undefined) {
    const events = results[0]!.verdict.events!;
    writeFileAtomic(values.trace, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
  const allMatch = results.every((r) => r.outcomeMatches && r.hashMatches);
  if (values.json) {
    out(JSON.stringify({
      name: trace.name, match: allMatch,
      results: results.map((r) => ({
        profile: r.expectation.profile, expected: r.expectation.outcome, outcome: r.verdict.outcome,
        hashMatches: r.hashMatches, hash: r.verdict.hash, violation: r.verdict.violation?.message ?? null,
        recoveryUs: r.verdict.recoveryUs,
        ...(values.timeline ? { timeline: timelineOf(r) } : {}),
      })),
    }));
    return allMatch ? 0 : 1;
  }
  out(`${trace.name}: ${trace.explanation}`);
  out(`seed ${trace.seed}, ${trace.schedule.length} faults:`);
  out(formatSchedule(trace.schedule));
  for (const r of results) {
    const status = r.outcomeMatches && r.hashMatches ? 'ok' : 'MISMATCH';
    out(`[${status}] ${r.expectation.profile}: ${r.verdict.outcome} (expected ${r.expectation.outcome})${r.hashMatches ? '' : `, hash ${r.verdict.hash.slice(0, 12)} != ${r.expectation.hash.slice(0, 12)}`}`);
    if (r.verdict.violation) out(`  ${formatTime(r.verdict.violation.time)}: ${r.verdict.violation.message}`);
    out(`  recovery: ${r.verdict.recoveryUs === null ? 'never' : formatTime(r.verdict.recoveryUs)} after the heal at ${formatTime(r.verdict.healAt)}; ${formatBound(r.verdict.bound)}`);
    if (values.timeline) {
      out(`  timeline (${r.expectation.profile}):`);
      for (const line of formatTimeline(timelineOf(r))) out(line);
    }
  }
  return allMatch ? 0 : 1;
}
