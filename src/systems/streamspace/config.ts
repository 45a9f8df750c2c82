import { MINUTE, MS, SECOND, type Micros } from '../../sim-cluster/index.ts';

/**
 * Every constant of the StreamSpace v2 model, with the spec section it comes from. A profile or a
 * test overrides any field; the defaults are the as-built system at commit 15f3690.
 */
export interface HubConfig {
  /** Stale sweep period (§2.4, agent_hub.go:210). */
  staleSweepUs: Micros;
  /** A connection whose LastPing is older than this is unregistered by the sweep (§2.4: 45 s). */
  staleThresholdUs: Micros;
  /** TTL of `agent:<id>:pod` and `agent:<id>:connected` (§2.4: 5 min), in whole seconds for EX/EXPIRE. */
  redisKeyTtlSeconds: number;
  /** Buffer of the register channel (§2.1: 10). */
  registerBuffer: number;
  /** Buffer of the unregister channel (§2.1: 10). */
  unregisterBuffer: number;
  /** Per-connection Send buffer (§2.4: 256). */
  sendBuffer: number;
}

export interface ApiWebSocketConfig {
  /** Read deadline after the last pong or agent ping (§3: pongWait 60 s). */
  pongWaitUs: Micros;
  /** Server control-ping period (§3: 54 s). */
  pingPeriodUs: Micros;
  /**
   * Time for the writePump goroutine to wake after a message is queued on Send. Everything queued
   * by then is coalesced into one frame (§1 framing quirk, agent_websocket.go:339-344). Go's
   * scheduler wakes a parked goroutine in the order of microseconds; 50 µs is an assumption.
   */
  writerWakeUs: Micros;
}

export interface DispatcherConfig {
  /** In-memory queue capacity (§5.3: 1000). */
  queueCapacity: number;
  /** Worker goroutines (§5.3: 10). */
  workers: number;
}

export interface ApiPodConfig {
  hub: HubConfig;
  ws: ApiWebSocketConfig;
  dispatcher: DispatcherConfig;
  /** AGENTHUB_REDIS_ENABLED (§0: chart default false; the seed-000 deployment enabled it). */
  redisEnabled: boolean;
  /** Timeout of the start-up PING; on failure the pod runs single-pod mode for life (§4, §6). */
  redisPingTimeoutUs: Micros;
  /** Time from process start to the HTTP server listening, besides the Redis PING (DB connect, migrations). */
  startupUs: Micros;
}

export interface AgentConfig {
  /** HEALTH_CHECK_INTERVAL (§7.2, chart values: 30 s). */
  heartbeatIntervalUs: Micros;
  /** Fixed reconnect backoff steps (§7.2: [2, 4, 8, 16, 32] s). */
  reconnectBackoffUs: readonly Micros[];
  /** Agent read deadline after the last pong it processed (§7.2: pongWait 60 s). */
  pongWaitUs: Micros;
  /** Agent ping period from its writePump (§7.2: 54 s). */
  pingPeriodUs: Micros;
  /** WebSocket dial handshake timeout (§7.2: 10 s). */
  dialTimeoutUs: Micros;
  /** Registration HTTP timeout (§7.2: 10 s). */
  registerTimeoutUs: Micros;
  /** writeChan capacity (§7.1: 256). */
  writeChanCapacity: number;
  /** How long sendMessage waits to enqueue on a full writeChan before failing (§7.2: 5 s). */
  sendMessageWaitUs: Micros;
  /**
   * Duration of a start_session handler, within [min, max] (§7.5: pods polled up to 120 s, so max
   * is also the cap every bound and deadline uses as the longest command).
   */
  startSessionUs: readonly [Micros, Micros];
  /**
   * How start_session durations are drawn within `startSessionUs`. `uniform`: uniform in [min, max]
   * (the seed-000 model). `log-normal`: median `startSessionMedianUs`, σ `startSessionSigma` (of the
   * logarithm), clamped to [min, max]. A handler's time is dominated by the session pod becoming
   * Ready (scheduling, image pull, container start, §7.5), a right-skewed, heavy-tailed quantity:
   * log-normal is the usual model of such service times (Brown et al., "Statistical Analysis of a
   * Telephone Call Center: A Queueing-Science Perspective", JASA 100(469), 2005, which finds
   * service times log-normal; Feitelson, "Workload Modeling for Computer Systems Performance
   * Evaluation", 2015, on log-normal runtimes), and Kubernetes' own pod-startup SLO leaves
   * image pulls out because they vary so much with image size and locality (SIG Scalability,
   * pod_startup_latency.md). The parameters are an assumption, not a measurement.
   */
  startSessionDistribution: 'uniform' | 'log-normal';
  /** Median start_session duration of the log-normal draw. */
  startSessionMedianUs: Micros;
  /** σ of the natural logarithm of the log-normal draw (0: always the median). */
  startSessionSigma: number;
  /** Duration of a stop_session handler: uniform in [min, max] (deleting a Deployment and a Service). */
  stopSessionUs: readonly [Micros, Micros];
  /** Sleep after a signal before the process exits (§8 signal path: 2 s). */
  exitDelayUs: Micros;
  /** Capacity reported in heartbeats (§1: the k8s-agent always sends one). */
  capacity: number;
}

