import type { TraceEvent } from '../../../sim-cluster/index.ts';
import type { ClusterView, Execution } from './cluster-view.ts';
import { events } from '../events.ts';
import type { Monitor, Violation } from '../../../invariants/monitor.ts';

/**
 * Exactly-once execution, judged on effects: a command is not executed again once an execution of
 * it completed, and no two executions of it both complete. An attempt whose process died, or whose
 * effect the platform refused (fenced), never took effect: running the command again is the retry
 * at-least-once delivery needs, not a duplicate. Reported apart from lost commands, so a profile
 * can promise at-least-once without exactly-once.
 */
export const noDuplicateExecution: Monitor<ClusterView> = {
  id: 'no-duplicate-execution',
  definition:
    'A command is never started again (agent.execute) after an execution of it completed, and no two executions of it both complete (agent.executed); '
    + 'attempts whose process died or whose effect was fenced off never took effect, so re-running them is a retry, not a duplicate.',
  kinds: ['agent.execute', 'agent.executed'],
  onEvent(e: TraceEvent, view: ClusterView): Violation | null {
    const d = events.details(e, 'agent.execute') ?? events.details(e, 'agent.executed');
    if (d === undefined) return null;
    const life = view.commands.get(d.command);
    if (life === undefined) return null;
    // Counted in a loop: this runs at every execution event and nearly always passes.
    let completed = 0;
    let first: Execution | undefined;
    for (const x of life.executions) {
      if (x.state !== 'completed') continue;
      completed++;
      first ??= x;
    }
    const limit = e.k === 'agent.execute' ? 0 : 1; // the completion just applied is one of them
    if (first === undefined || completed <= limit) return null;
    return {
      invariant: this.id,
      time: e.t,
      message: e.k === 'agent.execute'
        ? `${life.id} started again by ${e.p} although ${first.replica}'s execution started at ${first.t} µs had completed`
        : `${life.id} completed twice: executions by ${first.replica} (started ${first.t} µs) and ${e.p}`,
      evidence: [e],
    };
  },
};
