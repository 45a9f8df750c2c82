import { formatTime, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { Violation } from '../../../invariants/monitor.ts';
import type { Narrated } from '../../../contract/explain.ts';
import { faultTarget } from '../../../faults/fault-kind.ts';
import { REDIS } from '../cluster/cluster.ts';
import { diagnostics, events } from '../events.ts';
import { ClusterView } from '../invariants/cluster-view.ts';
import { AGENT_KEY, AgentKeys, type FailureRun } from './agent-keys.ts';
import { readerHolds, type ReaderHold, type ReaderHolds } from './reader-holds.ts';

export type { Narrated, Topic } from '../../../contract/explain.ts';

type Details = Readonly<Record<string, unknown>>;

const str = (v: unknown): string => String(v);
const dur = (v: unknown): string => formatTime(Number(v));

/** `agent:<id>:pod`: the Redis key that routes an agent's commands to the pod holding its connection. */
export const ROUTING_KEY = /^agent:(.+):pod$/;

/**
 * The events a reader looks for first when a run went wrong: faults applied and lifted, processes
 * crashing, pausing and restarting, leadership and the Lease changing hands, agent connections made
 * and lost, the Redis routing keys written and lost, recovery. Heartbeats, renewals and the
 * traffic of commands are left out (`narrateRun` tells the steps of the commands it is asked about).
 */
const KEY_EVENTS: Record<string, (e: TraceEvent, d: Details) => Omit<Narrated, 't'> | string | null> = {
  'fault.end': (_e, d) => ({ p: str(d['what']), topic: 'fault', what: `fault ${str(d['kind'])} on ${str(d['what'])} ends` }),
  'fault.heal': () => ({ p: 'faults', topic: 'fault', what: 'heal: every fault stops' }),
  'node.fail': (_e, d) => ({ p: str(d['node']), topic: 'process', what: `node ${str(d['node'])} failed` }),
  'node.recover': (_e, d) => ({ p: str(d['node']), topic: 'process', what: `node ${str(d['node'])} is back` }),
  'k8s.delete-pod': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `pod ${str(d['pod'])} deleted` }),
  'k8s.container-crash': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `container ${str(d['pod'])} crashed` }),
  'k8s.evict': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `pod ${str(d['pod'])} evicted from ${str(d['node'])}` }),
  'k8s.evict-stuck': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `StatefulSet pod ${str(d['pod'])} on ${str(d['node'])} stays Terminating: not replaced until its node is back` }),
  'k8s.cordon': (_e, d) => ({ p: str(d['node']), topic: 'process', what: `node ${str(d['node'])} cordoned` }),
  'k8s.uncordon': (_e, d) => ({ p: str(d['node']), topic: 'process', what: `node ${str(d['node'])} uncordoned` }),
  'k8s.evict-refused': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `eviction of ${str(d['pod'])} refused by its PodDisruptionBudget (${str(d['healthy'])} healthy)` }),
  // The replicated datastores (seed 004 part 2): who is primary or master, and what a failover lost.
  'patroni.leader': (e) => ({ p: e.p, topic: 'leadership', what: `${e.p} holds the Patroni leader key` }),
  'patroni.promote': (e, d) => ({ p: e.p, topic: 'leadership', what: `${e.p} promoted to PostgreSQL primary at WAL ${str(d['lsn'])} (timeline ${str(d['timeline'])})` }),
  'patroni.demote': (e, d) => ({
    p: e.p, topic: 'leadership',
    what: `${e.p} demotes itself (${d['why'] === 'offline' ? 'it could not reach the DCS within retry_timeout' : d['why'] === 'switchover' ? 'a planned switchover' : 'it lost the leader key'})`,
  }),
  'patroni.release': (e) => ({ p: e.p, topic: 'leadership', what: `${e.p} releases the Patroni leader key (shutdown or switchover)` }),
  'patroni.switchover': (e, d) => ({ p: e.p, topic: 'leadership', what: `switchover from ${str(d['leader'])} to ${d['candidate'] === null ? 'any healthy standby' : str(d['candidate'])}: ${str(d['outcome'])}` }),
  'patroni.rewind': (e, d) => ({ p: e.p, topic: 'process', what: `${e.p} rewound onto ${str(d['leader'])}: ${str(d['lost'])} WAL records it had are gone` }),
  'pg.lost-writes': (e, d) => ({ p: e.p, topic: 'failure', what: `${(d['wids'] as unknown[]).length} writes ${e.p} had are not in the history of ${str(d['promoted'])} (${str(d['reason'])})` }),
  'sentinel.switch-master': (e, d) => ({ p: e.p, topic: 'leadership', what: `Sentinel ${e.p}: +switch-master ${str(d['from'])} → ${str(d['to'])}` }),
  'service.endpoint-switched': (e, d) => ({ p: e.p, topic: 'routing', what: `Service ${str(d['service'])} now sends new connections to ${str(d['to'])} (was ${str(d['from'])})` }),
  'k8s.node-not-ready': (_e, d) => ({ p: str(d['node']), topic: 'process', what: `node ${str(d['node'])} NotReady` }),
  'k8s.scale': (_e, d) => ({ p: 'k8s', topic: 'process', what: `API Deployment scaled from ${str(d['from'])} to ${str(d['to'])}` }),
  // The kubelet's probes (model/kube/kubelet-probes.ts); single probe failures are left out.
  'kubelet.not-ready': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `${str(d['pod'])} failed its readiness probe ${str(d['failures'])} times: NotReady, out of the Service` }),
  'kubelet.ready': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `${str(d['pod'])} passes its readiness probe again: Ready` }),
  'kubelet.liveness-kill': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `${str(d['pod'])} failed its liveness probe ${str(d['failures'])} times: the kubelet kills it (SIGTERM) to restart it` }),
  'kubelet.sigkill': (_e, d) => ({ p: str(d['pod']), topic: 'process', what: `${str(d['pod'])} still running after the grace period: SIGKILL` }),
  // Every process starts at 0: only later starts (restarts, replacements) are news.
  'proc.start': (e, d) => (d['incarnation'] === 1 ? (e.t === 0 ? null : `${e.p} started`) : `${e.p} started again (incarnation ${str(d['incarnation'])})`),
  'proc.crash': (e, d) => `${e.p} crashed${d['cause'] ? ` (${str(d['cause'])})` : ''}`,
  'proc.restart-scheduled': (e, d) => `${e.p} restarts in ${dur(d['delay'])}`,
  'proc.exit': (e) => `${e.p} exited`,
  'proc.pause': (e) => `${e.p} paused`,
  'proc.resume': (e, d) => `${e.p} resumed (${str(d['deferred'])} deferred events run now)`,
  'proc.removed': (e) => `${e.p} removed`,
  'api.redis-mode': (e, d) => (d['enabled'] ? null : `${e.p} runs in single-pod mode (no Redis hub)`),
  'api.shutdown': (e) => `${e.p} shuts down`,
  'listener.exit': (e, d) => `${e.p}'s Redis listener gave up: ${str(d['why'])}`,
  'agent.fatal': (e) => `${e.p} exits: Run failed`,
  'agent.panic': (e, d) => `${e.p} panics: ${str(d['why'])}`,
  'agent.sigterm': (e) => `${e.p} got SIGTERM`,
  'agent.exit-on-lost-leadership': (e) => `${e.p} exits because it lost leadership`,
  'elector.acquired': (e, d) => ({ p: e.p, topic: 'leadership', what: `${e.p} leads (lease transitions ${str(d['transitions'])})` }),
  'elector.stopped-leading': (e) => ({ p: e.p, topic: 'leadership', what: `${e.p} stopped leading` }),
  'elector.released': (e) => ({ p: e.p, topic: 'leadership', what: `${e.p} released the Lease` }),
  'elector.renew-failed': (e, d) => ({ p: e.p, topic: 'leadership', what: `${e.p} failed to renew the Lease (${str(d['why'])})` }),
  'agent.register': (e, d) => (d['status'] === 200 ? null : { p: e.p, topic: 'connection', what: `${e.p} failed to register with ${str(d['pod'])} (status ${str(d['status'])})` }),
  'agent.connected': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} connected to ${str(d['pod'])} (${str(d['conn'])})` }),
  'agent.run-failed': (e) => ({ p: e.p, topic: 'connection', what: `${e.p}'s first Connect failed; Run gives up` }),
  'agent.stop': (e) => ({ p: e.p, topic: 'connection', what: `${e.p} stopped its agent` }),
  'agent.writer-exit': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p}'s writer died (lost a ${str(d['lost'])})` }),
  'hub.register': (e) => {
    const { agent, conn } = events.details(e, 'hub.register')!;
    return { p: e.p, topic: 'connection', what: `${e.p} hub registered ${agent} (${conn})` };
  },
  'hub.replace': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} hub replaced ${str(d['old'])} by ${str(d['conn'])}` }),
  'hub.unregister': (e) => {
    const { agent, conn } = events.details(e, 'hub.unregister')!;
    return { p: e.p, topic: 'connection', what: `${e.p} hub unregistered ${agent} (${conn})` };
  },
  'hub.unregister-stale': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} hub kept ${str(d['current'])}: the unregister named stale ${str(d['conn'])}` }),
  'hub.deadlock': (e) => ({ p: e.p, topic: 'connection', what: `${e.p} hub deadlocked` }),
  'redis.expired': (e) => {
    const { key } = diagnostics.details(e, 'redis.expired')!;
    return AGENT_KEY.test(key) ? { p: e.p, topic: 'routing', what: `Redis ${key} expired` } : null;
  },
  'redis.evicted': (e) => {
    const { key } = diagnostics.details(e, 'redis.evicted')!;
    return AGENT_KEY.test(key) ? { p: e.p, topic: 'routing', what: `Redis evicted ${key}` } : null;
  },
  'redis.start': (e) => {
    const { keys, fromSnapshot } = diagnostics.details(e, 'redis.start')!;
    return { p: e.p, topic: 'routing', what: `Redis started with ${keys} keys${fromSnapshot ? ' (from a snapshot)' : ''}` };
  },
  'recovery.healthy': () => ({ p: 'checker', topic: 'recovery', what: 'the recovery prober found the cluster healthy' }),
  'sim.model-failure': (e, d) => ({ p: e.p, topic: 'failure', what: `model failure: ${str(d['message'])}` }),
};

