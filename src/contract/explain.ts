import type { Micros, TraceEvent } from '../sim-cluster/index.ts';
import type { Violation } from '../invariants/monitor.ts';

/**
 * How a system tells its runs to people: the lanes of the HTML timeline (`hasim explain`,
 * `hasim run --html`) and the story of key events (`--timeline`). The CLI draws and prints them; a
 * system without an Explainer gets the generic story (faults and process lifecycle) and no lanes.
 */
export interface Explainer {
  /** The timeline page's lanes, in order: `process` lanes first (one per process), then the system's state. */
  lanes(events: readonly TraceEvent[], end: Micros): Lane[];
  /** The key events of a run, in order, with every step of whatever the violation is about. */
  narrate(events: readonly TraceEvent[], violation: Violation | null): Narrated[];
}

/**
 * A stretch of time a lane spends in one state. `tone` picks the colour: a process state (`up`,
 * `leader`, `paused`...) for process lanes, `value` for lanes that show who holds something (the
 * colour then follows `label`, the holder), `none` when nobody does.
 */
export interface Segment {
  from: Micros;
  to: Micros;
  tone: string;
  label: string;
  detail: string;
}

export interface Lane {
  /** The process name for process lanes; a description for the others. */
  name: string;
  /** `process` for a process's own lane; any other word (the system's) for state lanes. */
  kind: string;
  /** Longer text for the label's tooltip. */
  title: string;
  segments: Segment[];
}

/** What a key event is about; the HTML colours markers by it and the text timeline keeps them all. */
export type Topic = 'fault' | 'process' | 'leadership' | 'connection' | 'routing' | 'command' | 'recovery' | 'failure';

/** One trace event told as a sentence. */
export interface Narrated {
  t: number;
  /** The process it concerns (for kernel and platform events, the pod or node acted on). */
  p: string;
  topic: Topic;
  what: string;
}
