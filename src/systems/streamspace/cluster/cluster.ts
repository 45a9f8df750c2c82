import { SECOND, Simulation, type BootFn, type ProcessContext, type SimulationOptions } from '../../../sim-cluster/index.ts';
import { agentReplica } from '../agent/agent-replica.ts';
import { apiPod } from '../api-pod/api-pod.ts';
import { apiPodClients } from '../api-pod/clients.ts';
import { PodCpu } from '../api-pod/cpu.ts';
import { resolveConfig, type ConfigOverrides, type StreamSpaceConfig } from '../config.ts';
import { kubeApiServer, healthyKubeApi, type KubeApiFaults } from '../kube/api-server.ts';
import { KubeObjectStore, kubeApiServerWithWatch, PatroniMasterService, type KubeObject } from '../postgres/patroni-dcs.ts';
import { bootPatroniMember } from '../postgres/patroni.ts';
import { PgData } from '../postgres/replication.ts';
import { watchLostWrites } from './lost-writes.ts';
import { SentinelFailover } from '../redis/failover-client.ts';
import { redisSentinel, SentinelStorage } from '../redis/sentinel.ts';
import { masterLabelController, ServiceEndpoints, serviceTarget } from '../redis/service-routing.ts';
import type { RedisTarget } from '../redis/client.ts';
import type { DialTarget } from '../net/rpc.ts';
import { KubeletProbes } from '../kube/kubelet-probes.ts';
import type { PodContainerEvent } from './pod-container-machine.ts';
import { Pod, type PodHost, type PodKind } from './pod.ts';
import { LeaseStore } from '../kube/lease-store.ts';
import { bootPostgres, healthyPostgres, type PostgresFaults } from '../postgres/server.ts';
import { PostgresStorage } from '../postgres/tables.ts';
import { redisServer, RedisStorage } from '../redis/server.ts';
import { ApiServiceEndpoints } from './api-service.ts';
import { SessionPlatform } from './platform.ts';
import { HorizontalPodAutoscaler, MetricsServer, type ScaledPod, type ScaleTarget } from '../hpa/index.ts';
import { loadGenerator, LoadRecord, type LoadControl } from '../load/load-generator.ts';
import { workload } from './workload.ts';

/** Process names of the cluster's fixed services (their Service DNS names). */
export const REDIS = 'redis';
export const POSTGRES = 'postgres';
export const KUBE_API = 'kube-api';
export const USERS = 'users';
/** The seed-004 load generator (Locust), on the ingress node. */
export const LOCUST = 'locust';
/** The controller that moves the `redis` Service to the master Sentinel names (`redis.access: master-service`). */
export const REDIS_MASTER_LABELLER = 'redis-master-labeller';
export const CONTROL_PLANE_NODE = 'control-plane';
export const INGRESS_NODE = 'ingress';

export type { PodKind } from './pod.ts';

const STARTED: PodContainerEvent = { type: 'STARTED' };
const EXITED: PodContainerEvent = { type: 'EXITED' };
const LIVENESS_KILL: PodContainerEvent = { type: 'LIVENESS_KILL' };
const CRASHED: PodContainerEvent = { type: 'CRASHED' };
const START_DUE: PodContainerEvent = { type: 'START_DUE' };
const EVICTED: PodContainerEvent = { type: 'EVICTED' };

/** A pod the ReplicaSet or StatefulSet created while no worker node could take it (Pending). */
interface PendingPod {
  name: string;
  kind: PodKind;
  /** How long after it is placed it starts (as for any new pod). */
  delayUs: number;
  slot: number;
}

export interface StreamSpaceClusterOptions {
  seed: number | string;
  config?: ConfigOverrides;
  /**
   * Passed to the simulation (trace.keepEvents, stepBudget, network...). `traceMessages` defaults
   * to false here: every StreamSpace component records what it sends and receives, with command
   * ids, so per-segment `net.recv` events would only make traces 1.7x longer (`npm run bench`
   * measures both settings).
   */
  simulation?: Omit<SimulationOptions, 'seed'>;
}

/**
 * The StreamSpace v2 HA deployment on the simulation kernel: the control-plane node (Kubernetes
 * API server and its Lease store), worker nodes carrying the API pods, the k8s-agent replicas,
 * Redis and PostgreSQL, and an ingress node for users. It also plays the Kubernetes controllers:
 * the Deployment controller (deleted pods replaced by new pods with new names, containers restarted
 * in place after a crash) and the node lifecycle (NotReady after `nodeNotReadyUs`, eviction and
 * replacement after `podEvictionUs`).
 *
 * Redis and PostgreSQL are reached through their Services: a replacement keeps the Service name, so
 * their process names never change. API pods and agents get new pod names (POD_NAME is their
 * identity in Redis keys, channels and the Lease).
 */
