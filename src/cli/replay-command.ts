import { formatTime } from '../sim-cluster/index.ts';
import { formatBound } from '../invariants/monitor.ts';
import { formatSchedule } from '../harness/report.ts';
import { replayTrace, updateTrace, type ReplayResult } from '../harness/replay.ts';
import { formatTraceFile, readTraceFile, systemOf, TraceFileError, type TraceFile } from '../harness/trace-file.ts';
import { SYSTEMS } from '../systems/index.ts';
import { parseFlags, UsageError } from './args.ts';
import { formatTimeline, runTimeline } from './explain/timeline.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';

export { REPLAY_HELP } from './help.ts';

function read(file: string): TraceFile {
  try {
    return readTraceFile(file, SYSTEMS);
  } catch (error) {
    if (error instanceof TraceFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** `hasim replay FILE...` and `hasim replay --update FILE...`. */
export function replayCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    trace: { type: 'string' },
    timeline: { type: 'boolean', default: false },
    update: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length === 0) throw new UsageError('replay: expected one or more trace files');
  if (values.trace !== undefined && positionals.length > 1) throw new UsageError('replay: --trace takes one trace file');
  if (values.update && (values.trace !== undefined || values.timeline)) throw new UsageError('replay: --update does not combine with --trace or --timeline');
  // Every file is read and checked before anything runs: a bad file is bad input, not a mismatch.
  const traces = positionals.map((file) => ({ file, trace: read(file) }));
  checkOutputPaths([
    values.trace !== undefined && { flag: '--trace', path: values.trace, kind: 'file' },
    ...(values.update ? positionals.map((file) => ({ flag: '--update', path: file, kind: 'file' as const })) : []),
  ]);
  return values.update ? update(traces, values.json, out) : replay(traces, values, out);
}

function update(traces: ReadonlyArray<{ file: string; trace: TraceFile }>, json: boolean, out: (line: string) => void): number {
  const outputs = new Outputs();
  const reports = traces.map(({ file, trace }) => {
    const { trace: updated, updates } = updateTrace(systemOf(trace, SYSTEMS), trace);
    // A file with nothing to change stays as it is, byte for byte: a configuration field added since
    // it was recorded, whose default is the behaviour it was recorded with, is no change.
    const changed = updates.some((u) => u.changes.length > 0);
    const written = !changed || outputs.write('--update', file, formatTraceFile(updated));
    return { file, updates, written };
  });
  if (json) {
    out(JSON.stringify(reports.map((r) => ({
      file: r.file, written: r.written,
      expectations: r.updates.map((u) => ({ profile: u.profile, changes: u.changes, outcome: u.after.outcome, hash: u.after.hash })),
    }))));
    outputs.throwIfFailed();
    return 0;
  }
  for (const r of reports) {
    const changed = r.updates.some((u) => u.changes.length > 0);
    out(`${r.file}: ${!r.written ? 'NOT WRITTEN' : changed ? 'updated' : 'unchanged'}`);
    for (const u of r.updates) {
      if (u.changes.length === 0) out(`  ${u.profile}: ${u.after.outcome}, same hash`);
      for (const c of u.changes) out(`  ${u.profile}: ${c}`);
    }
  }
  outputs.throwIfFailed();
  return 0;
}

function replay(
  traces: ReadonlyArray<{ file: string; trace: TraceFile }>,
  values: { trace?: string | undefined; timeline: boolean; json: boolean },
  out: (line: string) => void,
): number {
  const keepEvents = values.trace !== undefined || values.timeline;
  const runs = traces.map(({ file, trace }) => ({ file, trace, results: replayTrace(systemOf(trace, SYSTEMS), trace, { keepEvents }) }));
  const timelineOf = (trace: TraceFile, r: ReplayResult) => runTimeline(systemOf(trace, SYSTEMS), r.verdict.events!, r.verdict);
  const outputs = new Outputs();
  if (values.trace !== undefined) {
    const events = runs[0]!.results[0]!.verdict.events!;
    outputs.write('--trace', values.trace, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
  const matches = (results: readonly ReplayResult[]) => results.every((r) => r.outcomeMatches && r.hashMatches);
  const allMatch = runs.every((r) => matches(r.results));
  if (values.json) {
    const one = (run: (typeof runs)[number]) => ({
      file: run.file, name: run.trace.name, system: run.trace.system, match: matches(run.results),
      results: run.results.map((r) => ({
        profile: r.expectation.profile, fixes: r.case.fixes, expected: r.expectation.outcome, outcome: r.verdict.outcome,
        hashMatches: r.hashMatches, hash: r.verdict.hash, violation: r.verdict.violation?.message ?? null,
        recoveryUs: r.verdict.recoveryUs, drift: r.drift,
        ...(values.timeline ? { timeline: timelineOf(run.trace, r) } : {}),
      })),
    });
    // One file prints one object, as before; several print {match, files}.
    out(JSON.stringify(runs.length === 1 ? one(runs[0]!) : { match: allMatch, files: runs.map(one) }));
    outputs.throwIfFailed();
    return allMatch ? 0 : 1;
  }
  for (const { trace, results } of runs) {
    out(`${trace.name}: ${trace.explanation}`);
    out(`seed ${trace.seed}, ${trace.schedule.length} faults:`);
    out(formatSchedule(trace.schedule));
    for (const r of results) {
      const status = r.outcomeMatches && r.hashMatches ? 'ok' : 'MISMATCH';
      out(`[${status}] ${r.expectation.profile}: ${r.verdict.outcome} (expected ${r.expectation.outcome})${r.hashMatches ? '' : `, hash ${r.verdict.hash.slice(0, 12)} != ${r.expectation.hash.slice(0, 12)}`}`);
      if (r.drift !== null) out(`  note: ${r.drift}; the recorded configuration was replayed (hasim replay --update re-records it)`);
      if (r.verdict.violation) out(`  ${formatTime(r.verdict.violation.time)}: ${r.verdict.violation.message}`);
      out(`  recovery: ${r.verdict.recoveryUs === null ? 'never' : formatTime(r.verdict.recoveryUs)} after the heal at ${formatTime(r.verdict.healAt)}; ${formatBound(r.verdict.bound)}`);
      if (values.timeline) {
        out(`  timeline (${r.expectation.profile}):`);
        for (const line of formatTimeline(timelineOf(trace, r))) out(line);
      }
    }
  }
  outputs.throwIfFailed();
  return allMatch ? 0 : 1;
}
