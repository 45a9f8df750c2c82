import { MINUTE, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import type { Claim } from '../../../contract/scenario.ts';
import type { Variation } from '../../../contract/variation.ts';
import type { ConfigOverrides } from '../config.ts';
import { NAMED_DEPLOYMENTS } from '../deployments.ts';
import type { StreamSpaceFault } from '../faults.ts';
import { DEFAULT_TARGET, latencyPercentiles, loadSpan, recoveryTime, requestAvailability, type Span } from '../invariants/request-availability.ts';
import { SETTLE_US } from '../config.ts';
import { commandOutcomes, countEvents } from './measures.ts';
import { defineScenario, type Observation, type Scenario, type ScriptedAction } from './define.ts';
import { metricSet, type MetricSpec } from './standard-metrics.ts';

/**
 * Seed report 004 (Task 34.16, spec seeds-001-004 §0 item 3 and §2): a stack under 1,000 Locust
 * users, with HPA 3 → 10 → 3, pods killed, a node "failure" (a drain), and a network partition (an
 * egress NetworkPolicy), claimed to keep RTO < 30 s, 99.9% availability and zero data loss. The
 * seed's stack is a Django shop; here its procedure runs on StreamSpace with the seed's own
 * settings (deployment `r004-jewelry-shop`: HPA min 3, max 10, CPU 70% with its behavior block,
 * PodDisruptionBudget minAvailable 2). Availability is judged on what users saw: every request's
 * answer (`load/`), not labels or PINGs.
 */

const JEWELRY_SHOP = NAMED_DEPLOYMENTS.find((d) => d.name === 'r004-jewelry-shop')!.overrides;

/** The load starts at 1 min (load.startUs) and spawns 1,000 users in 20 s; the HPA has scaled up by then. */
export const LOAD_START_US: Micros = 1 * MINUTE;
/** Faults come once the HPA has settled at its peak under the load. */
export const faultInstant = (v: Variation): Micros => SETTLE_US + 1 * MINUTE + v.offset(30 * SECOND);
/** How long the users keep going after the fault: the windows the claims are judged on. */
export const AFTER_FAULT_US: Micros = 4 * MINUTE;

/** The seed's deployment with the users running from the load start to `stopAt`. */
function deployment(stopAt: Micros, v: Variation): ConfigOverrides {
  const base = JEWELRY_SHOP as ConfigOverrides;
  return {
    ...base,
    load: { ...base.load, startUs: LOAD_START_US, runUs: stopAt - LOAD_START_US },
    // Seeds vary the CPU a request costs (±50% around the assumed 2 ms): how hard the HPA is driven.
    apiCpu: { requestCpuUs: v.int(1, 3, 2) * 1000 },
  };
}

/** The load's span: from its start to its stop (every request in it has its outcome). */
const span = (o: Observation): Span | null => loadSpan(o.view, o.endAt, o.cluster.config.load.requestTimeoutUs);
const log = (o: Observation) => o.cluster.loadRecord!.log;

export const requestMetrics: MetricSpec[] = [
  {
    id: 'request-availability', unit: 'fraction',
    definition: 'requests answered 2xx / requests sent, from the load\'s start to its stop (every user request: logins, lists, creates, deletes, logouts; the revocation probes left out)',
    measure: (o) => { const s = span(o); return s === null ? null : requestAvailability(log(o), s).availability; },
  },
  {
    id: 'request-p95-latency', unit: 'us',
    definition: '95th percentile of the time users waited for an answer, from the load\'s start to its stop (a request never answered counts its client timeout)',
    measure: (o) => { const s = span(o); return s === null ? null : latencyPercentiles(log(o), s).p95; },
  },
  {
    id: 'sessions-lost', unit: 'count',
    definition: 'logged-in users refused with 401 while their session should live (no logout, within the 24 h TTL): load.lost-session events over the whole run',
    measure: (o) => countEvents(o, 'load.lost-session', () => true, 0),
  },
  {
    id: 'commands-lost', unit: 'count',
    definition: 'session commands (start/stop) users created from the fault on that were accepted and neither completed nor failed by the end of the run',
    measure: (o) => commandOutcomes(o).lost,
  },
];

export const rtoMetric: MetricSpec = {
  id: 'request-rto', unit: 'us',
  definition: `from the fault to the first instant after which the availability of the requests sent in every 10 s window stays ≥ ${100 * DEFAULT_TARGET}% to the load's stop (0: it never dropped; never: it did not come back)`,
  measure: (o) => { const s = span(o); return s === null ? null : recoveryTime(log(o), o.faultAt, s); },
};

const hpaMetrics: MetricSpec[] = [
  {
    id: 'hpa-peak-replicas', unit: 'count',
    definition: 'the most replicas the HPA set on the API Deployment while the users ran (spec.replicas after each hpa.scale)',
    measure: (o) => {
      const stop = o.view.loadChanges.find((e) => e.k === 'load.stop')?.t ?? o.endAt;
      return Math.max(o.cluster.config.topology.apiReplicas, ...o.view.hpaScales.filter((s) => s.t <= stop).map((s) => s.to));
    },
  },
  {
    id: 'hpa-final-replicas', unit: 'count',
    definition: 'the API Deployment\'s replicas at the end of the run, after the users stopped',
    measure: (o) => o.view.hpaScales.at(-1)?.to ?? o.cluster.config.topology.apiReplicas,
  },
];

export const CLAIMS = {
  rto: { text: '"RTO < 30 seconds" for every chaos event', metric: 'request-rto', atMost: 30 * SECOND } satisfies Claim,
  availability: { text: '"99.9% availability" under 1,000 concurrent users', metric: 'request-availability', atLeast: DEFAULT_TARGET } satisfies Claim,
  sessions: {
    text: '"Zero data loss": no logged-in session lost', metric: 'sessions-lost', atMost: 0,
    note: 'As built every API pod start runs ClearAllSessions (api/cmd/main.go:326-336): each HPA scale-up, replacement or restart logs every user out; `keep-sessions-on-start` removes it.',
  } satisfies Claim,
  commands: {
    text: '"Zero data loss": no accepted session command lost', metric: 'commands-lost', atMost: 0,
    note: 'As built the agent runs each start_session handler on its WebSocket reader (spec §7.5): one command at a time, 5-120 s each, while 1,000 users ask for several session '
      + 'commands a second; the rows queue up `sent` and are still unfinished at the end. `agent-async-handlers` runs them concurrently.',
  } satisfies Claim,
};

/** A forced deletion of an API pod, the `index`-th live one (the seed's chaos script: `--grace-period=0 --force`). */
function forceDeleteApiPod(at: Micros, index: number): ScriptedAction {
  return {
    at, what: `kubectl delete pod --grace-period=0 --force: API pod #${index}`,
    run: (cluster) => {
      const pods = cluster.apiPods;
      if (pods.length > 0) cluster.deletePod(pods[index % pods.length]!, { force: true });
    },
    asFault: { kind: 'delete', at, target: { role: 'api', index } },
  };
}

const loadScenario: Scenario = defineScenario({
  name: 'r004-load-1000-users',
  report: '004',
  summary: '1,000 Locust users for 5 minutes on seed 004\'s settings: the HPA scales 3 → 10 under them and back to 3 after',
  procedure: 'Locust starts 1,000 users at 50/s with `between(1, 3)` think time at 1 min; they log in once, then list, create and delete sessions for 5 minutes and stop; '
    + 'no fault. Seeds vary the CPU a request costs (1-3 ms) and the network.',
  claims: [
    { text: '"HPA scaling: 3 → 10" under the load', metric: 'hpa-peak-replicas', atLeast: 10 },
    { text: '"→ 3" once the load is gone', metric: 'hpa-final-replicas', atMost: 3 },
    CLAIMS.availability,
    CLAIMS.sessions,
    CLAIMS.commands,
  ],
  metrics: [...requestMetrics, ...hpaMetrics],
  plan(v) {
    const stopAt = LOAD_START_US + 5 * MINUTE;
    // No fault: the measured span starts with the load; the heal is the stop, so the run goes on
    // through the HPA's 300 s scale-down window and its policy's steps.
    return { faultAt: LOAD_START_US, healAt: stopAt, schedule: [], config: deployment(stopAt, v), network: v.network() };
  },
  measure: (o) => metricSet([...requestMetrics, ...hpaMetrics]).measure(o),
});

/** A scenario of one chaos event under the load: the fault at `faultInstant`, the users going on 4 minutes after it. */
function chaosScenario(spec: {
  name: string; summary: string; procedure: string; extraClaims?: Claim[];
  event(at: Micros, v: Variation): { schedule: StreamSpaceFault[]; actions?: ScriptedAction[]; healAt?: Micros };
}): Scenario {
  const metrics = [...requestMetrics, rtoMetric];
  return defineScenario({
    name: spec.name,
    report: '004',
    summary: spec.summary,
    procedure: spec.procedure,
    claims: [CLAIMS.rto, CLAIMS.availability, CLAIMS.sessions, CLAIMS.commands, ...(spec.extraClaims ?? [])],
    metrics,
    plan(v) {
      const at = faultInstant(v);
      const stopAt = at + AFTER_FAULT_US;
      const e = spec.event(at, v);
      // The users outlast the heal: the run lasts the recovery bound past their stop, so that every
      // command they had accepted can be judged, by `no-lost-commands` and the claims' metric alike.
      // (Ending at the heal's bound left a command of the load's last minutes too little time for
      // the hardened profile's redelivery: r004-node-failure seed 571 counted one lost.)
      return {
        faultAt: at, schedule: e.schedule, ...(e.actions ? { actions: e.actions } : {}), ...(e.healAt !== undefined ? { healAt: e.healAt } : {}),
        workUntil: stopAt, config: deployment(stopAt, v), network: v.network(),
      };
    },
    measure: (o) => metricSet(metrics).measure(o),
  });
}

const apiPodsKilled = chaosScenario({
  name: 'r004-api-pods-killed',
  summary: 'API pods force-deleted under 1,000 users',
  procedure: 'With the users running and the HPA at its peak, `kubectl delete pod --grace-period=0 --force` one API pod (the seed\'s chaos script); '
    + 'seeds delete 1-3 pods 0-10 s apart, vary the instant (+0-30 s), the CPU per request and the network.',
  event(at, v) {
    const n = v.int(1, 3, 1);
    const actions = Array.from({ length: n }, (_, i) => forceDeleteApiPod(at + i * v.int(0, 10, 0) * SECOND, v.int(0, 9, 0)));
    return { schedule: [], actions, healAt: at + 30 * SECOND };
  },
});

const nodeDrain = chaosScenario({
  name: 'r004-node-drain',
  summary: 'a worker node cordoned and drained under 1,000 users (the seed\'s "node failure")',
  procedure: '`kubectl drain` a worker node (cordon, then evictions honouring the PodDisruptionBudget minAvailable 2, refused evictions retried every 5 s), uncordoned 2 minutes later; '
    + 'seeds pick the node and vary the instant, the window (1-3 min), the CPU per request and the network.',
  event(at, v) {
    const durationUs = v.int(1, 3, 2) * MINUTE;
    return { schedule: [{ kind: 'node-drain', at, target: { role: 'worker-node', index: v.int(0, 2, 0) }, durationUs }] };
  },
});

const nodeFailure = chaosScenario({
  name: 'r004-node-failure',
  summary: 'a worker node fails for real under 1,000 users (what the seed\'s drain did not test)',
  procedure: 'A worker node dies silently (power loss: no RST, its pods vanish) and comes back 2 minutes later; Kubernetes marks it NotReady after 40 s and would evict after 300 s. '
    + 'Seeds pick the node and vary the instant, the downtime (1-5 min), the CPU per request and the network.',
  event(at, v) {
    const durationUs = v.int(1, 5, 2) * MINUTE;
    return { schedule: [{ kind: 'node-failure', at, target: { role: 'worker-node', index: v.int(0, 2, 0) }, durationUs }] };
  },
});

const egressPartition = chaosScenario({
  name: 'r004-egress-partition',
  summary: 'an egress NetworkPolicy cuts the API pods off Redis and PostgreSQL under 1,000 users (the seed\'s "partition")',
  procedure: 'An egress NetworkPolicy denies the API pods new connections to Redis and PostgreSQL for 60 s; established connections are kept (Calico, Antrea). '
    + 'Seeds vary the targets (Redis, PostgreSQL or both), whether established connections are cut too (Cilium, OVN-Kubernetes), the window (10-120 s), the instant, the CPU per request and the network.',
  event(at, v) {
    const to = v.base ? 'both' : (['redis', 'postgres', 'both'] as const)[v.int(0, 2, 2)]!;
    const existing = v.base ? 'kept' : (['kept', 'cut'] as const)[v.int(0, 1, 0)]!;
    const durationUs = v.int(10, 120, 60) * SECOND;
    return { schedule: [{ kind: 'egress-partition', at, to, existing, durationUs }] };
  },
});

/** Seed report 004's scenarios, seed 0 being the report's own procedure. */
export const REPORT_004_SCENARIOS: readonly Scenario[] = [loadScenario, apiPodsKilled, nodeDrain, nodeFailure, egressPartition];