export class StreamSpaceCluster {
  readonly sim: Simulation;
  readonly config: StreamSpaceConfig;
  readonly endpoints = new ApiServiceEndpoints();
  /** etcd's Leases (and, with Patroni, the Endpoints objects it keeps its leader key in). */
  readonly leases: LeaseStore;
  readonly platform: SessionPlatform;
  /** Each Redis node's storage by process name: one (`redis`) with `redis.topology` single, else `redis-0`... */
  readonly redisNodes = new Map<string, RedisStorage>();
  /** Each Sentinel's config file by process name (`redis.topology` sentinel). */
  readonly sentinels = new Map<string, SentinelStorage>();
  /** Each Patroni member's data by process name (`postgres.topology` patroni). */
  readonly pgMembers = new Map<string, PgData>();
  /** The Patroni cluster's master Service (the Endpoints its leader writes), null for the single PostgreSQL. */
  readonly pgMasterService: PatroniMasterService | null = null;
  /**
   * `redis.topology` sentinel, as built: the `redis` Service the API pods dial (`redis.access`): one
   * endpoint a controller moves to the new master, or every Redis node. Null for the single Redis
   * (its Service always names its one pod) and with the fix `sentinel-aware-client`.
   */
  readonly redisService: ServiceEndpoints | null = null;
  private readonly singlePostgres = new PostgresStorage();
  readonly postgresFaults: PostgresFaults = healthyPostgres();
  readonly kubeFaults: KubeApiFaults = healthyKubeApi();
  readonly workerNodes: string[] = [];
  /** The kubelets' liveness and readiness probes. */
  readonly kubelet: KubeletProbes;
  /** The users' requests and outcomes, when the configuration runs a load (`load.mode`). */
  readonly loadRecord: LoadRecord | null;
  /** Each API pod's CPU, for its requests' service time and the HPA's metrics. */
  readonly apiCpu = new Map<string, PodCpu>();
  /** The metrics-server and the API Deployment's HPA, when the configuration enables it (`hpa.enabled`). */
  readonly metricsServer: MetricsServer | null = null;
  readonly hpa: HorizontalPodAutoscaler | null = null;
  /** The API Deployment's spec.replicas (the HPA and `scaleApi` write it). */
  private apiReplicasSpec: number;
  /** When each API pod's container last started, and when its readiness last changed (the HPA reads both). */
  private readonly apiStartedAt = new Map<string, number>();
  private readonly apiReadyChangedAt = new Map<string, number>();
  private readonly pods = new Map<string, Pod>();
  /** What each pod's container statechart needs from the cluster. */
  private readonly podHost: PodHost;
  /** The StatefulSet's recreation of a member deleted gracefully, run when its process exits. */
  private readonly recreateOnExit = new Map<string, () => void>();
  private readonly nextPodIndex = { api: 0, agent: 0 };
  private placement = 0;
  /**
   * How many times each worker node has failed: a node's NotReady and eviction deadlines belong to
   * one failure, and are void once the node has recovered since (a later failure starts its own).
   */
  private readonly nodeFailures = new Map<string, number>();
  /** Cordoned worker nodes (`kubectl cordon`: spec.unschedulable): no new pod is placed on them. */
  private readonly cordoned = new Set<string>();
  /** Pods created while every worker node that is up was cordoned, oldest first: placed when one is uncordoned. */
  private readonly pending: PendingPod[] = [];

  constructor(options: StreamSpaceClusterOptions) {
    this.config = resolveConfig(options.config);
    this.sim = new Simulation({ seed: options.seed, traceMessages: false, ...options.simulation });
    const sim = this.sim;
    this.podHost = {
      sim,
      containerRestartUs: this.config.kubernetes.containerRestartUs,
      terminationGraceUs: this.config.kubernetes.terminationGraceUs,
      leaveEndpoints: (pod) => this.endpoints.setReady(pod, false),
      chartHost: {
        setTimer: () => {
          throw new Error('the pod container statechart arms no timer');
        },
        cancelTimer: () => undefined,
        record: (kind, details) => sim.trace.record(sim.now, 'k8s', kind, details),
        fail: (error) => sim.fail(error),
        statecharts: sim.statecharts,
      },
    };
    const { topology } = this.config;
    this.sim.addNode(CONTROL_PLANE_NODE);
    this.sim.addNode(INGRESS_NODE);
    for (let i = 1; i <= topology.workerNodes; i++) {
      this.sim.addNode(`node-${i}`);
      this.workerNodes.push(`node-${i}`);
    }
    const patroni = this.config.postgres.topology === 'patroni';
    // Patroni keeps its leader key in an Endpoints object and watches it (postgres/patroni-dcs.ts):
    // the API server with objects and a watch. Without Patroni, the plain Lease server as before.
    const objects = patroni ? new KubeObjectStore() : null;
    this.leases = objects ?? new LeaseStore();
    this.platform = new SessionPlatform(this.leases);
    this.sim.addProcess({ name: KUBE_API, node: CONTROL_PLANE_NODE, boot: objects !== null ? kubeApiServerWithWatch(objects, this.kubeFaults) : kubeApiServer(this.leases, this.kubeFaults) });
    if (patroni) {
      this.pgMasterService = new PatroniMasterService(this.leases, POSTGRES);
      for (let i = 0; i < this.config.postgres.members; i++) this.pgMembers.set(`${POSTGRES}-${i}`, new PgData());
      watchLostWrites(this.sim, this.pgMembers);
    }
    if (this.config.redis.topology === 'sentinel') {
      for (let i = 0; i <= this.config.redis.replicas; i++) this.redisNodes.set(`${REDIS}-${i}`, new RedisStorage());
      for (let i = 0; i < this.config.redis.sentinels; i++) this.sentinels.set(`sentinel-${i}`, new SentinelStorage());
      if (!this.config.fixes.sentinelAwareClient) {
        this.redisService = new ServiceEndpoints(REDIS, this.config.redis.access === 'all-nodes' ? [...this.redisNodes.keys()] : [`${REDIS}-0`]);
      }
    } else {
      this.redisNodes.set(REDIS, new RedisStorage());
    }
    this.apiReplicasSpec = topology.apiReplicas;
    for (let i = 0; i < topology.apiReplicas; i++) this.addPod('api', 0);
    for (let i = 0; i < topology.agentReplicas; i++) this.addPod('agent', topology.agentStartUs);
    this.kubelet = new KubeletProbes({
      sim: this.sim,
      controlPlaneNode: CONTROL_PLANE_NODE,
      probesOf: (pod) => {
        const p = this.pods.get(pod);
        // Sentinels' probes (bitnami: `redis-cli -p 26379 ping`) are not modelled: a Sentinel pod is never killed by its kubelet.
        return p === undefined || p.gone || p.kind === 'sentinel' ? null : this.config.kubernetes.probes[p.kind];
      },
      setProbeReady: (pod, ready) => {
        if (this.pods.get(pod)?.kind === 'api') this.endpoints.setProbeReady(pod, ready);
      },
      killContainer: (pod) => this.killForLiveness(pod),
    });
    for (let i = 0; i < this.redisNodes.size; i++) this.addPod('redis', 0, i);
    for (let i = 0; i < this.sentinels.size; i++) this.addPod('sentinel', 0, i);
    for (let i = 0; i < Math.max(1, this.pgMembers.size); i++) this.addPod('postgres', 0, i);
    if (this.redisService !== null && this.config.redis.access === 'master-service') {
      this.sim.addProcess({
        name: REDIS_MASTER_LABELLER, node: CONTROL_PLANE_NODE,
        boot: masterLabelController({ service: this.redisService, sentinels: [...this.sentinels.keys()], lagUs: this.config.redis.masterServiceLagUs }),
      });
    }
    this.restartExitedContainers();
    this.sim.addProcess({
      name: USERS, node: INGRESS_NODE,
      boot: workload({ config: this.config.workload, endpoints: this.endpoints, agentIds: () => this.agentIds() }),
    });
    if (this.config.hpa.enabled) {
      this.endpoints.onChange = (pod) => this.apiReadyChangedAt.set(pod, this.sim.now);
      const target = this.apiScaleTarget();
      this.metricsServer = new MetricsServer(target, { scrapeable: (pod) => this.sim.node(this.podNode(pod.name)).up });
      const { minReplicas, maxReplicas, targetCpuPercent, behavior } = this.config.hpa;
      this.hpa = new HorizontalPodAutoscaler(target, this.metricsServer, {
        spec: { minReplicas, maxReplicas, targetCPUUtilizationPercentage: targetCpuPercent, cpuRequestMilli: this.config.apiCpu.requestMillicores, behavior },
      });
      this.metricsServer.start(this.sim);
      this.hpa.start(this.sim);
    }
    this.loadRecord = this.config.load.mode === 'off' ? null : new LoadRecord();
    if (this.loadRecord !== null) {
      this.sim.addProcess({
        name: LOCUST, node: INGRESS_NODE,
        boot: loadGenerator(this.config.load, { endpoints: () => this.endpoints.endpoints, agentIds: () => this.agentIds(), now: () => this.sim.now }, this.loadRecord),
      });
    }
  }

