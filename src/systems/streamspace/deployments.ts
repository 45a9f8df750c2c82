import fc from 'fast-check';
import { MS, SECOND, type Micros } from '../../sim-cluster/index.ts';
import type { Deployment, Deployments } from '../../contract/system.ts';
import type { ConfigOverrides, StreamSpaceConfig, TopologyConfig } from './config.ts';
import { JEWELRY_SHOP_HPA, STREAMSPACE_CHART_HPA, type HpaParameterSet } from './hpa/config.ts';

/**
 * The ways StreamSpace is deployed that campaigns run: named deployments (topology, placement,
 * settings, workload), each a set of configuration overrides laid over the profile (and under a
 * `--config` file), and the ranges swarm mode perturbs them within. docs/deployments.md describes
 * them; `hasim list deployments` prints them.
 *
 * Chart values are those of `chart/values.yaml` and its templates at commit 15f3690 (spec §0).
 * What a chart does not say (how many worker nodes, how the scheduler places pods, how much users
 * ask for, how long a session pod takes to start) is the cluster's and the users', and each
 * deployment says what it takes for them.
 */

/** Redis and PostgreSQL: one pod each, besides the API and agent pods (chart/templates/redis.yaml, postgresql.yaml). */
const INFRASTRUCTURE_PODS = 2;

/** The worker nodes a placement needs: `packed` keeps seed 000's three; `one-per-node` gives every pod its own. */
function nodesFor(placement: TopologyConfig['placement'], apiReplicas: number, agentReplicas: number): number {
  return placement === 'packed' ? 3 : apiReplicas + agentReplicas + INFRASTRUCTURE_PODS;
}

/** The realistic start_session duration (config.ts, `startSessionDistribution`): log-normal, median 15 s, σ 0.8, capped at 120 s. */
const LOG_NORMAL_START: ConfigOverrides['agent'] = {
  startSessionUs: [5 * SECOND, 120 * SECOND],
  startSessionDistribution: 'log-normal',
  startSessionMedianUs: 15 * SECOND,
  startSessionSigma: 0.8,
};

/** A named deployment with its overrides in StreamSpace's shape. */
interface StreamSpaceDeployment extends Deployment {
  overrides: ConfigOverrides;
}

/**
 * Seed 004's user load (spec seeds-001-004 §2): Locust's 1,000 users spawned at 50/s with
 * `between(1, 3)` think time, logging in against the auth session store (CACHE_ENABLED, set by the
 * chart with redis.enabled: chart/templates/api-deployment.yaml:94-96). The background `workload`
 * is off: the users' session requests replace it. The agents are seed 000's (3 replicas sharing one
 * id with HA), the documented HA setup.
 */
const SEED_004_LOAD: ConfigOverrides = {
  topology: { agentReplicas: 3, agentIdMode: 'shared', agentHa: true, workerNodes: 3, placement: 'packed' },
  api: { redisEnabled: true, cacheEnabled: true },
  agent: LOG_NORMAL_START,
  workload: { requestIntervalUs: 0 },
  load: { mode: 'closed', users: 1000, spawnRatePerSecond: 50, thinkUs: [1 * SECOND, 3 * SECOND] },
};

/** An HPA parameter set as the `hpa` section, enabled. */
function hpaOf(set: HpaParameterSet): ConfigOverrides['hpa'] {
  const { minReplicas, maxReplicas, targetCPUUtilizationPercentage, behavior } = set.spec;
  return { enabled: true, minReplicas, maxReplicas, targetCpuPercent: targetCPUUtilizationPercentage, behavior };
}

