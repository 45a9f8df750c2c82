import { Simulation, type BootFn, type SimulationOptions } from '../../../sim-cluster/index.ts';
import { agentReplica } from '../agent/agent-replica.ts';
import { apiPod } from '../api-pod/api-pod.ts';
import { apiPodClients } from '../api-pod/clients.ts';
import { resolveConfig, type ConfigOverrides, type StreamSpaceConfig } from '../config.ts';
import { kubeApiServer, healthyKubeApi, type KubeApiFaults } from '../kube/api-server.ts';
import { KubeletProbes } from '../kube/kubelet-probes.ts';
import { LeaseStore } from '../kube/lease-store.ts';
import { bootPostgres, healthyPostgres, type PostgresFaults } from '../postgres/server.ts';
import { PostgresStorage } from '../postgres/tables.ts';
import { redisServer, RedisStorage } from '../redis/server.ts';
import { ApiServiceEndpoints } from './api-service.ts';
import { SessionPlatform } from './platform.ts';
import { workload } from './workload.ts';

/** Process names of the cluster's fixed services (their Service DNS names). */
export const REDIS = 'redis';
export const POSTGRES = 'postgres';
export const KUBE_API = 'kube-api';
export const USERS = 'users';
export const CONTROL_PLANE_NODE = 'control-plane';
export const INGRESS_NODE = 'ingress';

export type PodKind = 'api' | 'agent' | 'redis' | 'postgres';

interface Pod {
  kind: PodKind;
  node: string;
  /** Deleted or evicted: no longer counted, its replacement is on the way. */
  gone: boolean;
  /** Its container is being killed by the kubelet after failed liveness probes: restart it when it exits. */
  livenessKill: boolean;
  /**
   * The replica it stands for: the creation index of the first pod, inherited by each replacement.
   * With the design fix `fixed-agent-id` an agent pod's id comes from it (one Deployment per agent).
   */
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
  readonly leases = new LeaseStore();
  readonly platform = new SessionPlatform(this.leases);
  readonly redis = new RedisStorage();
  readonly postgres = new PostgresStorage();
  readonly postgresFaults: PostgresFaults = healthyPostgres();
  readonly kubeFaults: KubeApiFaults = healthyKubeApi();
  readonly workerNodes: string[] = [];
  /** The kubelets' liveness and readiness probes. */
  readonly kubelet: KubeletProbes;
  private readonly pods = new Map<string, Pod>();
  private readonly nextPodIndex = { api: 0, agent: 0 };
  private placement = 0;
  /**
   * How many times each worker node has failed: a node's NotReady and eviction deadlines belong to
   * one failure, and are void once the node has recovered since (a later failure starts its own).
   */
  private readonly nodeFailures = new Map<string, number>();

  constructor(options: StreamSpaceClusterOptions) {
    this.config = resolveConfig(options.config);
    this.sim = new Simulation({ seed: options.seed, traceMessages: false, ...options.simulation });
    const { topology } = this.config;
    this.sim.addNode(CONTROL_PLANE_NODE);
    this.sim.addNode(INGRESS_NODE);
    for (let i = 1; i <= topology.workerNodes; i++) {
      this.sim.addNode(`node-${i}`);
      this.workerNodes.push(`node-${i}`);
    }
    this.sim.addProcess({ name: KUBE_API, node: CONTROL_PLANE_NODE, boot: kubeApiServer(this.leases, this.kubeFaults) });
    for (let i = 0; i < topology.apiReplicas; i++) this.addPod('api', 0);
    for (let i = 0; i < topology.agentReplicas; i++) this.addPod('agent', topology.agentStartUs);
    this.kubelet = new KubeletProbes({
      sim: this.sim,
      controlPlaneNode: CONTROL_PLANE_NODE,
      probesOf: (pod) => {
        const p = this.pods.get(pod);
        return p === undefined || p.gone ? null : this.config.kubernetes.probes[p.kind];
      },
      setProbeReady: (pod, ready) => {
        if (this.pods.get(pod)?.kind === 'api') this.endpoints.setProbeReady(pod, ready);
      },
      killContainer: (pod) => this.killForLiveness(pod),
    });
    this.addPod('redis', 0);
    this.addPod('postgres', 0);
    this.restartExitedContainers();
    this.sim.addProcess({
      name: USERS, node: INGRESS_NODE,
      boot: workload({ config: this.config.workload, endpoints: this.endpoints, agentIds: () => this.agentIds() }),
    });
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
    const index = kind === 'api' || kind === 'agent' ? this.nextPodIndex[kind]++ : 0;
    const name = kind === 'api' || kind === 'agent' ? `${kind}-${index}` : kind;
    const node = this.nextNode();
    this.pods.set(name, { kind, node, gone: false, livenessKill: false, slot: slot ?? index });
    this.sim.addProcess({ name, node, boot: this.bootFor(kind, name), autoStart: false });
    this.sim.after(delayUs, () => {
      if (this.sim.node(node).up && !this.sim.process(name).alive) this.sim.start(name);
    }, `schedule ${name}`);
    return name;
  }