  /**
   * The API Deployment as the HPA sees it: spec.replicas, and every API pod the ReplicaSet made,
   * Pending (not started), running, or terminating (deleted, its process still up).
   */
  private apiScaleTarget(): ScaleTarget {
    return {
      replicas: () => this.apiReplicasSpec,
      scale: (replicas) => this.scaleApi(replicas),
      pods: () => {
        const out: ScaledPod[] = [];
        for (const [name, pod] of this.pods) {
          if (pod.kind !== 'api') continue;
          const alive = this.sim.process(name).alive;
          if (pod.gone && !alive) continue;
          out.push({
            name,
            startedAt: alive ? this.apiStartedAt.get(name) ?? null : null,
            ready: this.endpoints.isReady(name),
            readyChangedAt: this.apiReadyChangedAt.get(name) ?? 0,
            deleting: pod.gone,
            cpu: this.cpuOf(name),
          });
        }
        return out;
      },
    };
  }

  /** What the `load-spike` fault drives: absent when the configuration runs no load. */
  get load(): LoadControl | undefined {
    const control = this.loadRecord?.control;
    return control === null ? undefined : control;
  }

  /** Running API pods (not deleted), in creation order. */
  get apiPods(): string[] {
    return this.podsOf('api');
  }

  get agentPods(): string[] {
    return this.podsOf('agent');
  }

  /** The agent ids in use: the shared id, or one per live agent pod (Helm's `<agentId>-<POD_NAME>`). */
  agentIds(): string[] {
    const { topology } = this.config;
    if (topology.agentIdMode === 'shared') return [topology.sharedAgentId];
    return this.agentPods.map((pod) => this.agentIdOf(pod));
  }

  /**
   * The agent id an agent pod runs as: the shared id, or `<agentId>-<POD_NAME>`
   * (chart/templates/k8s-agent-deployment.yaml:43-52, spec §0). With the design fix
   * `fixed-agent-id` each agent is a Deployment of its own with a fixed AGENT_ID, named here after
   * the first pod's name so that ids are the same as built until a pod is replaced.
   */
  agentIdOf(pod: string): string {
    const { topology } = this.config;
    if (topology.agentIdMode === 'shared') return topology.sharedAgentId;
    if (!this.config.fixes.fixedAgentId) return `${topology.sharedAgentId}-${pod}`;
    const p = this.pods.get(pod);
    if (p === undefined) throw new Error(`unknown pod '${pod}'`);
    return `${topology.sharedAgentId}-agent-${p.slot}`;
  }

  // ---- datastores ------------------------------------------------------------------------------

