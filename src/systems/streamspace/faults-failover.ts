import fc from 'fast-check';
import { SECOND, type Micros } from '../../sim-cluster/index.ts';
import { MAX_FAULT_TIME_US, type ArbitraryContext, type FaultKind } from '../../faults/fault-kind.ts';
import { KUBE_API, POSTGRES, type StreamSpaceCluster } from './cluster/cluster.ts';
import type { ClusterView } from './invariants/cluster-view.ts';
import { KubeObjectStore } from './postgres/patroni-dcs.ts';
import { requestSwitchover } from './postgres/patroni-switchover.ts';

/**
 * Failover faults of seed 004's replicated datastores (issue: seed 004 part 2; spec seeds-001-004
 * §3 "Faults"): PostgreSQL under Patroni and Redis under Sentinel. Each targets the datastore's
 * role at the instant it fires (the primary, the synchronous standby, the master, a Sentinel),
 * whatever member holds it then. They are drawn only by case spaces that name them: on a
 * deployment without the replicated topology a kind either acts on the single server the way the
 * real action would (killing the one PostgreSQL or Redis) or, with nothing to act on (no DCS, no
 * replica, no Sentinel), is recorded with `applied: false` and changes nothing.
 *
 * Not modelled: a Redis master recreated under a new address (bitnami/charts#5418): a killed
 * master comes back under its name.
 */

/** The primary killed: gracefully (pod deleted), SIGKILL (forced deletion), or with its node. */
export type PgPrimaryKill = { kind: 'pg-primary-kill'; at: Micros; mode: 'graceful' | 'sigkill' | 'node'; durationUs: Micros };
/** The primary cut off from the Kubernetes API (its DCS), and from its standbys too with `standbys`, for a while. */
export type PgDcsPartition = { kind: 'pg-dcs-partition'; at: Micros; standbys: boolean; durationUs: Micros };
/** The synchronous standby down for a while. */
export type PgSyncStandbyDown = { kind: 'pg-sync-standby-down'; at: Micros; durationUs: Micros };
/** The Redis master crashes and comes back under its name after `downUs`. */
export type RedisMasterKill = { kind: 'redis-master-kill'; at: Micros; downUs: Micros };
/** The Redis master cut off from its replicas and the Sentinels (clients still reach it). */
export type RedisMasterIsolate = { kind: 'redis-master-isolate'; at: Micros; durationUs: Micros };
/** A Sentinel down for a while. */
export type SentinelKill = { kind: 'sentinel-kill'; at: Micros; index: number; durationUs: Micros };
/** A Sentinel cut off from every other process for a while. */
export type SentinelPartition = { kind: 'sentinel-partition'; at: Micros; index: number; durationUs: Micros };
/** A planned Patroni switchover from the leader to any fit standby, the synchronous one, or the `index`-th standby. */
export type PgSwitchover = { kind: 'pg-switchover'; at: Micros; candidate: 'any' | 'sync' | 'standby'; index: number };
export type FailoverFault = PgPrimaryKill | PgDcsPartition | PgSyncStandbyDown | RedisMasterKill | RedisMasterIsolate | SentinelKill | SentinelPartition | PgSwitchover;

type Kind<F extends FailoverFault> = FaultKind<F, StreamSpaceCluster, ClusterView>;
const duration = { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long the window lasts (µs)' } as const;
const sentinelIndex = { type: 'integer', min: 0, max: 6, doc: 'which Sentinel, modulo their number', why: 'indexes wrap modulo the Sentinels; the largest setup has 7' } as const;
const windowUs = (ctx: ArbitraryContext): fc.Arbitrary<Micros> => fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs });
const atEnd = (f: { at: Micros; durationUs: Micros }): Micros => f.at + f.durationUs;

/** Starts a crashed datastore process again where it was (its pod's node), unless it runs or its node is down. */
function startAgain(cluster: StreamSpaceCluster, name: string): void {
  const proc = cluster.sim.process(name);
  if (!proc.alive && proc.status !== 'restarting' && proc.node.up) cluster.sim.start(name);
}

/** Processes a window fault crashed and must start again at its end or at the heal, per cluster. */
const downProcesses = new WeakMap<StreamSpaceCluster, Set<string>>();