/** A fault application (`fault.<kind>`), naming what it hit. */
function narrateFault(e: TraceEvent, d: Details): Omit<Narrated, 't'> {
  const kind = e.k.slice('fault.'.length);
  const resolved = faultTarget(d);
  const target = resolved === undefined ? '' : resolved === null ? ' (no live target)' : ` ${resolved}`;
  const params = Object.entries(d)
    .filter(([k]) => !['process', 'node', 'from', 'to', 'oneWay'].includes(k))
    .map(([k, v]) => (k.endsWith('Us') ? `${k.slice(0, -2)} ${dur(v)}` : `${k} ${str(v)}`));
  return { p: typeof d['process'] === 'string' ? d['process'] : 'faults', topic: 'fault', what: `fault ${kind}${target}${params.length > 0 ? ` (${params.join(', ')})` : ''}` };
}

/**
 * Tells the key events of a run in order, and every step in the lives of the commands `commandIds`
 * (the ones a violation is about). Lease writes are told only when the holder changes (the renewals
 * every few seconds are not news), and so are writes of the Redis routing key (heartbeats may
 * rewrite it with the same value). Some events are told with what the trace says about their cause
 * elsewhere: a read deadline with the command that held the agent's reader (`reader-holds.ts`), a
 * DEL of agent keys with the pod that sent it and whom the key named, a failed register SET with
 * what Redis holds after it, and the first routing failure for want of a key with why it is missing
 * (`agent-keys.ts`); at the violation, the agents connected to a pod that Redis does not map.
 */