  /**
   * The Redis master's process name: the single Redis, or the master of the Sentinels' latest
   * configuration (the highest config epoch any Sentinel's file holds; the first node until a
   * failover). What faults aimed at "Redis" hit and what checkers read.
   */
  get redisMaster(): string {
    if (this.sentinels.size === 0) return REDIS;
    let master = `${REDIS}-0`;
    let epoch = -1;
    for (const storage of this.sentinels.values()) {
      const c = storage.config;
      if (c !== null && c.configEpoch > epoch) {
        epoch = c.configEpoch;
        master = c.master;
      }
    }
    return master;
  }

  /** The Redis master's storage (`redisMaster`). */
  get redis(): RedisStorage {
    return this.redisNodes.get(this.redisMaster)!;
  }

  /**
   * The PostgreSQL primary's process name: the single PostgreSQL, or the Patroni member the master
   * Service's Endpoints name (the leader), else the member with the latest timeline and WAL (none
   * holds the key: the last primary).
   */
  get postgresPrimary(): string {
    if (this.pgMasterService === null) return POSTGRES;
    const named = this.pgMasterService.resolve();
    if (this.pgMembers.has(named)) return named;
    let best = `${POSTGRES}-0`;
    for (const [name, data] of this.pgMembers) {
      const b = this.pgMembers.get(best)!;
      if (data.timeline > b.timeline || (data.timeline === b.timeline && data.lsn > b.lsn)) best = name;
    }
    return best;
  }

  /** The tables as the PostgreSQL primary (`postgresPrimary`) has them. */
  get postgres(): PostgresStorage {
    return this.pgMasterService === null ? this.singlePostgres : this.pgMembers.get(this.postgresPrimary)!.storage;
  }

  /** The Patroni synchronous standby the `<scope>-sync` key names, or null (none, or no Patroni). */
  get pgSyncStandby(): string | null {
    if (this.pgMasterService === null) return null;
    const sync = (this.leases.get(`${POSTGRES}-sync`) as Partial<KubeObject> | undefined)?.annotations?.['sync_standby'];
    return sync === undefined || sync === '' ? null : sync;
  }

  /** Every process of a datastore kind, in creation order (Redis nodes, Sentinels or PostgreSQL members). */
  datastoreProcesses(kind: 'redis' | 'postgres' | 'sentinel'): string[] {
    if (kind === 'redis') return [...this.redisNodes.keys()];
    if (kind === 'sentinel') return [...this.sentinels.keys()];
    return this.pgMembers.size > 0 ? [...this.pgMembers.keys()] : [POSTGRES];
  }

  /**
   * Where an API pod's go-redis client connects, as built or with the fix: the single Redis; the
   * `redis` Service (kube-proxy picks an endpoint per connection on the pod's node: the pod's own
   * random stream); or go-redis's FailoverClient asking the Sentinels (fix `sentinel-aware-client`),
   * one per client as `NewFailoverClient` makes one per client.
   */
  private redisTargetFor(ctx: ProcessContext): RedisTarget {
    if (this.sentinels.size === 0) return REDIS;
    if (this.redisService === null) return new SentinelFailover(ctx, { sentinels: [...this.sentinels.keys()] });
    return serviceTarget(this.redisService, ctx.random('kube-proxy'));
  }

  /** Where lib/pq dials: the single PostgreSQL's Service, or the Patroni master Service. */
  private get postgresTarget(): DialTarget {
    return this.pgMasterService?.resolve ?? POSTGRES;
  }

  /** A StatefulSet pod: PostgreSQL always; Redis nodes and Sentinels in the Sentinel topology (bitnami's `redis-node` StatefulSet). */
  private isStatefulSet(kind: PodKind): boolean {
    return kind === 'postgres' || kind === 'sentinel' || (kind === 'redis' && this.sentinels.size > 0);
  }

  /** A StatefulSet member of a replicated datastore (a Patroni member, a Redis node or Sentinel with Sentinel): it has a stop hook. */
  private isReplicatedMember(kind: PodKind): boolean {
    return (kind === 'postgres' && this.pgMembers.size > 0) || kind === 'sentinel' || (kind === 'redis' && this.sentinels.size > 0);
  }

  podNode(pod: string): string {
    const p = this.pods.get(pod);
    if (p === undefined) throw new Error(`unknown pod '${pod}'`);
    return p.node;
  }

  private podsOf(kind: PodKind): string[] {
    const out: string[] = [];
    for (const [name, pod] of this.pods) if (pod.kind === kind && !pod.gone) out.push(name);
    return out;
  }

  // ---- pods ----------------------------------------------------------------------------------

  /**
   * Schedules a new pod of a kind on the next worker node that is up (round robin), starting after
   * `delayUs`; a replacement passes the slot of the pod it replaces.
   */
  private addPod(kind: PodKind, delayUs: number, slot?: number): string {
    const index = kind === 'api' || kind === 'agent' ? this.nextPodIndex[kind]++ : slot ?? 0;
    const name = kind === 'api' || kind === 'agent' ? `${kind}-${index}` : this.statefulName(kind, index);
    const node = this.nextNode();
    if (node === null) this.holdPending({ name, kind, delayUs, slot: slot ?? index });
    else this.placePod(name, kind, node, delayUs, slot ?? index);
    return name;
  }

  /**
   * Binds a pod to a node and starts it there after `delayUs`, unless it was deleted meanwhile (a
   * drain may evict a pod placed on a node it empties before the pod started).
   */
  private placePod(name: string, kind: PodKind, node: string, delayUs: number, slot: number): void {
    const pod = new Pod(name, kind, node, slot, this.podHost);
    this.pods.set(name, pod);
    this.sim.addProcess({ name, node, boot: this.bootFor(kind, name), autoStart: false });
    this.sim.after(delayUs, () => pod.chart.send(START_DUE), `schedule ${name}`);
  }