export interface ElectionConfig {
  /** §8: LeaseDuration 15 s. */
  leaseDurationUs: Micros;
  /** §8: RenewDeadline 10 s. */
  renewDeadlineUs: Micros;
  /** §8: RetryPeriod 2 s. */
  retryPeriodUs: Micros;
  /** client-go's JitterFactor for the acquire loop (real-world §1.1 fact 8: 1.2). */
  jitterFactor: number;
  /** §8: ReleaseOnCancel=true. */
  releaseOnCancel: boolean;
}

export interface TopologyConfig {
  /** API pod replicas (seed 000 deployment: 2). */
  apiReplicas: number;
  /** k8s-agent replicas (seed 000: 3 with HA). */
  agentReplicas: number;
  /** All replicas share one agent id (raw manifest and seed 000), or each derives it from its pod name (Helm chart, §0). */
  agentIdMode: 'shared' | 'per-pod';
  /** The shared agent id (§0 raw manifest: `k8s-prod-us-east-1`). */
  sharedAgentId: string;
  /** Leader election (`ENABLE_HA`). */
  agentHa: boolean;
  /** Worker nodes; `placement` says how pods are put on them. */
  workerNodes: number;
  /**
   * Where the scheduler puts a new pod (API pods first, then agents, Redis, PostgreSQL, then
   * replacements as they come). `packed`: the next up worker node, round robin, so pods share
   * nodes once there are more pods than nodes (the seed-000 model). `one-per-node`: the up node
   * running the fewest live pods, lowest first, as the default scheduler's spreading scores
   * (NodeResourcesBalancedAllocation, the default PodTopologySpread on kubernetes.io/hostname) or a
   * pod anti-affinity would: with as many worker nodes as pods, each pod has a node of its own, so a
   * node fault hits that pod alone.
   */
  placement: 'packed' | 'one-per-node';
  /**
   * When the agent pods start. The seed-000 deployment had the API running before the agents; with
   * 0, a leader elected before any API pod is ready fails its first Connect, and in HA mode that
   * error is only logged: the agent never runs while its replica holds the lease (§7.4).
   */
  agentStartUs: Micros;
}

export interface KubernetesConfig {
  /** Delay before the Deployment controller's replacement pod starts (scheduling, image, container start). */
  podReplacementUs: Micros;
  /** terminationGracePeriodSeconds (Kubernetes default 30 s). */
  terminationGraceUs: Micros;
  /** Restart delay of a crashed container in place (kubelet back-off, first restart ~10 s). */
  containerRestartUs: Micros;
  /** A failed node is marked NotReady and its pods leave Service endpoints after this (real-world §5.2: 40-50 s). */
  nodeNotReadyUs: Micros;
  /** Pods on a NotReady node are evicted and replaced after this (real-world §5.2: tolerationSeconds 300 s). */
  podEvictionUs: Micros;
  /**
   * The kubelet probes of each container, as the Helm chart at 15f3690 declares them (null: the
   * chart declares none). `src/systems/streamspace/kube/kubelet-probes.ts` runs them.
   */
  probes: PodProbes;
}

