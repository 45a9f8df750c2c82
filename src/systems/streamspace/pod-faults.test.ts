import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND, type TraceEvent } from '../../sim-cluster/index.ts';
import type { FaultRecord } from '../../faults/fault-kind.ts';
import { caseOf, execute, runCase } from '../../harness/run-case.ts';
import { resolveSeed } from '../../harness/seeded-case.ts';
import { streamspace } from '../index.ts';
import { StreamSpaceCluster } from './cluster/cluster.ts';
import { leaseName, type ConfigOverrides } from './config.ts';
import { resolveTarget } from './faults.ts';
import { unhealthyBecause } from './invariants/bounded-recovery.ts';
import { ClusterView } from './invariants/cluster-view.ts';

/** Light load, so that runs are short and commands never overlap. */
const LIGHT: ConfigOverrides = { workload: { requestIntervalUs: 60 * SECOND, createFraction: 0.5, startUs: 1 * MINUTE } };
const SPREAD: ConfigOverrides = { ...LIGHT, topology: { placement: 'one-per-node', workerNodes: 7 } };

/** A case of hand-written faults, with a probe of process reachability at `probeAt`. */
function run(overrides: ConfigOverrides, schedule: FaultRecord[], probeAt: number, pairs: Array<[string, string]>) {
  const seen: boolean[] = [];
  const c = caseOf(streamspace, 'hardened', 5, schedule, { overrides });
  const x = execute(streamspace, c, {
    keepEvents: true,
    actions: [{ at: probeAt, what: 'look at the network', run: (cluster) => void seen.push(...pairs.map(([a, b]) => cluster.sim.network.canReach(cluster.sim.process(a), cluster.sim.process(b)))) }],
  });
  return { verdict: x.verdict, cluster: x.instance, reachable: seen, events: x.verdict.events! };
}

const of = (events: readonly TraceEvent[], kind: string): TraceEvent[] => events.filter((e) => e.k === kind);

describe('placement', () => {
  test('packed puts pods round robin on three nodes; one-per-node gives each pod a node of its own', () => {
    const packed = new StreamSpaceCluster({ seed: 1, config: LIGHT });
    const spread = new StreamSpaceCluster({ seed: 1, config: SPREAD });
    const pods = ['api-0', 'api-1', 'agent-0', 'agent-1', 'agent-2', 'redis', 'postgres'];
    expect(pods.map((p) => packed.podNode(p))).toEqual(['node-1', 'node-2', 'node-3', 'node-1', 'node-2', 'node-3', 'node-1']);
    expect(new Set(pods.map((p) => spread.podNode(p))).size).toBe(pods.length);
  });

  test('with one pod per node, a replacement pod goes to a live node with no other live pod', () => {
    const spread = new StreamSpaceCluster({ seed: 1, config: { ...SPREAD, topology: { placement: 'one-per-node', workerNodes: 8 } } });
    spread.sim.run({ until: 1 * MINUTE });
    spread.failNode('node-8');
    spread.deletePod('agent-0');
    const node = spread.podNode('agent-3');
    expect(node).not.toBe('node-8');
    expect([...spread.apiPods, ...spread.agentPods, 'redis', 'postgres'].filter((p) => spread.podNode(p) === node)).toEqual(['agent-3']);
  });
});