  /**
   * A datastore pod's name: a StatefulSet's `<name>-<ordinal>` for replicated members, else the
   * Service name the single Redis or PostgreSQL has always had.
   */
  private statefulName(kind: 'redis' | 'postgres' | 'sentinel', ordinal: number): string {
    if (kind === 'sentinel') return `sentinel-${ordinal}`;
    if (kind === 'redis') return this.sentinels.size > 0 ? `${REDIS}-${ordinal}` : REDIS;
    return this.pgMembers.size > 0 ? `${POSTGRES}-${ordinal}` : POSTGRES;
  }

  /** The next worker node that is up and not cordoned (round robin), or null: see `noSchedulableNode`. */
  private nextNode(): string | null {
    if (this.config.topology.placement === 'one-per-node') return this.leastLoadedNode();
    for (let i = 0; i < this.workerNodes.length; i++) {
      const node = this.workerNodes[this.placement++ % this.workerNodes.length]!;
      if (this.sim.node(node).up && !this.cordoned.has(node)) return node;
    }
    return this.noSchedulableNode();
  }

  /** The up, uncordoned worker node running the fewest live pods, the lowest-numbered among equals. */
  private leastLoadedNode(): string | null {
    const load = new Map(this.workerNodes.map((n) => [n, 0]));
    for (const pod of this.pods.values()) if (!pod.gone) load.set(pod.node, (load.get(pod.node) ?? 0) + 1);
    let best: string | null = null;
    for (const node of this.workerNodes) {
      if (!this.sim.node(node).up || this.cordoned.has(node)) continue;
      if (best === null || load.get(node)! < load.get(best)!) best = node;
    }
    return best ?? this.noSchedulableNode();
  }

  /**
   * No node takes a new pod. When every node that is up is cordoned, the pod stays Pending (null)
   * until one is uncordoned, as the scheduler leaves it; with every worker node down the model
   * stops with an error, as it did before nodes could be cordoned.
   */
  private noSchedulableNode(): null {
    if (this.workerNodes.some((n) => this.sim.node(n).up)) return null;
    throw new Error('no worker node is up to schedule a pod on');
  }

  private bootFor(kind: PodKind, name: string): BootFn {
    const c = this.config;
    switch (kind) {
      case 'api':
        return apiPod({
          config: c.api,
          fixes: c.fixes,
          auth: c.auth,
          cpu: { config: c.apiCpu, meter: this.cpuOf(name) },
          clients: (ctx) => apiPodClients(ctx, {
            postgres: this.postgresTarget,
            redis: () => this.redisTargetFor(ctx),
            pingTimeoutUs: c.api.redisPingTimeoutUs,
            guardedStatusWrites: c.fixes.guardedStatusWrites,
            // With Patroni, database/sql's pool as built (api/internal/db/database.go); the single
            // PostgreSQL keeps the model's one-connection clients, so its runs stay as they were.
            pool: this.pgMembers.size === 0 ? null : {
              maxOpenConns: c.postgres.poolMaxOpen, maxIdleConns: c.postgres.poolMaxIdle,
              connMaxLifetimeUs: c.postgres.poolMaxLifetimeUs, connMaxIdleTimeUs: c.postgres.poolMaxIdleTimeUs,
              readOnlyIsBadConn: c.fixes.readonlyConnIsBad,
            },
          }),
          setReady: (ready) => this.endpoints.setReady(name, ready),
        });
      case 'agent': {
        const agentId = this.agentIdOf(name);
        return agentReplica({
          agentId, agent: c.agent, election: c.election, ha: c.topology.agentHa,
          service: this.endpoints, platform: this.platform, kubeApi: KUBE_API, fixes: c.fixes,
        });
      }
      case 'redis':
        // chart/values.yaml:503-509: maxmemory 200mb, allkeys-lru (noeviction with fix `sessions-noeviction`).
        return redisServer(this.redisNodes.get(name)!, {
          maxmemoryBytes: c.redis.maxmemoryBytes,
          evictionPolicy: c.redis.evictionPolicy,
          ...(c.redis.aofEverySec ? { aof: {} } : {}),
          // The Sentinel topology: the first node starts as the master, the others as its replicas.
          ...(this.sentinels.size === 0 ? {} : {
            replication: {
              ...(name === `${REDIS}-0` ? {} : { replicaOf: `${REDIS}-0` }),
              minReplicasToWrite: c.redis.minReplicasToWrite,
              minReplicasMaxLagUs: c.redis.minReplicasMaxLagUs,
            },
          }),
        });
      case 'sentinel':
        return redisSentinel({
          initialMaster: `${REDIS}-0`, peers: [...this.sentinels.keys()], quorum: c.redis.quorum,
          downAfterUs: c.redis.downAfterUs, failoverTimeoutUs: c.redis.failoverTimeoutUs, parallelSyncs: c.redis.parallelSyncs,
        }, this.sentinels.get(name)!);
      case 'postgres':
        if (this.pgMasterService === null) return bootPostgres(this.singlePostgres, this.postgresFaults);
        return bootPatroniMember(this.pgMembers.get(name)!, {
          members: [...this.pgMembers.keys()], scope: POSTGRES, kubeApi: KUBE_API, replication: c.postgres.replication,
          ttl: c.postgres.ttlUs / SECOND, loopWait: c.postgres.loopWaitUs / SECOND, retryTimeout: c.postgres.retryTimeoutUs / SECOND,
          maximumLagOnFailover: c.postgres.maximumLagOnFailoverBytes,
        }, this.postgresFaults);
    }
  }