/** The seed-004 deployments: named only (`inSwarm: false`), for the r004 scenarios and `--deployment`. */
const LOAD_DEPLOYMENTS: readonly StreamSpaceDeployment[] = [
  {
    name: 'r004-chart-autoscaling',
    description: 'seed 004\'s load (1,000 Locust users, spawn 50/s, think 1-3 s) on the Helm chart with api.autoscaling.enabled and redis.enabled: '
      + 'HPA min 2, max 10, CPU 80% with the default behavior, no PodDisruptionBudget; seed 000\'s agents; 3 worker nodes',
    inSwarm: false,
    overrides: {
      ...SEED_004_LOAD,
      // api.replicaCount 2; the chart's HPA (hpa/config.ts STREAMSPACE_CHART_HPA).
      topology: { ...SEED_004_LOAD.topology, apiReplicas: 2 },
      hpa: hpaOf(STREAMSPACE_CHART_HPA),
      kubernetes: { apiPdbMinAvailable: null },
    },
  },
  {
    name: 'r004-jewelry-shop',
    description: 'seed 004\'s own settings on StreamSpace: 3 API pods, HPA min 3, max 10, CPU 70% with its behavior block (up 100% or 2 pods per 15 s, down 50% per 60 s after 300 s), '
      + 'PodDisruptionBudget minAvailable 2, 1,000 Locust users; seed 000\'s agents; 3 worker nodes',
    inSwarm: false,
    overrides: {
      ...SEED_004_LOAD,
      topology: { ...SEED_004_LOAD.topology, apiReplicas: 3 },
      // Seed 004's own HPA manifest (hpa/config.ts JEWELRY_SHOP_HPA).
      hpa: hpaOf(JEWELRY_SHOP_HPA),
      kubernetes: { apiPdbMinAvailable: 2 },
    },
  },
];

/**
 * Seed 004's replicated datastores on seed 000's control plane (2 API pods with the Redis hub, 3 HA
 * agents sharing one id, a request a second), each pod on a node of its own so that a node fault
 * hits one member. Named only: `--deployment` and the failover scenarios run them, with the
 * failover faults named (`--faults`).
 */
const SEED_000_PLANE: ConfigOverrides = {
  topology: { apiReplicas: 2, agentReplicas: 3, agentIdMode: 'shared', agentHa: true, placement: 'one-per-node' },
  api: { redisEnabled: true },
  agent: LOG_NORMAL_START,
  workload: { requestIntervalUs: 1 * SECOND },
};

/**
 * Seed 004's Redis (spec seeds-001-004 §0 item 3, §2 "Redis Sentinel"): 3 Redis pods (a master and
 * 2 replicas) with Sentinel, quorum 2, down-after 5000 ms, failover-timeout 30000 ms, parallel-syncs
 * 1, AOF everysec; the API pods' session store on (CACHE_ENABLED) with 20 users logging in and
 * listing sessions, so lost and refused sessions show.
 */
function sentinelDeployment(access: 'master-service' | 'all-nodes'): ConfigOverrides {
  return {
    ...SEED_000_PLANE,
    // 2 API + 3 agents + 3 Redis + 3 Sentinels + PostgreSQL, one node each.
    topology: { ...SEED_000_PLANE.topology, workerNodes: 12 },
    api: { redisEnabled: true, cacheEnabled: true },
    redis: { topology: 'sentinel', replicas: 2, sentinels: 3, quorum: 2, downAfterUs: 5 * SECOND, failoverTimeoutUs: 30 * SECOND, parallelSyncs: 1, aofEverySec: true, access },
    load: { mode: 'closed', users: 20, spawnRatePerSecond: 5, thinkUs: [1 * SECOND, 3 * SECOND] },
  };
}

/**
 * Seed 004's PostgreSQL (Zalando Spilo: 3 members, ttl 30, loop_wait 10, retry_timeout 10,
 * maximum_lag_on_failover 32 MiB) with `replication` as named, reached through database/sql's pool
 * as StreamSpace configures it.
 */
function patroniDeployment(replication: 'async' | 'sync' | 'sync-strict'): ConfigOverrides {
  return {
    ...SEED_000_PLANE,
    // 2 API + 3 agents + 3 PostgreSQL members + Redis, one node each.
    topology: { ...SEED_000_PLANE.topology, workerNodes: 9 },
    postgres: { topology: 'patroni', members: 3, ttlUs: 30 * SECOND, loopWaitUs: 10 * SECOND, retryTimeoutUs: 10 * SECOND, maximumLagOnFailoverBytes: 32 * 1024 * 1024, replication },
  };
}

