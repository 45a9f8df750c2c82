import fc from 'fast-check';
import { SECOND, type Micros } from '../../sim-cluster/index.ts';
import { MAX_FAULT_TIME_US, rolesOf, type ArbitraryContext, type FaultKind, type Target } from '../../faults/fault-kind.ts';
import { targetArbitrary } from '../../faults/generic.ts';
import type { StreamSpaceCluster } from './cluster/cluster.ts';
import type { ClusterView } from './invariants/cluster-view.ts';

/**
 * The faults of seed report 004's chaos script that StreamSpace's own kinds did not have (spec
 * seeds-001-004.md §0 item 3, §2, §3): a node drained the way `kubectl drain` does it, an egress
 * NetworkPolicy cutting the API pods off from their datastores, the HPA's metrics going stale, and
 * a burst of load-test users. They are drawn only by case spaces that name them (`--faults`):
 * the last two need a deployment with an HPA or a load generator, and none of them may change the
 * schedules that seeds of the default space stand for.
 */

/** `kubectl drain` of a node for a while, then `kubectl uncordon`. */
export type NodeDrain = { kind: 'node-drain'; at: Micros; target: Target; durationUs: Micros };
/** An egress NetworkPolicy on the API pods denying Redis, PostgreSQL or both. */
export type EgressPartition = { kind: 'egress-partition'; at: Micros; to: 'redis' | 'postgres' | 'both'; existing: 'kept' | 'cut'; durationUs: Micros };
/** The HPA's metrics stop updating (metrics-server down). */
export type HpaMetricsStale = { kind: 'hpa-metrics-stale'; at: Micros; durationUs: Micros };
/** Locust users added for a while. */
export type LoadSpike = { kind: 'load-spike'; at: Micros; users: number; spawnRatePerSecond: number; durationUs: Micros };
/** Other data counted against Redis's maxmemory for a while. */
export type RedisMemoryPressure = { kind: 'redis-memory-pressure'; at: Micros; bytes: number; durationUs: Micros };
/** Every fault of this file. */
export type Seed004Fault = NodeDrain | EgressPartition | HpaMetricsStale | LoadSpike | RedisMemoryPressure;

/**
 * How long kubectl drain waits after an eviction refused with 429 (a PodDisruptionBudget allowing
 * no disruption) before it tries that pod again: kubectl's `staging/src/k8s.io/kubectl/pkg/drain/
 * drain.go`, evictPods: "error when evicting pod ... (will retry after 5s)", `time.Sleep(5 *
 * time.Second)`, in a goroutine per pod, until the drain's timeout.
 */
export const KUBECTL_EVICT_RETRY_US: Micros = 5 * SECOND;

type Kind<F extends Seed004Fault> = FaultKind<F, StreamSpaceCluster, ClusterView>;
const duration = { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long the window lasts (µs)' } as const;
const windowUs = (ctx: ArbitraryContext): fc.Arbitrary<Micros> => fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs });
const atEnd = (f: { at: Micros; durationUs: Micros }): Micros => f.at + f.durationUs;

// ---- node-drain ---------------------------------------------------------------------------------

/** The drains of a cluster whose kubectl is still retrying evictions; a window's end or the heal stops them. */
const runningDrains = new WeakMap<StreamSpaceCluster, Set<{ running: boolean }>>();

function drainsOf(cluster: StreamSpaceCluster): Set<{ running: boolean }> {
  let drains = runningDrains.get(cluster);
  if (drains === undefined) runningDrains.set(cluster, (drains = new Set()));
  return drains;
}

/**
 * Seed 004's "node failure": `kubectl drain` (voluntary: it honours PodDisruptionBudgets; spec §0
 * item 3, §2 "Node failure"), then `kubectl uncordon` at the window's end. kubectl cordons the node,
 * lists its pods once, and evicts each through the Eviction API (`StreamSpaceCluster.evictPod`):
 * an eviction the API pods' budget refuses (429) is retried every 5 s (`KUBECTL_EVICT_RETRY_US`)
 * until it succeeds or the window ends (kubectl's `--timeout`). Evicted pods are replaced on other
 * nodes; when no node is left to take them they stay Pending until a node is uncordoned. Pods do
 * not move back after the uncordon.
 */