export function narrateRun(trace: readonly TraceEvent[], commandIds: ReadonlySet<string> = new Set(), violation: Violation | null = null): Narrated[] {
  const narrator = new Narrator(trace, commandIds);
  let pending = violation;
  for (const e of trace) {
    if (pending !== null && e.t > pending.time) {
      narrator.atViolation(pending.time);
      pending = null;
    }
    narrator.take(e);
  }
  if (pending !== null) narrator.atViolation(pending.time);
  return narrator.finish();
}

class Narrator {
  private readonly holders = new Map<string, string>();
  private readonly routes = new Map<string, string>();
  private readonly out: Narrated[] = [];
  private readonly holds: ReaderHolds;
  private readonly keys = new AgentKeys();
  private readonly view = new ClusterView();
  /** `<pod> <command>` → when that pod's dispatcher last queued the command (its routing reads come after). */
  private readonly queuedAt = new Map<string, Micros>();
  /** Connection → the agent replica that left it, when and why (an agent does not close the socket it leaves). */
  private readonly left = new Map<string, { replica: string; t: Micros; why: string }>();
  /** The first told failure of each run of routing failures, to count the rest on it at the end. */
  private readonly runs = new Map<FailureRun, Narrated>();

  constructor(trace: readonly TraceEvent[], private readonly commandIds: ReadonlySet<string>) {
    this.holds = readerHolds(trace);
  }

