import fc from 'fast-check';
import { leaseName } from './config.ts';
import { SECOND, type Micros } from '../../sim-cluster/index.ts';
import { MAX_FAULT_TIME_US, type FaultKind, type Platform, type Target, type TargetRoles } from '../../faults/fault-kind.ts';
import { clockDrift, clockJump, crash, deletion, isolate, linkBurst, nodeFailure, partition, pause, podIsolate, podPartition, type GenericFault } from '../../faults/generic.ts';
import { KUBE_API, POSTGRES, type StreamSpaceCluster } from './cluster/cluster.ts';
import type { ClusterView } from './invariants/cluster-view.ts';
import { SEED_004_FAULT_KINDS, type Seed004Fault } from './faults-004.ts';
import { FAILOVER_FAULT_KINDS, type FailoverFault } from './faults-failover.ts';

/** How stale a Redis snapshot restored by `redis-restart` with `fromSnapshot` is (an RDB save a minute old). */
export const SNAPSHOT_STALENESS_US: Micros = 60 * SECOND;

/** Redis restarts: empty (no persistence, StreamSpace's chart) or from its last snapshot. */
export type RedisRestart = { kind: 'redis-restart'; at: Micros; fromSnapshot: boolean; downUs: Micros };
/** Redis evicts one AgentHub key (memory pressure from the cache in DB 0, spec §4). */
export type RedisEvict = { kind: 'redis-evict'; at: Micros; key: 'pod' | 'connected' };
/** Every PostgreSQL write fails for a while; reads still work. */
export type PgWriteErrors = { kind: 'pg-write-errors'; at: Micros; durationUs: Micros };
/** The Kubernetes API server is slow, answers errors, or black-holes requests for a while. */
export type KubeApiFault = { kind: 'kube-api'; at: Micros; mode: 'slow' | 'error' | 'blackhole'; extraLatencyUs: Micros; durationUs: Micros };

/** Every fault a StreamSpace schedule may hold. */
export type StreamSpaceFault = GenericFault | RedisRestart | RedisEvict | PgWriteErrors | KubeApiFault | Seed004Fault | FailoverFault;
export type StreamSpaceFaultKind = StreamSpaceFault['kind'];

type Kind<F extends StreamSpaceFault> = FaultKind<F, StreamSpaceCluster, ClusterView>;
const duration = { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long the window lasts (µs)' } as const;

export const redisRestart: Kind<RedisRestart> = {
  kind: 'redis-restart',
  summary: 'Redis restarts empty, or from its last snapshot (stale)',
  params: {
    fromSnapshot: { type: 'boolean', doc: 'restore the snapshot taken SNAPSHOT_STALENESS_US earlier, instead of starting empty' },
    downUs: { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long Redis is down (µs)' },
  },
  arbitrary: () => fc.record({ kind: fc.constant('redis-restart' as const), fromSnapshot: fc.boolean(), downUs: fc.integer({ min: 1 * SECOND, max: 30 * SECOND }) }),
  end: (f) => f.at + f.downUs,
  prepare(f, { instance, sim }) {
    if (!f.fromSnapshot) return;
    sim.at(Math.max(0, f.at - SNAPSHOT_STALENESS_US), () => {
      if (instance.redis.live !== null) instance.redis.save();
    }, 'fault.redis-snapshot');
  },
  apply(f, { instance, sim, record, until }) {
    record({ fromSnapshot: f.fromSnapshot, downUs: f.downUs });
    // The master (the one Redis, or the Sentinels' master): its storage is the one that restarts.
    const master = instance.redisMaster;
    const storage = instance.redis;
    if (!f.fromSnapshot) storage.snapshot = null;
    sim.crash(master);
    until(master, () => {
      if (!sim.process(master).alive && sim.process(master).node.up) sim.start(master);
      storage.snapshot = null;
    });
  },
  heal({ sim, instance }) {
    for (const name of instance.datastoreProcesses('redis')) {
      const redis = sim.process(name);
      if (!redis.alive && redis.status !== 'restarting' && redis.node.up) sim.start(name);
    }
  },
};

export const redisEvict: Kind<RedisEvict> = {
  kind: 'redis-evict',
  summary: 'Redis evicts agent:<id>:pod or agent:<id>:connected',
  params: { key: { type: 'enum', values: ['pod', 'connected'], doc: 'which AgentHub key of the agent id (with several agent ids, of one picked when the fault fires)' } },
  arbitrary: () => fc.record({ kind: fc.constant('redis-evict' as const), key: fc.constantFrom('pod' as const, 'connected' as const) }),
  end: (f) => f.at,
  apply(f, { instance, record }) {
    const key = `agent:${pickAgentId(instance, instance.agentIds())}:${f.key}`;
    const evicted = instance.redis.live?.evictKey(key) ?? false;
    record({ key, evicted });
  },
};

export const pgWriteErrors: Kind<PgWriteErrors> = {
  kind: 'pg-write-errors',
  summary: 'every PostgreSQL INSERT/UPDATE fails; reads work',
  params: { durationUs: duration },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('pg-write-errors' as const), durationUs: fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs }) }),
  end: (f) => f.at + f.durationUs,
  apply(f, { instance, record, until }) {
    record({ durationUs: f.durationUs });
    instance.postgresFaults.writeErrors = true;
    until(POSTGRES, () => void (instance.postgresFaults.writeErrors = false));
  },
  heal({ instance }) {
    instance.postgresFaults.writeErrors = false;
  },
};