function crashFor(cluster: StreamSpaceCluster, name: string, until: (label: string, undo: () => void) => void): void {
  let down = downProcesses.get(cluster);
  if (down === undefined) downProcesses.set(cluster, (down = new Set()));
  down.add(name);
  cluster.sim.crash(name);
  until(name, () => {
    down.delete(name);
    startAgain(cluster, name);
  });
}

function restartCrashed(cluster: StreamSpaceCluster): void {
  const down = downProcesses.get(cluster);
  if (down === undefined) return;
  for (const name of down) startAgain(cluster, name);
  down.clear();
}

// ---- PostgreSQL -----------------------------------------------------------------------------

/**
 * Seed 004's "PostgreSQL failover" action on the primary (the Patroni leader, or the single
 * PostgreSQL): `graceful` is `kubectl delete pod` (SIGTERM: Patroni releases the leader key, a
 * standby takes over within a loop; the StatefulSet recreates the pod under its name), `sigkill`
 * the chaos script's `--grace-period=0 --force` (no release: the key expires after ttl), `node`
 * the primary's node failing for `durationUs` (the key expires; the pod is not replaced while the
 * node is down, `k8s.evict-stuck`). `durationUs` is the node's downtime; the pod deletions end at once.
 */
export const pgPrimaryKill: Kind<PgPrimaryKill> = {
  kind: 'pg-primary-kill',
  summary: 'the PostgreSQL primary killed: pod deleted (graceful), force-deleted (sigkill), or its node failing for a while (node)',
  drawn: 'when-named',
  params: {
    mode: { type: 'enum', values: ['graceful', 'sigkill', 'node'], doc: 'graceful: kubectl delete pod; sigkill: --grace-period=0 --force; node: the primary\'s node fails' },
    durationUs: { ...duration, doc: 'mode node: how long the node stays down (µs); the deletions end at once' },
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('pg-primary-kill' as const),
    mode: fc.constantFrom('graceful' as const, 'sigkill' as const, 'node' as const),
    durationUs: windowUs(ctx),
  }),
  end: (f) => (f.mode === 'node' ? f.at + f.durationUs : f.at),
  apply(f, { instance, record, until }) {
    const primary = instance.postgresPrimary;
    const node = instance.podNode(primary);
    record({ member: primary, mode: f.mode, node });
    if (f.mode === 'graceful') return instance.deletePod(primary);
    if (f.mode === 'sigkill') return instance.deletePod(primary, { force: true });
    if (!instance.sim.node(node).up) return;
    instance.failNode(node);
    until(node, () => instance.recoverNode(node));
  },
};

/**
 * The primary cut off from the Kubernetes API server, its DCS (spec §2: "primary partitioned from
 * DCS → demotes after retry_timeout, writes until then lost"); its clients still reach it, and its
 * standbys too unless `standbys` (the primary's node on the far side of a partition with the API
 * pods: the standbys stop receiving its WAL, so under asynchronous replication what it
 * acknowledges until it demotes is lost at the promotion). No effect on the single PostgreSQL,
 * which has no DCS.
 */
export const pgDcsPartition: Kind<PgDcsPartition> = {
  kind: 'pg-dcs-partition',
  summary: 'the Patroni primary cut off from the Kubernetes API (its DCS), and from its standbys with standbys, for a while; clients still reach it',
  drawn: 'when-named',
  params: {
    standbys: { type: 'boolean', doc: 'cut the primary off from its standbys too (they stop receiving its WAL)' },
    durationUs: duration,
  },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('pg-dcs-partition' as const), standbys: fc.boolean(), durationUs: windowUs(ctx) }),
  end: atEnd,
  apply(f, { instance, sim, record, until }) {
    const applied = instance.pgMembers.size > 0;
    const primary = instance.postgresPrimary;
    record({ member: primary, standbys: f.standbys, durationUs: f.durationUs, applied });
    if (!applied) return;
    const others = [KUBE_API, ...(f.standbys ? instance.datastoreProcesses('postgres').filter((m) => m !== primary) : [])];
    sim.network.cutProcesses([primary], others);
    until('dcs', () => sim.network.healProcesses([primary], others));
  },
};

/**
 * The synchronous standby (the member the `<scope>-sync` key names) crashes for the window: under
 * `synchronous_mode` the primary's commits wait until Patroni drops it from the key (within a
 * loop), then run without a synchronous copy; under strict mode they wait for a standby. No
 * effect without a synchronous standby (the single PostgreSQL, asynchronous replication).
 */