  /** The API pod's CPU meter, made with the pod. */
  private cpuOf(pod: string): PodCpu {
    let cpu = this.apiCpu.get(pod);
    if (cpu === undefined) {
      cpu = new PodCpu(this.config.apiCpu, () => this.sim.now);
      this.apiCpu.set(pod, cpu);
    }
    return cpu;
  }

  /**
   * `kubectl delete pod` (real-world §5.1): the pod leaves the Service endpoints and gets SIGTERM;
   * the ReplicaSet creates the replacement at once, while the old pod may still run; after the
   * grace period a pod still running is killed. Redis and PostgreSQL have no SIGTERM hook in the
   * model: they shut down cleanly at once.
   */
  deletePod(name: string, options: { replace?: boolean; force?: boolean } = {}): void {
    const pod = this.pods.get(name);
    if (pod === undefined || pod.gone) return;
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.delete-pod', { pod: name, kind: pod.kind, ...(options.force ? { force: true } : {}) });
    if (pod.kind === 'api' || pod.kind === 'agent') {
      // Its container statechart's `deleting`, or `deleted` at once when forced (`kubectl delete pod
      // --grace-period=0 --force`, seed 004's chaos script): pod-container-machine.ts.
      pod.delete(options.force ?? false);
      // `replace: false` is a scale-down: the ReplicaSet wants fewer pods, so none replaces it.
      if (options.replace ?? true) this.addPod(pod.kind, this.config.kubernetes.podReplacementUs, pod.slot);
      return;
    }
    if (this.isReplicatedMember(pod.kind)) {
      // A StatefulSet pod with a stop hook (Patroni releases its leader key on SIGTERM, Redis and
      // Sentinel shut down): SIGTERM, SIGKILL after the grace period (at once when forced); the
      // StatefulSet controller then creates the pod again under its name, with its volume,
      // `podReplacementUs` after the old one is gone.
      const proc = this.sim.process(name);
      const incarnation = proc.incarnation;
      const recreate = (): void => {
        this.sim.after(this.config.kubernetes.podReplacementUs, () => {
          if (this.sim.node(pod.node).up && !this.sim.process(name).alive) this.sim.start(name);
        }, `recreate ${name}`);
      };
      if (options.force || !proc.alive) {
        if (proc.alive) this.sim.crash(name);
        recreate();
        return;
      }
      pod.recreating = true;
      this.sim.signal(name, 'SIGTERM');
      this.sim.after(this.config.kubernetes.terminationGraceUs, () => {
        if (!pod.recreating || proc.incarnation !== incarnation || !proc.alive) return;
        pod.recreating = false;
        this.sim.crash(name);
        recreate();
      }, `sigkill ${name}`);
      this.recreateOnExit.set(name, recreate);
      return;
    }
    // Forced (`--grace-period=0 --force`): SIGKILL at once, no clean shutdown.
    if (options.force) this.sim.crash(name);
    else this.sim.exit(name);
    this.sim.after(this.config.kubernetes.podReplacementUs, () => {
      if (this.sim.node(pod.node).up && !this.sim.process(name).alive) this.sim.start(name);
    }, `replace ${name}`);
  }

  /**
   * `kubectl scale deployment streamspace-api --replicas=N` (seed report 002, "Scaling Commands"):
   * scaling up creates pods that start after `podReplacementUs`, like any new pod; scaling down
   * deletes the newest pods first (the ReplicaSet controller ranks equally ready pods by how
   * recently they became ready, and deletes the most recent), each a graceful deletion with no
   * replacement. Only used by scenarios that scale; the initial size is `topology.apiReplicas`.
   */
  scaleApi(replicas: number): void {
    this.apiReplicasSpec = replicas;
    const live = this.apiPods;
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.scale', { deployment: 'api', from: live.length, to: replicas });
    for (let i = live.length; i < replicas; i++) this.addPod('api', this.config.kubernetes.podReplacementUs);
    for (const name of live.slice(replicas).reverse()) this.deletePod(name, { replace: false });
  }

  /**
   * The kernel's process events, to each pod's container statechart (pod-container-machine.ts):
   * restartPolicy Always, a container that exits by itself (a fatal error, a panic, an exit on lost
   * leadership) is restarted in place by the kubelet after `containerRestartUs`. Deleted and evicted
   * pods are not; infrastructure pods being replaced are started by their own replacement.
   */
  private restartExitedContainers(): void {
    this.sim.trace.subscribe((e) => {
      if (e.k === 'proc.start') {
        const started = this.pods.get(e.p);
        if (started === undefined) return;
        if (started.kind === 'api') this.apiStartedAt.set(e.p, e.t);
        started.chart.send(STARTED);
        return;
      }
      if (e.k !== 'proc.exit') return;
      const pod = this.pods.get(e.p);
      if (pod === undefined || pod.gone) return;
      if (pod.recreating) {
        pod.recreating = false;
        this.recreateOnExit.get(e.p)?.();
        return;
      }
      // Restarted in place or not: the statechart decides (pod-container-machine.ts).
      pod.chart.send(EXITED);
    });
  }

  /** The container crashes (OOM kill, panic): the kubelet restarts it in place, same pod name. */
  crashContainer(name: string): void {
    const pod = this.pods.get(name);
    if (pod === undefined || pod.gone) return;
    pod.chart.send(CRASHED);
  }

