import type { StreamSpaceCluster } from '../cluster/cluster.ts';
import { leaseName } from '../config.ts';
import { REDIS } from '../cluster/cluster.ts';
import type { ClusterView } from '../invariants/cluster-view.ts';
import { serviceEndpoints } from '../invariants/bounded-recovery.ts';

/** The routing facts one sample reads, all judged at the same instant. */
export interface RoutingSample {
  /** A command issued on every ready API pod would be delivered to the agent now. */
  available: boolean;
  /** Ready API pods on which a command would be delivered, and ready pods in all. */
  deliveringPods: number;
  readyPods: number;
  /** The agent process in charge (the leader, or the only replica without HA) has a live connection its pod's hub holds. */
  connected: boolean;
  /** Redis names the agent's current pod in `agent:<id>:pod` and says `agent:<id>:connected` = true. */
  mapped: boolean;
  /** Redis says the agent is connected but names a pod that does not hold its current connection (a stale entry). */
  staleMapping: boolean;
  /** Agent replicas that believe they lead, alive. */
  leaders: number;
}

/**
 * Whether a command issued on an API pod now would reach the agent's socket, judged from the
 * trace-built view and the Redis keyspace, following SendCommandToAgent and the dispatcher's
 * IsAgentConnected check (spec §2.3, §5.3):
 * - the pod's own hub holds an entry for the agent: the local path, delivered only if that entry is
 *   the agent's current connection (a stale entry swallows the command);
 * - otherwise, only a pod in Redis mode (`api.redis-mode`, fixed at boot, §4) can route: Redis is
 *   up, `agent:<id>:connected` is "true", `agent:<id>:pod` names the pod whose hub holds the agent's
 *   current connection, and that pod is subscribed to its channel (pub/sub keeps nothing, §4).
 */
export class RoutingState {
  private readonly redisMode = new Map<string, boolean>();

  constructor(private readonly cluster: StreamSpaceCluster, private readonly view: ClusterView) {
    cluster.sim.trace.subscribe((e) => {
      if (e.k === 'api.redis-mode') this.redisMode.set(e.p, e.d!['enabled'] === true);
      else if (e.k === 'proc.start' || e.k === 'proc.crash' || e.k === 'proc.exit') this.redisMode.delete(e.p);
    });
  }

  sample(): RoutingSample {
    const { cluster, view } = this;
    const agentId = cluster.agentIds()[0]!;
    // The pods a client reaches through the Service, as the recovery probe counts them.
    const ready = serviceEndpoints(cluster);
    const leaders = [...view.leading.keys()].filter((r) => view.alive.has(r));
    const agent = cluster.config.topology.agentHa ? view.holderOf(leaseName(agentId)) : cluster.agentPods[0] ?? null;
    const conn = agent !== null && (!cluster.config.topology.agentHa || view.leading.has(agent)) ? view.agentConnections.get(agent) ?? null : null;
    // A paused pod (stop-the-world) is alive but serves nothing until it resumes.
    const serving = (pod: string): boolean => view.alive.has(pod) && cluster.sim.process(pod).status === 'up';
    const host = conn !== null && serving(conn.pod) && view.hubs.get(conn.pod)?.get(agentId) === conn.conn ? conn.pod : null;
    const mapped = host !== null && this.redisRoutesTo(agentId, host);
    const staleMapping = !mapped && this.redisNamesOtherPod(agentId, host);
    let deliveringPods = 0;
    for (const pod of ready) {
      if (!serving(pod)) continue;
      const local = view.hubs.get(pod)?.get(agentId);
      const delivers = local !== undefined
        ? host === pod && local === conn!.conn
        : host !== null && this.redisMode.get(pod) === true && mapped;
      if (delivers) deliveringPods++;
    }
    return {
      available: ready.length > 0 && deliveringPods === ready.length,
      deliveringPods, readyPods: ready.length, connected: host !== null, mapped, staleMapping, leaders: leaders.length,
    };
  }

  private redisRoutesTo(agentId: string, host: string): boolean {
    const keys = this.agentKeys(agentId);
    return keys !== null && keys.connected && keys.pod === host && this.cluster.redis.live!.subscribers(`pod:${host}:commands`).length > 0;
  }

  private redisNamesOtherPod(agentId: string, host: string | null): boolean {
    const keys = this.agentKeys(agentId);
    return keys !== null && keys.connected && keys.pod !== null && keys.pod !== host;
  }

  /** The agent's two AgentHub keys (§4) as Redis holds them now, or null while Redis is down. */
  private agentKeys(agentId: string): { connected: boolean; pod: string | null } | null {
    const keyspace = this.cluster.redis.live;
    if (keyspace === null || !this.cluster.sim.process(REDIS).alive) return null;
    const now = this.cluster.sim.process(REDIS).node.clock.wall(this.cluster.sim.now);
    return { connected: keyspace.peek(now, `agent:${agentId}:connected`)?.value === 'true', pod: keyspace.peek(now, `agent:${agentId}:pod`)?.value ?? null };
  }
}