export const pgSyncStandbyDown: Kind<PgSyncStandbyDown> = {
  kind: 'pg-sync-standby-down',
  summary: 'the Patroni synchronous standby down for a while (no effect without one)',
  drawn: 'when-named',
  params: { durationUs: duration },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('pg-sync-standby-down' as const), durationUs: windowUs(ctx) }),
  end: atEnd,
  apply(f, { instance, record, until }) {
    const standby = instance.pgSyncStandby;
    const applied = standby !== null && instance.sim.process(standby).alive;
    record({ member: standby, durationUs: f.durationUs, applied });
    if (applied) crashFor(instance, standby, until);
  },
  heal: ({ instance }) => restartCrashed(instance),
};

/**
 * `patronictl switchover --leader <leader> [--candidate <member>] --force` (spec §3 "Faults"): the
 * request written into the `postgres-failover` key as patronictl's DCS fallback writes it
 * (postgres/patroni-switchover.ts `requestSwitchover`). At its next HA cycle (within loop_wait) the
 * leader checks the candidate (it answers its REST API with postgres running, its WAL within
 * maximum_lag_on_failover; in synchronous mode it must be the /sync standby) and demotes
 * gracefully, or refuses (`patroni.switchover` outcome `refused`, the request removed, nothing
 * else changes). Gracefully: fast stop, the WAL already written reaches the streaming standbys,
 * the key is released and the candidate takes it and promotes, about 3 s after the leader's cycle;
 * the old leader follows it. `candidate`: `any` names none (a fit standby takes over: in
 * synchronous mode the /sync one), `sync` names the member the `postgres-sync` key names, and
 * `standby` the `index`-th of the members but the leader (modulo their number, in member order),
 * which may be down or, in synchronous mode, not the /sync standby: refused. Not applied (recorded
 * `applied: false`) without Patroni, without a valid leader key (patronictl: "This cluster has no
 * leader"), with `sync` and no /sync standby, when the API server does not take the write, or when
 * a request is pending already and Patroni's REST API would refuse this one (412).
 */
export const pgSwitchover: Kind<PgSwitchover> = {
  kind: 'pg-switchover',
  summary: 'a planned Patroni switchover (patronictl switchover): the leader demotes gracefully and the candidate takes over within a loop, or the request is refused (no effect without Patroni)',
  drawn: 'when-named',
  params: {
    candidate: { type: 'enum', values: ['any', 'sync', 'standby'], doc: 'any: no candidate named; sync: the member the postgres-sync key names; standby: the index-th standby' },
    index: { type: 'integer', min: 0, max: 3, doc: 'candidate standby: which of the members but the leader, modulo their number', why: 'indexes wrap modulo the standbys; the largest setup has 5 members, 4 standbys' },
  },
  arbitrary: () => fc.record({
    kind: fc.constant('pg-switchover' as const),
    candidate: fc.constantFrom('any' as const, 'sync' as const, 'standby' as const),
    index: fc.integer({ min: 0, max: 3 }),
  }),
  end: (f) => f.at,
  apply(f, { instance, sim, record }) {
    const objects = instance.leases instanceof KubeObjectStore ? instance.leases : null;
    // patronictl's leader: the key's holder. A fresh patronictl counts the key valid whatever its
    // age (it notes the record as it reads it, kubernetes.py `_cluster_from_nodes`).
    const holder = objects?.get(POSTGRES)?.holderIdentity ?? '';
    const leader = holder === '' ? null : holder;
    const standbys = instance.datastoreProcesses('postgres').filter((m) => m !== leader);
    const candidate = leader === null ? null : f.candidate === 'sync' ? instance.pgSyncStandby : f.candidate === 'standby' ? standbys[f.index % standbys.length]! : null;
    // The write goes through the API server: down or failing, it takes nothing.
    const reachable = sim.process(KUBE_API).alive && instance.kubeFaults.mode === 'ok';
    const possible = objects !== null && leader !== null && (f.candidate !== 'sync' || candidate !== null) && reachable;
    // A request the REST API refuses while another is pending (412) writes nothing.
    const applied = possible && requestSwitchover(objects, POSTGRES, leader, candidate, sim.now) !== null;
    record({ leader, candidate, applied });
  },
};

// ---- Redis ----------------------------------------------------------------------------------

