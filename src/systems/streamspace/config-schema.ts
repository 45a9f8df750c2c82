import * as v from 'valibot';
import { MINUTE, MS, SECOND } from '../../sim-cluster/index.ts';
import { boolean, integer, number, object, oneOf, pipeOf, problemOf, rule, shown, type AnyPipeItem, type RangeOptions } from '../../faults/schema.ts';
import type {
  AgentConfig, ApiCpuConfig, ApiPodConfig, ApiWebSocketConfig, AuthConfig, ContainerProbes, DispatcherConfig, ElectionConfig, FixesConfig,
  HpaConfig, HubConfig, KubernetesConfig, LoadConfig, PodProbes, PostgresConfig, ProbeSpec, RedisConfig, StreamSpaceConfig, TopologyConfig, WorkloadConfig,
} from './config.ts';
import type { HorizontalPodAutoscalerBehavior, HPAScalingPolicy, HPAScalingRules } from './hpa/config.ts';

/**
 * The schema of StreamSpace's configuration: every field of `config.ts` with its type and bounds,
 * and the rules between fields. `resolve` checks a `--config` file's overrides against
 * `OVERRIDES_SCHEMA` (every section and field optional) and the configuration they resolve to
 * against `CONFIG_SCHEMA` (with the rules between fields); a trace file's recorded configuration is
 * checked the same way. `schemas/streamspace-config.schema.json` is generated from these values.
 *
 * The bounds keep a run bounded in memory and time without ruling out any configuration worth
 * simulating: counts are at least 1 where a zero would leave nothing to run and at most a small
 * multiple of the seed-000 deployment; a timer that re-arms itself runs at most every 100 ms; no
 * timeout, delay or period is longer than an hour (the recovery bound B adds several of them, and
 * a run lasts its schedule plus B). Each field says why its bounds are what they are;
 * docs/trace-files.md has the table.
 */

const HOUR = 60 * MINUTE;
const LONGEST_WHY = 'the recovery bound adds timeouts up, and a run lasts its schedule plus that bound';
const PERIOD_WHY = 'a timer that re-arms itself: a shorter period multiplies a run\'s events';

const us = (min: number, max: number, options: RangeOptions): v.GenericSchema<number> => integer(min, max, { unit: 'µs', ...options });
/** A timer that re-arms itself: 100 ms to 1 h. */
const period = (doc: string, minWhy = PERIOD_WHY): v.GenericSchema<number> => us(100 * MS, HOUR, { doc, minWhy, maxWhy: LONGEST_WHY });
/** A timeout, deadline or threshold: above zero (zero would expire at once), at most 1 h. */
const timeout = (doc: string): v.GenericSchema<number> => us(1, HOUR, { doc, minWhy: 'zero would expire at once', maxWhy: LONGEST_WHY });
/** A delay, where zero means at once: 0 to 1 h. */
const delay = (doc: string): v.GenericSchema<number> => us(0, HOUR, { doc, maxWhy: LONGEST_WHY });
/** A count, with why each end is where it is. */
const count = (min: number, max: number, doc: string, minWhy: string, maxWhy: string): v.GenericSchema<number> => integer(min, max, { doc, minWhy, maxWhy });
/** A buffer or queue capacity: 1 (the model's Go channels are buffered) to a cap that bounds a queue's memory. */
const capacity = (max: number, doc: string): v.GenericSchema<number> =>
  count(1, max, doc, 'the model\'s channels are buffered: a capacity of 0 would hold nothing', 'a queue\'s memory stays bounded');

/** `[min, max]` µs, both from 0 to 1 h, in order. */
function range(doc: string): v.GenericSchema<unknown, readonly [number, number]> {
  const end = us(0, HOUR, { maxWhy: LONGEST_WHY });
  return pipeOf<readonly [number, number]>(
    v.strictTuple([end, end], (issue) => `must be [min, max] (two integers, µs), got ${shown(issue.input)}`),
    v.check((r: readonly [number, number]) => r[0] <= r[1], (issue) => `must be [min, max] with min ≤ max, got ${shown(issue.input)}`),
    v.description(`${doc} [min, max] µs, min ≤ max, each at most 1 h.`),
  );
}

type Entries<T> = { readonly [K in keyof T]-?: v.GenericSchema<unknown, T[K]> };

/** A section or nested object of the configuration, strict, listing its fields when one is unknown. */
function section<T>(name: string, entries: Entries<T>, doc: string, options: { nested?: boolean } = {}): v.GenericSchema<unknown, T> {
  const known = Object.keys(entries).join(', ');
  return object(entries as v.ObjectEntries, {
    doc,
    unknown: () => `unknown field (known in ${name}: ${known})`,
    // An override sets a field whole: a nested object replaces the default one, so it needs every field.
    ...(options.nested ? { missing: () => `missing (an override replaces ${name} whole: give every field)` } : {}),
  }) as v.GenericSchema<unknown, T>;
}

/** Every field optional: a `--config` file's section. Nested objects stay whole (an override replaces them). */
function optionalSection(name: string, entries: v.ObjectEntries, doc: string): v.GenericSchema {
  const known = Object.keys(entries).join(', ');
  return object(Object.fromEntries(Object.entries(entries).map(([k, s]) => [k, v.optional(s as v.GenericSchema)])), {
    doc, unknown: () => `unknown field (known in ${name}: ${known})`,
  });
}