  take(e: TraceEvent): void {
    const told = this.tell(e);
    if (told !== null) this.out.push(told);
    this.observe(e);
  }

  /** Takes in what an event changes, once it is told (it is told with the state before it). */
  private observe(e: TraceEvent): void {
    const queued = diagnostics.details(e, 'dispatcher.queued');
    if (queued !== undefined) this.queuedAt.set(`${e.p} ${queued.command}`, e.t);
    const readError = diagnostics.details(e, 'agent.read-error');
    const conn = this.view.agentConnections.get(e.p)?.conn;
    if (readError !== undefined && conn !== undefined) this.left.set(conn, { replica: e.p, t: e.t, why: readError.why });
    this.keys.apply(e);
    this.view.apply(e);
  }

  /** At the violation: every agent some pod's hub holds whose routing key Redis lacks, and why. */
  atViolation(t: Micros): void {
    for (const [pod, hub] of [...this.view.hubs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!this.view.alive.has(pod) || !this.keys.usesRedis(pod)) continue;
      for (const [agent, conn] of hub) {
        const why = this.keys.missingNow(`agent:${agent}:pod`);
        if (why !== null) this.out.push({ t, p: REDIS, topic: 'routing', what: `${pod} holds ${agent}'s connection ${conn}, but ${why}` });
      }
    }
  }

  finish(): Narrated[] {
    for (const [run, first] of this.runs) {
      if (run.count > 1) first.what += ` (the first of ${run.count} routing failures for want of ${run.key})`;
    }
    return this.out;
  }

  private tell(e: TraceEvent): Narrated | null {
    const d: Details = e.d ?? {};
    if (isAboutCommand(e, this.commandIds)) {
      const step = narrateCommandStep(e);
      const hold = this.holds.byExecute.get(e);
      if (hold !== undefined) step.what += `: ${holdStarted(hold)}`;
      const failure = this.routingFailure(e);
      if (failure !== null && failure !== undefined) {
        step.what += `: ${failure.why}`;
        if (failure.first) this.runs.set(failure.run, step);
      }
      return step;
    }
    const failure = this.routingFailure(e);
    if (failure !== undefined) {
      // Only the first failure of a run is told; `finish` counts the others on it.
      if (failure === null || !failure.first) return null;
      const told: Narrated = { t: e.t, p: e.p, topic: 'routing', what: `${e.p} cannot route ${failure.command} to ${failure.agent}: ${failure.why}` };
      this.runs.set(failure.run, told);
      return told;
    }
    const told = this.tellKeyEvent(e, d);
    return told === null ? null : { t: e.t, ...told };
  }