/**
 * The Redis master's process crashes and starts again under its name after `downUs`, with what its
 * persistence kept (AOF everysec: all but the last second; none: empty). Within down-after
 * Sentinel starts no failover (spec §2: "same-name master restart within down-after → no
 * failover"); later, the restarted node is told to replicate the new master and full-syncs.
 */
export const redisMasterKill: Kind<RedisMasterKill> = {
  kind: 'redis-master-kill',
  summary: 'the Redis master crashes and comes back under its name after downUs (AOF reload if configured)',
  drawn: 'when-named',
  params: { downUs: { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long the master is down (µs)' } },
  arbitrary: () => fc.record({ kind: fc.constant('redis-master-kill' as const), downUs: fc.integer({ min: 1 * SECOND, max: 60 * SECOND }) }),
  end: (f) => f.at + f.downUs,
  apply(f, { instance, record, until }) {
    const master = instance.redisMaster;
    record({ master, downUs: f.downUs });
    if (instance.sim.process(master).alive) crashFor(instance, master, until);
  },
  heal: ({ instance }) => restartCrashed(instance),
};

/**
 * The Redis master cut off from its replicas and every Sentinel, while the API pods still reach it
 * (spec §2: "isolated old master keeps acking, discarded at rejoin"; `min-replicas-to-write` bounds
 * the window). No effect on the single Redis.
 */
export const redisMasterIsolate: Kind<RedisMasterIsolate> = {
  kind: 'redis-master-isolate',
  summary: 'the Redis master cut off from its replicas and the Sentinels for a while; clients still reach it (no effect without Sentinel)',
  drawn: 'when-named',
  params: { durationUs: duration },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('redis-master-isolate' as const), durationUs: windowUs(ctx) }),
  end: atEnd,
  apply(f, { instance, sim, record, until }) {
    const master = instance.redisMaster;
    const others = [...instance.datastoreProcesses('redis').filter((n) => n !== master), ...instance.datastoreProcesses('sentinel')];
    const applied = instance.sentinels.size > 0;
    record({ master, durationUs: f.durationUs, applied });
    if (!applied) return;
    sim.network.cutProcesses([master], others);
    until('redis-master', () => sim.network.healProcesses([master], others));
  },
};

/** The `index`-th Sentinel (modulo their number), or null without Sentinels. */
function sentinelAt(cluster: StreamSpaceCluster, index: number): string | null {
  const all = cluster.datastoreProcesses('sentinel');
  return all.length === 0 ? null : all[index % all.length]!;
}

/** A Sentinel process crashes for the window and starts again with its config file (epochs, votes). */
export const sentinelKill: Kind<SentinelKill> = {
  kind: 'sentinel-kill',
  summary: 'a Redis Sentinel down for a while (no effect without Sentinel)',
  drawn: 'when-named',
  params: { index: sentinelIndex, durationUs: duration },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('sentinel-kill' as const), index: fc.integer({ min: 0, max: 2 }), durationUs: windowUs(ctx) }),
  end: atEnd,
  apply(f, { instance, record, until }) {
    const sentinel = sentinelAt(instance, f.index);
    const applied = sentinel !== null && instance.sim.process(sentinel).alive;
    record({ sentinel, durationUs: f.durationUs, applied });
    if (applied) crashFor(instance, sentinel, until);
  },
  heal: ({ instance }) => restartCrashed(instance),
};

/** A Sentinel cut off from every other process (a deny-all policy on its pod) for the window. */
export const sentinelPartition: Kind<SentinelPartition> = {
  kind: 'sentinel-partition',
  summary: 'a Redis Sentinel cut off from every other process for a while (no effect without Sentinel)',
  drawn: 'when-named',
  params: { index: sentinelIndex, durationUs: duration },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('sentinel-partition' as const), index: fc.integer({ min: 0, max: 2 }), durationUs: windowUs(ctx) }),
  end: atEnd,
  apply(f, { sim, instance, record, until }) {
    const sentinel = sentinelAt(instance, f.index);
    record({ sentinel, durationUs: f.durationUs, applied: sentinel !== null });
    if (sentinel === null) return;
    sim.network.isolateProcess(sentinel);
    until(sentinel, () => sim.network.rejoinProcess(sentinel));
  },
};

export const FAILOVER_FAULT_KINDS = [pgPrimaryKill, pgDcsPartition, pgSyncStandbyDown, redisMasterKill, redisMasterIsolate, sentinelKill, sentinelPartition, pgSwitchover] as const;