export const kubeApi: Kind<KubeApiFault> = {
  kind: 'kube-api',
  summary: 'Kubernetes API server slow, erroring (503) or black-holing requests',
  params: {
    mode: { type: 'enum', values: ['slow', 'error', 'blackhole'], doc: 'how the API server misbehaves' },
    extraLatencyUs: { type: 'integer', min: 0, max: 60 * 60 * SECOND, doc: 'added latency in `slow` mode (µs)' },
    durationUs: duration,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('kube-api' as const), mode: fc.constantFrom('slow' as const, 'error' as const, 'blackhole' as const),
    extraLatencyUs: fc.constantFrom(0, 1 * SECOND, 5 * SECOND), durationUs: fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs }),
  }),
  end: (f) => f.at + f.durationUs,
  apply(f, { instance, record, until }) {
    record({ mode: f.mode, extraLatencyUs: f.extraLatencyUs, durationUs: f.durationUs });
    if (f.mode === 'slow') instance.kubeFaults.extraLatencyUs = f.extraLatencyUs;
    else instance.kubeFaults.mode = f.mode;
    until(KUBE_API, () => {
      instance.kubeFaults.mode = 'ok';
      instance.kubeFaults.extraLatencyUs = 0;
    });
  },
  heal({ instance }) {
    instance.kubeFaults.mode = 'ok';
    instance.kubeFaults.extraLatencyUs = 0;
  },
};

/**
 * StreamSpace's fault kinds, in the order schedules draw them (the generic kinds with its own in
 * between: the order is part of the seed → schedule mapping, so it stays as campaigns have used it).
 * The pod-level network faults came last, after the others: a space whose `kinds` leaves them out
 * draws exactly what it drew before they existed; one that takes every kind draws from a longer
 * list, so its seeds name other schedules than they did before.
 */
export const STREAMSPACE_FAULT_KINDS = [
  crash, deletion, pause, isolate, partition, linkBurst, clockJump, clockDrift, redisRestart, redisEvict, pgWriteErrors, kubeApi, nodeFailure,
  podPartition, podIsolate,
  // Seed 004's (faults-004.ts): drawn only when a case space names them, so the default space and
  // its seeds stay as they were.
  ...SEED_004_FAULT_KINDS,
  // The replicated datastores' failovers (faults-failover.ts), drawn only when named too.
  ...FAILOVER_FAULT_KINDS,
] as const;