  private tellKeyEvent(e: TraceEvent, d: Details): Omit<Narrated, 't'> | null {
    const written = events.details(e, 'lease.create') ?? events.details(e, 'lease.update');
    if (written !== undefined) {
      if (this.holders.get(written.lease) === written.holder) return null;
      this.holders.set(written.lease, written.holder);
      return { p: e.p, topic: 'leadership', what: written.holder === '' ? `Lease ${written.lease} released` : `Lease ${written.lease} now held by ${written.holder} (transitions ${written.transitions})` };
    }
    const set = diagnostics.details(e, 'redis.set');
    if (set !== undefined) {
      if (!ROUTING_KEY.test(set.key) || this.routes.get(set.key) === set.value) return null;
      this.routes.set(set.key, set.value);
      return { p: e.p, topic: 'routing', what: `Redis ${set.key} = ${set.value}` };
    }
    this.forgetRoutes(e);
    if (e.k.startsWith('fault.') && e.k !== 'fault.end' && e.k !== 'fault.heal') return narrateFault(e, d);
    const told = this.tellCause(e);
    if (told !== undefined) return told;
    const plain = KEY_EVENTS[e.k]?.(e, d) ?? null;
    return typeof plain === 'string' ? { p: e.p, topic: 'process', what: plain } : plain;
  }

  /** The events told with their causes; undefined for the others. */
  private tellCause(e: TraceEvent): Omit<Narrated, 't'> | null | undefined {
    const hold = this.holds.byExecute.get(e);
    if (hold !== undefined) return { p: e.p, topic: 'connection', what: `${e.p} runs ${hold.command} (${hold.action}) inside its reader: ${holdStarted(hold)}` };
    const readError = diagnostics.details(e, 'agent.read-error');
    if (readError !== undefined) {
      const blamed = this.holds.byReadError.get(e);
      return { p: e.p, topic: 'connection', what: `${e.p} lost its WebSocket (${readError.why})${blamed === undefined ? '' : `: ${holdEnded(blamed)}`}` };
    }
    const stale = diagnostics.details(e, 'hub.stale');
    if (stale !== undefined) {
      const left = this.left.get(stale.conn);
      const why = left === undefined ? '' : `: ${left.replica} left it at ${formatTime(left.t)} (${left.why}) without closing it`;
      return { p: e.p, topic: 'connection', what: `${e.p} hub found ${stale.conn} stale (last ping ${formatTime(stale.ageUs)} ago)${why}` };
    }
    const del = diagnostics.details(e, 'redis.del');
    if (del !== undefined) {
      const keys = del.keys.filter((k) => AGENT_KEY.test(k));
      if (keys.length === 0) return null;
      return { p: e.p, topic: 'routing', what: `Redis DEL ${keys.join(' ')}, ${this.keys.describeDel(keys, (agent) => this.holdersOf(agent))}` };
    }
    const redisError = diagnostics.details(e, 'hub.redis-error');
    if (redisError !== undefined) {
      const what = redisError.op === 'set' ? this.keys.describeFailedSet(e.p, redisError.key, redisError.error) : this.keys.describeFailedDel(e.p, redisError.key, redisError.error);
      return { p: e.p, topic: 'routing', what };
    }
    return undefined;
  }

