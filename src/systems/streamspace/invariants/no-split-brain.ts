import type { TraceEvent } from '../../../sim-cluster/index.ts';
import { leaseName } from '../config.ts';
import { events } from '../events.ts';
import type { ClusterView } from './cluster-view.ts';
import type { Monitor, Violation } from '../../../invariants/monitor.ts';

/**
 * Judged on effects (DESIGN decision 7), not on beliefs: an agent replica acts for an agent id only
 * while it holds that agent's Lease as committed at the API server. Acting means starting a command
 * (`agent.execute`) or completing one, which is when the platform changes (`agent.executed`): a
 * handler still running when its replica lost the lease acts without it. The routing side (one
 * agent id held by one live connection after recovery) is part of `bounded-recovery`'s health check.
 */
export const noSplitBrain: Monitor<ClusterView> = {
  id: 'no-split-brain',
  definition:
    'Every command a replica starts (agent.execute) or completes (agent.executed, when the platform changes) is started or completed while that replica holds the agent\'s Lease, '
    + 'as committed at the Kubernetes API server; acting after another replica acquired the lease, or after it was released, is split brain.',
  kinds: ['agent.execute', 'agent.executed'],
  onEvent(e: TraceEvent, view: ClusterView): Violation | null {
    const started = events.details(e, 'agent.execute');
    const d = started ?? events.details(e, 'agent.executed');
    if (d === undefined) return null;
    const command = d.command;
    const start = view.commands.get(command)?.executions.findLast((x) => x.replica === e.p);
    const lease = started !== undefined ? started.lease : start === undefined ? null : leaseOf(view, start.agentId);
    if (lease === null) return null; // no HA: nothing to judge
    const held = view.leases.get(lease);
    if (held !== undefined && held.holder === e.p) return null;
    const who = held === undefined ? 'no lease exists' : held.holder === '' ? 'the lease was released' : `${held.holder} holds the lease (transitions ${held.transitions})`;
    const verb = e.k === 'agent.execute' ? 'started' : 'completed';
    return {
      invariant: this.id,
      time: e.t,
      message: `${e.p} ${verb} ${command} for ${d.agent} but ${who}`,
      evidence: [e],
    };
  },
};

function leaseOf(view: ClusterView, agentId: string): string | null {
  const name = leaseName(agentId);
  return view.leases.has(name) ? name : null;
}