/**
 * Targets: `api` and `agent` are the index-th live pod of the role (in creation order), `leader`
 * the agent replica holding the Lease at that instant, `agent-host` the API pod whose hub holds the
 * agent's connection, `worker-node` a node; the Kubernetes API server is infrastructure (paused or
 * cut off, never deleted by a schedule). With several agent ids (per-pod ids, or many agents),
 * `leader` and `agent-host` name those of one agent id picked when the fault fires among the ids
 * that have one, so that every agent can be hit, not only the first; with one agent id nothing is
 * picked. Indexes are drawn up to `maxIndex`: with more than six agent pods, `agent` reaches the
 * first six live ones, `leader` and `agent-host` any.
 */
export const STREAMSPACE_ROLES: TargetRoles = {
  process: ['api', 'agent', 'leader', 'agent-host', 'redis', 'postgres'],
  node: ['worker-node'],
  infrastructure: ['kube-api'],
  indexed: ['api', 'agent', 'worker-node'],
  maxIndex: 5,
};

/**
 * One of several agent ids, for a fault that hits one agent: from the run's `fault-targets` stream,
 * so the choice is seeded and draws from no other stream; a single id is returned without a draw.
 */
function pickAgentId(cluster: StreamSpaceCluster, ids: readonly string[]): string {
  return ids.length === 1 ? ids[0]! : cluster.sim.stream('fault-targets').pick(ids);
}

/** Resolves a target to a process name, or null if the role has no live member right now. */
export function resolveTarget(cluster: StreamSpaceCluster, view: ClusterView, target: Target): string | null {
  switch (target.role) {
    case 'api':
    case 'agent': {
      const pods = (target.role === 'api' ? cluster.apiPods : cluster.agentPods).filter((p) => view.alive.has(p));
      return pods.length === 0 ? null : pods[(target.index ?? 0) % pods.length]!;
    }
    case 'leader': {
      const ids = cluster.agentIds();
      if (ids.length === 1) return view.holderOf(leaseName(ids[0]!));
      const held = ids.filter((id) => view.holderOf(leaseName(id)) !== null);
      return held.length === 0 ? null : view.holderOf(leaseName(pickAgentId(cluster, held)));
    }
    case 'agent-host': {
      const ids = cluster.agentIds();
      if (ids.length === 1) return view.hostOf(ids[0]!);
      const hosted = ids.filter((id) => view.hostOf(id) !== null);
      return hosted.length === 0 ? null : view.hostOf(pickAgentId(cluster, hosted));
    }
    // The datastore's role: the Redis master and the PostgreSQL primary at this instant (the single
    // servers, or whichever member Sentinel and Patroni made it).
    case 'redis':
      return cluster.redisMaster;
    case 'postgres':
      return cluster.postgresPrimary;
    case 'kube-api':
      return KUBE_API;
    default:
      return null;
  }
}

/** How generic faults act on a StreamSpace cluster: Kubernetes semantics (real-world §4). */
export const STREAMSPACE_PLATFORM: Platform<StreamSpaceCluster, ClusterView> = {
  sim: (cluster) => cluster.sim,
  resolveProcess: resolveTarget,
  resolveNode(cluster, view, target) {
    if (target.role === 'worker-node') return cluster.workerNodes[(target.index ?? 0) % cluster.workerNodes.length]!;
    const process = resolveTarget(cluster, view, target);
    return process === null ? null : cluster.sim.process(process).node.name;
  },
  // The API server is a managed control-plane process: a crash or deletion is a restart in place.
  crashProcess: (cluster, process) => (process === KUBE_API ? cluster.sim.restart(process, cluster.config.kubernetes.containerRestartUs) : cluster.crashContainer(process)),
  deleteProcess: (cluster, process) => (process === KUBE_API ? cluster.sim.restart(process, cluster.config.kubernetes.containerRestartUs) : cluster.deletePod(process)),
  failNode: (cluster, node) => cluster.failNode(node),
  recoverNode: (cluster, node) => cluster.recoverNode(node),
};