export const nodeDrain: Kind<NodeDrain> = {
  kind: 'node-drain',
  summary: 'kubectl drain: cordon the node, evict its pods honouring the API pods\' PodDisruptionBudget (429s retried every 5 s), uncordon at the end',
  drawn: 'when-named',
  params: { target: { type: 'target', of: 'node', doc: 'the node drained (the node of a process role, or a node role)' }, durationUs: duration },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('node-drain' as const), target: targetArbitrary(rolesOf('node', ctx.roles), ctx.roles), durationUs: windowUs(ctx) }),
  end: atEnd,
  apply(f, { instance, view, sim, platform, record, until }) {
    const node = platform.resolveNode(instance, view, f.target);
    if (node === null) {
      record({ node: null, durationUs: f.durationUs, pods: 0 });
      return;
    }
    const pods = instance.podsOn(node);
    record({ node, durationUs: f.durationUs, pods: pods.length });
    instance.cordon(node);
    const drain = { running: true };
    const drains = drainsOf(instance);
    drains.add(drain);
    const evict = (names: readonly string[]): void => {
      if (!drain.running) return;
      const refused = names.filter((name) => instance.evictPod(name) === 'refused');
      if (refused.length > 0) sim.after(KUBECTL_EVICT_RETRY_US, () => evict(refused), `kubectl drain ${node}`);
      else drains.delete(drain);
    };
    evict(pods);
    until(node, () => {
      drain.running = false;
      drains.delete(drain);
      instance.uncordon(node);
    });
  },
  heal({ instance }) {
    const drains = runningDrains.get(instance);
    if (drains !== undefined) {
      for (const drain of drains) drain.running = false;
      drains.clear();
    }
    for (const node of instance.cordonedNodes) instance.uncordon(node);
    // Pods left Pending by an uncordon while nodes were down: every node is back by now.
    instance.placePending();
  },
};

// ---- egress-partition ---------------------------------------------------------------------------

/**
 * Seed 004's "partition": an egress NetworkPolicy on the API pods (spec §0 item 3, §2
 * "Partition": a one-way partition API → {PostgreSQL, Redis}). It selects pods by label, so API
 * pods started during the window are cut off too: their dials to the denied Services get no
 * answer and time out (the clients' dial timeouts), so an API pod started meanwhile fails its
 * start-up Redis PING and runs in single-pod mode for life (§4). Connections established before
 * the policy keep flowing (`kept`: conntrack-based plugins such as Calico) or stall both ways
 * (`cut`: per-packet plugins such as Cilium); see the network's `EgressRule`. The network's heal
 * (`healAll`) removes the policy with every other partition, so the kind needs no heal of its own.
 */
export const egressPartition: Kind<EgressPartition> = {
  kind: 'egress-partition',
  summary: 'egress NetworkPolicy on the API pods (those started meanwhile too): no new connection to Redis, PostgreSQL or both; established ones kept or cut',
  drawn: 'when-named',
  params: {
    to: { type: 'enum', values: ['redis', 'postgres', 'both'], doc: 'the Services the API pods may no longer reach' },
    existing: { type: 'enum', values: ['kept', 'cut'], doc: 'connections established before the policy keep flowing (kept: Calico, Antrea) or are dropped too (cut: Cilium, OVN-Kubernetes)' },
    durationUs: duration,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('egress-partition' as const),
    to: fc.constantFrom('redis' as const, 'postgres' as const, 'both' as const),
    existing: fc.constantFrom('kept' as const, 'cut' as const),
    durationUs: windowUs(ctx),
  }),
  end: atEnd,
  apply(f, { instance, sim, record, until }) {
    // Every process behind the Service: the single server, or each Redis node (and Sentinel) or Patroni member.
    const redis = [...instance.datastoreProcesses('redis'), ...instance.datastoreProcesses('sentinel')];
    const postgres = instance.datastoreProcesses('postgres');
    const to = f.to === 'both' ? [...redis, ...postgres] : f.to === 'redis' ? redis : postgres;
    record({ to: f.to, existing: f.existing, durationUs: f.durationUs, apiPods: instance.apiPods.length });
    const rule = sim.network.addEgressRule({ from: (p) => instance.podKind(p.name) === 'api', to: new Set(to), existing: f.existing });
    until('egress-policy', () => sim.network.removeEgressRule(rule));
  },
};

// ---- hpa-metrics-stale --------------------------------------------------------------------------

/** How many stale windows are open on a cluster: metrics are fresh again when the last one ends. */
const staleWindows = new WeakMap<StreamSpaceCluster, number>();

/**
 * The HPA's metrics stop updating for a while (metrics-server down; spec §3 "hpa-metrics-stale").
 * A deployment without an HPA has no metrics pipeline: the fault is recorded with `applied: 0`
 * and changes nothing. Overlapping windows nest.
 */
