import type { Micros, TraceEvent } from '../../sim-cluster/index.ts';
import { PROBE_PREFIX } from '../../invariants/no-lost-commands.ts';
import type { Observation } from './runner.ts';

/** The first event of `kind` at or after `from` (default: the fault) that satisfies `where`. */
export function firstEvent(o: Observation, kind: string, where: (e: TraceEvent) => boolean = () => true, from: Micros = o.faultAt): TraceEvent | undefined {
  return o.events.find((e) => e.t >= from && e.k === kind && where(e));
}

/** Time from the fault to the first such event, or null if there is none. */
export function timeToEvent(o: Observation, kind: string, where?: (e: TraceEvent) => boolean): Micros | null {
  const e = firstEvent(o, kind, where);
  return e === undefined ? null : e.t - o.faultAt;
}

export function countEvents(o: Observation, kind: string, where: (e: TraceEvent) => boolean = () => true, from: Micros = o.faultAt): number {
  let n = 0;
  for (const e of o.events) if (e.t >= from && e.k === kind && where(e)) n++;
  return n;
}

/**
 * The commands users created from the fault on (probes excluded), up to the last instant whose
 * command can still finish before the run ends (the longest command plus 10 s), and how they ended:
 * `failed` rows (the API gave up on them), and lost ones, still pending/sent/ack at the end of the
 * run: accepted, never finished, never failed (the report's "zero data loss").
 */
export function commandOutcomes(o: Observation): { accepted: number; failed: number; lost: number } {
  const lastJudged = o.endAt - o.cluster.config.agent.startSessionUs[1] - 10_000_000;
  let accepted = 0;
  let failed = 0;
  let lost = 0;
  for (const c of o.view.commands.values()) {
    if (c.id.startsWith(PROBE_PREFIX) || c.acceptedAt < o.faultAt || c.acceptedAt > lastJudged) continue;
    accepted++;
    if (c.status === 'failed') failed++;
    else if (c.status !== 'completed') lost++;
  }
  return { accepted, failed, lost };
}

/** The fraction of the run's window in which a command issued on every ready API pod would be delivered. */
export function availability(o: Observation): number {
  return o.routing.fraction('available');
}

/**
 * The report-000 arithmetic ("assuming 1-hour window with 2 failures"): 1 - 2 × downtime / 1 h,
 * with the measured downtime of one failure in place of the report's 11 s.
 */
export function impliedHourlyAvailability(o: Observation): number {
  return Math.max(0, 1 - (2 * o.routing.downtimeUs('available')) / 3_600_000_000);
}

/** The API pod whose hub held the agent's connection last, at the instant of the fault (via the view). */
export function agentHostAt(o: Observation): string | null {
  let host: string | null = null;
  for (const e of o.events) {
    if (e.t > o.faultAt) break;
    if (e.k === 'hub.register') host = e.p;
    else if (e.k === 'hub.unregister' && e.p === host) host = null;
  }
  return host;
}