const FIXES: Entries<FixesConfig> = {
  heartbeatRewritesMapping: boolean('design fix heartbeat-rewrites-mapping'),
  conditionalUnregister: boolean('design fix conditional-unregister'),
  agentAsyncHandlers: boolean('design fix agent-async-handlers'),
  agentRetryConnect: boolean('design fix agent-retry-connect'),
  guardedStatusWrites: boolean('design fix guarded-status-writes'),
  redeliverUnfinished: boolean('design fix redeliver-unfinished'),
  agentIdempotent: boolean('design fix agent-idempotent'),
  writerSurvivesErrors: boolean('design fix writer-survives-errors'),
  ambiguousSendNotFailed: boolean('design fix ambiguous-send-not-failed'),
  exitOnLostLeadership: boolean('design fix exit-on-lost-leadership'),
  waitForRedis: boolean('design fix wait-for-redis'),
  framePerMessage: boolean('design fix frame-per-message'),
  fencedEffects: boolean('design fix fenced-effects'),
  redeliveryClaimsRow: boolean('design fix redelivery-claims-row'),
  hubForReplicas: boolean('design fix hub-for-replicas'),
  nonblockingStaleSweep: boolean('design fix nonblocking-stale-sweep'),
  fixedAgentId: boolean('design fix fixed-agent-id'),
  keepSessionsOnStart: boolean('design fix keep-sessions-on-start'),
  namespacedCacheKeys: boolean('design fix namespaced-cache-keys'),
  retryCacheEnable: boolean('design fix retry-cache-enable'),
  detachedInvalidateContext: boolean('design fix detached-invalidate-context'),
  sessionsNoEviction: boolean('design fix sessions-noeviction'),
  failLoginWithoutSession: boolean('design fix fail-login-without-session'),
  authUnavailableNotUnauthorized: boolean('design fix auth-unavailable-not-unauthorized'),
  sentinelAwareClient: boolean('design fix sentinel-aware-client'),
  readonlyConnIsBad: boolean('design fix readonly-conn-is-bad'),
  strictSynchronousReplication: boolean('design fix strict-synchronous-replication'),
  sessionsInPostgres: boolean('design fix sessions-in-postgres'),
  reconcileEveryUs: period('redelivery: reconciler period (µs)'),
  redeliverAfterUs: timeout('redelivery: how long a row may stay unfinished before it is dispatched again (µs)'),
};

const TOPOLOGY: Entries<TopologyConfig> = {
  apiReplicas: count(1, 20, 'API pod replicas', 'at least one pod serves', 'each is a simulated pod with its hub, dispatcher and sockets, and every Redis publish reaches all of them; 20 is ten times the seed-000 deployment'),
  agentReplicas: count(1, 30, 'k8s-agent replicas', 'at least one agent runs', 'every replica campaigns on the Lease each retry period and holds a WebSocket; 30 (tens of agent ids, the many-agents deployment) keeps a run within seconds (docs/deployments.md measures it)'),
  agentIdMode: oneOf(['shared', 'per-pod'] as const, { doc: 'one agent id for all replicas, or one per pod' }),
  sharedAgentId: pipeOf<string>(
    v.string((issue) => `must be a string, got ${shown(issue.input)}`),
    v.regex(/^[a-z0-9]([-a-z0-9.]{0,233}[a-z0-9])?$/, (issue) =>
      `must be 1 to 235 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit (the Lease streamspace-agent-<id> is a Kubernetes object name, a DNS subdomain of at most 253 characters), got ${shown(issue.input)}`),
    v.description('the shared agent id; the Lease is streamspace-agent-<id>, a DNS subdomain name'),
  ),
  agentHa: boolean('leader election (ENABLE_HA)'),
  workerNodes: count(1, 50, 'worker nodes', 'pods need a node', 'the network keeps a link per ordered pair of nodes, 2,450 for 50'),
  placement: oneOf(['packed', 'one-per-node'] as const, { doc: 'packed: round robin over the worker nodes; one-per-node: the node with the fewest live pods (a node of its own when there are enough nodes)' }),
  agentStartUs: delay('when the agent pods start (µs)'),
};

const HUB: Entries<HubConfig> = {
  staleSweepUs: period('stale sweep period (µs)'),
  staleThresholdUs: timeout('a connection whose LastPing is older is unregistered by the sweep (µs)'),
  redisKeyTtlSeconds: integer(1, 24 * 60 * 60, { doc: 'TTL of agent:<id>:pod and :connected (whole seconds)', why: 'Redis EX takes a positive number of seconds; a day outlasts any run' }),
  registerBuffer: capacity(10_000, 'buffer of the register channel'),
  unregisterBuffer: capacity(10_000, 'buffer of the unregister channel'),
  sendBuffer: capacity(100_000, 'per-connection Send buffer'),
};

const WS: Entries<ApiWebSocketConfig> = {
  pongWaitUs: timeout('read deadline after the last pong or agent ping (µs)'),
  pingPeriodUs: period('server control-ping period (µs)'),
  writerWakeUs: us(0, 1 * SECOND, { doc: 'time for the writePump goroutine to wake (µs)', maxWhy: 'a goroutine wakes in microseconds; a second is no longer a scheduler' }),
};

const DISPATCHER: Entries<DispatcherConfig> = {
  queueCapacity: capacity(100_000, 'in-memory command queue capacity'),
  workers: count(1, 100, 'dispatcher worker goroutines', 'at least one worker dispatches', 'each is a simulated goroutine of every API pod; 100 is ten times the spec'),
};

