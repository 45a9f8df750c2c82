import type { Micros } from '../../../sim-cluster/index.ts';
import { leaseName } from '../config.ts';
import { agentHostAt, availability, commandOutcomes, countEvents, firstEvent, hubsHoldingAgent, impliedHourlyAvailability, timeToEvent } from './measures.ts';
import type { Observation } from './define.ts';
import type { MetricDefinition } from '../../../contract/scenario.ts';

/** A metric with its definition and how it is read from a run. */
export interface MetricSpec extends MetricDefinition {
  measure(o: Observation): number | null;
}

function metric(id: string, unit: MetricDefinition['unit'], definition: string, measure: (o: Observation) => number | null): MetricSpec {
  return { id, unit, definition, measure };
}

/**
 * When the leader's failover starts: the deletion of an agent pod if the scenario deletes one (it
 * may come a little after the scenario's first fault), else the fault.
 */
function failoverStart(o: Observation): Micros {
  return firstEvent(o, 'k8s.delete-pod', (e) => e.d!['kind'] === 'agent')?.t ?? o.faultAt;
}

/** Time from the failover's start to the first Lease acquisition after it. */
function leaderAcquired(o: Observation): Micros | null {
  const start = failoverStart(o);
  const acquired = firstEvent(o, 'elector.acquired', () => true, start);
  return acquired === undefined ? null : acquired.t - start;
}

/** Time from the failover's start to the first `agent.connected` by the replica that acquired the lease after it. */
function newLeaderConnected(o: Observation): Micros | null {
  const start = failoverStart(o);
  const acquired = firstEvent(o, 'elector.acquired', () => true, start);
  if (acquired === undefined) return null;
  const e = firstEvent(o, 'agent.connected', (x) => x.p === acquired.p, acquired.t);
  return e === undefined ? null : e.t - start;
}

/** 1 if at the end of the run the agent in charge is connected to a live API pod that was not deleted, else 0. */
function onSurvivingPod(o: Observation): number {
  const deleted = new Set(o.events.filter((e) => e.t >= o.faultAt && e.k === 'k8s.delete-pod').map((e) => e.d!['pod']));
  const agent = o.cluster.config.topology.agentHa ? o.view.holderOf(leaseName(o.cluster.agentIds()[0]!)) : o.cluster.agentPods[0] ?? null;
  const pod = agent === null ? undefined : o.view.agentConnections.get(agent)?.pod;
  return pod !== undefined && o.view.alive.has(pod) && !deleted.has(pod) ? 1 : 0;
}

/** From the first connection made after the fault to the first heartbeat the API handled on it. */
function firstHeartbeat(o: Observation): Micros | null {
  const connected = firstEvent(o, 'agent.connected');
  if (connected === undefined) return null;
  const conn = connected.d!['conn'];
  const hb = o.events.find((e) => e.t >= connected.t && e.k === 'hub.heartbeat' && e.d!['conn'] === conn);
  return hb === undefined ? null : hb.t - connected.t;
}

/** A pod created after the fault that became ready: time from the fault. */
function replacementReady(o: Observation): Micros | null {
  const before = new Set(o.events.filter((e) => e.t < o.faultAt && e.k === 'api.listening').map((e) => e.p));
  const e = firstEvent(o, 'api.listening', (x) => !before.has(x.p));
  return e === undefined ? null : e.t - o.faultAt;
}

/**
 * The metrics several scenarios share. Times are from the fault (the first fault of the scenario's
 * sequence); "restored" metrics come from the routing state sampled every 100 ms.
 */
