import { test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { boundTotal, type RunWindow } from '../../../invariants/monitor.ts';
import { seedArbitrary } from '../../../faults/arbitraries.ts';
import { runCase } from '../../../harness/run-case.ts';
import { caseForSeed } from '../../../harness/seeded-case.ts';
import { StreamSpaceCluster } from '../cluster/cluster.ts';
import { resolveConfig } from '../config.ts';
import { streamspace } from '../system.ts';
import { ClusterView } from './cluster-view.ts';
import { FLAP_LIMIT, noFlapping, replacementCycle } from './no-flapping.ts';
import { routingAvailability, RoutingSeries, RoutingState, type RoutingSample } from './routing-availability.ts';

const ev = (t: number, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t, p, k, d });

describe('routing availability: the routing state read from the ClusterView', () => {
  // A settled, idle cluster (seed 5): agent-0 leads and is connected to api-0 (conn c10), Redis maps
  // the agent to api-0, both API pods run the Redis hub and are ready. The events below are written
  // by hand into its view; Redis and the Service's endpoints stay as the cluster has them.
  const settled = () => {
    const cluster = new StreamSpaceCluster({ seed: 5, config: { workload: { requestIntervalUs: 0 } } });
    const view = new ClusterView();
    cluster.sim.trace.subscribe((e) => view.apply(e));
    cluster.sim.run({ until: 60 * SECOND });
    const agent = cluster.agentIds()[0]!;
    expect(view.agentConnections.get('agent-0')).toEqual({ pod: 'api-0', conn: 'c10' });
    return { view, agent, state: new RoutingState(cluster, view), t: cluster.sim.now };
  };

  test('settled: a command issued on either ready pod reaches the agent (locally on api-0, through Redis on api-1)', () => {
    const { state } = settled();
    expect(state.sample()).toMatchObject({ available: true, deliveringPods: 2, readyPods: 2, connected: true, mapped: true, staleMapping: false, leaders: 1 });
  });

  test('a stale hub entry on the other pod swallows its commands until it is unregistered', () => {
    const { view, agent, state, t } = settled();
    view.apply(ev(t, 'api-1', 'hub.register', { agent, conn: 'c3' }));
    expect(state.sample()).toMatchObject({ available: false, deliveringPods: 1, connected: true, mapped: true });
    view.apply(ev(t, 'api-1', 'hub.unregister', { agent, conn: 'c3' }));
    expect(state.sample()).toMatchObject({ available: true, deliveringPods: 2 });
  });

  test('a paused host delivers nothing, locally or through Redis, until it resumes', () => {
    const { view, state, t } = settled();
    view.apply(ev(t, 'api-0', 'proc.pause'));
    expect(state.sample()).toMatchObject({ available: false, deliveringPods: 0, connected: false, mapped: false });
    view.apply(ev(t, 'api-0', 'proc.resume', { deferred: 0 }));
    expect(state.sample()).toMatchObject({ available: true });
  });

  test('a pod without the Redis hub cannot route to an agent connected elsewhere', () => {
    const { view, state, t } = settled();
    view.apply(ev(t, 'api-1', 'api.redis-mode', { enabled: false }));
    expect(state.sample()).toMatchObject({ available: false, deliveringPods: 1, connected: true });
  });

  test('once the agent reports a new connection its old pod\'s hub does not hold, nothing reaches it', () => {
    const { view, agent, state, t } = settled();
    view.apply(ev(t, 'agent-0', 'agent.connected', { agent, pod: 'api-1', conn: 'c99' }));
    expect(state.sample()).toMatchObject({ available: false, deliveringPods: 0, connected: false, staleMapping: true });
  });
});

describe('routing availability: the run\'s figures', () => {
  const up = { available: true } as RoutingSample;
  const down = { available: false } as RoutingSample;
  const figures = (recoveredAt: number | null) => {
    const view = new ClusterView();
    view.routing = new RoutingSeries(1_000, 100);
    view.routing.samples.push(up, down, down, up, up, up);
    if (recoveredAt !== null) view.apply(ev(recoveredAt, 'checker', 'recovery.healthy', { afterUs: 0, probes: 2 }));
    const window: RunWindow = { healAt: 1_200, boundUs: 10_000, endAt: 1_600 };
    return Object.fromEntries(routingAvailability.figures(view, window).map((f) => [f.id, f]));
  };

  test('counted from the first fault to recovery: the samples after it do not count', () => {
    const f = figures(1_400);
    expect(f['routing-availability']!.value).toBe(0.5);
    expect(f['routing-downtime']!.value).toBe(200);
    expect(f['routing-availability']!.text).toMatch(/50\.00% from the first fault at .* to recovery at/);
  });

  test('a run that never recovers is counted to its end', () => {
    const f = figures(null);
    expect(f['routing-availability']!.value).toBeCloseTo(4 / 6);
    expect(f['routing-availability']!.text).toMatch(/never recovered/);
  });
});

