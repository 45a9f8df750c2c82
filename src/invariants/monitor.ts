import type { Micros, TraceEvent } from '../sim-cluster/index.ts';
import type { ClusterView } from '../systems/streamspace/invariants/cluster-view.ts';

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
 * A named invariant. `onEvent` is the online (safety) part, called for every trace event after the
 * cluster view has absorbed it; the first violation stops the run. `atEnd` judges what can only be
 * judged after the heal (liveness, recovery).
 */
export interface Monitor {
  readonly id: string;
  /** One paragraph: what must always hold. Printed by `hasim list`. */
  readonly definition: string;
  onEvent?(event: TraceEvent, view: ClusterView): Violation | null;
  atEnd?(view: ClusterView, window: RunWindow): Violation | null;
}
