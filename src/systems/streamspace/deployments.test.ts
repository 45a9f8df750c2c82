import { describe, expect, test } from 'vitest';
import { MS, SECOND } from '../../sim-cluster/index.ts';
import { caseForSeed, deploymentForSeed, resolveSeed } from '../../harness/seeded-case.ts';
import { runCase } from '../../harness/run-case.ts';
import { streamspace } from '../index.ts';
import type { StreamSpaceConfig } from './config.ts';
import { NAMED_DEPLOYMENTS, STREAMSPACE_DEPLOYMENTS } from './deployments.ts';

const SEEDS = 400;
const swarmConfigs = (profile = 'hardened'): Array<{ name: string; config: StreamSpaceConfig }> =>
  Array.from({ length: SEEDS }, (_, seed) => {
    const c = caseForSeed(streamspace, { profile, deployment: 'swarm', kinds: [] }, seed);
    return { name: c.deployment!.name, config: c.config };
  });

describe('named deployments', () => {
  test('seed-000 resolves to exactly the configuration of no deployment, under every profile', () => {
    for (const p of streamspace.profiles) {
      expect(resolveSeed(streamspace, { profile: p.name, deployment: 'seed-000' }, 0).resolved).toEqual(streamspace.resolve(p.name));
    }
  });

  test('every named deployment resolves (its values pass the schema) and says what it deploys', () => {
    for (const d of NAMED_DEPLOYMENTS) {
      const { config } = resolveSeed(streamspace, { profile: 'streamspace-v2', deployment: d.name }, 0).resolved;
      expect(STREAMSPACE_DEPLOYMENTS.describe(config)).toMatch(/API pod.*agent replica.*worker node/);
    }
  });

  test('helm-chart-default is the chart\'s values (spec §0); helm-chart-ha turns on Redis and HA but keeps the per-pod agent id', () => {
    const config = (name: string, profile = 'hardened'): StreamSpaceConfig => resolveSeed(streamspace, { profile, deployment: name }, 0).resolved.config;
    const chart = config('helm-chart-default', 'streamspace-v2');
    expect([chart.topology.apiReplicas, chart.topology.agentReplicas, chart.topology.agentIdMode, chart.topology.agentHa, chart.api.redisEnabled])
      .toEqual([2, 1, 'per-pod', false, false]);
    // hardened's hub-for-replicas is a chart change: its 2 API pods run the Redis hub.
    expect(config('helm-chart-default').api.redisEnabled).toBe(true);
    const ha = config('helm-chart-ha');
    expect([ha.topology.apiReplicas, ha.topology.agentReplicas, ha.topology.agentIdMode, ha.topology.agentHa, ha.api.redisEnabled])
      .toEqual([2, 3, 'per-pod', true, true]);
    const many = config('many-agents');
    expect(many.topology.agentReplicas).toBeGreaterThanOrEqual(20);
    expect(many.topology.workerNodes).toBe(many.topology.apiReplicas + many.topology.agentReplicas + 2);
    expect(chart.agent.startSessionDistribution).toBe('log-normal');
  });

  test('a --config on top of a deployment wins over it, field by field', () => {
    const { resolved, overrides } = resolveSeed(streamspace, { profile: 'hardened', deployment: 'helm-chart-ha', config: { topology: { apiReplicas: 4 } } }, 0);
    expect(resolved.config.topology.apiReplicas).toBe(4);
    expect(resolved.config.topology.agentIdMode).toBe('per-pod');
    expect((overrides as { topology: Record<string, unknown> }).topology).toMatchObject({ apiReplicas: 4, agentReplicas: 3 });
  });

  test('an unknown deployment is a ConfigError naming the known ones', () => {
    expect(() => deploymentForSeed(streamspace, { profile: 'hardened', deployment: 'prod' }, 0))
      .toThrow("unknown deployment 'prod' (known: seed-000, helm-chart-default, helm-chart-ha, many-agents, r004-chart-autoscaling, r004-jewelry-shop, r004-redis-sentinel, r004-redis-sentinel-all-nodes, r004-patroni-async, r004-patroni-sync, r004-patroni-sync-strict, swarm)");
  });
});