  /**
   * The kubelet kills a container whose liveness probe failed `failureThreshold` times
   * (`kube/kubelet-probes.ts`) and restarts it in place: the stop signal (SIGTERM; a paused process
   * handles it when it resumes, and its shutdown then goes the way of any exit: the restart after
   * `containerRestartUs`), then SIGKILL after `terminationGraceUs` if it still runs, and the same
   * restart. The pod keeps its name; Redis restarts empty (no persistence, spec §0), PostgreSQL
   * with its data.
   */
  private killForLiveness(name: string): void {
    const pod = this.pods.get(name);
    if (pod === undefined || pod.gone) return;
    const proc = this.sim.process(name);
    if (!proc.alive) return;
    const grace: PodContainerEvent = { type: 'GRACE_EXPIRED', incarnation: proc.incarnation };
    pod.chart.send(LIVENESS_KILL);
    // The stop signal goes out once the chart is `terminating`, not from its transition: a process
    // that exits on it at once must find the chart idle (pod-container-machine.ts).
    this.sim.signal(name, 'SIGTERM');
    this.sim.after(this.config.kubernetes.terminationGraceUs, () => pod.chart.send(grace), `kubelet sigkill ${name}`);
  }

  /**
   * Node failure (real-world §5.2): everything on it dies silently; after `nodeNotReadyUs` its API
   * pods leave the endpoints; after `podEvictionUs` its pods are replaced on other nodes.
   */
  failNode(node: string): void {
    this.sim.failNode(node);
    const k = this.config.kubernetes;
    const failure = (this.nodeFailures.get(node) ?? 0) + 1;
    this.nodeFailures.set(node, failure);
    // When the node is Ready again the node lifecycle controller removes its unreachable NoExecute
    // taint, and a pod tolerating it for tolerationSeconds is evicted only if the taint is still
    // there when they run out (real-world §5.2 facts 3-4; Kubernetes' taint-and-toleration page):
    // a deadline of an earlier failure must not fire into a later one.
    const stillThisFailure = (): boolean => !this.sim.node(node).up && this.nodeFailures.get(node) === failure;
    const victims = [...this.pods].filter(([, p]) => p.node === node && !p.gone).map(([name]) => name);
    this.sim.after(k.nodeNotReadyUs, () => {
      if (!stillThisFailure()) return;
      this.sim.trace.record(this.sim.now, 'k8s', 'k8s.node-not-ready', { node });
      for (const name of victims) this.endpoints.setReady(name, false);
    }, `not-ready ${node}`);
    this.sim.after(k.podEvictionUs, () => {
      if (!stillThisFailure()) return;
      for (const name of victims) this.evict(name);
    }, `evict ${node}`);
  }

  private evict(name: string): void {
    const pod = this.pods.get(name)!;
    if (pod.gone) return;
    if (this.isStatefulSet(pod.kind)) {
      // PostgreSQL is a StatefulSet pod (the chart's postgresql StatefulSet, replicas 1). The taint
      // manager deletes it, but the pod object stays Terminating while its kubelet cannot confirm,
      // and the StatefulSet controller creates `postgres-0` again only once the old object is gone
      // (at-most-one pod per identity: spec seeds-001-004 §2 "Model correction", real-world §5.2.6).
      // The same holds for the Redis nodes and Sentinels of the Sentinel topology (a StatefulSet).
      // So nothing replaces it: it runs again when its node is back (`recoverNode` restarts it in
      // place, with its volume).
      this.sim.trace.record(this.sim.now, 'k8s', 'k8s.evict-stuck', { pod: name, node: pod.node });
      return;
    }
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.evict', { pod: name, node: pod.node });
    pod.chart.send(EVICTED);
    if (pod.kind === 'api' || pod.kind === 'agent') {
      // An evicted pod is deleted, and the endpoints list only pods that exist (real-world §5.1
      // fact 2). NotReady usually took it out 40 s after the failure already; not when the node
      // recovered and failed again in between.
      if (pod.kind === 'api') this.endpoints.setReady(name, false);
      this.addPod(pod.kind, this.config.kubernetes.podReplacementUs, pod.slot);
      return;
    }
    // The Service name moves to a new pod on a live node.
    this.sim.removeProcess(name);
    this.pods.delete(name);
    this.addPod(pod.kind, this.config.kubernetes.podReplacementUs);
  }

  /** The node is back: the kubelet restarts the containers of pods that were not evicted. */
  recoverNode(node: string): void {
    this.sim.recoverNode(node, false);
    for (const [name, pod] of this.pods) {
      if (pod.node !== node || pod.gone || this.sim.process(name).alive) continue;
      // A restarted container is not Ready until it serves again: it leaves the endpoints meanwhile.
      this.endpoints.setReady(name, false);
      this.sim.start(name);
    }
    // Pods left Pending while no node could take them are scheduled now.
    this.placePending();
  }

  // ---- cordon, drain, Pending pods -----------------------------------------------------------

  /** `kubectl cordon`: the scheduler places no new pod on the node; the pods on it keep running. */
  cordon(node: string): void {
    if (this.cordoned.has(node)) return;
    this.cordoned.add(node);
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.cordon', { node });
  }

  /** `kubectl uncordon`: the node takes new pods again, Pending ones first; no pod moves back to it. */
  uncordon(node: string): void {
    if (!this.cordoned.delete(node)) return;
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.uncordon', { node });
    this.placePending();
  }

  /** Every cordoned node, in the order they were cordoned. */
  get cordonedNodes(): string[] {
    return [...this.cordoned];
  }

  /**
   * The kind of a pod by name, including pods being deleted (a terminating pod keeps its labels,
   * so policies that select it still do), or null for a name that is no pod (anymore).
   */
  podKind(name: string): PodKind | null {
    return this.pods.get(name)?.kind ?? null;
  }

