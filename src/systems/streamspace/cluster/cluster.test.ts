import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { StreamSpaceCluster } from './cluster.ts';

function events(cluster: StreamSpaceCluster, kind: string): TraceEvent[] {
  return cluster.sim.trace.events.filter((e) => e.k === kind);
}

/**
 * Fault-free runs of the default topology (seed report 000's deployment: 2 API pods with the
 * Redis-backed hub, 3 k8s-agent replicas with HA on one shared agent id, Redis, PostgreSQL).
 */
describe('StreamSpace cluster, fault-free', () => {
  // Light load: one request every 3 min on average, stop_session-heavy, so agent handlers never overlap.
  const light = {
    workload: { requestIntervalUs: 90 * SECOND, createFraction: 0.5, startUs: 1 * MINUTE },
    agent: { startSessionUs: [5 * SECOND, 20 * SECOND] as const },
  };

  test('10 minutes at light load: one leader, every accepted command completes', () => {
    const cluster = new StreamSpaceCluster({ seed: 11, config: light, simulation: { trace: { keepEvents: true } } });
    const r = cluster.sim.run({ until: 10 * MINUTE });
    expect(r.status).toBe('until-reached');

    const acquired = events(cluster, 'elector.acquired');
    expect(acquired).toHaveLength(1);
    const leader = acquired[0]!.p;
    expect(cluster.leases.get(`streamspace-agent-${cluster.config.topology.sharedAgentId}`)?.holderIdentity).toBe(leader);

    const accepted = events(cluster, 'api.command-accepted').map((e) => e.d!['command']);
    expect(accepted.length).toBeGreaterThanOrEqual(3);
    const rows = new Map(cluster.postgres.allCommands().map((row) => [row.commandId, row.status]));
    // Commands accepted in the last 2 minutes may still be running; every earlier one completed.
    const settled = events(cluster, 'api.command-accepted').filter((e) => e.t < 8 * MINUTE).map((e) => e.d!['command'] as string);
    for (const id of settled) expect([id, rows.get(id)]).toEqual([id, 'completed']);
    // Every execution was by the one leader, once per command.
    const executed = events(cluster, 'agent.execute');
    expect(new Set(executed.map((e) => e.p))).toEqual(new Set([leader]));
    expect(new Set(executed.map((e) => e.d!['command'])).size).toBe(executed.length);
  });

  test('cross-pod routing (seed report 003): a command created on the pod without the agent goes through Redis to the pod that has it', () => {
    const cluster = new StreamSpaceCluster({ seed: 11, config: light, simulation: { trace: { keepEvents: true } } });
    cluster.sim.run({ until: 10 * MINUTE });
    const published = events(cluster, 'hub.send').find((e) => e.d!['path'] === 'publish');
    expect(published, 'no command was routed through Redis').toBeDefined();
    const id = published!.d!['command'];
    const origin = published!.p;
    const target = published!.d!['pod'];
    expect(target).not.toBe(origin);
    const steps = cluster.sim.trace.events
      .filter((e) => (e.d?.['command'] === id || (e.d?.['commands'] as unknown[] | undefined)?.includes(id)) && ['api.command-accepted', 'dispatcher.queued', 'hub.send', 'listener.forward', 'ws.frame-out', 'agent.execute', 'db.command.status'].includes(e.k))
      .map((e) => `${e.p === origin ? 'origin' : e.p === target ? 'target' : e.k.startsWith('db.') ? 'postgres' : 'agent'}:${e.k}${e.k === 'db.command.status' ? `:${e.d!['to']}` : ''}`);
    // 003's flow: the origin pod has no local connection, looks up agent:<id>:pod and publishes on
    // the target's channel; the target's listener forwards to the agent's Send; the agent acks, runs
    // and completes. The PUBLISH reply (when `hub.send` is recorded at the origin, and `sent` is
    // written after it) races with delivery: the agent may start before `sent` is written, which is
    // the window in which `sent` can overwrite `ack` (§5.4). So the test checks causal order only.
    const at = (step: string): number => {
      const i = steps.indexOf(step);
      expect(i, `${step} missing from ${steps.join(', ')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const chain = ['origin:api.command-accepted', 'origin:dispatcher.queued', 'target:listener.forward', 'target:ws.frame-out', 'agent:agent.execute', 'postgres:db.command.status:completed'];
    for (let i = 1; i < chain.length; i++) expect(at(chain[i - 1]!)).toBeLessThan(at(chain[i]!));
    expect(at('origin:hub.send')).toBeLessThan(at('postgres:db.command.status:sent'));
    expect(at('agent:agent.execute')).toBeLessThan(at('postgres:db.command.status:ack'));
    expect(steps).toHaveLength(9);
    expect(cluster.sim.trace.events.some((e) => e.k === 'redis.publish' && e.d!['channel'] === `pod:${target}:commands` && e.d!['receivers'] === 1)).toBe(true);
  });
});

/**
 * Node failures as the node lifecycle controller handles them (real-world §5.2 facts 2-4): NotReady
 * takes a failed node's pods out of the endpoints after `nodeNotReadyUs`, eviction deletes and
 * replaces them after `podEvictionUs`, and both belong to one failure.
 */
describe('StreamSpace cluster, node failures', () => {
  const quiet = { workload: { requestIntervalUs: 0 } };
  /** api-0's node, in the packed placement: api-0 is the first pod placed. */
  const nodeOf = (cluster: StreamSpaceCluster, pod: string): string => cluster.podNode(pod);

  test('a node that recovers before its eviction deadline and fails again is evicted 300 s after the second failure, not the first', () => {
    const cluster = new StreamSpaceCluster({ seed: 3, config: quiet, simulation: { trace: { keepEvents: true } } });
    const node = nodeOf(cluster, 'api-0');
    const k = cluster.config.kubernetes;
    cluster.sim.run({ until: 1 * MINUTE });
    cluster.failNode(node);
    cluster.sim.run({ until: 1 * MINUTE + 2 * MINUTE });
    cluster.recoverNode(node);
    cluster.sim.run({ until: 4 * MINUTE });
    const second = cluster.sim.now;
    cluster.failNode(node);
    cluster.sim.run({ until: second + k.podEvictionUs + 10 * SECOND });
    const evictions = events(cluster, 'k8s.evict').filter((e) => e.d!['node'] === node);
    expect(evictions.length).toBeGreaterThan(0);
    for (const e of evictions) expect(e.t).toBe(second + k.podEvictionUs);
    // NotReady of the first failure came once, 40 s in; the second failure's once, 40 s after it.
    expect(events(cluster, 'k8s.node-not-ready').filter((e) => e.d!['node'] === node).map((e) => e.t))
      .toEqual([1 * MINUTE + k.nodeNotReadyUs, second + k.nodeNotReadyUs]);
  });

  test('an evicted API pod is out of the endpoints for good, and its replacement joins them once Ready', () => {
    const cluster = new StreamSpaceCluster({ seed: 3, config: quiet, simulation: { trace: { keepEvents: true } } });
    const node = nodeOf(cluster, 'api-0');
    const k = cluster.config.kubernetes;
    cluster.sim.run({ until: 1 * MINUTE });
    cluster.failNode(node);
    cluster.sim.run({ until: 1 * MINUTE + k.podEvictionUs + 2 * MINUTE });
    expect(events(cluster, 'k8s.evict').map((e) => e.d!['pod'])).toContain('api-0');
    // The node comes back with api-0's container still on it: the pod was deleted, so it stays out.
    cluster.recoverNode(node);
    cluster.sim.run({ until: cluster.sim.now + 2 * MINUTE });
    expect(cluster.endpoints.endpoints).not.toContain('api-0');
    expect(cluster.apiPods).not.toContain('api-0');
    expect(cluster.endpoints.endpoints).toEqual(cluster.apiPods);
  });
});

describe('StatefulSet PostgreSQL on a failed node (seeds-001-004 §2 "Model correction", real-world §5.2.6)', () => {
  test('is not replaced after the eviction timeout: it stays down until its node is back, then runs there with its rows', () => {
    const cluster = new StreamSpaceCluster({ seed: 5, simulation: { trace: { keepEvents: true } } });
    cluster.sim.run({ until: 1 * MINUTE });
    const node = cluster.sim.process('postgres').node.name;
    const rowsBefore = cluster.postgres.allCommands().length;
    cluster.failNode(node);
    cluster.sim.run({ until: 1 * MINUTE + cluster.config.kubernetes.podEvictionUs + 2 * MINUTE });
    expect(events(cluster, 'k8s.evict-stuck').map((e) => e.d!['pod'])).toEqual(['postgres']);
    expect(events(cluster, 'k8s.evict').map((e) => e.d!['pod'])).not.toContain('postgres');
    expect(cluster.sim.process('postgres').alive).toBe(false);
    expect(cluster.sim.process('postgres').node.name).toBe(node);
    cluster.recoverNode(node);
    cluster.sim.run({ until: cluster.sim.now + 1 * SECOND });
    expect(cluster.sim.process('postgres').alive).toBe(true);
    expect(cluster.postgres.allCommands().length).toBeGreaterThanOrEqual(rowsBefore);
  });
});
