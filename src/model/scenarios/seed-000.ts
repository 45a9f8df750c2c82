import { formatTime, MINUTE, type Micros, type TraceEvent } from '../../sim-cluster/index.ts';
import { StreamSpaceCluster, REDIS } from '../cluster/cluster.ts';
import type { ConfigOverrides } from '../config.ts';

/** One step of a recovery timeline, relative to the fault. */
export interface TimelineStep {
  atUs: Micros;
  what: string;
}

export interface ScenarioRun {
  cluster: StreamSpaceCluster;
  faultAtUs: Micros;
  timeline: TimelineStep[];
}

/** The fault happens once the cluster has settled: leader elected, agent connected, mapping stored. */
const FAULT_AT = 2 * MINUTE;
const OBSERVE = 2 * MINUTE;

/**
 * Scenario 1 of seed report 000 ("Simultaneous API + Redis Infrastructure Failure"): the API pod
 * holding the agent's WebSocket and the Redis pod are deleted at the same instant. The report saw:
 * agent reconnected after 2 s, the Redis mapping stored after 11 s (with i/o timeouts meanwhile),
 * replacement pods running after 25 s, no leader failover.
 */
export function apiAndRedisDeletion(seed: number | string, config: ConfigOverrides = {}): ScenarioRun {
  const cluster = new StreamSpaceCluster({ seed, config, simulation: { trace: { keepEvents: true } } });
  cluster.sim.run({ until: FAULT_AT });
  const agentPod = holderOfAgentConnection(cluster);
  cluster.deletePod(agentPod);
  cluster.deletePod(REDIS);
  cluster.sim.run({ until: FAULT_AT + OBSERVE });
  return { cluster, faultAtUs: FAULT_AT, timeline: timeline(cluster, FAULT_AT) };
}

/**
 * Scenario 2 of seed report 000 ("Agent Leader Failover During API Pod Restart"): the leader agent
 * pod and the API pod holding its connection are deleted at once. The report saw a replacement agent
 * take the lease and connect within 1 s.
 */
export function leaderAndApiDeletion(seed: number | string, config: ConfigOverrides = {}): ScenarioRun {
  const cluster = new StreamSpaceCluster({ seed, config, simulation: { trace: { keepEvents: true } } });
  cluster.sim.run({ until: FAULT_AT });
  const leader = cluster.sim.trace.events.filter((e) => e.k === 'elector.acquired').at(-1)!.p;
  cluster.deletePod(leader);
  cluster.deletePod(holderOfAgentConnection(cluster));
  cluster.sim.run({ until: FAULT_AT + OBSERVE });
  return { cluster, faultAtUs: FAULT_AT, timeline: timeline(cluster, FAULT_AT) };
}

/** The API pod whose hub holds the agent's connection now. */
function holderOfAgentConnection(cluster: StreamSpaceCluster): string {
  const registrations = cluster.sim.trace.events.filter((e) => e.k === 'hub.register' || e.k === 'hub.unregister');
  const last = registrations.at(-1);
  if (last === undefined || last.k !== 'hub.register') throw new Error('the agent is not connected to any API pod');
  return last.p;
}

const MILESTONES: Record<string, (e: TraceEvent) => string | null> = {
  'k8s.delete-pod': (e) => `pod ${e.d!['pod']} deleted`,
  'conn.close': () => null,
  'agent.read-error': (e) => `agent ${e.p} lost its WebSocket (${e.d!['why']})`,
  'agent.connected': (e) => `agent ${e.p} connected to ${e.d!['pod']}`,
  'agent.register': (e) => (e.d!['status'] === 200 ? null : `agent ${e.p} registration to ${e.d!['pod']} failed (status ${e.d!['status']})`),
  'hub.register': (e) => `${e.p} registered the agent`,
  'hub.unregister': (e) => `${e.p} unregistered the agent`,
  'hub.redis-error': (e) => `${e.p}: Redis ${e.d!['op']} ${e.d!['key']} failed (${e.d!['error']})`,
  'redis.set': (e) => (String(e.d!['key']).endsWith(':pod') ? `Redis: ${e.d!['key']} = ${e.d!['value']}` : null),
  'redis.del': (e) => `Redis: DEL ${(e.d!['keys'] as string[]).join(' ')}`,
  'redis.start': (e) => `Redis started (${e.d!['keys']} keys)`,
  'listener.subscribed': (e) => `${e.p} subscribed to its channel`,
  'listener.exit': (e) => `${e.p} listener gave up: ${e.d!['why']}`,
  'api.listening': (e) => `${e.p} ready`,
  'api.redis-mode': (e) => (e.d!['enabled'] ? null : `${e.p} runs in single-pod mode (Redis unavailable at start-up)`),
  'elector.acquired': (e) => `${e.p} acquired the lease (transitions ${e.d!['transitions']})`,
  'elector.stopped-leading': (e) => `${e.p} stopped leading`,
  'elector.released': (e) => `${e.p} released the lease`,
};

function timeline(cluster: StreamSpaceCluster, from: Micros): TimelineStep[] {
  const steps: TimelineStep[] = [];
  for (const e of cluster.sim.trace.events) {
    if (e.t < from) continue;
    const describe = MILESTONES[e.k];
    const what = describe?.(e);
    if (what) steps.push({ atUs: e.t - from, what });
  }
  return steps;
}

/** The timeline as text, one `+12.345s  what` line per step. */
export function formatTimeline(run: ScenarioRun): string {
  return run.timeline.map((s) => `  +${formatTime(s.atUs).padStart(9)}  ${s.what}`).join('\n');
}

/** Time from the fault to the first step matching `pattern`, or null if it never happened. */
export function timeTo(run: ScenarioRun, pattern: RegExp): Micros | null {
  return run.timeline.find((s) => pattern.test(s.what))?.atUs ?? null;
}