/**
 * One kubelet probe (Kubernetes `Probe`). Unset fields take the Kubernetes defaults:
 * timeoutSeconds 1, failureThreshold 3, successThreshold 1.
 */
export interface ProbeSpec {
  /**
   * What the probe needs from the process. `answers`: an HTTP GET or an exec that talks to the
   * server (`/health`, `redis-cli ping`, `pg_isready`), so a paused process fails it by timeout.
   * `process-exists`: an exec of `pgrep`, a separate process that passes while the container's
   * process exists, paused or not.
   */
  check: 'answers' | 'process-exists';
  initialDelayUs: Micros;
  periodUs: Micros;
  timeoutUs: Micros;
  failureThreshold: number;
  successThreshold: number;
}

export interface ContainerProbes {
  liveness: ProbeSpec | null;
  readiness: ProbeSpec | null;
}

/** The probes per pod kind. */
export interface PodProbes {
  api: ContainerProbes;
  agent: ContainerProbes;
  redis: ContainerProbes;
  postgres: ContainerProbes;
}

export interface WorkloadConfig {
  /** Mean time between user requests (create or delete a session). 0 disables the workload. */
  requestIntervalUs: Micros;
  /** Fraction of requests that create (start_session); the rest stop a session created earlier. */
  createFraction: number;
  /** When the first request is sent (after the cluster has settled). */
  startUs: Micros;
}

/**
 * Named design fixes (DESIGN decision 8): each is a change a StreamSpace engineer could make, off in
 * the as-built profile. `src/systems/streamspace/profiles.ts` documents which finding each one removes.
 */
export interface FixesConfig {
  /** UpdateAgentHeartbeat SETs both keys with EX (re-creating them) instead of EXPIRE. */
  heartbeatRewritesMapping: boolean;
  /** Unregister names the connection, not just the agent id; Redis keys are deleted only if they still name this pod (compare-and-delete). */
  conditionalUnregister: boolean;
  /** The agent runs each command handler in its own goroutine; the reader keeps reading (pongs, next commands). */
  agentAsyncHandlers: boolean;
  /** A failed first Connect in Run enters the Reconnect loop instead of returning (and being only logged in HA mode). */
  agentRetryConnect: boolean;
  /** Status UPDATEs only move a row forward (`AND status IN (...)`): `sent` never overwrites `ack`/`completed`. */
  guardedStatusWrites: boolean;
  /** Every API pod re-dispatches rows left pending/sent/ack longer than `redeliverAfterUs`, every `reconcileEveryUs`; re-dispatches never mark a row failed, and the reconciler replaces the start-up pending scan. */
  redeliverUnfinished: boolean;
  /** The agent skips a command id it is running, and answers `complete` for one whose effect exists already (resources labelled with the command id). */
  agentIdempotent: boolean;
  /** The agent's writePump survives a write error (that message is dropped) and writes to the next connection, instead of exiting for good (§7.6). */
  writerSurvivesErrors: boolean;
  /** The dispatcher marks a command failed only on definite errors (key missing, buffer full); a Redis error (the agent may be connected, the PUBLISH may have been delivered) leaves the row for redelivery. */
  ambiguousSendNotFailed: boolean;
  /** An agent replica exits when it stops leading (as Kubernetes' own components do), so the kubelet restarts it and it campaigns again, instead of idling because Run is never re-entered (§8). */
  exitOnLostLeadership: boolean;
  /** With the Redis hub enabled, an API pod retries the start-up PING every 5 s and becomes ready only once Redis answers, instead of running single-pod mode for life (§4). */
  waitForRedis: boolean;
  /** The API's writePump writes each queued message as its own frame instead of joining them with newlines (§1 framing quirk). */
  framePerMessage: boolean;
  /** The agent's platform writes are conditional on its Lease (holder and leaseTransitions as a fencing token), checked when a command starts and when its effect is applied. */
  fencedEffects: boolean;
  /** A redelivery claims its row just before it sends (`pending` → `sent` by a conditional UPDATE, or a re-read of a `sent`/`ack` row) and sends only if the row is still unfinished, so a stale dispatch's `failed` can no longer land on a row being redelivered. */
  redeliveryClaimsRow: boolean;
  /** The chart turns the Redis hub on whenever it runs more than one API pod (spec §0: its default runs 2 without one), so every pod can route to an agent connected to another. */
  hubForReplicas: boolean;
  /** checkStaleConnections hands each stale id to `unregister` from a goroutine of its own, so the Run goroutine, the channel's only reader, never blocks on it (§2.2 step 2). */
  nonblockingStaleSweep: boolean;
  /** AGENT_ID is fixed per agent Deployment instead of derived from POD_NAME (§0), so a replacement pod is the same agent and the rows addressed to its predecessor reach it. */
  fixedAgentId: boolean;
  /** Redelivery: reconciler period. */
  reconcileEveryUs: Micros;
  /** Redelivery: how long a row may stay unfinished before it is dispatched again (longer than the longest command). */
  redeliverAfterUs: Micros;
}

