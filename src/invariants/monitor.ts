import { formatTime, type Micros, type TraceEvent } from '../sim-cluster/index.ts';

/** A broken invariant: which, when, what, and the trace events that prove it. */
export interface Violation {
  invariant: string;
  time: Micros;
  message: string;
  evidence: TraceEvent[];
}

/** What an end-of-run check knows about the run. */
export interface RunWindow {
  /** When the last fault stopped (the heal). */
  healAt: Micros;
  /** The recovery bound B. */
  boundUs: Micros;
  /** When the run ended. */
  endAt: Micros;
}

/**
 * A named invariant, checked against a system's view `V` (the reducer over its trace events).
 * `onEvent` is the online (safety) part, called for every trace event after the view has absorbed
 * it. `atEnd` judges what can only be judged after the heal (liveness, recovery).
 */
export interface Monitor<V> {
  readonly id: string;
  /** One paragraph: what must always hold. Printed by `hasim list`. */
  readonly definition: string;
  /**
   * The event kinds `onEvent` judges: it is not called for other kinds (most events concern no
   * online check, and calling every check on every event showed in profiles). Default: every kind.
   */
  readonly kinds?: readonly string[];
  onEvent?(event: TraceEvent, view: V): Violation | null;
  atEnd?(view: V, window: RunWindow): Violation | null;
}

/** One term of a recovery bound, printed with every verdict. */
export interface BoundTerm {
  what: string;
  us: Micros;
}

export function boundTotal(terms: readonly BoundTerm[]): Micros {
  return terms.reduce((s, t) => s + t.us, 0);
}

export function formatBound(terms: readonly BoundTerm[]): string {
  return `B = ${formatTime(boundTotal(terms))} = ${terms.map((t) => `${formatTime(t.us)} (${t.what})`).join(' + ')}`;
}
