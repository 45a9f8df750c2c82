import { MINUTE, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { SETTLE_US } from '../config.ts';
import { DEFAULT_CONFIG, type ConfigOverrides } from '../config.ts';
import { deleteAgentPod, deleteOtherApiPod, failAgentPodNode, scaleApi } from './actions.ts';
import { countEvents, firstEvent } from './measures.ts';
import { AFTER_REPLACEMENTS, AVAILABILITY_CLAIM, faultInstant, loggedSeconds, users, ZERO_DATA_LOSS, HAPPENS } from './common.ts';
import { defineScenario, type Observation } from './define.ts';
import { metricSet, STANDARD_METRICS as M, type MetricSpec } from './standard-metrics.ts';
import type { Scenario } from './define.ts';
import type { Variation } from '../../../contract/variation.ts';

/** User load for the scaling guide's "under load" cases: a request every second in the base case, every 0.2-5 s otherwise. */
const underLoad = (v: Variation): ConfigOverrides => ({ workload: { requestIntervalUs: v.int(200, 5000, 1000) * 1000 } });

/** From the scale-up to the last of the new pods ready. */
function scaledUpReady(o: Observation): Micros | null {
  const scale = firstEvent(o, 'k8s.scale');
  if (scale === undefined) return null;
  const before = new Set(o.events.filter((e) => e.t < scale.t && e.k === 'api.listening').map((e) => e.p));
  const fresh = o.events.filter((e) => e.t >= scale.t && e.k === 'api.listening' && !before.has(e.p));
  const wanted = (scale.d!['to'] as number) - (scale.d!['from'] as number);
  return fresh.length < wanted ? null : fresh[wanted - 1]!.t - scale.t;
}

const scaling = metricSet([
  { id: 'scaled-up-ready', unit: 'us', definition: 'from `kubectl scale --replicas=5` to the fourth new API pod ready', measure: scaledUpReady },
  M.agentDisconnects, M.maxHubs, M.commandsFailed, M.commandsLost, M.failedFraction, M.downtime, M.availability,
]);

/** Seed report 002 ("Scale API Horizontally", "Zero Downtime Scaling"). */
const scaleOneFiveOne: Scenario = defineScenario({
  name: 'r002-scale-1-to-5-and-back',
  report: '002',
  summary: 'the API Deployment is scaled from 1 to 5 replicas and back to 1 while users create and delete sessions',
  procedure: 'one API pod (with the Redis hub, 3 HA agents), a user request every second; `kubectl scale deployment streamspace-api --replicas=5`, 60 s later `--replicas=1` '
    + '(the newest pods go first). Seeds vary the instant, the time at 5 replicas (30-180 s), the load (a request every 0.2-5 s) and the network.',
  claims: [
    { text: '"Zero Downtime Scaling: Add/remove replicas without disrupting sessions"', metric: 'downtime', atMost: 0 },
    { text: '"Zero Downtime Scaling" (no session request fails)', metric: 'commands-failed', atMost: 0 },
    ZERO_DATA_LOSS,
    { text: '"Automatic Failover: Agent reconnections work with any available API pod" (the agent is not disconnected by scaling)', metric: 'agent-disconnects', atMost: 0 },
  ],
  metrics: scaling.metrics,
  plan(v) {
    const at = faultInstant(v);
    const down = at + v.int(30, 180, 60) * SECOND;
    return {
      faultAt: at, healAt: down + AFTER_REPLACEMENTS, schedule: [],
      actions: [scaleApi(at, 5), scaleApi(down, 1)],
      config: { topology: { apiReplicas: 1 }, ...underLoad(v) }, network: v.network(),
    };
  },
  measure: scaling.measure,
});

const multiPod = metricSet([M.failedFraction, M.commandsFailed, M.commandsLost, M.downtime, M.availability, M.maxHubs]);

/**
 * The chart's default deployment shape: 2 API replicas with `redis.enabled=false` (spec §0,
 * chart/values.yaml:449-455). With AGENTHUB_REDIS_ENABLED unset, api/cmd/main.go:167-195 builds
 * the hub with NewAgentHub() and no Redis client (§6 step 3), so each pod only knows its own
 * connections: SendCommandToAgent for an agent connected elsewhere returns "not connected"
 * (agent_hub.go:540, §2.3 step 5) and IsAgentConnected reads only the local map (§2.3), so the
 * dispatcher marks the row failed (§5.3). The model's `api.redisEnabled: false` is that hub. The
 * agents stay as in the seed-000 deployment (3 HA replicas, one shared id) so that Redis is the only
 * difference from `r002-multi-pod-with-redis`; the chart's own default is 1 agent replica without HA.
 */
const WITHOUT_REDIS: ConfigOverrides = { api: { redisEnabled: false } };

function multiPodScenario(withRedis: boolean): Scenario {
  return defineScenario({
    name: withRedis ? 'r002-multi-pod-with-redis' : 'r002-multi-pod-without-redis',
    report: '002',
    summary: withRedis
      ? '2 API pods with the Redis hub, users creating and deleting sessions through the Service, no faults'
      : '2 API pods without Redis (the Helm chart\'s default), users creating and deleting sessions through the Service, no faults',
    procedure: `2 API replicas${withRedis ? ' with AGENTHUB_REDIS_ENABLED=true' : ' and redis.enabled=false (AgentHub in memory, one per pod)'}, 3 HA agents, `
      + 'a user request every 5 s in the base case landing on a random pod; measured over the run after the cluster settled. Seeds vary the load (a request every 0.2-10 s) and the network.',
    claims: withRedis
      ? [
        { text: '"Cross-Pod Command Routing: Redis pub/sub routes commands between pods" (no request fails for landing on the wrong pod)', metric: 'failed-fraction', atMost: 0 },
        { text: '"Load Balanced Connections: UI and agents can connect to any API pod" (every pod can reach the agent at all times)', metric: 'availability', atLeast: 1 },
        ZERO_DATA_LOSS,
      ]
      : [
        { text: '"Without Redis (Single-Pod): Only one API replica supported" — yet the chart ships 2 replicas without Redis: requests that land on the pod without the agent fail ("No agents available")', metric: 'failed-fraction', atLeast: 0.01 },
        { text: '"API Server: Full scalability, min 1, max unlimited — Requires Redis for multi-pod AgentHub" (without it, not every pod can reach the agent)', metric: 'availability', atMost: 0.99 },
      ],
    metrics: multiPod.metrics,
    plan(v) {
      return {
        faultAt: SETTLE_US, schedule: [],
        config: { ...(withRedis ? {} : WITHOUT_REDIS), workload: { requestIntervalUs: v.int(200, 10_000, 5000) * 1000 } },
        network: v.network(),
      };
    },
    measure: multiPod.measure,
  });
}

const staleMapping: MetricSpec = {
  id: 'stale-mapping', unit: 'us',
  definition: 'time in which Redis said the agent was connected (agent:<id>:connected = true) while agent:<id>:pod named a pod that did not hold its current connection',
  measure: (o) => o.routing.timeUs('staleMapping'),
};

const stale = metricSet([staleMapping, M.agentReconnect, M.mappingRestored, M.routingStable, M.commandsFailed, M.commandsLost, M.downtime, M.availability]);

/** How long the failed node stays down: longer than the 5 min TTL, so that a stale entry can only end by overwrite, DEL or TTL. */
const NODE_DOWN_US = 6 * MINUTE;

/** Seed report 002, "Issue 3: Stale agent entries in Redis" (TTL 5 min, refreshed by 30 s heartbeats). */
const staleEntries: Scenario = defineScenario({
  name: 'r002-stale-agent-entries',
  report: '002',
  summary: 'the node of the agent\'s API pod fails silently: Redis keeps naming a dead pod until something overwrites, deletes or expires the entry',
  procedure: 'the worker node of the API pod holding the agent\'s WebSocket fails (no FIN, no RST: the agent\'s socket is half-open) and stays down 6 min (beyond the 5 min TTL); '
    + 'Kubernetes evicts its pods after 5 min. Seeds vary the instant, the user load and the network.',
  claims: [
    { text: '"Heartbeats every 30 seconds (refreshes 5-minute TTL)": a stale entry lives at most the 5-minute TTL', metric: 'stale-mapping', atMost: 300 * SECOND },
    { text: '"Automatic Failover: Agent reconnections work with any available API pod"', metric: 'routing-stable', atMost: HAPPENS },
    { text: '"Commands fail with \'agent not found\'" while entries are stale (fail, rather than vanish)', metric: 'commands-lost', atMost: 0 },
  ],
  metrics: stale.metrics,
  plan(v) {
    const at = faultInstant(v);
    return { faultAt: at, healAt: at + NODE_DOWN_US, schedule: [], actions: [failAgentPodNode(at, NODE_DOWN_US)], config: users(v), network: v.network() };
  },
  measure: stale.measure,
});

/** Gaps between consecutive heartbeats the API handled on one connection, from the fault on. */
function heartbeatGaps(o: Observation): Micros[] {
  const last = new Map<string, Micros>();
  const gaps: Micros[] = [];
  for (const e of o.events) {
    if (e.t < o.faultAt || e.k !== 'hub.heartbeat') continue;
    const conn = e.d!['conn'] as string;
    const prev = last.get(conn);
    if (prev !== undefined) gaps.push(e.t - prev);
    last.set(conn, e.t);
  }
  return gaps;
}

const heartbeat = metricSet([
  { id: 'heartbeat-gap-max', unit: 'us', definition: 'the longest gap between two heartbeats the API handled on one connection (a LastPing refresh)', measure: (o) => (heartbeatGaps(o).length === 0 ? null : Math.max(...heartbeatGaps(o))) },
  { id: 'heartbeat-gap-min', unit: 'us', definition: 'the shortest such gap', measure: (o) => (heartbeatGaps(o).length === 0 ? null : Math.min(...heartbeatGaps(o))) },
  M.firstHeartbeat,
  { id: 'stale-unregisters', unit: 'count', definition: 'connections the hub\'s 10 s sweep declared stale (LastPing older than the threshold) with no fault at all', measure: (o) => countEvents(o, 'hub.stale') },
  M.agentDisconnects,
  { id: 'mapping-expired', unit: 'count', definition: 'agent keys that expired in Redis (their TTL ran out: heartbeats did not refresh them)', measure: (o) => countEvents(o, 'redis.expired', (e) => String(e.d!['key']).startsWith('agent:')) },
  M.downtime, M.availability,
]);

/**
 * Heartbeat timing with no faults (spec §7.7, §10): the agent's 30 s heartbeat, the hub's 10 s
 * sweep with its 45 s threshold (30 s before 7ab57bc, §2.4), the 5 min TTL refreshed by EXPIRE.
 */
function heartbeatScenario(beforeFix: boolean): Scenario {
  return defineScenario({
    name: beforeFix ? 'r000-stale-threshold-before-fix' : 'r002-heartbeat-timing',
    report: beforeFix ? '000' : '002',
    summary: beforeFix
      ? 'heartbeat timing with the stale threshold before the heartbeat timing fix (30 s, as before commit 7ab57bc) and 30 s heartbeats, no faults'
      : 'heartbeat timing with no faults: 30 s heartbeats, a 10 s stale sweep with a 45 s threshold, a 5 min TTL refreshed by each heartbeat',
    procedure: `the seed-000 deployment${beforeFix ? ' with the hub\'s stale threshold at 30 s (spec §2.4, §10 history)' : ''}, idle in the base case, observed for 9 minutes after it settled. `
      + 'Seeds vary the user load and the network.',
    claims: beforeFix
      ? [
        { text: '"Problem: Agents marked \'stale\' despite active connections" (what the fix in 7ab57bc addressed: it shows with the old threshold)', metric: 'stale-unregisters', atLeast: 1 },
      ]
      : [
        { text: '"Heartbeat interval: 30 seconds (correct)"', metric: 'heartbeat-gap-max', atMost: loggedSeconds(30) },
        { text: '"Heartbeats every 30 seconds (refreshes 5-minute TTL)"', metric: 'mapping-expired', atMost: 0 },
        { text: '"Builder\'s heartbeat timing fix prevented \'stale connection\' false positives"', metric: 'stale-unregisters', atMost: 0 },
        { text: '"Zero spurious disconnections observed"', metric: 'agent-disconnects', atMost: 0 },
      ],
    metrics: heartbeat.metrics,
    plan(v) {
      return {
        faultAt: SETTLE_US, schedule: [],
        config: { ...users(v), ...(beforeFix ? { api: { hub: { ...DEFAULT_CONFIG.api.hub, staleThresholdUs: 30 * SECOND } } } : {}) },
        network: v.network(),
      };
    },
    measure: heartbeat.measure,
  });
}

const apiFailover = metricSet([M.hostDeleted, M.onSurvivingPod, M.agentReconnect, M.routingRestored, M.routingStable, M.mappingRestored, M.commandsFailed, M.commandsLost, M.downtime, M.availability, M.impliedHourly]);

/** Seed report 002, "Test Failover Scenarios", test 1: API pod failure. */
const apiPodFailure: Scenario = defineScenario({
  name: 'r002-failover-api-pod',
  report: '002',
  summary: 'an API pod is deleted; the agent, if it was connected there, reconnects to another pod',
  procedure: '`kubectl delete pod` of an API pod: in the base case the one holding the agent\'s WebSocket (so that "verify agent reconnects to different pod" applies). '
    + 'Seeds pick the agent\'s pod or the other one (even odds), and vary the instant, the user load and the network.',
  claims: [
    { text: '"Verify agent reconnects to different pod" (the agent ends up on a pod that was not deleted)', metric: 'agent-on-surviving-pod', atLeast: 1 },
    { text: '"API pod failure recovery (2-second recovery)" (report 000, earlier HA testing)', metric: 'routing-stable', atMost: loggedSeconds(2) },
    { text: '"Verify sessions still accessible"', metric: 'commands-lost', atMost: 0 },
    AVAILABILITY_CLAIM,
  ],
  metrics: apiFailover.metrics,
  plan(v) {
    const at = faultInstant(v);
    const action = v.int(0, 1, 0) === 0 ? deleteAgentPod(at) : deleteOtherApiPod(at);
    return { faultAt: at, healAt: at + AFTER_REPLACEMENTS, schedule: [], actions: [action], config: users(v), network: v.network() };
  },
  measure: apiFailover.measure,
});

const redisFailover = metricSet([
  M.mappingRestored, M.routingStable,
  { id: 'local-routing', unit: 'fraction', definition: 'the fraction of the window in which a command issued on the agent\'s own pod would be delivered (graceful degradation)', measure: (o) => o.routing.fraction('connected') },
  M.agentDisconnects, M.commandsFailed, M.commandsLost, M.downtime, M.availability, M.impliedHourly,
]);

/** Seed report 002, "Test Failover Scenarios", test 2: Redis failure. */
const redisPodFailure: Scenario = defineScenario({
  name: 'r002-failover-redis',
  report: '002',
  summary: 'the Redis pod is deleted and replaced, empty (the chart runs it without persistence)',
  procedure: '`kubectl delete pod -l app.kubernetes.io/component=redis`; the replacement starts 5 s later with no keys. Seeds vary the instant, the user load and the network.',
  claims: [
    { text: '"Verify graceful degradation (if no Redis, API should log warning and continue in single-pod mode)": the agent\'s own pod keeps delivering', metric: 'local-routing', atLeast: 1 },
    { text: '"Redis infrastructure failure (2-second recovery)" (report 000, earlier HA testing)', metric: 'routing-stable', atMost: loggedSeconds(2) },
    { text: '"Redis pod failures → 11-second recovery (with retries)" (report 000)', metric: 'routing-stable', atMost: loggedSeconds(11) },
    ZERO_DATA_LOSS,
    AVAILABILITY_CLAIM,
  ],
  metrics: redisFailover.metrics,
  plan(v) {
    const at = faultInstant(v);
    return { faultAt: at, healAt: at + AFTER_REPLACEMENTS, schedule: [{ kind: 'delete', at, target: { role: 'redis' } }], config: users(v), network: v.network() };
  },
  measure: redisFailover.measure,
});

export const REPORT_002_SCENARIOS: readonly Scenario[] = [
  scaleOneFiveOne, multiPodScenario(false), multiPodScenario(true), staleEntries, heartbeatScenario(false), apiPodFailure, redisPodFailure,
];

/** Report 000's heartbeat-fix claim, measured with the same machinery as report 002's heartbeat timing. */
export const STALE_THRESHOLD_BEFORE_FIX: Scenario = heartbeatScenario(true);
