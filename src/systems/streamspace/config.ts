import { MINUTE, MS, SECOND, type Micros } from '../../sim-cluster/index.ts';
import { STREAMSPACE_CHART_HPA, type HorizontalPodAutoscalerBehavior } from './hpa/config.ts';

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
  /** SHUTDOWN_TIMEOUT (§6 shutdown step 1: 30 s): the deadline of `srv.Shutdown` after SIGTERM. */
  shutdownTimeoutUs: Micros;
  /**
   * CACHE_ENABLED (api/cmd/main.go:93): the Redis cache on DB 0 and, through it, the auth
   * SessionStore (`api-pod/session-auth.ts`). The chart sets it with `redis.enabled`
   * (chart/templates/api-deployment.yaml:94-96), so the seed-000 deployment ran it too; it is off in
   * the deployments of seed reports 000-003 because nobody logged in there: its only effect was one
   * SCAN of an empty DB 0 at each pod start. The seed-004 deployments, where users log in, turn it on.
   */
  cacheEnabled: boolean;
}

/**
 * The auth session store and the response cache on Redis DB 0 (spec seeds-001-004 §0 item 2):
 * api/internal/auth/{session_store.go,jwt.go,middleware.go}, api/internal/cache/{cache.go,middleware.go}.
 */
export interface AuthConfig {
  /** JWTConfig.TokenDuration (api/cmd/main.go:322): 24 h; the `session:{jti}` TTL is the same (jwt.go CreateSession). */
  tokenTtlSeconds: number;
  /** cache.NewCache's start-up PING deadline (cache.go: 5 s); failing it disables the cache for the process's life. */
  cachePingTimeoutUs: Micros;
  /** ClearAllSessions' context at start-up (api/cmd/main.go:331: 10 s). */
  clearSessionsTimeoutUs: Micros;
  /** CacheMiddleware's TTL on GET /sessions (api/cmd/main.go:614: 30 s). */
  responseCacheTtlSeconds: number;
  /** Design fix `retry-cache-enable`: how often a pod whose cache PING failed tries again. */
  cacheRetryEveryUs: Micros;
  /** Design fix `detached-invalidate-context`: the deadline of the detached context. */
  detachedContextTimeoutUs: Micros;
}

/**
 * The API pod's CPU (chart/values.yaml:236-242: requests 200m, limits 1000m) and what requests cost.
 * The costs are assumptions, not measurements: StreamSpace publishes no profile. They are stated
 * here so that a scenario can vary them, and the HPA's behaviour can be read against them.
 */
export interface ApiCpuConfig {
  /** resources.requests.cpu: the HPA's utilisation is usage / request. */
  requestMillicores: number;
  /** resources.limits.cpu: the CFS quota; work beyond it queues (the pod is a FIFO processor at this rate). */
  limitMillicores: number;
  /** CPU of one authenticated API request (Gin routing, JWT HMAC check, JSON in and out): 2 ms, assumed. */
  requestCpuUs: Micros;
  /**
   * CPU of a login: VerifyPassword's bcrypt compare at bcrypt.DefaultCost 10 (2^10 Blowfish
   * expansions, about 50-80 ms on one core of a current server; tokenhash.go:224 uses DefaultCost)
   * plus the token's signing: 60 ms, assumed.
   */
  loginCpuUs: Micros;
  /** The Go runtime, the hub's sweeps and the kubelet's probes: a constant background usage. */
  idleMillicores: number;
}

/**
 * Users, as Locust runs them (seed 004: 1,000 users, spawn 50/s, `wait_time = between(1, 3)`; spec
 * seeds-001-004 §2 "Locust load"), against the API through the ingress. `load/load-generator.ts`.
 */