  private nextNode(): string {
    if (this.config.topology.placement === 'one-per-node') return this.leastLoadedNode();
    for (let i = 0; i < this.workerNodes.length; i++) {
      const node = this.workerNodes[this.placement++ % this.workerNodes.length]!;
      if (this.sim.node(node).up) return node;
    }
    throw new Error('no worker node is up to schedule a pod on');
  }

  /** The up worker node running the fewest live pods, the lowest-numbered among equals. */
  private leastLoadedNode(): string {
    const load = new Map(this.workerNodes.map((n) => [n, 0]));
    for (const pod of this.pods.values()) if (!pod.gone) load.set(pod.node, (load.get(pod.node) ?? 0) + 1);
    let best: string | null = null;
    for (const node of this.workerNodes) {
      if (!this.sim.node(node).up) continue;
      if (best === null || load.get(node)! < load.get(best)!) best = node;
    }
    if (best === null) throw new Error('no worker node is up to schedule a pod on');
    return best;
  }

  private bootFor(kind: PodKind, name: string): BootFn {
    const c = this.config;
    switch (kind) {
      case 'api':
        return apiPod({
          config: c.api,
          fixes: c.fixes,
          clients: (ctx) => apiPodClients(ctx, { postgres: POSTGRES, redis: REDIS, pingTimeoutUs: c.api.redisPingTimeoutUs, guardedStatusWrites: c.fixes.guardedStatusWrites }),
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
        return redisServer(this.redis);
      case 'postgres':
        return bootPostgres(this.postgres, this.postgresFaults);
    }
  }

  /**
   * `kubectl delete pod` (real-world §5.1): the pod leaves the Service endpoints and gets SIGTERM;
   * the ReplicaSet creates the replacement at once, while the old pod may still run; after the
   * grace period a pod still running is killed. Redis and PostgreSQL have no SIGTERM hook in the
   * model: they shut down cleanly at once.
   */
  deletePod(name: string, options: { replace?: boolean } = {}): void {
    const pod = this.pods.get(name);
    if (pod === undefined || pod.gone) return;
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.delete-pod', { pod: name, kind: pod.kind });
    if (pod.kind === 'api' || pod.kind === 'agent') {
      pod.gone = true;
      this.endpoints.setReady(name, false);
      this.sim.signal(name, 'SIGTERM');
      this.sim.after(this.config.kubernetes.terminationGraceUs, () => this.sim.crash(name), `sigkill ${name}`);
      // `replace: false` is a scale-down: the ReplicaSet wants fewer pods, so none replaces it.
      if (options.replace ?? true) this.addPod(pod.kind, this.config.kubernetes.podReplacementUs, pod.slot);
      return;
    }
    this.sim.exit(name);
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
    const live = this.apiPods;
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.scale', { deployment: 'api', from: live.length, to: replicas });
    for (let i = live.length; i < replicas; i++) this.addPod('api', this.config.kubernetes.podReplacementUs);
    for (const name of live.slice(replicas).reverse()) this.deletePod(name, { replace: false });
  }

  /**
   * restartPolicy Always: a container that exits by itself (a fatal error, a panic, an exit on lost
   * leadership) is restarted in place by the kubelet after `containerRestartUs`. Deleted and evicted
   * pods are not; infrastructure pods being replaced are started by their own replacement.
   */
  private restartExitedContainers(): void {
    this.sim.trace.subscribe((e) => {
      if (e.k === 'proc.start') {
        const started = this.pods.get(e.p);
        if (started !== undefined) started.livenessKill = false;
        return;
      }
      if (e.k !== 'proc.exit') return;
      const pod = this.pods.get(e.p);
      if (pod === undefined || pod.gone) return;
      if ((pod.kind === 'redis' || pod.kind === 'postgres') && !pod.livenessKill) return;
      if (pod.kind === 'api') this.endpoints.setReady(e.p, false);
      this.sim.after(this.config.kubernetes.containerRestartUs, () => {
        if (!pod.gone && this.sim.hasProcess(e.p) && !this.sim.process(e.p).alive && this.sim.node(pod.node).up) this.sim.start(e.p);
      }, `kubelet restart ${e.p}`);
    });
  }

  /** The container crashes (OOM kill, panic): the kubelet restarts it in place, same pod name. */
  crashContainer(name: string): void {
    const pod = this.pods.get(name);
    if (pod === undefined || pod.gone) return;
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.container-crash', { pod: name });
    if (pod.kind === 'api') this.endpoints.setReady(name, false);
    this.sim.restart(name, this.config.kubernetes.containerRestartUs);
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
    const incarnation = proc.incarnation;
    pod.livenessKill = true;
    this.sim.signal(name, 'SIGTERM');
    this.sim.after(this.config.kubernetes.terminationGraceUs, () => {
      if (pod.gone || proc.incarnation !== incarnation || !proc.alive) return;
      this.sim.trace.record(this.sim.now, 'kubelet', 'kubelet.sigkill', { pod: name });
      if (pod.kind === 'api') this.endpoints.setReady(name, false);
      this.sim.restart(name, this.config.kubernetes.containerRestartUs);
    }, `kubelet sigkill ${name}`);
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
    this.sim.trace.record(this.sim.now, 'k8s', 'k8s.evict', { pod: name, node: pod.node });
    pod.gone = true;
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
  }
}