const FAILOVER_DEPLOYMENTS: readonly StreamSpaceDeployment[] = [
  {
    name: 'r004-redis-sentinel',
    description: 'seed 000\'s control plane with seed 004\'s Redis: a master, 2 replicas and 3 Sentinels (quorum 2, down-after 5 s, failover-timeout 30 s, AOF everysec), '
      + 'reached through a Service a controller moves to the new master 5 s after +switch-master; the session store on, 20 users; one pod per node (12)',
    inSwarm: false,
    overrides: sentinelDeployment('master-service'),
  },
  {
    name: 'r004-redis-sentinel-all-nodes',
    description: 'as r004-redis-sentinel, reached through a Service over every Redis node (a connection lands on any: writes to a replica get READONLY)',
    inSwarm: false,
    overrides: sentinelDeployment('all-nodes'),
  },
  {
    name: 'r004-patroni-async',
    description: 'seed 000\'s control plane with PostgreSQL as 3 Patroni members (ttl 30 s, loop_wait 10 s, retry_timeout 10 s, maximum_lag_on_failover 32 MiB), asynchronous replication (Patroni\'s default), '
      + 'through database/sql\'s pool (25 open, 5 idle, 5 min lifetime, 1 min idle) and the master Service the leader writes; one pod per node (9)',
    inSwarm: false,
    overrides: patroniDeployment('async'),
  },
  {
    name: 'r004-patroni-sync',
    description: 'as r004-patroni-async with synchronous_mode (seed 004\'s Spilo): commits wait for the synchronous standby while there is one',
    inSwarm: false,
    overrides: patroniDeployment('sync'),
  },
  {
    name: 'r004-patroni-sync-strict',
    description: 'as r004-patroni-async with synchronous_mode and synchronous_mode_strict: commits wait for a synchronous standby, always',
    inSwarm: false,
    overrides: patroniDeployment('sync-strict'),
  },
];

export const NAMED_DEPLOYMENTS: readonly StreamSpaceDeployment[] = [
  {
    name: 'seed-000',
    description: 'the deployment seed report 000 validated, and the model\'s defaults: 2 API pods with the Redis hub, 3 k8s-agent replicas sharing one agent id with HA, '
      + 'pods packed round robin on 3 worker nodes, a request a second, start_session uniform in 5-120 s',
    // Every value here is the default of config.ts, so a case space naming this deployment runs
    // exactly the cases one without a deployment runs (seeded-case.ts relies on it; a test checks it).
    overrides: {
      topology: { apiReplicas: 2, agentReplicas: 3, agentIdMode: 'shared', agentHa: true, workerNodes: 3, placement: 'packed' },
      api: { redisEnabled: true },
      agent: { startSessionUs: [5 * SECOND, 120 * SECOND], startSessionDistribution: 'uniform', startSessionMedianUs: 15 * SECOND, startSessionSigma: 0.8 },
      workload: { requestIntervalUs: 1 * SECOND },
    },
  },
  {
    name: 'helm-chart-default',
    description: 'the Helm chart\'s values at 15f3690 (spec §0): 2 API pods without the Redis hub, 1 k8s-agent replica with its own agent id and no HA; '
      + '3 worker nodes, a request a second, start_session log-normal',
    overrides: {
      topology: {
        apiReplicas: 2, // api.replicaCount: 2 (chart/values.yaml:234, chart/templates/api-deployment.yaml:22)
        agentReplicas: 1, // k8sAgent.replicaCount: 1 (chart/values.yaml:106-113)
        agentIdMode: 'per-pod', // AGENT_ID = <config.agentId>-<POD_NAME> (chart/templates/k8s-agent-deployment.yaml:43-52)
        agentHa: false, // k8sAgent.ha.enabled: false (chart/values.yaml:106-113)
        // Not chart values: the cluster's. Seed 000's three worker nodes, pods placed round robin.
        workerNodes: 3,
        placement: 'packed',
      },
      api: { redisEnabled: false }, // redis.enabled: false (chart/values.yaml:449-455, chart/templates/api-deployment.yaml:94-117)
      agent: LOG_NORMAL_START,
      workload: { requestIntervalUs: 1 * SECOND }, // the users', not the chart's: seed 000's load
    },
  },
  {
    name: 'helm-chart-ha',
    description: 'the Helm chart with the HA the project documents (seed report 000: Redis hub on, 3 k8s-agent replicas with ha.enabled): the agent id is still derived from the pod name, '
      + 'so each replica is an agent of its own, leading its own Lease; 3 worker nodes, a request a second, start_session log-normal',
    overrides: {
      topology: {
        // The "Minimum HA Configuration" the project documents (seed report 000, "Production
        // Deployment Recommendations"): api.replicaCount 2, k8sAgent.replicaCount 3 with
        // ha.enabled true, Redis for the hub.
        apiReplicas: 2,
        agentReplicas: 3,
        agentHa: true,
        // The chart derives AGENT_ID from POD_NAME whatever ha.enabled says
        // (chart/templates/k8s-agent-deployment.yaml:43-52, spec §0): three agent ids, three Leases.
        agentIdMode: 'per-pod',
        workerNodes: 3,
        placement: 'packed',
      },
      api: { redisEnabled: true }, // redis.enabled: true (chart/values.yaml:449-455 turned on)
      agent: LOG_NORMAL_START,
      workload: { requestIntervalUs: 1 * SECOND },
    },
  },
  {
    name: 'many-agents',
    description: 'tens of agent ids across API pods: 3 API pods with the Redis hub, 24 k8s-agent replicas as the chart runs them (an agent id per pod, no HA), '
      + 'one pod per worker node (29 nodes), four requests a second, start_session log-normal',
    overrides: {
      topology: { apiReplicas: 3, agentReplicas: 24, agentIdMode: 'per-pod', agentHa: false, workerNodes: nodesFor('one-per-node', 3, 24), placement: 'one-per-node' },
      api: { redisEnabled: true },
      agent: LOG_NORMAL_START,
      // More agents, more users: sessions spread over 24 agents at seed 000's rate would leave most idle.
      workload: { requestIntervalUs: 250 * MS },
    },
  },
  ...LOAD_DEPLOYMENTS,
  ...FAILOVER_DEPLOYMENTS,
];