  /**
   * A dispatch that failed for want of an agent key (IsAgentConnected reads `agent:<id>:connected`,
   * SendCommandToAgent `agent:<id>:pod`), with why the key was missing since the command was
   * queued on that pod; null for one that failed otherwise or whose key was not missing all along;
   * undefined for other events.
   */
  private routingFailure(e: TraceEvent): { command: string; agent: string; why: string; run: FailureRun; first: boolean } | null | undefined {
    let command: string;
    let key: string;
    let agent: string | undefined;
    const failed = diagnostics.details(e, 'dispatcher.failed');
    const send = diagnostics.details(e, 'hub.send');
    if (failed !== undefined) {
      if (failed.error !== 'agent is not connected') return null;
      command = failed.command;
      agent = this.view.commands.get(command)?.agentId;
      key = `agent:${agent}:connected`;
    } else if (send !== undefined) {
      if (send.path !== 'redis-lookup' || send.ok) return null;
      command = send.command;
      agent = send.agent;
      key = `agent:${agent}:pod`;
    } else return undefined;
    const from = this.queuedAt.get(`${e.p} ${command}`);
    if (agent === undefined || from === undefined) return null;
    const missing = this.keys.missingFor(e.p, key, from);
    return missing === null ? null : { command, agent, ...missing };
  }

  private holdersOf(agent: string): { pod: string; conn: string }[] {
    const out: { pod: string; conn: string }[] = [];
    for (const [pod, hub] of this.view.hubs) {
      const conn = hub.get(agent);
      if (conn !== undefined && this.view.alive.has(pod)) out.push({ pod, conn });
    }
    return out;
  }

  /** Drops the routing keys an event removes, so that writing them again is news. */
  private forgetRoutes(e: TraceEvent): void {
    if (e.k === 'redis.start') this.routes.clear();
    for (const key of diagnostics.details(e, 'redis.del')?.keys ?? []) this.routes.delete(key);
    const gone = diagnostics.details(e, 'redis.expired') ?? diagnostics.details(e, 'redis.evicted');
    if (gone !== undefined) this.routes.delete(gone.key);
  }
}

/** The start of a hold, told with how it ends. */
function holdStarted(hold: ReaderHold): string {
  const until = hold.to === null ? 'to the end of the run' : `until it returns at ${formatTime(hold.to)} (${formatTime(hold.to - hold.from)} later)`;
  return `nothing is read on ${hold.conn ?? 'its WebSocket'}, pongs included, ${until}`;
}

/** How many of the commands a hold left unread are named (a long hold may leave dozens). */
const UNREAD_SHOWN = 3;

/** The read-deadline failure a hold caused, told with the hold and what it left unread. */
function holdEnded(hold: ReaderHold): string {
  const shown = hold.unread.slice(0, UNREAD_SHOWN).map((u) => `${u.command} (written at ${formatTime(u.t)})`);
  if (hold.unread.length > UNREAD_SHOWN) shown.push(`${hold.unread.length - UNREAD_SHOWN} more`);
  const unread = shown.length === 0 ? '' : `; the commands written to ${hold.conn} meanwhile stay unread in it: ${shown.join(', ')}`;
  return `${hold.command} (${hold.action}, started at ${formatTime(hold.from)}) held its reader for ${formatTime(hold.to! - hold.from)}, no pong was read meanwhile and the read deadline passed${unread}`;
}

/**
 * The commands a violation is about: those its evidence names, and those whose id its message
 * mentions (a lost command is named only in the message).
 */
export function commandsOf(violation: Violation | null, events: readonly TraceEvent[]): Set<string> {
  const ids = new Set<string>();
  if (violation === null) return ids;
  for (const e of violation.evidence) if (typeof e.d?.['command'] === 'string') ids.add(e.d['command']);
  const words = new Set(violation.message.split(/[\s(),:;]+/));
  for (const e of events) {
    if (e.k === 'db.command.insert' && words.has(str(e.d?.['command']))) ids.add(str(e.d?.['command']));
  }
  return ids;
}

