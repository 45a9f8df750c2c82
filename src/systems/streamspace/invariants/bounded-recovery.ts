import { formatTime, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { leaseName, type StreamSpaceConfig } from '../config.ts';
import { INGRESS_NODE, REDIS, type StreamSpaceCluster } from '../cluster/cluster.ts';
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

/** Why the cluster is not healthy right now, or null if it is (structurally). */
export function unhealthyBecause(cluster: StreamSpaceCluster, view: ClusterView): string | null {
  const agentId = cluster.agentIds()[0]!;
  const lease = leaseName(agentId);
  const leaders = [...view.leading.keys()].filter((r) => view.alive.has(r));
  if (cluster.config.topology.agentHa) {
    if (leaders.length !== 1) return `${leaders.length} replicas lead`;
    if (view.holderOf(lease) !== leaders[0]) return `the lease is held by ${view.holderOf(lease) ?? 'nobody alive'}, not by the leading ${leaders[0]}`;
  }
  const agent = cluster.config.topology.agentHa ? leaders[0]! : cluster.agentPods[0]!;
  const conn = view.agentConnections.get(agent);
  if (conn === undefined || !view.alive.has(conn.pod)) return `the agent ${agent} has no connection to a live API pod`;
  if (view.hubs.get(conn.pod)?.get(agentId) !== conn.conn) return `${conn.pod}'s hub does not hold the agent's connection ${conn.conn}`;
  for (const [pod, hub] of view.hubs) {
    if (pod !== conn.pod && view.alive.has(pod) && hub.has(agentId)) return `${pod} also holds a connection for the agent (${hub.get(agentId)})`;
  }
  if (cluster.config.api.redisEnabled) {
    const redisNode = cluster.sim.process(REDIS).node;
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
 * structurally healthy, issues a probe command on every ready API pod (admin `POST
 * /agents/:id/command`, a real producer, §5.2) and counts recovery when every probe reaches the
 * agent's socket (`ws.frame-out`). Records `recovery.healthy` with the measured recovery time.
 */
export function startRecoveryProber(cluster: StreamSpaceCluster, view: ClusterView, healAt: Micros, options: ProberOptions = {}): void {
  const every = options.checkEveryUs ?? SECOND;
  const probeTimeout = options.probeTimeoutUs ?? 10 * SECOND;
  const { sim } = cluster;
  const agentId = cluster.agentIds()[0]!;
  let round = 0;
  let delivered = new Set<string>();
  let waiting = new Set<string>();
  let target = '';
  sim.trace.subscribe((e) => {
    const frame = events.details(e, 'ws.frame-out');
    if (frame === undefined || frame.conn !== target) return;
    for (const id of frame.commands) if (waiting.has(id)) delivered.add(id);
  });
  sim.addProcess({ name: 'prober', node: INGRESS_NODE, boot: () => ({}) });

  const check = (): void => {
    if (unhealthyBecause(cluster, view) !== null) return void sim.after(every, check, 'recovery.check');
    const ctx = sim.process('prober').ctx!;
    // Only a probe written to the agent's current connection counts as delivered.
    target = currentConnection(cluster, view) ?? '';
    round++;
    delivered = new Set();
    waiting = new Set();
    for (const pod of cluster.endpoints.endpoints) {
      const id = `${PROBE_PREFIX}${round}-${pod}`;
      waiting.add(id);
      const client = new RpcClient(ctx, { target: pod, requestTimeoutUs: probeTimeout, connectTimeoutUs: probeTimeout, timeoutIncludesDial: true });
      client.call<HttpResponse>({ op: 'admin-command', agentId, action: 'probe', requestId: id } satisfies HttpRequest, () => client.close());
    }
    const started = sim.now;
    const await_ = (): void => {
      if ([...waiting].every((id) => delivered.has(id))) {
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

function currentConnection(cluster: StreamSpaceCluster, view: ClusterView): string | null {
  const agent = cluster.config.topology.agentHa ? [...view.leading.keys()].find((r) => view.alive.has(r)) : cluster.agentPods[0];
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
    'After the last fault heals at H, by H + B (B derived from the configuration, its terms printed) there is exactly one leader holding the lease, '
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
