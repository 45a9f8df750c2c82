import { formatTime, type TraceEvent } from '../../sim-cluster/index.ts';
import type { Verdict } from '../../harness/run-case.ts';
import { commandsOf, narrateRun, type Narrated } from '../../systems/streamspace/explain/narrate.ts';

/**
 * The readable story of a run: its key events, the life of the command a violation is about, and
 * the violation itself at the instant it was found.
 */
export function runTimeline(events: readonly TraceEvent[], verdict: Pick<Verdict, 'violation'>): Narrated[] {
  const entries = narrateRun(events, commandsOf(verdict.violation, events));
  const v = verdict.violation;
  if (v !== null) {
    // After every event of its instant: an online violation is found on the last of them.
    let at = entries.length;
    while (at > 0 && entries[at - 1]!.t > v.time) at--;
    entries.splice(at, 0, { t: v.time, p: 'checker', topic: 'failure', what: `VIOLATION ${v.invariant}: ${v.message}` });
  }
  return entries;
}

/** The timeline as text, one `   12.345s  process    what` line per entry. */
export function formatTimeline(entries: readonly Narrated[]): string[] {
  const width = Math.max(8, ...entries.map((e) => e.p.length));
  return entries.map((e) => `  ${formatTime(e.t).padStart(10)}  ${e.p.padEnd(width)}  ${e.what}`);
}