export interface LoadConfig {
  /**
   * `off`: no users (the deployments of seed reports 000-003, which keep their `workload`);
   * `closed`: Locust's model, each user waits for its answer and then thinks; `open`: requests
   * arrive as a Poisson process whatever the answers, so a slow or stuck API shows its full
   * latency (the closed model's coordinated omission: a stuck user sends nothing, so its
   * requests are never counted as slow).
   */
  mode: 'off' | 'closed' | 'open';
  /** Locust `-u`: users spawned (closed), or the pool of logged-in users arrivals are drawn from (open). */
  users: number;
  /** Locust `-r`: users started per second. */
  spawnRatePerSecond: number;
  /** `wait_time = between(a, b)`: think time, uniform in [a, b]. */
  thinkUs: readonly [Micros, Micros];
  /** Open mode: requests per second (Poisson). */
  arrivalsPerSecond: number;
  /** When the first user starts (after the cluster has settled). */
  startUs: Micros;
  /** How long the users run once started (Locust `-t`); null: to the end of the run. */
  runUs: Micros | null;
  /**
   * The task weights (Locust `@task(weight)`): list sessions, create a session (an agent command),
   * delete one of the user's sessions (an agent command), log out and in again. A user logs in once
   * when it starts (`on_start`). Default 100:1:1:1: reads dominate, and a user starts or stops a
   * desktop about once in 100 tasks (with 1,000 users several session commands a second, each a
   * pod start or stop on the cluster); seed 004's own task mix (a shop's pages) has no equivalent.
   */
  taskWeights: { list: number; create: number; delete: number; logout: number };
  /** The client's request timeout (Locust's HttpUser: requests.Session with a timeout set by the test). */
  requestTimeoutUs: Micros;
  /**
   * After a 401, the user logs in again before its next task, as the StreamSpace UI sends a user to
   * the login page; with false it keeps its token (a script without re-login).
   */
  reloginOnUnauthorized: boolean;
}

/** The API Deployment's HorizontalPodAutoscaler (chart/templates/hpa.yaml; `hpa/`). */
export interface HpaConfig {
  /** api.autoscaling.enabled (chart default false). */
  enabled: boolean;
  minReplicas: number;
  maxReplicas: number;
  /** targetCPUUtilizationPercentage, of the CPU request. */
  targetCpuPercent: number;
  /**
   * `spec.behavior`, as in the manifest: null when it has none (the chart), which is not quite the
   * documented defaults (`hpa/config.ts` HpaSpec says how).
   */
  behavior: HorizontalPodAutoscalerBehavior | null;
}

/** The Redis server's memory settings (chart/values.yaml:503-509). */
export interface RedisConfig {
  /** `maxmemory 200mb`. */
  maxmemoryBytes: number;
  /** `maxmemory-policy allkeys-lru`. */
  evictionPolicy: 'allkeys-lru' | 'volatile-lru' | 'noeviction';
  /**
   * `single`: one Redis Deployment pod, no replica, no persistence (the chart's, values.yaml:503-509).
   * `sentinel`: a master and `replicas` asynchronous replicas watched by `sentinels` Redis
   * Sentinels (the setup StreamSpace's docs point to and seed 004 ran; spec seeds-001-004 §2
   * "Redis Sentinel"), reached as `access` says.
   */
  topology: 'single' | 'sentinel';
  /** `appendonly yes` + `appendfsync everysec`: a restart in place keeps all but the last ~1 s of writes (seed 004's Redis). Default off (the chart's `appendonly no`). */
  aofEverySec: boolean;
  /** Sentinel topology: replicas besides the master (seed 004: 3 Redis pods, so 2). */
  replicas: number;
  /** Sentinel topology: Sentinel processes (seed 004: 3). */
  sentinels: number;
  /** `sentinel monitor ... <quorum>` (seed 004: 2). */
  quorum: number;
  /** `down-after-milliseconds` (Redis default 30000; seed 004: 5000). */
  downAfterUs: Micros;
  /** `failover-timeout` (Redis default 180000; seed 004: 30000). */
  failoverTimeoutUs: Micros;
  /** `parallel-syncs` (1). */
  parallelSyncs: number;
  /**
   * How the API pods reach a Sentinel-managed Redis, as built (a plain `redis.NewClient` on one
   * address, spec §2 "Redis Sentinel"): `master-service`, a Service whose endpoint a controller
   * moves to the new master `masterServiceLagUs` after `+switch-master`; `all-nodes`, a Service
   * over every Redis node (a connection lands on any of them: writes to a replica get READONLY).
   * The fix `sentinel-aware-client` replaces both with go-redis's FailoverClient.
   */
  access: 'master-service' | 'all-nodes';
  /** `master-service`: how long after `+switch-master` the Service points at the new master. */
  masterServiceLagUs: Micros;
  /** `min-replicas-to-write` (0: off, the default). */
  minReplicasToWrite: number;
  /** `min-replicas-max-lag` (Redis default 10 s). */
  minReplicasMaxLagUs: Micros;
}

