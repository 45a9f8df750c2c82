import { formatTime, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { leaseName, type StreamSpaceConfig } from '../config.ts';
import { INGRESS_NODE, type StreamSpaceCluster } from '../cluster/cluster.ts';
import { RpcClient } from '../net/rpc.ts';
import type { HttpRequest, HttpResponse } from '../wire.ts';
import type { ClusterView } from './cluster-view.ts';
import type { BoundTerm, Monitor, RunWindow, Violation } from '../../../invariants/monitor.ts';
import { PROBE_PREFIX } from './no-lost-commands.ts';
import { events } from '../events.ts';

/**
 * The recovery bound B after the last fault heals, from the configuration (real-world §1.6, §6.1,
 * §7): the worst case chains a leader election, the agent noticing a dead connection (only while
 * it reads, so after the longest command), a full reconnect step and its timeouts, and the server
 * sweeping the stale entry of the old connection.
 */
export function recoveryBound(config: StreamSpaceConfig): BoundTerm[] {
  const e = config.election;
  const a = config.agent;
  const h = config.api.hub;
  const backoffCap = Math.max(...a.reconnectBackoffUs);
  return [
    { what: 'lease expiry and takeover: leaseDuration + 2 x retryPeriod x (1 + jitter)', us: e.leaseDurationUs + Math.ceil(2 * e.retryPeriodUs * (1 + e.jitterFactor)) },
    { what: 'longest command the agent runs without reading (start_session max)', us: a.startSessionUs[1] },
    { what: 'agent read deadline (pongWait)', us: a.pongWaitUs },
    { what: 'reconnect backoff cap', us: backoffCap },
    { what: 'registration + dial timeouts', us: a.registerTimeoutUs + a.dialTimeoutUs },
    { what: 'stale threshold + sweep period', us: h.staleThresholdUs + h.staleSweepUs },
  ];
}

/**
 * Why the cluster is not healthy right now, or null if it is (structurally). Every agent id in use
 * is judged (one with a shared id; one per agent pod with per-pod ids), each on its own Lease,
 * replicas, connection and Redis keys; the message names the id when there are several.
 */
export function unhealthyBecause(cluster: StreamSpaceCluster, view: ClusterView): string | null {
  const ids = cluster.agentIds();
  for (const agentId of ids) {
    const why = agentUnhealthyBecause(cluster, view, agentId);
    if (why !== null) return ids.length === 1 ? why : `agent ${agentId}: ${why}`;
  }
  return null;
}

/** The replica that acts for an agent id now: its leading live replica with HA, else its first pod. */
function actingReplica(cluster: StreamSpaceCluster, view: ClusterView, agentId: string): string | undefined {
  if (cluster.config.topology.agentHa) return [...view.leading.keys()].find((r) => view.alive.has(r) && cluster.agentIdOf(r) === agentId);
  return cluster.agentPods.find((p) => cluster.agentIdOf(p) === agentId);
}

function agentUnhealthyBecause(cluster: StreamSpaceCluster, view: ClusterView, agentId: string): string | null {
  const lease = leaseName(agentId);
  const leaders = [...view.leading.keys()].filter((r) => view.alive.has(r) && cluster.agentIdOf(r) === agentId);
  if (cluster.config.topology.agentHa) {
    if (leaders.length !== 1) return `${leaders.length} replicas lead`;
    if (view.holderOf(lease) !== leaders[0]) return `the lease is held by ${view.holderOf(lease) ?? 'nobody alive'}, not by the leading ${leaders[0]}`;
  }
  const agent = actingReplica(cluster, view, agentId);
  if (agent === undefined) return 'no agent pod runs it';
  const conn = view.agentConnections.get(agent);
  if (conn === undefined || !view.alive.has(conn.pod)) return `the agent ${agent} has no connection to a live API pod`;
  if (view.hubs.get(conn.pod)?.get(agentId) !== conn.conn) return `${conn.pod}'s hub does not hold the agent's connection ${conn.conn}`;
  for (const [pod, hub] of view.hubs) {
    if (pod !== conn.pod && view.alive.has(pod) && hub.has(agentId)) return `${pod} also holds a connection for the agent (${hub.get(agentId)})`;
  }
  if (cluster.config.api.redisEnabled) {
    const redisNode = cluster.sim.process(cluster.redisMaster).node;
    const now = redisNode.clock.wall(cluster.sim.now);
    const mapped = cluster.redis.live?.peek(now, `agent:${agentId}:pod`)?.value ?? null;
    if (mapped !== conn.pod) return `Redis maps the agent to ${mapped ?? 'nothing'}, not ${conn.pod}`;
    if (cluster.redis.live?.peek(now, `agent:${agentId}:connected`)?.value !== 'true') return 'Redis does not say the agent is connected';
  }
  return null;
}

export interface ProberOptions {
  /** How often health is evaluated after the heal. Default 1 s. */
  checkEveryUs?: Micros;
  /** How long a probe round may take before it counts as failed. Default 10 s. */
  probeTimeoutUs?: Micros;
}

/**
 * Drives the recovery check after the heal: evaluates the cluster's health every second; once it is
 * structurally healthy, issues a probe command for every agent id on every ready API pod (admin
 * `POST /agents/:id/command`, a real producer, §5.2) and counts recovery when every probe reaches
 * its agent's socket (`ws.frame-out` on that agent's current connection). Records
 * `recovery.healthy` with the measured recovery time.
 */
export function startRecoveryProber(cluster: StreamSpaceCluster, view: ClusterView, healAt: Micros, options: ProberOptions = {}): void {
  const every = options.checkEveryUs ?? SECOND;
  const probeTimeout = options.probeTimeoutUs ?? 10 * SECOND;
  const { sim } = cluster;
  let round = 0;
  let delivered = new Set<string>();
  /** Probe id → the connection it must be written to (its agent's current one). */
  let waiting = new Map<string, string>();
  sim.trace.subscribe((e) => {
    const frame = events.details(e, 'ws.frame-out');
    if (frame === undefined) return;
    for (const id of frame.commands) if (waiting.get(id) === frame.conn) delivered.add(id);
  });
  sim.addProcess({ name: 'prober', node: INGRESS_NODE, boot: () => ({}) });

  const check = (): void => {
    if (unhealthyBecause(cluster, view) !== null) return void sim.after(every, check, 'recovery.check');
    const ctx = sim.process('prober').ctx!;
    round++;
    delivered = new Set();
    waiting = new Map();
    const ids = cluster.agentIds();
    for (const agentId of ids) {
      // Only a probe written to its agent's current connection counts as delivered.
      const target = currentConnection(cluster, view, agentId) ?? '';
      for (const pod of serviceEndpoints(cluster)) {
        // One agent id keeps the probe ids it always had; several add the id.
        const id = ids.length === 1 ? `${PROBE_PREFIX}${round}-${pod}` : `${PROBE_PREFIX}${round}-${pod}-${agentId}`;
        waiting.set(id, target);
        const client = new RpcClient(ctx, { target: pod, requestTimeoutUs: probeTimeout, connectTimeoutUs: probeTimeout, timeoutIncludesDial: true });
        client.call<HttpResponse>({ op: 'admin-command', agentId, action: 'probe', requestId: id } satisfies HttpRequest, () => client.close());
      }
    }
    const started = sim.now;
    const await_ = (): void => {
      if ([...waiting.keys()].every((id) => delivered.has(id))) {
        sim.trace.record(sim.now, 'checker', 'recovery.healthy', { afterUs: started - healAt, probes: waiting.size });
        return;
      }
      if (sim.now - started >= probeTimeout) return void sim.after(every, check, 'recovery.check');
      sim.after(every / 10, await_, 'recovery.await');
    };
    sim.after(every / 10, await_, 'recovery.await');
  };
  sim.at(healAt, check, 'recovery.check');
}

/**
 * The API pods a client reaches through the API Service: the pods of the Deployment that still
 * exist and are Ready. The endpoints controller lists only those (real-world §5.1 fact 2: a pod
 * being deleted leaves the endpoints at once, and its replacement is created meanwhile; §5.2
 * facts 3-4: a failed node's pods are marked NotReady, then evicted, i.e. deleted). An evicted or
 * deleted pod is never probed, even while the model's endpoint set (`cluster.endpoints`) still
 * names it: its process is gone for good and no client can reach it, so a probe "issued" on it
 * could never be delivered. A Ready endpoint whose process died (node failure before NotReady) is
 * still probed: clients are routed to it, and the probe waits until it leaves the endpoints.
 */
export function serviceEndpoints(cluster: StreamSpaceCluster): string[] {
  const existing = new Set(cluster.apiPods);
  return cluster.endpoints.endpoints.filter((pod) => existing.has(pod));
}

function currentConnection(cluster: StreamSpaceCluster, view: ClusterView, agentId: string): string | null {
  const agent = actingReplica(cluster, view, agentId);
  return agent === undefined ? null : view.agentConnections.get(agent)?.conn ?? null;
}

/**
 * After the last fault heals at H, the cluster is healthy by H + B: exactly one leader holding the
 * lease, its agent connected to a live API pod whose hub holds that connection, Redis mapping the
 * agent to that pod, and a probe command issued on every ready API pod delivered to the agent.
 */
export const boundedRecovery: Monitor<ClusterView> = {
  id: 'bounded-recovery',
  definition:
    'After the last fault heals at H, by H + B (B derived from the configuration, its terms printed), for every agent id in use: exactly one leader holding its lease (with HA), '
    + 'connected to a live API pod whose hub holds the connection and no other live pod holds one for the agent (one agent id, one routed connection), '
    + 'Redis maps the agent to that pod, and a probe command issued on every ready API pod is delivered on that connection.',
  atEnd(view: ClusterView, window: RunWindow): Violation | null {
    const healthy = view.recoveredAt;
    if (healthy !== null && healthy - window.healAt <= window.boundUs) return null;
    return {
      invariant: this.id,
      time: window.healAt + window.boundUs,
      message: healthy === null
        ? `not healthy ${formatTime(window.endAt - window.healAt)} after the heal (bound ${formatTime(window.boundUs)}): ${view.lastUnhealthy ?? 'probes not delivered'}`
        : `healthy only ${formatTime(healthy - window.healAt)} after the heal (bound ${formatTime(window.boundUs)})`,
      evidence: [],
    };
  },
};