/** Request intervals swarm mode draws (a request every 250 ms to every 5 s: 4 to 0.2 requests a second). */
const REQUEST_INTERVALS: readonly Micros[] = [250 * MS, 500 * MS, 1 * SECOND, 2 * SECOND, 5 * SECOND];

/** The documented ranges of `perturb`, printed by `hasim list deployments` and docs/deployments.md. */
export const PERTURBATION_RANGES: ReadonlyArray<{ what: string; range: string; why: string }> = [
  { what: 'topology.apiReplicas', range: '1 to 5', why: 'one pod (no cross-pod routing) up to the five of the project\'s larger documented deployment (seed report 002)' },
  {
    what: 'topology.agentReplicas', range: '1 to 30 (1 to 5 three times in four)',
    why: 'up to tens of agents; a 30-agent run stays within seconds (docs/deployments.md); small counts, where HA takeovers happen, are drawn most',
  },
  { what: 'topology.agentIdMode', range: 'shared or per-pod', why: 'the raw manifest\'s fixed id, or the chart\'s id per pod (spec §0)' },
  {
    what: 'topology.agentHa', range: 'on or off',
    why: 'ENABLE_HA; off with a shared id allows one replica only (several replicas of one id without election is no documented deployment: the chart gives each pod its own id)',
  },
  { what: 'api.redisEnabled', range: 'on or off', why: 'AGENTHUB_REDIS_ENABLED: the chart\'s default (off) or the HA setup (on)' },
  {
    what: 'topology.placement', range: 'packed on 3 nodes, or one-per-node (a worker node per pod)',
    why: 'pods sharing nodes, so a node fault hits several, or each on its own, so a node fault hits one and a pod fault differs from a node fault only by the kubelet',
  },
  { what: 'workload.requestIntervalUs', range: '250 ms, 500 ms, 1 s, 2 s or 5 s (4 to 0.2 requests a second)', why: 'idle to busy around seed 000\'s request a second' },
  {
    what: 'agent.startSessionDistribution', range: 'uniform in 5-120 s, or log-normal with median 10, 15 or 30 s and σ 0.5, 0.8 or 1.2, capped at 120 s',
    why: 'seed 000\'s uniform draw, or session pods\' skewed start-up times (config.ts says why log-normal)',
  },
];

/** Keeps the deployment's own value half the time, else draws from the range. */
function around<T>(base: T, range: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof(fc.constant(base), range);
}

/**
 * A named deployment perturbed within `PERTURBATION_RANGES`: each dimension keeps the deployment's
 * value half the time, so a perturbed deployment stays recognisably itself, and rare combinations
 * (one API pod with thirty agents, per-pod ids without Redis) still come up.
 */
