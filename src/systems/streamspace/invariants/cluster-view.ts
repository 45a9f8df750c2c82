import type { Micros, TraceEvent } from '../../../sim-cluster/index.ts';
import { diagnostics, events } from '../events.ts';
import { hpaEvents } from '../hpa/events.ts';
import { loadEvents } from '../load/events.ts';
import type { RoutingSeries } from './routing-availability.ts';
import type { MeasuredRequests } from './request-availability.ts';

/** One execution of a command by an agent replica: the effect record (`agent.execute`). */
export interface Execution {
  t: Micros;
  replica: string;
  agentId: string;
  /** leaseTransitions when the replica started leading (its would-be fencing epoch). */
  transitions: number | null;
  /** Whether the replica's elector still believed it led at that instant. */
  electorLeads: boolean | null;
  /** running: in progress; completed: `agent.executed` seen; died: its process died first, or its effect was fenced off. */
  state: 'running' | 'completed' | 'died';
}

/** A WebSocket an agent replica opened to an API pod (`agent.connected`). */
export interface AgentConnection {
  t: Micros;
  replica: string;
  pod: string;
  conn: string;
}

/** Everything the trace says about one command. */
export interface CommandLife {
  id: string;
  agentId: string;
  acceptedAt: Micros;
  acceptedBy: string;
  executions: Execution[];
  /** Completed executions (`agent.executed`), in order. */
  executedOk: number;
  status: string;
  /** Who wrote the current status (`dispatcher.sent`, `ws.ack`...). */
  statusBy: string;
  /**
   * The row's INSERT and status writes as a pooled client (Patroni) sent them, with their write ids,
   * in commit order: what a failover that loses some of them (`pg.lost-writes`) takes back. The
   * INSERT's id is null when it had none; both are empty on the single PostgreSQL.
   */
  insertWid: string | null;
  /** The member that committed the INSERT (the single PostgreSQL's process otherwise). */
  insertMember: string;
  writes: Array<{ wid: string; member: string; status: string; by: string }>;
}

/** A rescale the HPA wrote (`hpa.scale`, hpa/events.ts). */
export interface HpaScale {
  t: Micros;
  from: number;
  to: number;
  reason: string;
  event: TraceEvent;
}

/** A user's last login (`load.login`, load/load-generator.ts): the session its later requests use. */
export interface LoadLogin {
  t: Micros;
  jti: string;
  event: TraceEvent;
}

/**
 * The execution of a command by `replica` still running, if any. A function of its own rather than a
 * `find` callback in `ClusterView.apply`: a closure there that reads the event would make V8
 * allocate a context for the event on every call of `apply`, that is on every event of the run.
 */
function runningExecution(c: CommandLife, replica: string): Execution | undefined {
  for (const x of c.executions) if (x.replica === replica && x.state === 'running') return x;
  return undefined;
}

/** The process `faults/apply.ts` records fault applications under. */
const FAULTS_PROCESS = 'faults';

/**
 * The cluster's state as the trace tells it, maintained event by event: who holds which lease, which
 * pod's hub holds which agent's connection, which replicas believe they lead, which processes are up,
 * and each command's life. Monitors and the fault applier read it; it never looks inside a process.
 */
export class ClusterView {
  /** Lease name → committed holder ('' when released) and transitions. */
  readonly leases = new Map<string, { holder: string; transitions: number; at: Micros }>();
  /** API pod → agent id → connection id, as its hub's map holds them. */
  readonly hubs = new Map<string, Map<string, string>>();
  /** Replicas whose elector is leading (OnStartedLeading called, OnStoppedLeading not yet). */
  readonly leading = new Map<string, { since: Micros; transitions: number }>();
  readonly alive = new Set<string>();
  readonly commands = new Map<string, CommandLife>();
  /** Agent replica → the connection it uses now (`agent.connected`). */
  readonly agentConnections = new Map<string, { pod: string; conn: string }>();
  /** Agent id → every connection its replicas opened, in order (`agent.connected`): what `no-flapping` counts. */
  readonly connectionsOpened = new Map<string, AgentConnection[]>();
  /**
   * Pod → the instants Kubernetes deleted it (`k8s.delete-pod`: a ReplicaSet scale-down, an
   * eviction, a `kubectl delete pod`): what `no-flapping` excuses a replacement for.
   */
  readonly podDeletions = new Map<string, Micros[]>();
  /** Processes stopped by a pause (stop-the-world): alive, but nothing of them runs until they resume. */
  readonly paused = new Set<string>();
  /** API pod → whether its hub runs on Redis (`api.redis-mode`, chosen once at boot, spec §4). */
  readonly redisMode = new Map<string, boolean>();
  /** When the recovery prober found the cluster healthy (`recovery.healthy`), and why it was not, last time it looked. */
  recoveredAt: Micros | null = null;
  lastUnhealthy: string | null = null;
  /** The routing state sampled from the first fault on (`routingAvailability`, on the runs that ask for measures). */
  routing: RoutingSeries | null = null;
  /** The load's request log, on the runs with a load that ask for measures (`requestMeasures`). */
  requests: MeasuredRequests | null = null;
  /** The load's start, spikes, spike ends and stop (`load.start`, `load.spike`, `load.spike-end`, `load.stop`), in order. */
  readonly loadChanges: TraceEvent[] = [];
  /** Each load user's last login, by user id: what `no-lost-session` and `revocation` show as evidence. */
  readonly logins = new Map<number, LoadLogin>();
  /** Every rescale the HPA wrote, in order: the replica history `hpa-converges` judges. */
  readonly hpaScales: HpaScale[] = [];
  /** The HPA's last recorded sync (`hpa.sync`: its metric and recommendation), for messages. */
  lastHpaSync: TraceEvent | null = null;
  /** Pooled PostgreSQL writes acknowledged to an API pod, by write id (`sql.ack`). */
  readonly acknowledgedWrites = new Map<string, TraceEvent>();
  /**
   * Writes a Patroni failover took out of the database's history, by write id and then by the
   * member whose copy was lost (`pg.lost-writes`; the first naming on each member). A write may
   * have committed on two members (a statement lib/pq ran again): each copy is lost or not alone.
   */
  readonly lostWrites = new Map<string, Map<string, TraceEvent>>();
  /** The instants at which faults acted (a `fault.<kind>` event), in order, one per instant. */
  readonly faultInstants: Micros[] = [];
  /**
   * Replica → its executions still running, so that a crash or exit marks them died without
   * scanning every command's executions (quadratic in long runs).
   */
  private readonly runningBy = new Map<string, Set<Execution>>();
  /** Write id → the command row it wrote (`db.command.*` with a `wid`). */
  private readonly commandOfWrite = new Map<string, string>();