const API = (hub: v.GenericSchema, ws: v.GenericSchema, dispatcher: v.GenericSchema): Entries<ApiPodConfig> => ({
  hub: hub as v.GenericSchema<unknown, HubConfig>,
  ws: ws as v.GenericSchema<unknown, ApiWebSocketConfig>,
  dispatcher: dispatcher as v.GenericSchema<unknown, DispatcherConfig>,
  redisEnabled: boolean('AGENTHUB_REDIS_ENABLED'),
  // With the wait-for-redis fix the timeout is also the period of the retried PING.
  redisPingTimeoutUs: period('timeout of the start-up Redis PING, and the retry period with wait-for-redis (µs)', 'it is also the period of a retried PING: a shorter one multiplies a run\'s events'),
  startupUs: delay('time from process start to the HTTP server listening (µs)'),
  shutdownTimeoutUs: timeout('SHUTDOWN_TIMEOUT: the deadline of srv.Shutdown after SIGTERM (µs)'),
  cacheEnabled: boolean('CACHE_ENABLED: the Redis cache on DB 0 and the auth session store'),
});

const AGENT: Entries<AgentConfig> = {
  heartbeatIntervalUs: period('HEALTH_CHECK_INTERVAL (µs)'),
  reconnectBackoffUs: pipeOf<readonly number[]>(
    v.array(us(100 * MS, HOUR, { minWhy: 'each step is a sleep before a retry that may fail at once', maxWhy: LONGEST_WHY }), (issue) => `must be an array of backoff steps (µs), got ${shown(issue.input)}`),
    v.minLength(1, 'must have at least one step (the steps repeat from the first after the last)'),
    v.maxLength(32, (issue) => `must have at most 32 steps, got ${(issue.input as unknown[]).length}`),
    v.description('fixed reconnect backoff steps (µs), 1 to 32 of them, each 100 ms to 1 h'),
  ),
  pongWaitUs: timeout('agent read deadline after the last pong (µs)'),
  pingPeriodUs: period('agent ping period (µs)'),
  dialTimeoutUs: timeout('WebSocket dial handshake timeout (µs)'),
  registerTimeoutUs: timeout('registration HTTP timeout (µs)'),
  writeChanCapacity: capacity(100_000, 'writeChan capacity'),
  sendMessageWaitUs: delay('how long sendMessage waits on a full writeChan before failing (µs)'),
  startSessionUs: range('duration of a start_session handler, drawn (startSessionDistribution) within'),
  startSessionDistribution: oneOf(['uniform', 'log-normal'] as const, { doc: 'how start_session durations are drawn within startSessionUs: uniform, or log-normal (median, sigma) clamped to it' }),
  startSessionMedianUs: timeout('median start_session duration of the log-normal draw (µs)'),
  startSessionSigma: number(0, 3, { doc: 'sigma of ln(duration) of the log-normal draw', minWhy: 'a standard deviation is never negative', maxWhy: 'with sigma 3 the 99th percentile is 1,000 times the median, past any handler\'s spread (durations are clamped to startSessionUs anyway)' }),
  stopSessionUs: range('duration of a stop_session handler, uniform in'),
  exitDelayUs: delay('sleep after a signal before the process exits (µs)'),
  capacity: count(0, 1_000_000, 'capacity reported in heartbeats', 'a number of sessions', 'only reported, never acted on: any realistic number'),
};

const ELECTION: Entries<ElectionConfig> = {
  leaseDurationUs: timeout('LeaseDuration (µs)'),
  renewDeadlineUs: timeout('RenewDeadline (µs)'),
  retryPeriodUs: period('RetryPeriod (µs)', 'client-go needs more than zero; every replica retries each period, so a shorter one multiplies a run\'s events'),
  jitterFactor: number(0, 10, {
    exclusiveMin: true, doc: 'client-go JitterFactor of the acquire loop',
    minWhy: 'client-go\'s wait.Jitter takes a factor of 0 or less as 1.0, which the model does not copy',
    maxWhy: 'an acquire retry sleeps up to (1 + factor) retry periods',
  }),
  releaseOnCancel: boolean('ReleaseOnCancel'),
};

/**
 * client-go's NewLeaderElector (tools/leaderelection/leaderelection.go) refuses a configuration
 * unless LeaseDuration > RenewDeadline > JitterFactor × RetryPeriod, each above zero; the model's
 * elector checks the same when it starts, which inside a run would be a model failure, not bad input.
 */
const ELECTION_RULES = [
  rule<ElectionConfig>((e) => e.leaseDurationUs > e.renewDeadlineUs, (e) =>
    `must be less than leaseDurationUs (${e.leaseDurationUs} here), got ${e.renewDeadlineUs}: client-go's NewLeaderElector requires leaseDuration > renewDeadline`, ['renewDeadlineUs']),
  rule<ElectionConfig>((e) => e.renewDeadlineUs > e.jitterFactor * e.retryPeriodUs, (e) =>
    `must be more than jitterFactor × retryPeriodUs (${e.jitterFactor} × ${e.retryPeriodUs} here), got ${e.renewDeadlineUs}: client-go's NewLeaderElector requires renewDeadline > JitterFactor × retryPeriod`, ['renewDeadlineUs']),
];