describe('swarm mode perturbs within the documented ranges', () => {
  const drawn = swarmConfigs();

  test('every value stays in its range, and every deployment and range value comes up', () => {
    const seen = new Map<string, Set<unknown>>();
    const note = (what: string, v: unknown): void => void (seen.get(what) ?? seen.set(what, new Set()).get(what)!).add(v);
    for (const { name, config } of drawn) {
      const t = config.topology;
      expect(t.apiReplicas).toBeGreaterThanOrEqual(1);
      expect(t.apiReplicas).toBeLessThanOrEqual(5);
      expect(t.agentReplicas).toBeGreaterThanOrEqual(1);
      expect(t.agentReplicas).toBeLessThanOrEqual(30);
      // Several replicas of one shared id without election is no documented deployment.
      if (t.agentIdMode === 'shared' && !t.agentHa) expect(t.agentReplicas).toBe(1);
      expect(t.workerNodes).toBe(t.placement === 'packed' ? 3 : t.apiReplicas + t.agentReplicas + 2);
      expect([250 * MS, 500 * MS, SECOND, 2 * SECOND, 5 * SECOND]).toContain(config.workload.requestIntervalUs);
      const a = config.agent;
      expect(a.startSessionUs).toEqual([5 * SECOND, 120 * SECOND]);
      if (a.startSessionDistribution === 'log-normal') {
        expect([10 * SECOND, 15 * SECOND, 30 * SECOND]).toContain(a.startSessionMedianUs);
        expect([0.5, 0.8, 1.2]).toContain(a.startSessionSigma);
      }
      // Swarm draws only deployments without a user load or an HPA (the seed-004 ones are named only).
      expect(config.load.mode).toBe('off');
      expect(config.hpa.enabled).toBe(false);
      note('name', name);
      note('api', t.apiReplicas);
      note('agents>5', t.agentReplicas > 5);
      note('agents', t.agentReplicas);
      note('ids', t.agentIdMode);
      note('ha', t.agentHa);
      note('redis', config.api.redisEnabled);
      note('placement', t.placement);
      note('interval', config.workload.requestIntervalUs);
      note('distribution', a.startSessionDistribution);
    }
    // Every deployment swarm mode draws (`inSwarm` not false) comes up, and no other.
    expect([...seen.get('name')!].sort()).toEqual(NAMED_DEPLOYMENTS.filter((d) => d.inSwarm !== false).map((d) => d.name).sort());
    expect(NAMED_DEPLOYMENTS.filter((d) => d.inSwarm === false).map((d) => d.name)).toEqual(['r004-chart-autoscaling', 'r004-jewelry-shop', 'r004-redis-sentinel', 'r004-redis-sentinel-all-nodes', 'r004-patroni-async', 'r004-patroni-sync', 'r004-patroni-sync-strict']);
    expect(seen.get('api')!.size).toBe(5);
    expect(seen.get('agents>5')!.size).toBe(2);
    expect(seen.get('agents')!.has(1)).toBe(true);
    for (const k of ['ids', 'ha', 'redis', 'placement', 'distribution']) expect(seen.get(k)!.size, k).toBe(2);
    expect(seen.get('interval')!.size).toBe(5);
  });

  test('a deployment is a function of the seed alone, drawn from a stream of its own: the fault space does not move it, and it does not move the schedule', () => {
    for (let seed = 0; seed < 30; seed++) {
      const a = caseForSeed(streamspace, { profile: 'hardened', deployment: 'swarm' }, seed);
      const b = caseForSeed(streamspace, { profile: 'hardened', deployment: 'swarm', kinds: ['crash'], swarm: false }, seed);
      const asBuilt = caseForSeed(streamspace, { profile: 'streamspace-v2', deployment: 'swarm' }, seed);
      const none = caseForSeed(streamspace, { profile: 'hardened' }, seed);
      expect(deploymentForSeed(streamspace, { profile: 'hardened', deployment: 'swarm' }, seed)).toEqual(deploymentForSeed(streamspace, { profile: 'hardened', deployment: 'swarm' }, seed));
      expect(a.config).toEqual(b.config);
      // The profile does not move it either (hardened's hub-for-replicas may turn the hub on when resolving).
      expect(asBuilt.config.topology).toEqual(a.config.topology);
      expect(asBuilt.config.workload).toEqual(a.config.workload);
      expect(a.schedule).toEqual(none.schedule);
      expect(a.deployment).toEqual({ name: a.deployment!.name, perturbed: true });
    }
  });

  test('swarm cases run to a verdict, the same one twice (a perturbed deployment is a deterministic case)', () => {
    for (const seed of [0, 1, 2, 3]) {
      const c = caseForSeed(streamspace, { profile: 'hardened', deployment: 'swarm', maxFaults: 2 }, seed);
      const first = runCase(streamspace, c);
      expect(first.outcome).not.toBe('model-failure');
      expect(runCase(streamspace, caseForSeed(streamspace, { profile: 'hardened', deployment: 'swarm', maxFaults: 2 }, seed)).hash).toBe(first.hash);
    }
  }, 60_000);
});