export const STANDARD_METRICS = {
  agentReconnect: metric('agent-reconnect', 'us',
    'from the fault to the first agent.connected after it: an agent replica registered over HTTP and opened its WebSocket to an API pod',
    (o) => timeToEvent(o, 'agent.connected')),
  leaderAcquired: metric('leader-acquired', 'us',
    'from the leader\'s deletion (or the fault) to the first elector.acquired after it: a replica took the Lease',
    leaderAcquired),
  newLeaderConnected: metric('new-leader-connected', 'us',
    'from the leader\'s deletion (or the fault) to the first WebSocket connection opened by the replica that took the Lease after it',
    newLeaderConnected),
  onSurvivingPod: metric('agent-on-surviving-pod', 'count',
    '1 if at the end of the run the agent in charge is connected to a live API pod that was not deleted, else 0',
    onSurvivingPod),
  leaderChanges: metric('leader-changes', 'count',
    'Lease acquisitions (elector.acquired) from the fault to the end of the run',
    (o) => countEvents(o, 'elector.acquired')),
  mappingRestored: metric('mapping-restored', 'us',
    'from the fault to the first sample, after the routing state first broke, in which Redis holds agent:<id>:pod = the pod whose hub holds the agent\'s current connection, agent:<id>:connected = true, and that pod is subscribed to its channel (0 if it never broke, never if it did not come back)',
    (o) => o.routing.restoredAfter('mapped')),
  routingRestored: metric('routing-restored', 'us',
    'from the fault to the first sample, after routing first broke, in which a command issued on every ready API pod would be delivered to the agent (0 if it never broke, never if it did not come back): the total recovery time',
    (o) => o.routing.restoredAfter('available')),
  routingStable: metric('routing-stable', 'us',
    'from the fault to the last instant routing came back and stayed up to the end of the run (never if it is broken at the end)',
    (o) => o.routing.stableAfter('available')),
  downtime: metric('downtime', 'us',
    'time from the fault to the end of the run in which a command issued on some ready API pod would not be delivered',
    (o) => o.routing.downtimeUs('available')),
  availability: metric('availability', 'fraction',
    'the fraction of simulated time, from the fault to the end of the run, in which a command issued on any ready API pod would be delivered',
    availability),
  impliedHourly: metric('implied-hourly-availability', 'fraction',
    'report 000\'s arithmetic with the measured downtime: 1 - 2 x downtime / 1 h (two such failures an hour)',
    impliedHourlyAvailability),
  commandsFailed: metric('commands-failed', 'count',
    'user commands accepted (row committed) from the fault on that ended failed',
    (o) => commandOutcomes(o).failed),
  commandsLost: metric('commands-lost', 'count',
    'user commands accepted from the fault on that were still pending, sent or ack at the end of the run: neither done nor failed (data loss)',
    (o) => commandOutcomes(o).lost),
  failedFraction: metric('failed-fraction', 'fraction',
    'the share of user commands accepted from the fault on that ended failed',
    (o) => {
      const c = commandOutcomes(o);
      return c.accepted === 0 ? 0 : c.failed / c.accepted;
    }),
  maxHubs: metric('max-hubs-holding-agent', 'count',
    'the most API pods whose hub held an entry for the agent at one instant, followed event by event (an entry that lived a few milliseconds counts); '
      + 'a pod counts while it is alive and running: a paused pod (stop-the-world) serves nothing and counts again only if it still holds the entry once it resumes. '
      + '2 or more: duplicate connections, a running pod that would send the agent\'s commands into a connection other than the one the agent reads',
    (o) => hubsHoldingAgent(o).max),
  maxLeaders: metric('max-leaders', 'count',
    'the most live agent replicas that believed they led at one sample',
    (o) => o.routing.max('leaders')),
  firstHeartbeat: metric('first-heartbeat', 'us',
    'from the first WebSocket connection opened after the fault to the first heartbeat the API handled on it',
    firstHeartbeat),
  replacementReady: metric('replacement-ready', 'us',
    'from the fault to the first API pod created after it becoming ready (listening)',
    replacementReady),
  agentDisconnects: metric('agent-disconnects', 'count',
    'WebSocket losses the agent noticed (agent.read-error) from the fault to the end of the run',
    (o) => countEvents(o, 'agent.read-error')),
  hostDeleted: metric('host-deleted', 'count',
    '1 if the pod deleted or failed was the one holding the agent\'s connection at the fault, else 0',
    (o) => {
      const host = agentHostAt(o);
      return o.events.some((e) => e.t >= o.faultAt && e.t <= o.faultAt + 5_000_000 && e.k === 'k8s.delete-pod' && e.d!['pod'] === host) ? 1 : 0;
    }),
} satisfies Record<string, MetricSpec>;

/** The definitions and a combined `measure` for a list of metrics. */
export function metricSet(specs: readonly MetricSpec[]): { metrics: MetricDefinition[]; measure(o: Observation): Record<string, number | null> } {
  return {
    metrics: specs.map(({ id, unit, definition }) => ({ id, unit, definition })),
    measure: (o) => Object.fromEntries(specs.map((m) => [m.id, m.measure(o)])),
  };
}