describe('no-flapping', () => {
  const config = resolveConfig({});
  const monitor = noFlapping(config);
  // H + B = 200; the run ends at 1000.
  const window: RunWindow = { healAt: 100, boundUs: 100, endAt: 1_000 };
  const connected = (t: number, replica: string, agent = 'a', pod = 'api-0') => ev(t, replica, 'agent.connected', { agent, pod, conn: `c${t}` });
  const judge = (events: TraceEvent[]) => {
    const view = new ClusterView();
    for (const e of events) view.apply(e);
    return monitor.atEnd!(view, window);
  };

  test('the cycle it must cover is derived from the configuration: 60 s + 2 s + 20 s by default', () => {
    expect(boundTotal(replacementCycle(config))).toBe(82 * SECOND);
    expect(monitor.definition).toMatch(/82\.000s = 60\.000s .* \+ 2\.000s .* \+ 20\.000s/);
  });

  test('reconnects during the faults and recovery, and one replacement after H + B, are not flapping', () => {
    expect(judge([connected(10, 'r1'), connected(50, 'r2'), connected(120, 'r1'), connected(199, 'r2'), connected(400, 'r1')])).toBeNull();
  });

  test('a connection made after H + B that is replaced again is flapping', () => {
    const v = judge([connected(10, 'r1'), connected(300, 'r2', 'a', 'api-1'), connected(360, 'r1')]);
    expect(v?.invariant).toBe('no-flapping');
    expect(v?.time).toBe(360);
    expect(v?.message).toMatch(/^a's connection was replaced 2 times after H \+ B = .* \(at most 1\): r2 → api-1 \(c300\) at .*, r1 → api-0 \(c360\) at/);
  });

  test('an agent id\'s first connection replaces nothing, and each id is counted on its own', () => {
    // A new agent pod's own id connects for the first time after H + B, then once more.
    expect(judge([connected(300, 'r9', 'b'), connected(500, 'r9', 'b')])).toBeNull();
    expect(judge([connected(10, 'r1', 'a'), connected(10, 'r2', 'b'), connected(300, 'r1', 'a'), connected(400, 'r2', 'b')])).toBeNull();
    expect(judge([connected(300, 'r9', 'b'), connected(500, 'r9', 'b'), connected(600, 'r9', 'b')])?.message).toMatch(/^b's connection was replaced 2 times/);
  });

  test('a replacement of a connection whose API pod or agent replica Kubernetes deleted in between is not counted', () => {
    const deleted = (t: number, pod: string) => ev(t, 'k8s', 'k8s.delete-pod', { pod, kind: pod.startsWith('api') ? 'api' : 'agent' });
    // Two scale-down steps, each removing the pod the agent had just reconnected to (r004-node-failure seed 130).
    expect(judge([connected(10, 'r1', 'a', 'api-5'), deleted(700, 'api-5'), connected(702, 'r1', 'a', 'api-3'), deleted(740, 'api-3'), connected(742, 'r1', 'a', 'api-0')])).toBeNull();
    // The replica holding the connection deleted; the next leader connects.
    expect(judge([connected(10, 'r1'), connected(300, 'r1'), deleted(400, 'r1'), connected(420, 'r2')])).toBeNull();
    // A deletion of another pod, or one before the connection was made, excuses nothing.
    expect(judge([connected(10, 'r1', 'a', 'api-5'), connected(300, 'r1', 'a', 'api-3'), deleted(350, 'api-5'), connected(360, 'r1', 'a', 'api-0')])?.time).toBe(360);
    expect(judge([connected(10, 'r1', 'a', 'api-5'), deleted(250, 'api-3'), connected(300, 'r1', 'a', 'api-3'), connected(360, 'r1', 'a', 'api-0')])?.time).toBe(360);
  });

  test(`more than ${FLAP_LIMIT} replacement counts, however far apart in the stretch`, () => {
    expect(judge([connected(10, 'r1'), connected(201, 'r1'), connected(1_000, 'r1')])?.time).toBe(1_000);
  });
});

describe('seeded: availability and no-flapping on whole runs of the hardened profile', () => {
  const space = { profile: 'hardened', deployment: 'seed-000' };
  propTest.prop([seedArbitrary], { numRuns: 3, seed: 20260307 })(
    'sampling does not change the run; the figures are consistent; the stretch covers a cycle; no connection flaps',
    (seed) => {
      const c = caseForSeed(streamspace, space, seed);
      const v = runCase(streamspace, c, { measure: true });
      // The same case without the measure: sampling records nothing, so the trace and verdict are the same.
      const bare = runCase(streamspace, c);
      expect(bare.hash).toBe(v.hash);
      expect(bare.outcome).toBe(v.outcome);
      expect(bare.figures).toEqual([]);

      const figure = (id: string) => v.figures.find((f) => f.id === id)!.value!;
      const from = c.schedule.reduce((t, f) => Math.min(t, f.at), v.healAt);
      const to = v.recoveryUs === null ? v.endAt : v.healAt + v.recoveryUs;
      const samples = Math.ceil((to - from) / 100_000);
      expect(figure('routing-availability')).toBeGreaterThanOrEqual(0);
      expect(figure('routing-availability')).toBeLessThanOrEqual(1);
      expect(figure('routing-downtime')).toBeCloseTo((1 - figure('routing-availability')) * samples * 100_000, 0);

      expect(v.endAt - (v.healAt + v.boundUs)).toBeGreaterThanOrEqual(boundTotal(replacementCycle(c.config)));
      expect(v.violations.filter((x) => x.invariant === 'no-flapping').map((x) => x.message)).toEqual([]);
    },
  );
});
