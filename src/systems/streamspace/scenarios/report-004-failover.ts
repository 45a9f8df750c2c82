import { MINUTE, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import type { Claim } from '../../../contract/scenario.ts';
import type { Variation } from '../../../contract/variation.ts';
import type { ConfigOverrides } from '../config.ts';
import { NAMED_DEPLOYMENTS } from '../deployments.ts';
import type { StreamSpaceFault } from '../faults.ts';
import { defineScenario, type Observation, type Scenario } from './define.ts';
import { AFTER_FAULT_US, CLAIMS, faultInstant, LOAD_START_US, requestMetrics, rtoMetric } from './report-004.ts';
import { metricSet, type MetricSpec } from './standard-metrics.ts';

/**
 * Seed report 004's failover claims (spec seeds-001-004 §2 "PostgreSQL failover", "Redis
 * Sentinel"): "PostgreSQL failover" and "Redis Sentinel failover" with RTO < 30 s and zero data
 * loss, under the same 1,000 users as its other scenarios (report-004.ts), on seed 004's own
 * settings (`r004-jewelry-shop`) with its replicated datastores: Patroni PostgreSQL in each
 * replication mode, and Redis with Sentinel reached each way StreamSpace could (the two as-built
 * Services, and the fix `sentinel-aware-client`, which these scenarios switch on themselves).
 */

const JEWELRY_SHOP = NAMED_DEPLOYMENTS.find((d) => d.name === 'r004-jewelry-shop')!.overrides as ConfigOverrides;
const replicated = (name: string): ConfigOverrides => NAMED_DEPLOYMENTS.find((d) => d.name === name)!.overrides as ConfigOverrides;

/** Seed 004's stack with a replicated datastore of `from`, the users running from the load start to `stopAt`. */
function deployment(from: string, stopAt: Micros, v: Variation, extra: ConfigOverrides = {}): ConfigOverrides {
  const datastore = replicated(from);
  return {
    ...JEWELRY_SHOP,
    // One pod per node: the seed's 3 API pods, 3 agents, and the datastores' members each on a node of their own.
    topology: { ...JEWELRY_SHOP.topology, placement: 'one-per-node', workerNodes: 14 },
    ...(datastore.redis !== undefined ? { redis: datastore.redis } : {}),
    ...(datastore.postgres !== undefined ? { postgres: datastore.postgres } : {}),
    load: { ...JEWELRY_SHOP.load, startUs: LOAD_START_US, runUs: stopAt - LOAD_START_US },
    apiCpu: { requestCpuUs: v.int(1, 3, 2) * 1000 },
    ...extra,
  };
}

/** The acknowledged writes a failover lost: `sql.ack` ids that `pg.lost-writes` named, and when they were acknowledged. */
function lostAcknowledged(o: Observation): Micros[] {
  return [...o.view.lostWrites.keys()].flatMap((wid) => {
    const ack = o.view.acknowledgedWrites.get(wid);
    return ack === undefined ? [] : [ack.t];
  });
}

const rpoMetrics: MetricSpec[] = [
  {
    id: 'writes-lost', unit: 'count',
    definition: 'RPO as a count: PostgreSQL writes (command rows and their status, agent rows) acknowledged to an API pod and then lost in a failover (sql.ack ids that pg.lost-writes named)',
    measure: (o) => lostAcknowledged(o).length,
  },
  {
    id: 'writes-lost-span', unit: 'us',
    definition: 'RPO as time: from the first to the last acknowledgement of a write the failover lost (0: none, or one)',
    measure: (o) => { const t = lostAcknowledged(o); return t.length === 0 ? 0 : Math.max(...t) - Math.min(...t); },
  },
];

/** The datastore's own recovery: from the fault to the new primary's promotion / the Sentinels' +switch-master (never: none happened). */
function failoverMetric(kind: 'patroni.promote' | 'sentinel.switch-master'): MetricSpec {
  return {
    id: 'failover-time', unit: 'us',
    definition: kind === 'patroni.promote'
      ? 'from the fault to the first promotion of a PostgreSQL member after it (the component RTO; never: no promotion)'
      : 'from the fault to the first +switch-master a Sentinel announced after it (the component RTO; never: no failover)',
    measure: (o) => { const e = o.events.find((x) => x.t >= o.faultAt && x.k === kind); return e === undefined ? null : e.t - o.faultAt; },
  };
}

const RPO_CLAIM: Claim = {
  text: '"Zero data loss": no acknowledged PostgreSQL write lost in the failover', metric: 'writes-lost', atMost: 0,
  note: 'Asynchronous replication (Patroni\'s default) promotes a standby without what it had not received; synchronous_mode without strict drops its synchronous standby when it fails and then commits alone. '
    + '`strict-synchronous-replication` keeps every acknowledged commit, and stalls writes while no standby confirms.',
};

/** A failover scenario: `event` at `faultInstant`, the users going on 4 minutes after it. */
function failoverScenario(spec: {
  name: string; summary: string; procedure: string; from: string; config?: ConfigOverrides; claims: Claim[]; metrics: MetricSpec[];
  event(at: Micros, v: Variation): StreamSpaceFault[];
}): Scenario {
  const metrics = [...requestMetrics, rtoMetric, ...spec.metrics];
  return defineScenario({
    name: spec.name,
    report: '004',
    summary: spec.summary,
    procedure: spec.procedure,
    claims: [CLAIMS.rto, CLAIMS.availability, ...spec.claims],
    metrics,
    plan(v) {
      const at = faultInstant(v);
      const stopAt = at + AFTER_FAULT_US;
      // The users outlast the heal: the run lasts the recovery bound past their stop (report-004.ts).
      return { faultAt: at, schedule: spec.event(at, v), workUntil: stopAt, config: deployment(spec.from, stopAt, v, spec.config), network: v.network() };
    },
    measure: (o) => metricSet(metrics).measure(o),
  });
}

const PG_MODES = [
  { mode: 'async', deployment: 'r004-patroni-async', what: 'asynchronous replication (Patroni\'s default)' },
  { mode: 'sync', deployment: 'r004-patroni-sync', what: 'synchronous_mode (seed 004\'s Spilo)' },
  { mode: 'sync-strict', deployment: 'r004-patroni-sync-strict', what: 'synchronous_mode_strict' },
] as const;

/**
 * The seed's "PostgreSQL failover": its chaos script force-deletes the primary's pod. Seeds kill it
 * each way Kubernetes can (a deletion, a forced one, its node failing for 1-3 min) or cut it off
 * from the DCS and its standbys while the API pods still reach it (the case where asynchronous
 * replication loses what it acknowledged).
 */
const pgFailover = PG_MODES.map(({ mode, deployment: from, what }) => failoverScenario({
  name: `r004-pg-failover-under-load-${mode}`,
  summary: `the PostgreSQL primary killed under 1,000 users, Patroni with ${what}`,
  procedure: `Seed 004's stack with 3 Patroni members (${what}; ttl 30 s, loop_wait 10 s, retry_timeout 10 s) behind database/sql's pool; with the users running, `
    + '`kubectl delete pod --grace-period=0 --force` the primary (the seed\'s chaos script). Seeds vary how it goes (a graceful deletion, a forced one, its node failing for 1-3 minutes, '
    + 'or it cut off from the Kubernetes API and its standbys for 30-90 s while the API pods still reach it), the instant, the CPU per request and the network.',
  from,
  claims: [RPO_CLAIM, CLAIMS.commands],
  metrics: [...rpoMetrics, failoverMetric('patroni.promote')],
  event(at, v) {
    const how = v.base ? 0 : v.int(0, 3, 0);
    if (how === 3) return [{ kind: 'pg-dcs-partition', at, standbys: true, durationUs: v.int(30, 90, 60) * SECOND }];
    const modes = ['sigkill', 'graceful', 'node'] as const;
    return [{ kind: 'pg-primary-kill', at, mode: modes[how]!, durationUs: v.int(1, 3, 2) * MINUTE }];
  },
}));

const SESSIONS_CLAIM: Claim = {
  ...CLAIMS.sessions,
  note: 'Replication is asynchronous: a session whose SET the promoted replica had not received is gone, and while clients reach no master every session check fails closed (401). '
    + 'As built, the Service follows the new master late (master-service) or sends connections to replicas (all-nodes, READONLY); `sentinel-aware-client` asks the Sentinels instead.',
};

const REDIS_ACCESS = [
  { suffix: 'master-service', deployment: 'r004-redis-sentinel', what: 'a Service a controller moves to the new master 5 s after +switch-master', fix: false },
  { suffix: 'all-nodes', deployment: 'r004-redis-sentinel-all-nodes', what: 'a Service over every Redis node', fix: false },
  { suffix: 'failover-client', deployment: 'r004-redis-sentinel', what: 'go-redis FailoverClients (the fix sentinel-aware-client)', fix: true },
] as const;

/**
 * The seed's "Redis Sentinel failover": its chaos script force-deletes the master's pod; the
 * StatefulSet recreates it under its name within seconds, racing down-after (5 s). Seeds vary how
 * long it stays down (5-60 s) or cut it off from its replicas and the Sentinels while the API pods
 * still reach it.
 */
const redisFailover = REDIS_ACCESS.map(({ suffix, deployment: from, what, fix }) => failoverScenario({
  name: `r004-redis-sentinel-failover-${suffix}`,
  summary: `the Redis master killed under 1,000 users, Sentinel (seed 004's timings), the API pods reaching it through ${what}`,
  procedure: `Seed 004's stack with Redis as a master, 2 replicas and 3 Sentinels (quorum 2, down-after 5 s, failover-timeout 30 s, AOF everysec), reached through ${what}; `
    + 'with the users running, the master\'s pod is force-deleted (the seed\'s chaos script) and comes back under its name 5 s later. Seeds vary its downtime (5-60 s) or '
    + 'cut it off from its replicas and the Sentinels for 30-90 s instead, and vary the instant, the CPU per request and the network.',
  from,
  ...(fix ? { config: { fixes: { sentinelAwareClient: true } } } : {}),
  claims: [SESSIONS_CLAIM],
  metrics: [failoverMetric('sentinel.switch-master')],
  event(at, v) {
    if (!v.base && v.int(0, 3, 0) === 3) return [{ kind: 'redis-master-isolate', at, durationUs: v.int(30, 90, 60) * SECOND }];
    return [{ kind: 'redis-master-kill', at, downUs: v.int(5, 60, 5) * SECOND }];
  },
}));

/** Seed report 004's failover scenarios: PostgreSQL under Patroni in each mode, Redis under Sentinel reached each way. */
export const REPORT_004_FAILOVER_SCENARIOS: readonly Scenario[] = [...pgFailover, ...redisFailover];