const KUBERNETES = (probes: v.GenericSchema): Entries<KubernetesConfig> => ({
  podReplacementUs: delay('delay before a replacement pod starts (µs)'),
  terminationGraceUs: delay('terminationGracePeriodSeconds (µs); 0 kills at once, as Kubernetes allows'),
  containerRestartUs: delay('restart delay of a crashed container in place (µs)'),
  nodeNotReadyUs: delay('a failed node is marked NotReady after this (µs)'),
  podEvictionUs: delay('pods on a NotReady node are evicted and replaced after this (µs)'),
  probes: probes as v.GenericSchema<unknown, PodProbes>,
  apiPdbMinAvailable: v.nullable(count(0, 20, 'the API pods\' PodDisruptionBudget minAvailable (null: no budget, as the chart has none)',
    'Kubernetes allows 0: every pod may be evicted', 'topology.apiReplicas is at most 20: a higher minimum blocks every eviction, as 20 already does')),
});

// The Kubernetes Probe API: periodSeconds and timeoutSeconds have a minimum of 1, the thresholds
// too, and successThreshold must be 1 for liveness probes.
const PROBE: Entries<ProbeSpec> = {
  check: oneOf(['answers', 'process-exists'] as const, { doc: 'answers: the process must answer (a paused one fails); process-exists: passes while the process exists' }),
  initialDelayUs: delay('initialDelaySeconds (µs)'),
  periodUs: us(1 * SECOND, HOUR, { doc: 'periodSeconds (µs)', minWhy: 'Kubernetes: periodSeconds has a minimum of 1', maxWhy: LONGEST_WHY }),
  timeoutUs: us(1 * SECOND, HOUR, { doc: 'timeoutSeconds (µs)', minWhy: 'Kubernetes: timeoutSeconds has a minimum of 1', maxWhy: LONGEST_WHY }),
  failureThreshold: count(1, 100, 'failureThreshold', 'Kubernetes: a minimum of 1', 'Kubernetes sets no maximum; 100 is far past any chart\'s value (the default is 3)'),
  successThreshold: count(1, 100, 'successThreshold', 'Kubernetes: a minimum of 1', 'Kubernetes sets no maximum; 100 is far past any chart\'s value (the default is 1)'),
};

const WORKLOAD: Entries<WorkloadConfig> = {
  requestIntervalUs: pipeOf<number>(
    us(0, HOUR, { maxWhy: LONGEST_WHY }),
    v.check((x: number) => x === 0 || x >= 100 * MS, (issue) =>
      `must be 0 (no workload) or at least 100000 µs (100 ms: each request adds a command, so a shorter interval grows a run's memory), got ${shown(issue.input)}`),
    v.description('mean time between user requests (µs); 0 disables the workload, otherwise 100 ms to 1 h'),
    v.metadata({ anyOf: [{ const: 0 }, { minimum: 100 * MS }] }),
  ),
  createFraction: number(0, 1, { doc: 'fraction of requests that create a session', why: 'a probability' }),
  startUs: delay('when the first request is sent (µs)'),
};

/** Seconds a Redis key lives: `EX` takes a positive number of seconds. */
const ttlSeconds = (max: number, doc: string, maxWhy: string): v.GenericSchema<number> =>
  integer(1, max, { doc, minWhy: 'Redis EX takes a positive number of seconds', maxWhy });

const AUTH: Entries<AuthConfig> = {
  tokenTtlSeconds: ttlSeconds(30 * 24 * 60 * 60, 'JWT TokenDuration and the session:{jti} TTL (whole seconds)', 'a month outlasts any run (the code\'s is a day, api/cmd/main.go:322)'),
  cachePingTimeoutUs: timeout('deadline of the cache\'s start-up PING (µs)'),
  clearSessionsTimeoutUs: timeout('deadline of ClearAllSessions at start-up (µs)'),
  responseCacheTtlSeconds: ttlSeconds(24 * 60 * 60, 'TTL of the cached GET /sessions answer (whole seconds)', 'a day outlasts any run'),
  cacheRetryEveryUs: period('with retry-cache-enable: how often a pod whose cache PING failed tries again (µs)'),
  detachedContextTimeoutUs: timeout('with detached-invalidate-context: the deadline of the cache\'s detached context (µs)'),
};

const CORES_WHY = '64 cores, a large node: no container of the API is given more';
/** CPU in millicores, as `resources` gives it. */
const millicores = (min: number, doc: string, minWhy: string): v.GenericSchema<number> => integer(min, 64_000, { doc, minWhy, maxWhy: CORES_WHY });
/** CPU time of one piece of work (µs of CPU); 0 makes it free. */
const cpuCost = (doc: string): v.GenericSchema<number> =>
  us(0, HOUR, { doc, maxWhy: 'an hour of CPU per request outlasts every client timeout (load.requestTimeoutUs is at most 1 h)' });

const API_CPU: Entries<ApiCpuConfig> = {
  requestMillicores: millicores(1, 'resources.requests.cpu (millicores): the HPA\'s utilisation is usage / request', 'the HPA divides by the request: a pod without one has no utilisation'),
  limitMillicores: millicores(1, 'resources.limits.cpu (millicores): the CFS quota the pod\'s work runs at', 'the CFS quota: a pod with no CPU does no work'),
  requestCpuUs: cpuCost('CPU of one authenticated API request (µs of CPU)'),
  loginCpuUs: cpuCost('CPU of a login: the bcrypt compare and the token\'s signing (µs of CPU)'),
  idleMillicores: millicores(0, 'constant background usage: the Go runtime, the hub\'s sweeps, the probes (millicores)', 'zero: no background usage'),
};

/**
 * Kubernetes refuses a container whose CPU request is above its limit (pkg/apis/core/validation:
 * "must be less than or equal to cpu limit"); the CFS quota caps usage at the limit, so a background
 * usage at or above it would leave the requests no CPU.
 */