export interface StreamSpaceConfig {
  fixes: FixesConfig;
  topology: TopologyConfig;
  api: ApiPodConfig;
  agent: AgentConfig;
  election: ElectionConfig;
  kubernetes: KubernetesConfig;
  workload: WorkloadConfig;
}

/** A probe with the chart's initialDelaySeconds and periodSeconds and Kubernetes' defaults for the rest. */
function probe(check: ProbeSpec['check'], initialDelaySeconds: number, periodSeconds: number): ProbeSpec {
  return {
    check,
    initialDelayUs: initialDelaySeconds * SECOND,
    periodUs: periodSeconds * SECOND,
    timeoutUs: 1 * SECOND,
    failureThreshold: 3,
    successThreshold: 1,
  };
}

export const DEFAULT_CONFIG: StreamSpaceConfig = {
  fixes: {
    heartbeatRewritesMapping: false,
    conditionalUnregister: false,
    agentAsyncHandlers: false,
    agentRetryConnect: false,
    guardedStatusWrites: false,
    redeliverUnfinished: false,
    agentIdempotent: false,
    fencedEffects: false,
    framePerMessage: false,
    writerSurvivesErrors: false,
    waitForRedis: false,
    ambiguousSendNotFailed: false,
    exitOnLostLeadership: false,
    redeliveryClaimsRow: false,
    hubForReplicas: false,
    nonblockingStaleSweep: false,
    fixedAgentId: false,
    reconcileEveryUs: 30 * SECOND,
    redeliverAfterUs: 150 * SECOND,
  },
  topology: {
    apiReplicas: 2,
    agentReplicas: 3,
    agentIdMode: 'shared',
    sharedAgentId: 'k8s-prod-us-east-1',
    agentHa: true,
    workerNodes: 3,
    placement: 'packed',
    agentStartUs: 30 * SECOND,
  },
  api: {
    hub: {
      staleSweepUs: 10 * SECOND,
      staleThresholdUs: 45 * SECOND,
      redisKeyTtlSeconds: 300,
      registerBuffer: 10,
      unregisterBuffer: 10,
      sendBuffer: 256,
    },
    ws: { pongWaitUs: 60 * SECOND, pingPeriodUs: 54 * SECOND, writerWakeUs: 50 },
    dispatcher: { queueCapacity: 1000, workers: 10 },
    redisEnabled: true,
    redisPingTimeoutUs: 5 * SECOND,
    startupUs: 2 * SECOND,
  },
  agent: {
    heartbeatIntervalUs: 30 * SECOND,
    reconnectBackoffUs: [2 * SECOND, 4 * SECOND, 8 * SECOND, 16 * SECOND, 32 * SECOND],
    pongWaitUs: 60 * SECOND,
    pingPeriodUs: 54 * SECOND,
    dialTimeoutUs: 10 * SECOND,
    registerTimeoutUs: 10 * SECOND,
    writeChanCapacity: 256,
    sendMessageWaitUs: 5 * SECOND,
    startSessionUs: [5 * SECOND, 120 * SECOND],
    startSessionDistribution: 'uniform',
    startSessionMedianUs: 15 * SECOND,
    startSessionSigma: 0.8,
    stopSessionUs: [200 * MS, 2 * SECOND],
    exitDelayUs: 2 * SECOND,
    capacity: 100,
  },
  election: {
    leaseDurationUs: 15 * SECOND,
    renewDeadlineUs: 10 * SECOND,
    retryPeriodUs: 2 * SECOND,
    jitterFactor: 1.2,
    releaseOnCancel: true,
  },
  kubernetes: {
    podReplacementUs: 5 * SECOND,
    terminationGraceUs: 30 * SECOND,
    containerRestartUs: 10 * SECOND,
    nodeNotReadyUs: 40 * SECOND,
    podEvictionUs: 300 * SECOND,
    probes: {
      // chart/templates/api-deployment.yaml:138-149 (spec §0): httpGet /health on the API port;
      // /health always returns 200 while the process serves (api/internal/api/stubs.go:113-118).
      api: {
        liveness: probe('answers', 15, 20),
        readiness: probe('answers', 5, 10),
      },
      // chart/values.yaml:184-205 (spec §0), rendered by chart/templates/k8s-agent-deployment.yaml:
      // exec `pgrep -f k8s-agent`, timeoutSeconds 5, failureThreshold 3: any live process passes.
      agent: {
        liveness: { ...probe('process-exists', 10, 30), timeoutUs: 5 * SECOND },
        readiness: { ...probe('process-exists', 5, 10), timeoutUs: 5 * SECOND },
      },
      // chart/templates/redis.yaml (the internal Redis Deployment): exec `redis-cli ping`.
      redis: {
        liveness: probe('answers', 10, 10),
        readiness: probe('answers', 5, 5),
      },
      // chart/templates/postgresql.yaml (the internal PostgreSQL StatefulSet): exec `pg_isready -U <user>`.
      postgres: {
        liveness: probe('answers', 30, 10),
        readiness: probe('answers', 10, 5),
      },
    },
  },
  workload: {
    requestIntervalUs: 1 * SECOND,
    createFraction: 0.7,
    startUs: 1 * MINUTE,
  },
};

