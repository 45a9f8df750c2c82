import type { StreamSpaceCluster } from '../cluster/cluster.ts';
import { leaseName } from '../config.ts';
import type { ClusterView } from '../invariants/cluster-view.ts';

/**
 * Who a scenario's fault hits, resolved at the fault instant from what the agent itself uses.
 * The fault applier's `agent-host` target is the first pod whose hub holds an entry for the agent,
 * which after an earlier race may be a stale entry; the reports' "API pod the agent is connected
 * to" is the pod of the connection the agent in charge is using.
 */
export function agentInCharge(cluster: StreamSpaceCluster, view: ClusterView): string | null {
  if (!cluster.config.topology.agentHa) return cluster.agentPods[0] ?? null;
  return view.holderOf(leaseName(cluster.agentIds()[0]!));
}

/** The API pod the agent in charge is connected to now, if it is alive. */
export function agentPod(cluster: StreamSpaceCluster, view: ClusterView): string | null {
  const agent = agentInCharge(cluster, view);
  const pod = agent === null ? undefined : view.agentConnections.get(agent)?.pod;
  return pod !== undefined && view.alive.has(pod) ? pod : null;
}

/** The `index`-th (modulo their number) live API pod other than the agent's, or null if there is none. */
export function otherApiPod(cluster: StreamSpaceCluster, view: ClusterView, index = 0): string | null {
  const host = agentPod(cluster, view);
  const others = cluster.apiPods.filter((p) => p !== host && view.alive.has(p));
  return others.length === 0 ? null : others[index % others.length]!;
}
