import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import { StreamSpaceCluster } from '../cluster/cluster.ts';
import { DEFAULT_CONFIG } from '../config.ts';

const KUBELET_KINDS = ['kubelet.probe-failed', 'kubelet.not-ready', 'kubelet.ready', 'kubelet.liveness-kill', 'kubelet.sigkill'];

function kubeletEvents(cluster: StreamSpaceCluster, pod?: string): TraceEvent[] {
  return cluster.sim.trace.events.filter((e) => KUBELET_KINDS.includes(e.k) && (pod === undefined || e.d!['pod'] === pod));
}

function first(cluster: StreamSpaceCluster, kind: string, pod: string): TraceEvent | undefined {
  return cluster.sim.trace.events.find((e) => e.k === kind && (e.d!['pod'] === pod || e.p === pod));
}

/** A cluster with a pause of `pod` from `at` for `durationUs`, run to `until`. */
function pausedRun(pod: string, at: Micros, durationUs: Micros, until: Micros, seed = 3): StreamSpaceCluster {
  const cluster = new StreamSpaceCluster({ seed, simulation: { trace: { keepEvents: true } } });
  cluster.sim.at(at, () => cluster.sim.pause(pod));
  cluster.sim.at(at + durationUs, () => cluster.sim.resume(pod));
  const r = cluster.sim.run({ until });
  expect(r.status).toBe('until-reached');
  return cluster;
}

