import type { TraceEvent } from '../sim-cluster/index.ts';
import type { ClusterView } from './cluster-view.ts';
import type { Monitor, Violation } from './monitor.ts';

/**
 * Exactly-once execution: a command id is executed at most once, by any replica. Reported apart
 * from lost commands, so a profile can promise at-least-once without exactly-once.
 */
export const noDuplicateExecution: Monitor = {
  id: 'no-duplicate-execution',
  definition: 'A command id is executed (agent.execute) at most once across all agent replicas and incarnations.',
  onEvent(e: TraceEvent, view: ClusterView): Violation | null {
    if (e.k !== 'agent.execute') return null;
    const life = view.commands.get(e.d!['command'] as string);
    if (life === undefined || life.executions.length < 2) return null;
    const first = life.executions[0]!;
    return {
      invariant: this.id,
      time: e.t,
      message: `${life.id} executed twice: by ${first.replica} at ${first.t} µs and by ${e.p} at ${e.t} µs`,
      evidence: [e],
    };
  },
};