const API_CPU_RULES = [
  rule<ApiCpuConfig>((c) => c.requestMillicores <= c.limitMillicores, (c) =>
    `must be ≤ limitMillicores (${c.limitMillicores} here), got ${c.requestMillicores}: Kubernetes requires a CPU request of at most the limit`, ['requestMillicores']),
  rule<ApiCpuConfig>((c) => c.idleMillicores < c.limitMillicores, (c) =>
    `must be less than limitMillicores (${c.limitMillicores} here), got ${c.idleMillicores}: the CFS quota caps usage at the limit, so the requests would get no CPU`, ['idleMillicores']),
];

const WEIGHT = (task: string): v.GenericSchema<number> => integer(0, 1000, {
  doc: `Locust @task weight of ${task}`, minWhy: '0 never runs the task', maxWhy: 'only the ratios matter: 1000 gives a task a share as fine as 0.1 % next to another of weight 1',
});

const LOAD = (taskWeights: v.GenericSchema): Entries<LoadConfig> => ({
  mode: oneOf(['off', 'closed', 'open'] as const, { doc: 'off: no users; closed: Locust\'s model, each user waits for its answer and thinks; open: Poisson arrivals whatever the answers' }),
  users: count(1, 20_000, 'Locust -u: users spawned (closed), or the pool of logged-in users arrivals are drawn from (open)',
    'at least one user runs (mode off runs none)', 'each is a simulated client with its token, timers and requests in flight: 20,000 is 20 times seed 004\'s 1,000, which keeps a run\'s memory and time bounded'),
  spawnRatePerSecond: number(1, 10_000, {
    doc: 'Locust -r: users started per second',
    minWhy: 'slower than one a second, seed 004\'s 1,000 users take over a quarter of an hour just to start',
    maxWhy: '10,000 a second starts the most users (20,000) in 2 s, as good as at once',
  }),
  thinkUs: range('wait_time = between(a, b): think time, uniform in'),
  arrivalsPerSecond: number(1, 20_000, {
    doc: 'open mode: requests per second (Poisson)',
    minWhy: 'fewer than one a second is no load (mode off runs none)',
    maxWhy: 'each arrival is a request through the model: 20,000 a second is 40 times seed 004\'s 1,000 users (about 500 a second) and 72 million requests an hour',
  }),
  startUs: delay('when the first user starts (µs)'),
  runUs: v.nullable(us(1, HOUR, {
    doc: 'Locust -t: how long the users run once started (µs); null: to the end of the run',
    minWhy: 'a run of 0 starts no user: mode off says so',
    maxWhy: 'an hour at the highest arrival rate is already 72 million requests',
  })),
  taskWeights: taskWeights as v.GenericSchema<unknown, LoadConfig['taskWeights']>,
  requestTimeoutUs: timeout('the client\'s request timeout (µs)'),
  reloginOnUnauthorized: boolean('after a 401 the user logs in again before its next task'),
});

// The Kubernetes autoscaling API's validation (pkg/apis/autoscaling/validation/validation.go):
// minReplicas > 0, maxReplicas ≥ minReplicas, averageUtilization > 0; each scaling rule has a
// stabilizationWindowSeconds of 0 to MaxStabilizationWindowSeconds (3600), a selectPolicy of Max,
// Min or Disabled and at least one policy; a policy's value is above zero and its periodSeconds
// from 1 to MaxPeriodSeconds (1800). The behavior block is validated after defaulting, which fills
// only what a manifest leaves out (v2/defaults.go): a rule may omit any field, but policies it
// gives must be at least one.
const HPA_REPLICAS_WHY = 'topology.apiReplicas is at most 20: each replica is a simulated pod';
const HPA = (behavior: v.GenericSchema): Entries<HpaConfig> => ({
  enabled: boolean('api.autoscaling.enabled'),
  minReplicas: count(1, 20, 'minReplicas', 'Kubernetes: minReplicas must be greater than 0', HPA_REPLICAS_WHY),
  maxReplicas: count(1, 20, 'maxReplicas', 'Kubernetes: maxReplicas must be greater than 0', HPA_REPLICAS_WHY),
  targetCpuPercent: integer(1, 1000, {
    doc: 'targetCPUUtilizationPercentage, of the CPU request',
    minWhy: 'Kubernetes: averageUtilization must be greater than 0',
    maxWhy: 'usage is capped at the limit: 1000 % is a limit ten times the request, past the chart\'s five',
  }),
  behavior: behavior as v.GenericSchema<unknown, HorizontalPodAutoscalerBehavior | null>,
});

const HPA_RULES = [
  rule<HpaConfig>((h) => h.maxReplicas >= h.minReplicas, (h) =>
    `must be ≥ minReplicas (${h.minReplicas} here), got ${h.maxReplicas}: Kubernetes requires maxReplicas ≥ minReplicas`, ['maxReplicas']),
];

const HPA_POLICY: Entries<HPAScalingPolicy> = {
  type: oneOf(['Pods', 'Percent'] as const, { doc: 'Pods: change by value pods; Percent: by value % of the current replicas' }),
  value: count(1, 1000, 'pods or percent a policy allows per period', 'Kubernetes: value must be greater than zero',
    'Kubernetes sets no maximum; a step is clamped to maxReplicas (at most 20) anyway'),
  periodSeconds: count(1, 1800, 'the window the policy\'s value holds for (seconds)', 'Kubernetes: periodSeconds must be greater than zero', 'Kubernetes: MaxPeriodSeconds is 1800'),
};