  /**
   * A failover lost a committed write: the database's history no longer has it, so neither does
   * the view. The row's status is the last write left; a row whose INSERT was lost never existed
   * for the primary that follows (its commands are judged only if a pod acknowledged them, by
   * `no-lost-acknowledged-write`).
   */
  private takeBack(wid: string, member: string): void {
    const id = this.commandOfWrite.get(wid);
    const c = id === undefined ? undefined : this.commands.get(id);
    if (c === undefined) return;
    if (wid === c.insertWid && member === c.insertMember) {
      // The INSERT itself is gone: later writes to the row matched nothing on the new primary.
      this.commands.delete(c.id);
      return;
    }
    const i = c.writes.findIndex((w) => w.wid === wid && w.member === member);
    if (i < 0) return;
    c.writes.splice(i, 1);
    const last = c.writes.at(-1);
    c.status = last?.status ?? 'pending';
    c.statusBy = last?.by ?? 'producer.insert';
  }

  apply(e: TraceEvent): void {
    switch (e.k) {
      case 'proc.start':
        this.alive.add(e.p);
        this.hubs.delete(e.p);
        this.paused.delete(e.p);
        this.redisMode.delete(e.p);
        return;
      case 'proc.crash':
      case 'proc.exit': {
        const running = this.runningBy.get(e.p);
        if (running !== undefined) for (const x of running) x.state = 'died';
        this.runningBy.delete(e.p);
        this.alive.delete(e.p);
        this.hubs.delete(e.p);
        this.leading.delete(e.p);
        this.agentConnections.delete(e.p);
        this.paused.delete(e.p);
        this.redisMode.delete(e.p);
        return;
      }
      case 'proc.pause':
        this.paused.add(e.p);
        return;
      case 'sql.ack':
        this.acknowledgedWrites.set(e.d!['wid'] as string, e);
        return;
      case 'pg.lost-writes':
        for (const wid of e.d!['wids'] as string[]) {
          const member = e.d!['member'] as string;
          let byMember = this.lostWrites.get(wid);
          if (byMember === undefined) this.lostWrites.set(wid, (byMember = new Map()));
          if (byMember.has(member)) continue;
          byMember.set(member, e);
          this.takeBack(wid, member);
        }
        return;
      case 'proc.resume':
        this.paused.delete(e.p);
        return;
      case 'api.redis-mode':
        this.redisMode.set(e.p, diagnostics.details(e, 'api.redis-mode')!.enabled);
        return;
      case 'lease.create':
      case 'lease.update': {
        const d = events.details(e, e.k)!;
        this.leases.set(d.lease, { holder: d.holder, transitions: d.transitions, at: e.t });
        return;
      }
      case 'elector.acquired':
        this.leading.set(e.p, { since: e.t, transitions: events.details(e, 'elector.acquired')!.transitions });
        return;
      case 'elector.stopped-leading':
        this.leading.delete(e.p);
        return;
      case 'hub.register': {
        const d = events.details(e, 'hub.register')!;
        let hub = this.hubs.get(e.p);
        if (hub === undefined) this.hubs.set(e.p, (hub = new Map()));
        hub.set(d.agent, d.conn);
        return;
      }
      case 'hub.unregister':
        this.hubs.get(e.p)?.delete(events.details(e, 'hub.unregister')!.agent);
        return;
      case 'agent.connected': {
        const d = events.details(e, 'agent.connected')!;
        this.agentConnections.set(e.p, { pod: d.pod, conn: d.conn });
        let opened = this.connectionsOpened.get(d.agent);
        if (opened === undefined) this.connectionsOpened.set(d.agent, (opened = []));
        opened.push({ t: e.t, replica: e.p, pod: d.pod, conn: d.conn });
        return;
      }
      case 'k8s.delete-pod': {
        // Recorded by the cluster itself (cluster.ts deletePod), outside the typed vocabularies.
        const pod = e.d!['pod'] as string;
        let at = this.podDeletions.get(pod);
        if (at === undefined) this.podDeletions.set(pod, (at = []));
        at.push(e.t);
        return;
      }
      case 'db.command.insert': {
        // A command is accepted once its row is committed: from then on any pod may dispatch it,
        // even if the API pod that inserted it hears of the commit late, or never.
        const d = events.details(e, 'db.command.insert')!;
        this.commands.set(d.command, {
          id: d.command, agentId: d.agent, acceptedAt: e.t, acceptedBy: d.client,
          executions: [], executedOk: 0, status: 'pending', statusBy: 'producer.insert',
          insertWid: d.wid ?? null, insertMember: e.p, writes: [],
        });
        if (d.wid !== undefined) this.commandOfWrite.set(d.wid, d.command);
        return;
      }
      case 'agent.execute': {
        const d = events.details(e, 'agent.execute')!;
        const c = this.commands.get(d.command);
        if (c === undefined) return;
        const x: Execution = { t: e.t, replica: e.p, agentId: d.agent, transitions: d.transitions, electorLeads: d.electorLeads, state: 'running' };
        c.executions.push(x);
        let running = this.runningBy.get(e.p);
        if (running === undefined) this.runningBy.set(e.p, (running = new Set()));
        running.add(x);
        return;
      }
      case 'agent.executed': {
        const d = events.details(e, 'agent.executed')!;
        const c = this.commands.get(d.command);
        if (c === undefined) return;
        if (d.ok) c.executedOk++;
        const run = runningExecution(c, e.p);
        if (run !== undefined) this.finish(run, 'completed');
        return;
      }
      case 'agent.fenced': {
        const c = this.commands.get(events.details(e, 'agent.fenced')!.command);
        const run = c === undefined ? undefined : runningExecution(c, e.p);
        if (run !== undefined) this.finish(run, 'died');
        return;
      }
      case 'db.command.status': {
        const d = events.details(e, 'db.command.status')!;
        const c = this.commands.get(d.command);
        if (c === undefined) return;
        c.status = d.to;
        c.statusBy = d.by;
        if (d.wid !== undefined) {
          c.writes.push({ wid: d.wid, member: e.p, status: d.to, by: d.by });
          this.commandOfWrite.set(d.wid, d.command);
        }
        return;
      }
      case 'recovery.healthy':
        this.recoveredAt ??= e.t;
        return;
      case 'load.login': {
        const d = loadEvents.details(e, 'load.login')!;
        this.logins.set(d.user, { t: e.t, jti: d.jti, event: e });
        return;
      }
      case 'load.start':
      case 'load.spike':
      case 'load.spike-end':
      case 'load.stop':
        this.loadChanges.push(e);
        return;
      case 'hpa.scale': {
        const d = hpaEvents.details(e, 'hpa.scale')!;
        this.hpaScales.push({ t: e.t, from: d.from, to: d.to, reason: d.reason, event: e });
        return;
      }
      case 'hpa.sync':
        this.lastHpaSync = e;
        return;
      case 'fault.end':
      case 'fault.heal':
        return;
      default:
        if (e.p === FAULTS_PROCESS && this.faultInstants.at(-1) !== e.t) this.faultInstants.push(e.t);
    }
  }

  private finish(x: Execution, state: 'completed' | 'died'): void {
    x.state = state;
    this.runningBy.get(x.replica)?.delete(x);
  }

  /** Whether a process runs now: alive and not paused (a paused pod serves nothing until it resumes). */
  running(name: string): boolean {
    return this.alive.has(name) && !this.paused.has(name);
  }

  /** Whether Kubernetes deleted `pod` at some instant in [from, to]. */
  deletedBetween(pod: string, from: Micros, to: Micros): boolean {
    const at = this.podDeletions.get(pod);
    return at !== undefined && at.some((t) => t >= from && t <= to);
  }

  /** The API pod whose hub holds `agentId` now (the first, if several do). */
  hostOf(agentId: string): string | null {
    for (const [pod, hub] of this.hubs) if (this.alive.has(pod) && hub.has(agentId)) return pod;
    return null;
  }

  /** The replica the API server says holds `lease` now, if it is alive. */
  holderOf(lease: string): string | null {
    const holder = this.leases.get(lease)?.holder;
    return holder !== undefined && holder !== '' && this.alive.has(holder) ? holder : null;
  }
}
