import { MINUTE, type Micros } from '../../../sim-cluster/index.ts';
import { StreamSpaceCluster, REDIS } from '../cluster/cluster.ts';
import type { ConfigOverrides } from '../config.ts';
import { formatSteps, timeline, type TimelineStep } from './timeline.ts';

/** A scripted run of one of report 000's scenarios, with its timeline relative to the fault. */
export interface ScriptedRun {
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
export function apiAndRedisDeletion(seed: number | string, config: ConfigOverrides = {}): ScriptedRun {
  const cluster = new StreamSpaceCluster({ seed, config, simulation: { trace: { keepEvents: true } } });
  cluster.sim.run({ until: FAULT_AT });
  const agentPod = holderOfAgentConnection(cluster);
  cluster.deletePod(agentPod);
  cluster.deletePod(REDIS);
  cluster.sim.run({ until: FAULT_AT + OBSERVE });
  return { cluster, faultAtUs: FAULT_AT, timeline: timeline(cluster.sim.trace.events, FAULT_AT) };
}

/**
 * Scenario 2 of seed report 000 ("Agent Leader Failover During API Pod Restart"): the leader agent
 * pod and the API pod holding its connection are deleted at once. The report saw a replacement agent
 * take the lease and connect within 1 s.
 */
export function leaderAndApiDeletion(seed: number | string, config: ConfigOverrides = {}): ScriptedRun {
  const cluster = new StreamSpaceCluster({ seed, config, simulation: { trace: { keepEvents: true } } });
  cluster.sim.run({ until: FAULT_AT });
  const leader = cluster.sim.trace.events.filter((e) => e.k === 'elector.acquired').at(-1)!.p;
  cluster.deletePod(leader);
  cluster.deletePod(holderOfAgentConnection(cluster));
  cluster.sim.run({ until: FAULT_AT + OBSERVE });
  return { cluster, faultAtUs: FAULT_AT, timeline: timeline(cluster.sim.trace.events, FAULT_AT) };
}

/** The API pod whose hub holds the agent's connection now. */
function holderOfAgentConnection(cluster: StreamSpaceCluster): string {
  const registrations = cluster.sim.trace.events.filter((e) => e.k === 'hub.register' || e.k === 'hub.unregister');
  const last = registrations.at(-1);
  if (last === undefined || last.k !== 'hub.register') throw new Error('the agent is not connected to any API pod');
  return last.p;
}

/** The timeline as text, one `+12.345s  what` line per step. */
export function formatTimeline(run: ScriptedRun): string {
  return formatSteps(run.timeline).join('\n');
}

/** Time from the fault to the first step matching `pattern`, or null if it never happened. */
export function timeTo(run: ScriptedRun, pattern: RegExp): Micros | null {
  return run.timeline.find((s) => pattern.test(s.what))?.atUs ?? null;
}