/**
 * The Lease an agent id's replicas elect a leader on: `streamspace-agent-<AgentID>` in the agent's
 * namespace (spec §5 "Lease", leader_election.go:58-78). Every reader of the Lease names it here.
 */
export function leaseName(agentId: string): string {
  return `streamspace-agent-${agentId}`;
}

/** Faults never start before the cluster has settled: leader elected, agent connected, mapping stored. */
export const SETTLE_US: Micros = 2 * MINUTE;

/** A partial config, merged section by section over the defaults. */
export type ConfigOverrides = { [K in keyof StreamSpaceConfig]?: Partial<StreamSpaceConfig[K]> };

export function resolveConfig(overrides: ConfigOverrides = {}): StreamSpaceConfig {
  const out = structuredClone(DEFAULT_CONFIG) as StreamSpaceConfig;
  for (const key of Object.keys(overrides) as Array<keyof StreamSpaceConfig>) {
    const section = overrides[key];
    if (section === undefined) continue;
    if (!(key in out)) throw new Error(`unknown config section '${key}'`);
    for (const [field, value] of Object.entries(section)) {
      if (!(field in out[key])) throw new Error(`unknown config field '${key}.${field}'`);
      (out[key] as unknown as Record<string, unknown>)[field] = value;
    }
  }
  // Design fix `hub-for-replicas` is a change to the chart, not to the code: it decides what the
  // pods are started with, so it applies here, and the resolved configuration (recorded in trace
  // files, printed by `hasim run`) shows the hub that actually runs.
  if (out.fixes.hubForReplicas && out.topology.apiReplicas > 1) out.api.redisEnabled = true;
  return out;
}