  /** The pods bound to a node and not deleted, in creation order: what `kubectl drain` lists. */
  podsOn(node: string): string[] {
    return [...this.pods].filter(([, p]) => p.node === node && !p.gone).map(([name]) => name);
  }

  /** Pods no node could take yet (every node that is up was cordoned), oldest first. */
  get pendingPods(): string[] {
    return this.pending.map((p) => p.name);
  }

  /**
   * A pod no node can take stays Pending (`k8s.pod-pending`). Redis, PostgreSQL and the Sentinels
   * keep a process under their name, never started by the cluster, on a node that is up: the Service
   * resolves and its dials are refused (no endpoint), and the checkers that look Redis up still
   * find it. (A fault that starts Redis in place, such as `redis-restart`'s end, may start it there
   * meanwhile; the replacement stops it when it is placed.)
   */
  private holdPending(pod: PendingPod): void {
    this.pending.push(pod);
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.pod-pending', { pod: pod.name, kind: pod.kind });
    if (pod.kind !== 'api' && pod.kind !== 'agent' && !this.sim.hasProcess(pod.name)) {
      const node = this.workerNodes.find((n) => this.sim.node(n).up)!;
      this.sim.addProcess({ name: pod.name, node, boot: this.bootFor(pod.kind, pod.name), autoStart: false });
    }
  }

  /** The scheduler's retry: places Pending pods, oldest first, while some node takes them. */
  placePending(): void {
    while (this.pending.length > 0 && this.workerNodes.some((n) => this.sim.node(n).up)) {
      const node = this.nextNode();
      if (node === null) return;
      const pod = this.pending.shift()!;
      if (this.sim.hasProcess(pod.name)) {
        this.sim.exit(pod.name);
        this.sim.removeProcess(pod.name);
      }
      this.sim.trace.record(this.sim.now, 'k8s', 'k8s.pod-scheduled', { pod: pod.name, node });
      this.placePod(pod.name, pod.kind, node, pod.delayUs, pod.slot);
    }
  }

  /**
   * The Eviction API (`POST pods/<name>/eviction`, kubernetes pkg/registry/core/pod/storage/
   * eviction.go), as `kubectl drain` calls it. `gone`: the pod no longer exists or is already
   * being deleted (NotFound, or canIgnorePDB for a pod with a deletionTimestamp: nothing more
   * happens). `refused`: 429 TooManyRequests, the API pods' PodDisruptionBudget allows no
   * disruption now (`pdbRefuses`); the caller may retry. `evicted`: the pod is deleted:
   * - an API or agent pod gracefully, replaced by its ReplicaSet on another node (`deletePod`);
   * - Redis (a Deployment) and PostgreSQL (a StatefulSet) stop at once (no SIGTERM hook in the
   *   model, as in `deletePod`) and are recreated on another node under the same Service name:
   *   Redis empty (no persistence, spec §0, as after `evict`), PostgreSQL with its data. The
   *   latter assumes network-attached storage whose volume follows the pod; with a node-local
   *   volume (k3d's local-path provisioner) the PV's node affinity would keep it Pending instead.
   *   On a node that is down the deletion cannot complete (its kubelet does not answer): they are
   *   left to the node lifecycle's eviction (`failNode`), as any pod of a failed node.
   */
  evictPod(name: string): 'evicted' | 'refused' | 'gone' {
    const pod = this.pods.get(name);
    if (pod === undefined || pod.gone) return 'gone';
    if (pod.kind === 'api' && this.pdbRefuses(name)) {
      this.sim.trace.record(this.sim.now, 'k8s', 'k8s.evict-refused', { pod: name, node: pod.node, healthy: this.healthyApiPods() });
      return 'refused';
    }
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.evict', { pod: name, node: pod.node });
    if (pod.kind === 'api' || pod.kind === 'agent') {
      this.deletePod(name);
      return 'evicted';
    }
    if (!this.sim.node(pod.node).up) return 'evicted';
    pod.chart.send(EVICTED);
    this.sim.exit(name);
    this.sim.removeProcess(name);
    this.pods.delete(name);
    this.addPod(pod.kind, this.config.kubernetes.podReplacementUs, pod.slot);
    return 'evicted';
  }

  /** The API pods' PodDisruptionBudget `minAvailable` (`kubernetes.apiPdbMinAvailable`; null: none, the chart's default). */
  private get apiPdbMinAvailable(): number | null {
    return this.config.kubernetes.apiPdbMinAvailable;
  }

  /** API pods that are Ready and not being deleted: the budget's currentHealthy (the disruption controller's count). */
  private healthyApiPods(): number {
    return this.apiPods.filter((p) => this.endpoints.isReady(p)).length;
  }

  /**
   * Whether the API pods' PodDisruptionBudget refuses evicting `name` now (eviction.go): a pod
   * still Pending (never started) ignores the budget (canIgnorePDB); an unready pod may go while
   * the budget is met (currentHealthy >= desiredHealthy > 0) without using a disruption; any other
   * needs disruptionsAllowed = currentHealthy - minAvailable > 0 (checkAndDecrement). The count is
   * read live: an evicted pod leaves it at once, as the decrement and DisruptedPods make it do
   * before the disruption controller's next pass.
   */
  private pdbRefuses(name: string): boolean {
    const minAvailable = this.apiPdbMinAvailable;
    if (minAvailable === null || this.sim.process(name).incarnation === 0) return false;
    const healthy = this.healthyApiPods();
    if (!this.endpoints.isReady(name) && minAvailable > 0 && healthy >= minAvailable) return false;
    return healthy - minAvailable <= 0;
  }
}