describe('kubelet probes (chart at 15f3690)', () => {
  test('the defaults are the chart\'s probes with Kubernetes\' defaults', () => {
    const { probes } = DEFAULT_CONFIG.kubernetes;
    expect(probes.api.liveness).toMatchObject({ check: 'answers', initialDelayUs: 15 * SECOND, periodUs: 20 * SECOND, timeoutUs: SECOND, failureThreshold: 3 });
    expect(probes.api.readiness).toMatchObject({ check: 'answers', initialDelayUs: 5 * SECOND, periodUs: 10 * SECOND, timeoutUs: SECOND, failureThreshold: 3, successThreshold: 1 });
    expect(probes.agent.liveness).toMatchObject({ check: 'process-exists', periodUs: 30 * SECOND, timeoutUs: 5 * SECOND });
    expect(probes.redis.liveness).toMatchObject({ initialDelayUs: 10 * SECOND, periodUs: 10 * SECOND });
    expect(probes.postgres.liveness).toMatchObject({ initialDelayUs: 30 * SECOND, periodUs: 10 * SECOND });
  });

  test('a running cluster is never touched: 10 minutes without a single probe failure', () => {
    const cluster = new StreamSpaceCluster({ seed: 5, simulation: { trace: { keepEvents: true } } });
    cluster.sim.run({ until: 10 * MINUTE });
    expect(kubeletEvents(cluster)).toEqual([]);
  });

  test('a paused API pod leaves the endpoints after 3 readiness periods and is restarted after 3 liveness periods', () => {
    const pauseAt = 61 * SECOND; // off the probe ticks (every 10 s from the start at t = 0)
    const cluster = pausedRun('api-0', pauseAt, 3 * MINUTE, 6 * MINUTE);
    // Readiness ticks every 10 s from the container's start (t = 0): 70, 80, 90 s fail (at +1 s timeout).
    const notReady = first(cluster, 'kubelet.not-ready', 'api-0')!;
    expect(notReady.t).toBe(91 * SECOND);
    // Liveness ticks every 20 s: 80, 100, 120 s fail: the kill (SIGTERM, held by the pause).
    const kill = first(cluster, 'kubelet.liveness-kill', 'api-0')!;
    expect(kill.t).toBe(121 * SECOND);
    // Still paused at the end of the 30 s grace period: SIGKILL, then the in-place restart.
    const sigkill = first(cluster, 'kubelet.sigkill', 'api-0')!;
    expect(sigkill.t).toBe(kill.t + DEFAULT_CONFIG.kubernetes.terminationGraceUs);
    const restarted = cluster.sim.trace.events.find((e) => e.k === 'proc.start' && e.p === 'api-0' && e.d!['incarnation'] === 2)!;
    expect(restarted.t).toBe(sigkill.t + DEFAULT_CONFIG.kubernetes.containerRestartUs);
    // The new container serves and is an endpoint again; the fault's resume finds nothing paused.
    expect(cluster.endpoints.isReady('api-0')).toBe(true);
    expect(cluster.sim.process('api-0').status).toBe('up');
  });

  test('an API pod resumed within the grace period handles the SIGTERM and is restarted', () => {
    const pauseAt = 61 * SECOND; // off the probe ticks (every 10 s from the start at t = 0)
    const cluster = pausedRun('api-0', pauseAt, 70 * SECOND, 4 * MINUTE);
    const kill = first(cluster, 'kubelet.liveness-kill', 'api-0')!;
    expect(first(cluster, 'kubelet.sigkill', 'api-0')).toBeUndefined();
    const shutdown = cluster.sim.trace.events.find((e) => e.k === 'api.shutdown' && e.p === 'api-0')!;
    expect(shutdown.t).toBe(pauseAt + 70 * SECOND);
    expect(kill.t).toBe(121 * SECOND);
    expect(shutdown.t).toBeGreaterThan(kill.t);
    expect(cluster.sim.trace.events.some((e) => e.k === 'proc.start' && e.p === 'api-0' && e.d!['incarnation'] === 2)).toBe(true);
  });

  test('readiness comes back when the probes pass again, before liveness gives up', () => {
    const pauseAt = 61 * SECOND; // off the probe ticks (every 10 s from the start at t = 0)
    const cluster = pausedRun('api-1', pauseAt, 35 * SECOND, 3 * MINUTE);
    const notReady = first(cluster, 'kubelet.not-ready', 'api-1')!;
    const ready = first(cluster, 'kubelet.ready', 'api-1')!;
    expect(notReady.t).toBe(91 * SECOND);
    // The first readiness tick after the resume (at 96 s) is at 100 s.
    expect(ready.t).toBe(100 * SECOND);
    expect(first(cluster, 'kubelet.liveness-kill', 'api-1')).toBeUndefined();
    expect(cluster.endpoints.isReady('api-1')).toBe(true);
    expect(cluster.sim.process('api-1').incarnation).toBe(1);
  });

  test('the endpoints follow the readiness verdict', () => {
    const cluster = new StreamSpaceCluster({ seed: 3, simulation: { trace: { keepEvents: true } } });
    cluster.sim.at(61 * SECOND, () => cluster.sim.pause('api-0'));
    const seen: boolean[] = [];
    for (const t of [85, 95, 125]) cluster.sim.at(t * SECOND, () => seen.push(cluster.endpoints.isReady('api-0')));
    cluster.sim.at(110 * SECOND, () => cluster.sim.resume('api-0'));
    cluster.sim.run({ until: 130 * SECOND });
    // Ready before the third failure (91 s), out until the first probe after the resume (120 s).
    expect(seen).toEqual([true, false, true]);
  });

  test('a short pause under the thresholds changes nothing but two failed probes', () => {
    const cluster = pausedRun('api-0', 61 * SECOND, 15 * SECOND, 3 * MINUTE);
    const events = kubeletEvents(cluster);
    expect(events.every((e) => e.k === 'kubelet.probe-failed')).toBe(true);
    expect(events.length).toBeLessThanOrEqual(2);
    expect(cluster.sim.process('api-0').incarnation).toBe(1);
    expect(cluster.endpoints.isReady('api-0')).toBe(true);
  });

  test('the agent\'s pgrep probe never restarts a paused agent, however long the pause', () => {
    const cluster = pausedRun('agent-0', 60 * SECOND, 5 * MINUTE, 7 * MINUTE);
    expect(kubeletEvents(cluster)).toEqual([]);
    expect(cluster.sim.process('agent-0').incarnation).toBe(1);
  });

  test('a paused Redis is killed by its redis-cli ping liveness probe and restarts empty', () => {
    const pauseAt = 121 * SECOND;
    const cluster = pausedRun('redis', pauseAt, 34 * SECOND, 4 * MINUTE);
    // Liveness every 10 s from t = 0: 130, 140, 150 s fail; the pause ends at 155 s, within the grace.
    const kill = first(cluster, 'kubelet.liveness-kill', 'redis')!;
    expect(kill.t).toBe(151 * SECOND);
    const restart = cluster.sim.trace.events.find((e) => e.k === 'redis.start' && e.t > pauseAt)!;
    expect(restart.d!['keys']).toBe(0);
  });

  test('a paused PostgreSQL is restarted in place with its data', () => {
    const cluster = pausedRun('postgres', 2 * MINUTE, 2 * MINUTE, 5 * MINUTE);
    expect(first(cluster, 'kubelet.liveness-kill', 'postgres')).toBeDefined();
    expect(cluster.sim.process('postgres').incarnation).toBe(2);
    expect(cluster.postgres.allCommands().length).toBeGreaterThan(0);
  });

  test('no probes when the config has none', () => {
    const none = { liveness: null, readiness: null };
    const cluster = new StreamSpaceCluster({
      seed: 3,
      config: { kubernetes: { probes: { api: none, agent: none, redis: none, postgres: none } } },
      simulation: { trace: { keepEvents: true } },
    });
    cluster.sim.at(60 * SECOND, () => cluster.sim.pause('api-0'));
    cluster.sim.run({ until: 5 * MINUTE });
    expect(kubeletEvents(cluster)).toEqual([]);
    expect(cluster.sim.process('api-0').status).toBe('paused');
  });

  test('a kubelet cut off from the control plane kills a paused pod but reports NotReady only after the heal', () => {
    const cluster = new StreamSpaceCluster({ seed: 3, simulation: { trace: { keepEvents: true } } });
    const node = cluster.podNode('api-0');
    cluster.sim.at(55 * SECOND, () => cluster.sim.network.isolate(node));
    cluster.sim.at(61 * SECOND, () => cluster.sim.pause('api-0'));
    const seen: boolean[] = [];
    cluster.sim.at(100 * SECOND, () => seen.push(cluster.endpoints.isReady('api-0')));
    cluster.sim.at(105 * SECOND, () => cluster.sim.network.rejoin(node));
    cluster.sim.at(115 * SECOND, () => seen.push(cluster.endpoints.isReady('api-0')));
    cluster.sim.run({ until: 3 * MINUTE });
    expect(seen).toEqual([true, false]);
    expect(first(cluster, 'kubelet.liveness-kill', 'api-0')!.t).toBe(121 * SECOND);
  });
});