describe('pod-level network faults', () => {
  // Packed on three nodes: api-0, agent-1 and postgres share node-1.
  test('isolate cuts every pod of the node; pod-isolate cuts that pod alone, its node-mates keep their links', () => {
    const pairs: Array<[string, string]> = [['api-0', 'redis'], ['agent-1', 'kube-api'], ['postgres', 'api-1']];
    const node = run(LIGHT, [{ kind: 'isolate', at: 150 * SECOND, target: { role: 'api', index: 0 }, durationUs: 30 * SECOND }], 160 * SECOND, pairs);
    expect(node.reachable).toEqual([false, false, false]);
    const pod = run(LIGHT, [{ kind: 'pod-isolate', at: 150 * SECOND, target: { role: 'api', index: 0 }, durationUs: 30 * SECOND }], 160 * SECOND, pairs);
    expect(pod.reachable).toEqual([false, true, true]);
    expect(of(pod.events, 'fault.pod-isolate').map((e) => e.d)).toEqual([{ process: 'api-0', durationUs: 30 * SECOND }]);
    expect(of(pod.events, 'net.process-isolate').map((e) => [e.t, e.d])).toEqual([[150 * SECOND, { p: 'api-0' }]]);
  });

  test('with one pod per node, isolating the node of a pod and cutting the pod off hit the same pod only', () => {
    const pairs: Array<[string, string]> = [['api-0', 'redis'], ['agent-1', 'kube-api'], ['postgres', 'api-1']];
    for (const kind of ['isolate', 'pod-isolate'] as const) {
      const r = run(SPREAD, [{ kind, at: 150 * SECOND, target: { role: 'api', index: 0 }, durationUs: 30 * SECOND }], 160 * SECOND, pairs);
      expect(r.reachable, kind).toEqual([false, true, true]);
    }
  });

  test('a one-way pod partition from the leader to the API server costs it the Lease (it cannot renew) and another replica takes over; nothing else is cut', () => {
    const schedule: FaultRecord[] = [{ kind: 'pod-partition', at: 150 * SECOND, from: { role: 'leader' }, to: { role: 'kube-api' }, oneWay: true, durationUs: 60 * SECOND }];
    const r = run(LIGHT, schedule, 160 * SECOND, [['api-0', 'kube-api'], ['kube-api', 'api-0']]);
    const fault = of(r.events, 'fault.pod-partition')[0]!;
    const leader = fault.d!['from'] as string;
    expect(fault.d).toMatchObject({ to: 'kube-api', oneWay: true });
    expect(r.reachable).toEqual([true, true]);
    const stopped = of(r.events, 'elector.stopped-leading').find((e) => e.p === leader && e.t > 150 * SECOND);
    expect(stopped, 'the cut-off leader stops leading').toBeDefined();
    const next = of(r.events, 'elector.acquired').find((e) => e.t > 150 * SECOND);
    expect(next?.p).not.toBe(leader);
    expect(next!.t).toBeLessThan(210 * SECOND);
    expect(r.verdict.outcome).toBe('pass');
  });

  test('the heal removes pod cuts like node partitions', () => {
    const schedule: FaultRecord[] = [
      { kind: 'pod-partition', at: 150 * SECOND, from: { role: 'agent-host' }, to: { role: 'redis' }, oneWay: false, durationUs: 600 * SECOND },
      { kind: 'crash', at: 160 * SECOND, target: { role: 'postgres' } },
    ];
    // The window would outlast the run's probe at 160 s, but the heal is at the window's end: look just after it.
    const r = run(LIGHT, schedule, 750 * SECOND + 1, [['api-0', 'redis'], ['api-1', 'redis']]);
    expect(r.reachable).toEqual([true, true]);
    expect(r.verdict.outcome).toBe('pass');
  });
});

describe('several agent ids', () => {
  const HA: ConfigOverrides = { ...LIGHT, topology: { agentIdMode: 'per-pod', agentReplicas: 3, agentHa: true } };

  test('leader and agent-host reach every agent id, not only the first', () => {
    const cluster = new StreamSpaceCluster({ seed: 3, config: HA });
    const view = new ClusterView();
    cluster.sim.trace.subscribe((e) => view.apply(e));
    cluster.sim.run({ until: 2 * MINUTE });
    expect(cluster.agentIds()).toHaveLength(3);
    const leaders = new Set(Array.from({ length: 40 }, () => resolveTarget(cluster, view, { role: 'leader' })));
    expect(leaders).toEqual(new Set(cluster.agentPods));
    for (const id of cluster.agentIds()) expect(view.holderOf(leaseName(id))).toBe(cluster.agentPods.find((p) => cluster.agentIdOf(p) === id));
    const hosts = new Set(Array.from({ length: 40 }, () => resolveTarget(cluster, view, { role: 'agent-host' })));
    for (const h of hosts) expect(cluster.apiPods).toContain(h);
  });

  test('recovery is judged for every agent id: one replica down that is not the first is unhealthy', () => {
    const cluster = new StreamSpaceCluster({ seed: 3, config: HA });
    const view = new ClusterView();
    cluster.sim.trace.subscribe((e) => view.apply(e));
    cluster.sim.run({ until: 2 * MINUTE });
    expect(unhealthyBecause(cluster, view)).toBeNull();
    cluster.sim.exit('agent-2');
    expect(unhealthyBecause(cluster, view)).toBe(`agent ${cluster.agentIdOf('agent-2')}: 0 replicas lead`);
  });

  test('the recovery probe sends a command for every agent id through every ready API pod', () => {
    const { resolved } = resolveSeed(streamspace, { profile: 'hardened', deployment: 'helm-chart-ha', config: LIGHT, kinds: [] }, 0);
    const v = runCase(streamspace, { profile: 'hardened', fixes: resolved.fixes, config: resolved.config, seed: 4, schedule: [] }, { keepEvents: true });
    expect(v.outcome).toBe('pass');
    const healthy = v.events!.find((e) => e.k === 'recovery.healthy')!;
    expect(healthy.d!['probes']).toBe(3 * 2);
  });
});