function perturb(deployment: Deployment): fc.Arbitrary<ConfigOverrides> {
  const base = deployment.overrides as ConfigOverrides;
  const t = base.topology!;
  const agentCount = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 5 }), weight: 3 }, { arbitrary: fc.integer({ min: 6, max: 30 }), weight: 1 });
  const startSession = fc.oneof(
    fc.constant<ConfigOverrides['agent']>({ startSessionUs: [5 * SECOND, 120 * SECOND], startSessionDistribution: 'uniform', startSessionMedianUs: 15 * SECOND, startSessionSigma: 0.8 }),
    fc.record({ median: fc.constantFrom(10 * SECOND, 15 * SECOND, 30 * SECOND), sigma: fc.constantFrom(0.5, 0.8, 1.2) }).map(({ median, sigma }): ConfigOverrides['agent'] => ({
      startSessionUs: [5 * SECOND, 120 * SECOND], startSessionDistribution: 'log-normal', startSessionMedianUs: median, startSessionSigma: sigma,
    })),
  );
  return fc.record({
    apiReplicas: around(t.apiReplicas!, fc.integer({ min: 1, max: 5 })),
    agentReplicas: around(t.agentReplicas!, agentCount),
    agentIdMode: around(t.agentIdMode!, fc.constantFrom('shared' as const, 'per-pod' as const)),
    agentHa: around(t.agentHa!, fc.boolean()),
    placement: around(t.placement!, fc.constantFrom('packed' as const, 'one-per-node' as const)),
    redisEnabled: around(base.api!.redisEnabled!, fc.boolean()),
    requestIntervalUs: around(base.workload!.requestIntervalUs!, fc.constantFrom(...REQUEST_INTERVALS)),
    agent: around(base.agent!, startSession),
  }).map((p): ConfigOverrides => {
    const agentReplicas = p.agentIdMode === 'shared' && !p.agentHa ? 1 : p.agentReplicas;
    return {
      topology: {
        apiReplicas: p.apiReplicas, agentReplicas, agentIdMode: p.agentIdMode, agentHa: p.agentHa,
        workerNodes: nodesFor(p.placement, p.apiReplicas, agentReplicas), placement: p.placement,
      },
      api: { redisEnabled: p.redisEnabled },
      agent: p.agent,
      workload: { requestIntervalUs: p.requestIntervalUs },
    };
  });
}

/** `top` laid over `base` section by section, as `resolve` merges overrides (the second wins). */
function overlay(base: unknown, top: unknown): unknown {
  const out: Record<string, Record<string, unknown>> = {};
  for (const src of [base, top] as Array<Record<string, Record<string, unknown>>>) {
    for (const [section, fields] of Object.entries(src)) out[section] = { ...out[section], ...fields };
  }
  return out;
}

/** One line for a resolved configuration's deployment. */
function describe(c: StreamSpaceConfig): string {
  const t = c.topology;
  const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
  const ids = t.agentIdMode === 'shared' ? 'one shared agent id' : 'an agent id per pod';
  const a = c.agent;
  const s = (us: Micros): string => `${us / SECOND} s`;
  const start = a.startSessionDistribution === 'uniform'
    ? `uniform in ${s(a.startSessionUs[0])}-${s(a.startSessionUs[1])}`
    : `log-normal (median ${s(a.startSessionMedianUs)}, σ ${a.startSessionSigma}) within ${s(a.startSessionUs[0])}-${s(a.startSessionUs[1])}`;
  const users = c.load.mode === 'off' ? '' : `, ${c.load.users} users (${c.load.mode})`;
  const hpa = c.hpa.enabled ? `, HPA ${c.hpa.minReplicas}-${c.hpa.maxReplicas} at ${c.hpa.targetCpuPercent}% CPU` : '';
  const load = (c.workload.requestIntervalUs === 0 ? 'no background requests' : `a request every ${s(c.workload.requestIntervalUs)}`) + users + hpa;
  const redis = c.redis.topology === 'sentinel' ? `, Redis with ${c.redis.replicas} replicas and ${c.redis.sentinels} Sentinels (${c.redis.access})` : '';
  const pg = c.postgres.topology === 'patroni' ? `, PostgreSQL as ${c.postgres.members} Patroni members (${c.postgres.replication})` : '';
  return `${plural(t.apiReplicas, 'API pod')} (Redis hub ${c.api.redisEnabled ? 'on' : 'off'}), ${plural(t.agentReplicas, 'agent replica')} with ${ids}, HA ${t.agentHa ? 'on' : 'off'}, `
    + `${t.placement} on ${plural(t.workerNodes, 'worker node')}, ${load}, start_session ${start}${redis}${pg}`;
}

export const STREAMSPACE_DEPLOYMENTS: Deployments<StreamSpaceConfig> = {
  named: NAMED_DEPLOYMENTS,
  perturb,
  ranges: PERTURBATION_RANGES,
  overlay,
  describe,
};
