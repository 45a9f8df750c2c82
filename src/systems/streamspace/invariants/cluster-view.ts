import type { Micros, TraceEvent } from '../../../sim-cluster/index.ts';
import { diagnostics, events } from '../events.ts';
import type { RoutingSeries } from './routing-availability.ts';

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
}

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
  /** Processes stopped by a pause (stop-the-world): alive, but nothing of them runs until they resume. */
  readonly paused = new Set<string>();
  /** API pod → whether its hub runs on Redis (`api.redis-mode`, chosen once at boot, spec §4). */
  readonly redisMode = new Map<string, boolean>();
  /** When the recovery prober found the cluster healthy (`recovery.healthy`), and why it was not, last time it looked. */
  recoveredAt: Micros | null = null;
  lastUnhealthy: string | null = null;
  /** The routing state sampled from the first fault on (`routingAvailability`, on the runs that ask for measures). */
  routing: RoutingSeries | null = null;
  /**
   * Replica → its executions still running, so that a crash or exit marks them died without
   * scanning every command's executions (quadratic in long runs).
   */
  private readonly runningBy = new Map<string, Set<Execution>>();

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
      case 'db.command.insert': {
        // A command is accepted once its row is committed: from then on any pod may dispatch it,
        // even if the API pod that inserted it hears of the commit late, or never.
        const d = events.details(e, 'db.command.insert')!;
        this.commands.set(d.command, {
          id: d.command, agentId: d.agent, acceptedAt: e.t, acceptedBy: d.client,
          executions: [], executedOk: 0, status: 'pending', statusBy: 'producer.insert',
        });
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
        const run = c.executions.find((x) => x.replica === e.p && x.state === 'running');
        if (run !== undefined) this.finish(run, 'completed');
        return;
      }
      case 'agent.fenced': {
        const c = this.commands.get(events.details(e, 'agent.fenced')!.command);
        const run = c?.executions.find((x) => x.replica === e.p && x.state === 'running');
        if (run !== undefined) this.finish(run, 'died');
        return;
      }
      case 'db.command.status': {
        const d = events.details(e, 'db.command.status')!;
        const c = this.commands.get(d.command);
        if (c === undefined) return;
        c.status = d.to;
        c.statusBy = d.by;
        return;
      }
      case 'recovery.healthy':
        this.recoveredAt ??= e.t;
        return;
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