const REDIS: Entries<RedisConfig> = {
  // Redis's `maxmemory 0` means no limit; the model takes a limit always: 64 GiB, past any run's
  // keys, stands for none.
  maxmemoryBytes: integer(1024 * 1024, 64 * 1024 * 1024 * 1024, {
    doc: 'maxmemory (bytes); 64 GiB stands for no limit (Redis\'s maxmemory 0)',
    minWhy: 'Redis warns at start-up that a maxmemory below 1 MB is likely a mistake (server.c)',
    maxWhy: '64 GiB holds millions of sessions: no run comes near it, so it stands for Redis\'s unlimited maxmemory 0',
  }),
  evictionPolicy: oneOf(['allkeys-lru', 'volatile-lru', 'noeviction'] as const, { doc: 'maxmemory-policy: the policies the model implements' }),
  topology: oneOf(['single', 'sentinel'] as const, { doc: 'single: one Redis pod (the chart); sentinel: a master, replicas and Sentinels' }),
  aofEverySec: boolean('appendonly yes with appendfsync everysec: a restart keeps all but the last ~1 s of writes'),
  replicas: count(1, 5, 'sentinel: Redis replicas besides the master', 'a failover needs a replica to promote', 'each is a simulated Redis fed every write; 5 is past any setup the seeds name (seed 004: 2)'),
  sentinels: count(1, 7, 'sentinel: Sentinel processes', 'at least one Sentinel watches the master', 'every Sentinel pings every node and peer each second; 7 is past any setup the seeds name (seed 004: 3)'),
  quorum: count(1, 7, 'sentinel: the quorum of Sentinels that must agree the master is down', 'Redis: the quorum is a positive number', 'at most the largest number of Sentinels'),
  downAfterUs: us(100 * MS, HOUR, { doc: 'sentinel: down-after-milliseconds (µs)', minWhy: 'a Sentinel pings every second: a shorter window marks a live master down between two pings', maxWhy: LONGEST_WHY }),
  failoverTimeoutUs: us(1 * SECOND, HOUR, { doc: 'sentinel: failover-timeout (µs)', minWhy: 'a failover takes at least a few INFO periods', maxWhy: LONGEST_WHY }),
  parallelSyncs: count(1, 5, 'sentinel: parallel-syncs', 'Redis: at least one replica is reconfigured at a time', 'at most the largest number of replicas'),
  access: oneOf(['master-service', 'all-nodes'] as const, { doc: 'sentinel, as built: a Service that follows the master with a lag, or a Service over every Redis node' }),
  masterServiceLagUs: delay('sentinel, master-service: how long after +switch-master the Service points at the new master (µs)'),
  minReplicasToWrite: count(0, 5, 'min-replicas-to-write (0: off)', 'Redis: 0 turns the check off', 'at most the largest number of replicas'),
  minReplicasMaxLagUs: us(1 * SECOND, HOUR, { doc: 'min-replicas-max-lag (µs; Redis counts whole seconds)', minWhy: 'Redis counts the lag in whole seconds: 1 s is its least', maxWhy: LONGEST_WHY }),
};

const REDIS_RULES = [
  rule<RedisConfig>((r) => r.quorum <= r.sentinels, (r) =>
    `must be at most sentinels (${r.sentinels} here), got ${r.quorum}: a quorum more Sentinels than there are would never be reached`, ['quorum']),
  rule<RedisConfig>((r) => r.minReplicasToWrite <= r.replicas, (r) =>
    `must be at most replicas (${r.replicas} here), got ${r.minReplicasToWrite}: the master would refuse every write`, ['minReplicasToWrite']),
  rule<RedisConfig>((r) => r.parallelSyncs <= r.replicas, (r) =>
    `must be at most replicas (${r.replicas} here), got ${r.parallelSyncs}`, ['parallelSyncs']),
];

const POSTGRES: Entries<PostgresConfig> = {
  topology: oneOf(['single', 'patroni'] as const, { doc: 'single: the chart\'s one PostgreSQL StatefulSet pod; patroni: Patroni-managed members behind a master Service' }),
  members: count(2, 5, 'patroni: members', 'a failover needs a standby', 'each replays every commit; 5 is past any setup the seeds name (seed 004: 3)'),
  // Patroni's dynamic configuration documents the least value of each: ttl 20, loop_wait 1, retry_timeout 3 (seconds).
  ttlUs: us(20 * SECOND, HOUR, { doc: 'patroni: ttl of the leader key (µs)', minWhy: 'Patroni: the least ttl is 20 s', maxWhy: LONGEST_WHY }),
  loopWaitUs: us(1 * SECOND, HOUR, { doc: 'patroni: loop_wait, the HA loop period (µs)', minWhy: 'Patroni: the least loop_wait is 1 s', maxWhy: LONGEST_WHY }),
  retryTimeoutUs: us(3 * SECOND, HOUR, { doc: 'patroni: retry_timeout for DCS and PostgreSQL operations (µs)', minWhy: 'Patroni: the least retry_timeout is 3 s', maxWhy: LONGEST_WHY }),
  maximumLagOnFailoverBytes: integer(0, 1024 * 1024 * 1024 * 1024, { doc: 'patroni: maximum_lag_on_failover (bytes of WAL)', minWhy: '0: only a standby with every byte may be promoted', maxWhy: '1 TiB is past any WAL a run writes' }),
  replication: oneOf(['async', 'sync', 'sync-strict'] as const, { doc: 'patroni: asynchronous, synchronous_mode, or synchronous_mode with synchronous_mode_strict' }),
  poolMaxOpen: count(1, 100, 'database/sql SetMaxOpenConns', 'at least one connection', 'each is a simulated connection; 100 is PostgreSQL\'s default max_connections'),
  poolMaxIdle: count(0, 100, 'database/sql SetMaxIdleConns', '0 keeps no idle connection', 'at most the largest pool'),
  poolMaxLifetimeUs: timeout('database/sql SetConnMaxLifetime (µs)'),
  poolMaxIdleTimeUs: timeout('database/sql SetConnMaxIdleTime (µs)'),
};

