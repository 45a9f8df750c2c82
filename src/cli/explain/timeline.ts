import { formatTime, type TraceEvent } from '../../sim-cluster/index.ts';
import type { Explainer, Narrated } from '../../contract/explain.ts';
import type { AnySystem } from '../../contract/system.ts';
import { faultTarget } from '../../faults/fault-kind.ts';
import type { Violation } from '../../invariants/monitor.ts';
import type { Verdict } from '../../harness/run-case.ts';

/** What a system without an Explainer gets: faults as applied and what every process went through. */
const GENERIC: Explainer = {
  lanes: () => [],
  narrate(events: readonly TraceEvent[], _violation: Violation | null): Narrated[] {
    const out: Narrated[] = [];
    for (const e of events) {
      if (e.k.startsWith('fault.')) {
        const target = e.k === 'fault.end' || e.k === 'fault.heal' ? undefined : faultTarget(e.d ?? {});
        out.push({ t: e.t, p: 'faults', topic: 'fault', what: `${e.k}${target === undefined ? '' : target === null ? ' (no live target)' : ` ${target}`}` });
      } else if (/^(proc|node)\.(start|crash|exit|pause|resume|fail|recover)$/.test(e.k)) {
        out.push({ t: e.t, p: e.p, topic: 'process', what: `${e.p}: ${e.k}` });
      }
    }
    return out;
  },
};

/** The system's Explainer, or the generic one. */
export function explainerOf(system: AnySystem): Explainer {
  return system.explain ?? GENERIC;
}

/**
 * The readable story of a run: its key events as the system tells them, and the violation itself
 * at the instant it was found.
 */
export function runTimeline(system: AnySystem, events: readonly TraceEvent[], verdict: Pick<Verdict, 'violation'>): Narrated[] {
  const entries = explainerOf(system).narrate(events, verdict.violation);
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