export const hpaMetricsStale: Kind<HpaMetricsStale> = {
  kind: 'hpa-metrics-stale',
  summary: 'the HPA\'s metrics stop updating (metrics-server\'s scrapes frozen: the HPA keeps reading the last values); no effect without an HPA',
  drawn: 'when-named',
  params: { durationUs: duration },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('hpa-metrics-stale' as const), durationUs: windowUs(ctx) }),
  end: atEnd,
  apply(f, { instance, record, until }) {
    const metrics = instance.metricsServer;
    record({ durationUs: f.durationUs, applied: metrics === null ? 0 : 1 });
    if (metrics === null) return;
    const open = (staleWindows.get(instance) ?? 0) + 1;
    staleWindows.set(instance, open);
    if (open === 1) metrics.setStale(true);
    until('metrics-server', () => {
      const left = staleWindows.get(instance)! - 1;
      staleWindows.set(instance, left);
      if (left === 0) metrics.setStale(false);
    });
  },
  heal({ instance }) {
    if ((staleWindows.get(instance) ?? 0) === 0) return;
    staleWindows.set(instance, 0);
    instance.metricsServer?.setStale(false);
  },
};

// ---- load-spike ---------------------------------------------------------------------------------

/** How many spikes are running on a cluster: their users stop when the last one ends. */
const runningSpikes = new WeakMap<StreamSpaceCluster, number>();

/**
 * Locust users added for a while (spec §3 "load-spike{users, spawnRate}"; seed 004 ran 1000 users
 * spawned at 50/s): the load generator spawns them at the given rate and stops them at the end.
 * Overlapping spikes add their users; as the load generator stops spike users all at once, those
 * of overlapping spikes stop together when the last of them ends. A deployment without a load
 * generator: recorded with `applied: 0`, no effect.
 */
export const loadSpike: Kind<LoadSpike> = {
  kind: 'load-spike',
  summary: 'Locust users added for a while, spawned at a rate; no effect without a load generator',
  drawn: 'when-named',
  params: {
    users: { type: 'integer', min: 0, max: 10_000, doc: 'users added' },
    spawnRatePerSecond: { type: 'integer', min: 1, max: 1_000, doc: 'users started per second (Locust --spawn-rate)' },
    durationUs: duration,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('load-spike' as const),
    users: fc.integer({ min: 1, max: 2_000 }),
    spawnRatePerSecond: fc.integer({ min: 1, max: 200 }),
    durationUs: windowUs(ctx),
  }),
  end: atEnd,
  apply(f, { instance, record, until }) {
    const load = instance.load ?? null;
    record({ users: f.users, spawnRatePerSecond: f.spawnRatePerSecond, durationUs: f.durationUs, applied: load === null ? 0 : 1 });
    if (load === null) return;
    runningSpikes.set(instance, (runningSpikes.get(instance) ?? 0) + 1);
    load.spike(f.users, f.spawnRatePerSecond);
    until('load', () => {
      const left = runningSpikes.get(instance)! - 1;
      runningSpikes.set(instance, left);
      // The generator's controls belong to its running process: ask for them again.
      if (left === 0) instance.load?.endSpike();
    });
  },
  heal({ instance }) {
    if ((runningSpikes.get(instance) ?? 0) === 0) return;
    runningSpikes.set(instance, 0);
    instance.load?.endSpike();
  },
};

// ---- redis-memory-pressure ----------------------------------------------------------------------

/**
 * Other data fills Redis's memory for a while (spec seeds-001-004 §3 `redis-memory-pressure`): a
 * batch job, a big cached response, a leak in another client of the shared instance. The bytes
 * count against `maxmemory` (chart: 200mb) until the end of the window; under allkeys-lru Redis
 * evicts the least recently used keys of every database before each command while it is over,
 * and the auth sessions, whose EXISTS checks do not touch them, go first. Under `noeviction`
 * (fix `sessions-noeviction`) writes fail instead.
 */
export const redisMemoryPressure: Kind<RedisMemoryPressure> = {
  kind: 'redis-memory-pressure',
  summary: 'other data fills Redis\'s maxmemory for a while: allkeys-lru evicts sessions and hub keys (noeviction: writes fail)',
  drawn: 'when-named',
  params: {
    bytes: { type: 'integer', min: 1, max: 64 * 1024 ** 3, doc: 'bytes of other data counted against maxmemory' },
    durationUs: duration,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('redis-memory-pressure' as const),
    // From a tenth of the chart's 200 MB to more than all of it.
    bytes: fc.integer({ min: 20 * 1024 ** 2, max: 220 * 1024 ** 2 }),
    durationUs: windowUs(ctx),
  }),
  end: atEnd,
  apply(f, { instance, sim, record, until }) {
    record({ bytes: f.bytes, durationUs: f.durationUs });
    instance.redis.pressureBytes = f.bytes;
    // Redis evicts before its next command; a dead incarnation evicts nothing.
    if (sim.process(instance.redisMaster).alive) instance.redis.performEvictions();
    until('redis-memory', () => void (instance.redis.pressureBytes = 0));
  },
  heal({ instance }) {
    instance.redis.pressureBytes = 0;
  },
};

/** The kinds of this file, in the order schedules draw them (after StreamSpace's others). */
export const SEED_004_FAULT_KINDS = [nodeDrain, egressPartition, hpaMetricsStale, loadSpike, redisMemoryPressure] as const;