/** Patroni takes ttl, loop_wait and retry_timeout in whole seconds (patroni/config.py). */
const wholeSeconds = (field: 'ttlUs' | 'loopWaitUs' | 'retryTimeoutUs') => rule<PostgresConfig>((p) => p[field] % SECOND === 0, (p) =>
  `must be whole seconds (Patroni takes ${field.replace('Us', '')} in seconds), got ${p[field]} µs`, [field]);

const POSTGRES_RULES = [
  wholeSeconds('ttlUs'), wholeSeconds('loopWaitUs'), wholeSeconds('retryTimeoutUs'),
  rule<PostgresConfig>((p) => p.loopWaitUs + 2 * p.retryTimeoutUs <= p.ttlUs, (p) =>
    `must be at most (ttlUs - loopWaitUs) / 2 (${(p.ttlUs - p.loopWaitUs) / 2} here), got ${p.retryTimeoutUs}: Patroni requires loop_wait + 2 × retry_timeout ≤ ttl`, ['retryTimeoutUs']),
];

const SECTION_DOCS: Record<keyof StreamSpaceConfig, string> = {
  fixes: 'the named design fixes (docs/fixes.md) and the redelivery timings',
  topology: 'replicas, nodes and the agent id',
  api: 'the API pods: AgentHub, WebSocket, CommandDispatcher, Redis',
  agent: 'the k8s-agent; startSessionUs and stopSessionUs are [min, max] with min ≤ max',
  election: 'client-go leader election of the agents; leaseDurationUs > renewDeadlineUs > jitterFactor × retryPeriodUs, as client-go\'s NewLeaderElector requires',
  kubernetes: 'the simulated Kubernetes: pod lifecycle, node failure, kubelet probes',
  workload: 'the seeded user requests',
  auth: 'the auth session store and the response cache on Redis DB 0',
  apiCpu: 'the API pod\'s CPU (requests, limits) and what requests cost; requestMillicores ≤ limitMillicores and idleMillicores < limitMillicores',
  load: 'users as Locust runs them, against the API through the ingress',
  hpa: 'the API Deployment\'s HorizontalPodAutoscaler; maxReplicas ≥ minReplicas, as Kubernetes requires',
  redis: 'Redis: memory settings, persistence, and the Sentinel topology; quorum ≤ sentinels, minReplicasToWrite and parallelSyncs ≤ replicas',
  postgres: 'PostgreSQL: the chart\'s single StatefulSet or Patroni members, and the database/sql pool; loopWaitUs + 2 × retryTimeoutUs ≤ ttlUs, as Patroni requires',
};

/** The rules between fields of a section, checked on the resolved configuration only (an override gives some fields). */
const SECTION_RULES: Partial<Record<keyof StreamSpaceConfig, AnyPipeItem[]>> = {
  election: ELECTION_RULES,
  apiCpu: API_CPU_RULES,
  hpa: HPA_RULES,
  redis: REDIS_RULES,
  postgres: POSTGRES_RULES,
};

/**
 * The schemas, built on first use. Nested objects are whole in both (an override replaces a nested
 * object rather than merging into it).
 */
