import type { Micros, TraceEvent } from '../../../sim-cluster/index.ts';
import { PROBE_PREFIX } from '../invariants/no-lost-commands.ts';
import type { Observation } from './define.ts';

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
 * command can still finish before the run ends (the longest command plus 10 s), and how they ended.
 * That is room for a command delivered at once, not for one the hardened profile's reconciler
 * redelivers 150 s later: so a scenario whose users outlast the heal runs the recovery bound past
 * their stop (`ScenarioPlan.workUntil`), and every command they made has that long. The outcomes:
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

/**
 * The API pods' hub entries for one agent, followed event by event: which pods are alive, which are
 * paused (stop-the-world), and which connection each pod's hub holds for the agent. A container
 * that starts, crashes or exits starts over with an empty hub.
 */
class HubEntries {
  /** Pod → the connection its hub holds for the agent. */
  readonly entries = new Map<string, string>();
  readonly alive = new Set<string>();
  readonly paused = new Set<string>();

  constructor(private readonly agentId: string) {}

  apply(e: TraceEvent): void {
    switch (e.k) {
      case 'proc.start':
      case 'proc.crash':
      case 'proc.exit':
        this.entries.delete(e.p);
        this.paused.delete(e.p);
        if (e.k === 'proc.start') this.alive.add(e.p);
        else this.alive.delete(e.p);
        return;
      case 'proc.pause':
        this.paused.add(e.p);
        return;
      case 'proc.resume':
        this.paused.delete(e.p);
        return;
      case 'hub.register':
        if (e.d!['agent'] === this.agentId) this.entries.set(e.p, e.d!['conn'] as string);
        return;
      case 'hub.unregister':
        if (e.d!['agent'] === this.agentId) this.entries.delete(e.p);
        return;
    }
  }

  /** Pods that hold an entry and run (alive, not paused). */
  runningHolders(): string[] {
    return [...this.entries.keys()].filter((p) => this.alive.has(p) && !this.paused.has(p));
  }
}

/** An interval in which two or more running API pods' hubs held an entry for the agent. */
export interface HubOverlap {
  from: Micros;
  to: Micros;
  pods: string[];
}

/**
 * The API pods whose hub holds an entry for the agent, followed event by event from the start of
 * the run (not sampled: an entry that lives a few milliseconds counts). A pod counts while it is
 * alive and running; a paused pod (stop-the-world) serves nothing, so its entry counts again only
 * if it still holds it once it resumes. Returns the most such pods at one instant of the window
 * (fault → end of run; instants of zero length, inside one simulated microsecond, do not count)
 * and every interval in which two or more held one.
 */
export function hubsHoldingAgent(o: Observation): { max: number; overlaps: HubOverlap[] } {
  const hubs = new HubEntries(o.cluster.agentIds()[0]!);
  let max = 0;
  const overlaps: HubOverlap[] = [];
  const account = (from: Micros, to: Micros): void => {
    const a = Math.max(from, o.faultAt);
    const b = Math.min(to, o.endAt);
    if (a >= b) return;
    const pods = hubs.runningHolders();
    max = Math.max(max, pods.length);
    if (pods.length < 2) return;
    const last = overlaps.at(-1);
    if (last !== undefined && last.to === a && last.pods.join() === pods.join()) last.to = b;
    else overlaps.push({ from: a, to: b, pods });
  };
  let t: Micros = 0;
  for (const e of o.events) {
    if (e.t > t) {
      account(t, e.t);
      t = e.t;
    }
    hubs.apply(e);
  }
  account(t, o.endAt);
  return { max, overlaps };
}

/** A write that took a correct `agent:<id>:pod` away (see `newMappingRemovals`). */
export interface MappingRemoval {
  t: Micros;
  how: 'overwritten' | 'deleted';
  /** The pod the mapping named (the one holding the agent's live connection). */
  named: string;
  /** Overwritten: the pod the new value names (the writer). Deleted: the last pod to unregister the agent before the DEL (Redis's trace does not name its client). */
  by: string | null;
}

/**
 * Writes that took away a correct Redis mapping after the agent moved: from the agent's first
 * connection after the fault to a pod other than the one it used before, every SET of
 * `agent:<id>:pod` to another value and every DEL of it made while it named the pod whose hub held
 * the agent's live connection (the last `agent.connected`, while that replica lives and has not
 * lost it). A pod deleting or overwriting its own stale mapping does not count; expiry, eviction
 * and Redis restarts are not writes and do not count either (the scenarios that use this have no
 * Redis faults). Empty if the agent never moved.
 */
export function newMappingRemovals(o: Observation): MappingRemoval[] {
  const agentId = o.cluster.agentIds()[0]!;
  const key = `agent:${agentId}:pod`;
  const before = [...o.events].reverse().find((e) => e.t < o.faultAt && e.k === 'agent.connected');
  const move = firstEvent(o, 'agent.connected', (e) => before === undefined || e.d!['pod'] !== before.d!['pod']);
  if (move === undefined) return [];
  const hubs = new HubEntries(agentId);
  let live: { replica: string; pod: string; conn: string } | null = null;
  let value: string | null = null;
  let lastUnregister: string | null = null;
  const correct = (v: string | null): v is string => v !== null && live !== null && live.pod === v && hubs.alive.has(v) && hubs.entries.get(v) === live.conn;
  const out: MappingRemoval[] = [];
  for (const e of o.events) {
    hubs.apply(e);
    const d = e.d as Record<string, unknown> | undefined;
    switch (e.k) {
      case 'proc.start':
      case 'proc.crash':
      case 'proc.exit':
        if (live?.replica === e.p) live = null;
        break;
      case 'hub.unregister':
        if (d!['agent'] === agentId) lastUnregister = e.p;
        break;
      case 'agent.connected':
        live = { replica: e.p, pod: d!['pod'] as string, conn: d!['conn'] as string };
        break;
      case 'agent.read-error':
        if (live?.replica === e.p) live = null;
        break;
      case 'redis.set':
        if (d!['key'] !== key) break;
        if (e.t >= move.t && correct(value) && d!['value'] !== value) out.push({ t: e.t, how: 'overwritten', named: value, by: d!['value'] as string });
        value = d!['value'] as string;
        break;
      case 'redis.del':
        if (!(d!['keys'] as string[]).includes(key) || value === null) break;
        if (e.t >= move.t && correct(value)) out.push({ t: e.t, how: 'deleted', named: value, by: lastUnregister });
        value = null;
        break;
      case 'redis.expired':
      case 'redis.evicted':
        if (d!['key'] === key) value = null;
        break;
      case 'redis.start':
        value = null;
        break;
    }
  }
  return out;
}

/**
 * WebSocket connections an API pod registered in its hub after the agent had closed them: the
 * upgrade request waited in the accept queue of a paused pod, the agent gave up on it (its 10 s
 * handshake timeout, §7.2) and dialled again, and the pod, once it resumed, still upgraded and
 * registered the dead connection (§3 HandleAgentConnection does not know the peer has gone).
 */
export function registrationsOfClosedConnections(o: Observation): TraceEvent[] {
  const peerClosed = new Set<string>();
  const out: TraceEvent[] = [];
  for (const e of o.events) {
    if (e.k === 'conn.peer-closed') peerClosed.add(`${e.p}/${e.d!['c'] as string}`);
    else if (e.k === 'hub.register' && e.t >= o.faultAt && peerClosed.has(`${e.p}/${e.d!['conn'] as string}`)) out.push(e);
  }
  return out;
}