/** Whether an event belongs to the life of one of `ids` (a frame names several commands). */
function isAboutCommand(e: TraceEvent, ids: ReadonlySet<string>): boolean {
  if (ids.size === 0 || e.d === undefined) return false;
  const one = e.d['command'];
  if (typeof one === 'string') return ids.has(one);
  const many = e.d['commands'];
  return Array.isArray(many) && many.some((c) => ids.has(str(c)));
}

const COMMAND_STEPS: Record<string, (e: TraceEvent, d: Details) => string> = {
  'user.request': (_e, d) => `users ask ${str(d['pod'])} to ${str(d['op'])}`,
  'db.command.insert': (_e, d) => `row committed (accepted) by ${str(d['client'])}, action ${str(d['action'])}`,
  'db.command.status': (_e, d) => `status ${str(d['from'])} → ${str(d['to'])} (${str(d['by'])} from ${str(d['client'])})`,
  'db.command.noop': (_e, d) => `${str(d['by'])} from ${str(d['client'])} changed nothing`,
  'api.command-accepted': (e) => `${e.p} accepts it`,
  'user.response': (_e, d) => `users get HTTP ${str(d['status'])}`,
  'dispatcher.queued': (e) => `queued on ${e.p}'s dispatcher`,
  'hub.send': (e, d) => `${e.p} sends it ${str(d['path'])}${d['pod'] ? ` to ${str(d['pod'])}` : ''}${d['conn'] ? ` on ${str(d['conn'])}` : ''}: ${d['ok'] ? 'ok' : 'failed'}`,
  'listener.forward': (e, d) => `${e.p} forwards it from Redis to ${str(d['conn'])}`,
  'listener.drop': (e, d) => `${e.p} drops it from Redis (${str(d['why'])})`,
  'ws.frame-out': (e, d) => `${e.p} writes it to ${str(d['conn'])} (frame of ${str(d['messages'])})`,
  'agent.execute': (e, d) => `${e.p} executes it (lease transitions ${str(d['transitions'])}, leading: ${d['electorLeads'] ? 'yes' : 'no'})`,
  'agent.executed': (e, d) => `${e.p} finished it: ${d['ok'] ? 'ok' : 'error'}`,
  'agent.sent': (e, d) => `${e.p} sends ${str(d['type'])} on ${str(d['conn'])}`,
  'ws.in': (e, d) => `${e.p} receives ${str(d['type'])} on ${str(d['conn'])}`,
  'dispatcher.sent': (e, d) => `${e.p} dispatcher: sent${d['recorded'] ? '' : ' (status write failed)'}`,
  'dispatcher.failed': (e, d) => `${e.p} dispatcher marks it failed (${str(d['error'])})`,
  'agent.fenced': (e, d) => `${e.p}'s effect fenced off at ${str(d['stage'])}`,
  'agent.dedup': (e, d) => `${e.p} skips it (${str(d['why'])})`,
  'reconciler.redeliver': (e) => `${e.p} reconciler redelivers it`,
  'dispatcher.redelivery-deferred': (e, d) => `${e.p} dispatcher leaves it for the next redelivery (${str(d['error'])})`,
  'dispatcher.redelivery-dropped': (e, d) => `${e.p} dispatcher drops the redelivery: the row is ${str(d['status'])}`,
};

/** One step in a command's life as a sentence, prefixed by the command id. */
function narrateCommandStep(e: TraceEvent): Narrated {
  const d: Details = e.d ?? {};
  const id = typeof d['command'] === 'string' ? d['command'] : (d['commands'] as unknown[] | undefined)?.map(str).join(',') ?? '?';
  const step = COMMAND_STEPS[e.k]?.(e, d) ?? `${e.p} ${e.k} ${JSON.stringify(d)}`;
  return { t: e.t, p: e.p, topic: 'command', what: `${id}: ${step}` };
}