function build(): { config: v.GenericSchema<unknown, StreamSpaceConfig>; overrides: v.GenericSchema } {
  const hub = section<HubConfig>('api.hub', HUB, 'the AgentHub', { nested: true });
  const ws = section<ApiWebSocketConfig>('api.ws', WS, 'the API side of the agent WebSocket', { nested: true });
  const dispatcher = section<DispatcherConfig>('api.dispatcher', DISPATCHER, 'the CommandDispatcher', { nested: true });
  const probe = (name: string): v.GenericSchema => v.nullable(section<ProbeSpec>(name, PROBE, 'a kubelet probe (null: none declared)', { nested: true }));
  const container = (pod: string): v.GenericSchema<unknown, ContainerProbes> => pipeOf<ContainerProbes>(
    section<ContainerProbes>(`kubernetes.probes.${pod}`, { liveness: probe(`kubernetes.probes.${pod}.liveness`), readiness: probe(`kubernetes.probes.${pod}.readiness`) } as Entries<ContainerProbes>, `the probes of the ${pod} container`, { nested: true }),
    rule<ContainerProbes>((c) => c.liveness === null || c.liveness.successThreshold === 1,
      (c) => `must be 1 for a liveness probe (the Kubernetes Probe API), got ${c.liveness?.successThreshold}`, ['liveness', 'successThreshold']),
  );
  const probes = section<PodProbes>('kubernetes.probes', { api: container('api'), agent: container('agent'), redis: container('redis'), postgres: container('postgres') }, 'the kubelet probes per pod kind (the Helm chart\'s)', { nested: true });
  const taskWeights = pipeOf<LoadConfig['taskWeights']>(
    section<LoadConfig['taskWeights']>('load.taskWeights', { list: WEIGHT('list sessions'), create: WEIGHT('create a session'), delete: WEIGHT('delete a session'), logout: WEIGHT('log out and in again') },
      'Locust @task weights: list sessions, create a session, delete one, log out and in again', { nested: true }),
    v.check((w: LoadConfig['taskWeights']) => w.list + w.create + w.delete + w.logout > 0, (issue) =>
      `must have at least one weight above 0 (a user with no task has nothing to do), got ${shown(issue.input)}`),
  );
  // As in a manifest, a behavior may leave out a direction and a rule any field: the HPA model fills
  // them with the Kubernetes defaults (`hpa/config.ts` resolveBehavior). A policy has every field.
  const rules = (direction: 'scaleUp' | 'scaleDown'): v.GenericSchema<unknown, HPAScalingRules> => optionalSection(`hpa.behavior.${direction}`, {
    stabilizationWindowSeconds: count(0, 3600, 'stabilizationWindowSeconds', 'Kubernetes: 0 or more (0: no stabilisation)', 'Kubernetes: MaxStabilizationWindowSeconds is 3600'),
    selectPolicy: oneOf(['Max', 'Min', 'Disabled'] as const, { doc: 'which policy wins: the one allowing the largest change, the smallest, or none (no scaling this way)' }),
    policies: pipeOf<HPAScalingPolicy[]>(
      v.array(section<HPAScalingPolicy>(`hpa.behavior.${direction}.policies[]`, HPA_POLICY, 'an HPAScalingPolicy, every field given', { nested: true }), (issue) => `must be an array of scaling policies, got ${shown(issue.input)}`),
      v.minLength(1, 'must have at least one policy (Kubernetes: "must specify at least one Policy"; leave policies out for the defaults)'),
      v.maxLength(10, (issue) => `must have at most 10 policies (Kubernetes sets no maximum; 10 is past any HPA's, whose default has 2), got ${(issue.input as unknown[]).length}`),
      v.description('the scaling policies, 1 to 10 of them'),
    ),
  }, `HPAScalingRules of ${direction}; a field left out takes the Kubernetes default`) as v.GenericSchema<unknown, HPAScalingRules>;
  const behavior = v.nullable(optionalSection('hpa.behavior', { scaleUp: rules('scaleUp'), scaleDown: rules('scaleDown') },
    'the HPA behavior block as a manifest gives it: a direction or field left out takes the Kubernetes defaults (null: no block, as in the chart); an override replaces the block whole'));
  const entries: Record<keyof StreamSpaceConfig, v.ObjectEntries> = {
    fixes: FIXES as v.ObjectEntries,
    topology: TOPOLOGY as v.ObjectEntries,
    api: API(hub, ws, dispatcher) as v.ObjectEntries,
    agent: AGENT as v.ObjectEntries,
    election: ELECTION as v.ObjectEntries,
    kubernetes: KUBERNETES(probes) as v.ObjectEntries,
    workload: WORKLOAD as v.ObjectEntries,
    auth: AUTH as v.ObjectEntries,
    apiCpu: API_CPU as v.ObjectEntries,
    load: LOAD(taskWeights) as v.ObjectEntries,
    hpa: HPA(behavior) as v.ObjectEntries,
    redis: REDIS as v.ObjectEntries,
    postgres: POSTGRES as v.ObjectEntries,
  };
  const sections = Object.keys(entries).join(', ');
  const unknownSection = (): string => `unknown section (known: ${sections})`;
  const whole = Object.fromEntries(Object.entries(entries).map(([name, e]) => {
    const s = section(name, e as Entries<unknown>, SECTION_DOCS[name as keyof StreamSpaceConfig]);
    const rules = SECTION_RULES[name as keyof StreamSpaceConfig];
    return [name, rules === undefined ? s : pipeOf(s, ...rules)];
  }));
  const config = object(whole, { doc: 'A resolved StreamSpace configuration, every field', notObject: 'must be an object of sections', unknown: unknownSection });
  const partial = Object.fromEntries(Object.entries(entries).map(([name, e]) => [name, v.optional(optionalSection(name, e, SECTION_DOCS[name as keyof StreamSpaceConfig]))]));
  const overrides = object({
    $schema: v.optional(v.pipe(v.string(), v.description('the JSON Schema this file follows (for editors; ignored)'))),
    ...partial,
  }, {
    doc: 'StreamSpace configuration overrides (hasim --config): any section, any field, merged over the profile; a nested object (api.hub, kubernetes.probes, ...) replaces the default whole',
    notObject: 'must be an object of sections', unknown: unknownSection,
  });
  return { config: config as unknown as v.GenericSchema<unknown, StreamSpaceConfig>, overrides };
}

let built: ReturnType<typeof build> | undefined;

/** The schema of a resolved configuration (every field, the rules between fields). */
export function configSchema(): v.GenericSchema<unknown, StreamSpaceConfig> {
  return (built ??= build()).config;
}

/** The schema of a `--config` file: overrides, every section and field optional. */
export function overridesSchema(): v.GenericSchema {
  return (built ??= build()).overrides;
}

/** The first problem of a set of overrides, as `config.<path>: ...`, or null. */
export function overridesProblem(overrides: unknown): string | null {
  return problemOf(overridesSchema(), overrides, 'config');
}

/** The first problem of a resolved configuration, as `config.<path>: ...`, or null. */
export function configProblem(config: unknown): string | null {
  return problemOf(configSchema(), config, 'config');
}

/** Overrides without the editor's `$schema` key. */
export function withoutSchemaKey(overrides: Record<string, unknown>): Record<string, unknown> {
  if (!('$schema' in overrides)) return overrides;
  const { $schema: _ignored, ...rest } = overrides;
  return rest;
}

