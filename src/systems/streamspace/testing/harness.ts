import type { Micros, TraceEvent } from '../../../sim-cluster/index.ts';
import { INGRESS_NODE, type StreamSpaceCluster } from '../cluster/cluster.ts';
import { connectedKey, podKey } from '../api-pod/agent-hub.ts';
import { RpcClient } from '../net/rpc.ts';
import type { HttpRequest, HttpResponse } from '../wire.ts';

/**
 * Helpers for the behaviour tests of the StreamSpace model: trace queries, scripted user requests
 * to a chosen API pod, and Redis key inspection. Nothing here changes the model's behaviour; a
 * scripted request is what a user (or an admin tool) would send through a pod's address.
 */

/** Kept trace events of one kind, optionally filtered. */
export function events(cluster: StreamSpaceCluster, kind: string, where: (e: TraceEvent) => boolean = () => true): TraceEvent[] {
  return cluster.sim.trace.events.filter((e) => e.k === kind && where(e));
}

/** A detail field of an event. */
export function d<T = unknown>(e: TraceEvent, field: string): T {
  return e.d?.[field] as T;
}

/** Events of one kind concerning one command (field `command`, or listed in `commands`). */
export function commandEvents(cluster: StreamSpaceCluster, kind: string, commandId: string): TraceEvent[] {
  return events(cluster, kind, (e) => e.d?.['command'] === commandId || ((e.d?.['commands'] as unknown[] | undefined)?.includes(commandId) ?? false));
}

/** The status transitions the database committed for one command, in commit order. */
export function statusHistory(cluster: StreamSpaceCluster, commandId: string): string[] {
  return events(cluster, 'db.command.status', (e) => e.d?.['command'] === commandId).map((e) => `${d(e, 'from')}->${d(e, 'to')}`);
}

/** Scripted requests per cluster, so process names (and the trace) do not depend on test order. */
const requestCounters = new WeakMap<StreamSpaceCluster, number>();

/**
 * Sends one HTTP request to a chosen API pod at true time `at`, from a fresh process on the ingress
 * node (one request per connection, like the workload). The answer is recorded as
 * `test.response` {request, pod, status}.
 */
export function requestAt(cluster: StreamSpaceCluster, at: Micros, pod: string | (() => string), request: HttpRequest): void {
  const n = requestCounters.get(cluster) ?? 0;
  requestCounters.set(cluster, n + 1);
  const name = `tester-${n}`;
  cluster.sim.at(at, () => {
    const target = typeof pod === 'string' ? pod : pod();
    cluster.sim.addProcess({
      name,
      node: INGRESS_NODE,
      boot: (ctx) => {
        ctx.record('test.request', { ...request, pod: target });
        const client = new RpcClient(ctx, { target, connectTimeoutUs: 30_000_000, requestTimeoutUs: 30_000_000, timeoutIncludesDial: true });
        client.call<HttpResponse>(request, (r) => {
          client.close();
          ctx.record('test.response', { request: 'requestId' in request ? request.requestId : request.op, pod: target, status: r.ok ? r.value.status : 0 });
        });
        return {};
      },
    });
  }, `request ${name}`);
}

/** A create-session (start_session) request for `agentId`, with command id `commandId`. */
export function createSession(commandId: string, agentId: string, sessionId = `session-${commandId}`): HttpRequest {
  return { op: 'create-session', requestId: commandId, agentId, sessionId };
}

/** A delete-session (stop_session) request. */
export function deleteSession(commandId: string, agentId: string, sessionId: string): HttpRequest {
  return { op: 'delete-session', requestId: commandId, agentId, sessionId };
}

/** The two hub keys of an agent as Redis holds them now (value and absolute deadline in ms), or undefined. */
export function hubKeys(cluster: StreamSpaceCluster, agentId: string): {
  pod: { value: string; expiresAtMs: number | undefined } | undefined;
  connected: { value: string; expiresAtMs: number | undefined } | undefined;
} {
  const live = cluster.redis.live;
  if (live === null) return { pod: undefined, connected: undefined };
  const now = redisNow(cluster);
  return { pod: live.peek(now, podKey(agentId)), connected: live.peek(now, connectedKey(agentId)) };
}

/** The Redis node's wall clock (the clock its TTLs run on). */
export function redisNow(cluster: StreamSpaceCluster): Micros {
  return cluster.sim.node(cluster.podNode('redis')).clock.wall(cluster.sim.now);
}

/** The API pod whose hub holds the agent's connection now (last register not followed by an unregister there). */
export function holderOf(cluster: StreamSpaceCluster, agentId: string): string | null {
  const holders = new Map<string, boolean>();
  for (const e of cluster.sim.trace.events) {
    if (e.d?.['agent'] !== agentId) continue;
    if (e.k === 'hub.register') holders.set(e.p, true);
    else if (e.k === 'hub.unregister') holders.set(e.p, false);
  }
  const live = [...holders].filter(([pod, held]) => held && cluster.sim.process(pod).alive).map(([pod]) => pod);
  return live.at(-1) ?? null;
}
