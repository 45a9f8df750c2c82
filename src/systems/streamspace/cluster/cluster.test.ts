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