/**
 * StreamSpace's PostgreSQL (spec seeds-001-004 §2 "PostgreSQL failover"): the chart's single
 * StatefulSet, or Patroni-managed members as seed 004 ran them (Zalando Spilo), reached through
 * the database/sql + lib/pq pool as built (`api/internal/db/database.go`).
 */
export interface PostgresConfig {
  /**
   * `single`: one PostgreSQL StatefulSet pod (the chart's), reached by the model's one-connection
   * client, as every run before Patroni was modelled. `patroni`: `members` PostgreSQL members run
   * by Patroni with the leader key in the Kubernetes API and a master Service the leader writes,
   * reached through the database/sql pool.
   */
  topology: 'single' | 'patroni';
  /** Patroni members (seed 004: 3). */
  members: number;
  /** Patroni `ttl` of the leader key (30 s). */
  ttlUs: Micros;
  /** Patroni `loop_wait` (10 s). */
  loopWaitUs: Micros;
  /** Patroni `retry_timeout` (10 s). */
  retryTimeoutUs: Micros;
  /** Patroni `maximum_lag_on_failover` in bytes of WAL (32 MiB, Spilo's 33554432). */
  maximumLagOnFailoverBytes: number;
  /** `async`: Patroni's default; `sync`: `synchronous_mode: true` (seed 004's Spilo); `sync-strict`: with `synchronous_mode_strict: true`. */
  replication: 'async' | 'sync' | 'sync-strict';
  /** database/sql `SetMaxOpenConns` (StreamSpace: 25). */
  poolMaxOpen: number;
  /** `SetMaxIdleConns` (5). */
  poolMaxIdle: number;
  /** `SetConnMaxLifetime` (5 min). */
  poolMaxLifetimeUs: Micros;
  /** `SetConnMaxIdleTime` (1 min). */
  poolMaxIdleTimeUs: Micros;
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
  /** The API pods' PodDisruptionBudget `minAvailable`; null: none (the chart defines none). */
  apiPdbMinAvailable: number | null;
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
  /** The API pod no longer runs ClearAllSessions at start-up (api/cmd/main.go:326-336): a pod start, restart or scale-up no longer logs every user out; logout and the TTL still end sessions. */
  keepSessionsOnStart: boolean;
  /** The cache keys of the session routes and the pattern their writes invalidate share a namespace of their own (`cache:sessions:*`) instead of `session:*`, which is the auth store's. */
  namespacedCacheKeys: boolean;
  /** A pod whose start-up cache PING failed keeps trying and enables its cache (and session checks) once Redis answers, instead of running without it, accepting every token, for its whole life. */
  retryCacheEnable: boolean;
  /** The cache's background writes (the response SET, the pattern invalidation) run with a context of their own instead of the request's, which net/http cancels as soon as the handler returns. */
  detachedInvalidateContext: boolean;
  /** Redis runs `maxmemory-policy noeviction`: under memory pressure writes fail instead of evicting the auth sessions (and the hub's keys). */
  sessionsNoEviction: boolean;
  /** A login whose session could not be stored fails (500) instead of handing out a token every later request is refused with (jwt.go:496-500 only logs the error). */
  failLoginWithoutSession: boolean;
  /** AuthMiddleware answers 503 when the session store (Redis) or the user lookup (PostgreSQL) fails with an error, instead of the 401 of an invalid token, so users are not told to log in again because a datastore blinked. */
  authUnavailableNotUnauthorized: boolean;
  /** With Sentinel, every go-redis client is a FailoverClient (asks the Sentinels for the master, follows `+switch-master`, drops connections to anything else) instead of a plain client on the `redis` Service. */
  sentinelAwareClient: boolean;
  /** lib/pq's connection is discarded on SQLSTATE 25006 (read-only transaction: a demoted primary), so database/sql dials again through the master Service, instead of keeping it until ConnMaxLifetime. */
  readonlyConnIsBad: boolean;
  /** Patroni runs `synchronous_mode: true` with `synchronous_mode_strict: true`: a commit is acknowledged only once a synchronous standby has it, and waits while there is none. */
  strictSynchronousReplication: boolean;
  /**
   * The auth SessionStore keeps its sessions in PostgreSQL (a `user_sessions` row per token,
   * checked in AuthMiddleware's GetUser query) instead of `session:{jti}` keys in Redis, whose
   * replication acknowledges a write before any replica has it and whose replicas answer reads.
   */
  sessionsInPostgres: boolean;
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
  auth: AuthConfig;
  apiCpu: ApiCpuConfig;
  load: LoadConfig;
  hpa: HpaConfig;
  redis: RedisConfig;
  postgres: PostgresConfig;
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
    keepSessionsOnStart: false,
    namespacedCacheKeys: false,
    retryCacheEnable: false,
    detachedInvalidateContext: false,
    sessionsNoEviction: false,
    failLoginWithoutSession: false,
    authUnavailableNotUnauthorized: false,
    sentinelAwareClient: false,
    readonlyConnIsBad: false,
    strictSynchronousReplication: false,
    sessionsInPostgres: false,
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
    shutdownTimeoutUs: 30 * SECOND,
    cacheEnabled: false,
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
    apiPdbMinAvailable: null,
  },
  workload: {
    requestIntervalUs: 1 * SECOND,
    createFraction: 0.7,
    startUs: 1 * MINUTE,
  },
  auth: {
    tokenTtlSeconds: 24 * 60 * 60,
    cachePingTimeoutUs: 5 * SECOND,
    clearSessionsTimeoutUs: 10 * SECOND,
    responseCacheTtlSeconds: 30,
    cacheRetryEveryUs: 5 * SECOND,
    detachedContextTimeoutUs: 5 * SECOND,
  },
  apiCpu: {
    requestMillicores: 200,
    limitMillicores: 1000,
    requestCpuUs: 2 * MS,
    loginCpuUs: 60 * MS,
    idleMillicores: 5,
  },
  load: {
    mode: 'off',
    users: 1000,
    spawnRatePerSecond: 50,
    thinkUs: [1 * SECOND, 3 * SECOND],
    arrivalsPerSecond: 500,
    startUs: 1 * MINUTE,
    runUs: null,
    taskWeights: { list: 100, create: 1, delete: 1, logout: 1 },
    requestTimeoutUs: 30 * SECOND,
    reloginOnUnauthorized: true,
  },
  hpa: {
    enabled: false,
    minReplicas: STREAMSPACE_CHART_HPA.spec.minReplicas,
    maxReplicas: STREAMSPACE_CHART_HPA.spec.maxReplicas,
    targetCpuPercent: STREAMSPACE_CHART_HPA.spec.targetCPUUtilizationPercentage,
    behavior: STREAMSPACE_CHART_HPA.spec.behavior,
  },
  redis: {
    maxmemoryBytes: 200 * 1024 * 1024,
    evictionPolicy: 'allkeys-lru',
    topology: 'single',
    aofEverySec: false,
    replicas: 2,
    sentinels: 3,
    quorum: 2,
    downAfterUs: 30 * SECOND,
    failoverTimeoutUs: 180 * SECOND,
    parallelSyncs: 1,
    access: 'master-service',
    masterServiceLagUs: 5 * SECOND,
    minReplicasToWrite: 0,
    minReplicasMaxLagUs: 10 * SECOND,
  },
  postgres: {
    topology: 'single',
    members: 3,
    ttlUs: 30 * SECOND,
    loopWaitUs: 10 * SECOND,
    retryTimeoutUs: 10 * SECOND,
    maximumLagOnFailoverBytes: 32 * 1024 * 1024,
    replication: 'async',
    poolMaxOpen: 25,
    poolMaxIdle: 5,
    poolMaxLifetimeUs: 5 * MINUTE,
    poolMaxIdleTimeUs: 1 * MINUTE,
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
  // Design fix `sessions-noeviction` is a Redis setting, applied the same way.
  if (out.fixes.sessionsNoEviction) out.redis.evictionPolicy = 'noeviction';
  // Design fix `strict-synchronous-replication` is a Patroni setting.
  if (out.fixes.strictSynchronousReplication) out.postgres.replication = 'sync-strict';
  return out;
}
