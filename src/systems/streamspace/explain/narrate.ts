import { formatTime, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { Violation } from '../../../invariants/monitor.ts';
import type { Narrated } from '../../../contract/explain.ts';
import { faultTarget } from '../../../faults/fault-kind.ts';

export type { Narrated, Topic } from '../../../contract/explain.ts';

type Details = Readonly<Record<string, unknown>>;

const str = (v: unknown): string => String(v);
const dur = (v: unknown): string => formatTime(Number(v));

/** `agent:<id>:pod`: the Redis key that routes an agent's commands to the pod holding its connection. */
export const ROUTING_KEY = /^agent:(.+):pod$/;
const AGENT_KEY = /^agent:.+:(pod|connected)$/;

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
  'agent.read-error': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} lost its WebSocket (${str(d['why'])})` }),
  'agent.run-failed': (e) => ({ p: e.p, topic: 'connection', what: `${e.p}'s first Connect failed; Run gives up` }),
  'agent.stop': (e) => ({ p: e.p, topic: 'connection', what: `${e.p} stopped its agent` }),
  'agent.writer-exit': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p}'s writer died (lost a ${str(d['lost'])})` }),
  'hub.register': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} hub registered ${str(d['agent'])} (${str(d['conn'])})` }),
  'hub.replace': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} hub replaced ${str(d['old'])} by ${str(d['conn'])}` }),
  'hub.unregister': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} hub unregistered ${str(d['agent'])} (${str(d['conn'])})` }),
  'hub.unregister-stale': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} hub kept ${str(d['current'])}: the unregister named stale ${str(d['conn'])}` }),
  'hub.stale': (e, d) => ({ p: e.p, topic: 'connection', what: `${e.p} hub found ${str(d['conn'])} stale (last ping ${dur(d['ageUs'])} ago)` }),
  'hub.deadlock': (e) => ({ p: e.p, topic: 'connection', what: `${e.p} hub deadlocked` }),
  'redis.del': (e, d) => {
    const keys = (d['keys'] as unknown[]).map(str).filter((k) => AGENT_KEY.test(k));
    return keys.length === 0 ? null : { p: e.p, topic: 'routing', what: `Redis DEL ${keys.join(' ')}` };
  },
  'redis.expired': (e, d) => (AGENT_KEY.test(str(d['key'])) ? { p: e.p, topic: 'routing', what: `Redis ${str(d['key'])} expired` } : null),
  'redis.evicted': (e, d) => (AGENT_KEY.test(str(d['key'])) ? { p: e.p, topic: 'routing', what: `Redis evicted ${str(d['key'])}` } : null),
  'redis.start': (e, d) => ({ p: e.p, topic: 'routing', what: `Redis started with ${str(d['keys'])} keys${d['fromSnapshot'] ? ' (from a snapshot)' : ''}` }),
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
 * rewrite it with the same value).
 */
export function narrateRun(events: readonly TraceEvent[], commandIds: ReadonlySet<string> = new Set()): Narrated[] {
  const holders = new Map<string, string>();
  const routes = new Map<string, string>();
  const out: Narrated[] = [];
  for (const e of events) {
    const d: Details = e.d ?? {};
    if (isAboutCommand(e, commandIds)) {
      out.push(narrateCommandStep(e));
      continue;
    }
    if (e.k === 'lease.create' || e.k === 'lease.update') {
      const lease = str(d['lease']);
      const holder = str(d['holder']);
      if (holders.get(lease) === holder) continue;
      holders.set(lease, holder);
      out.push({ t: e.t, p: e.p, topic: 'leadership', what: holder === '' ? `Lease ${lease} released` : `Lease ${lease} now held by ${holder} (transitions ${str(d['transitions'])})` });
      continue;
    }
    if (e.k === 'redis.set' && ROUTING_KEY.test(str(d['key']))) {
      if (routes.get(str(d['key'])) === str(d['value'])) continue;
      routes.set(str(d['key']), str(d['value']));
      out.push({ t: e.t, p: e.p, topic: 'routing', what: `Redis ${str(d['key'])} = ${str(d['value'])}` });
      continue;
    }
    forgetRoutes(e, d, routes);
    if (e.k.startsWith('fault.') && e.k !== 'fault.end' && e.k !== 'fault.heal') {
      out.push({ t: e.t, ...narrateFault(e, d) });
      continue;
    }
    const told = KEY_EVENTS[e.k]?.(e, d) ?? null;
    if (told === null) continue;
    out.push(typeof told === 'string' ? { t: e.t, p: e.p, topic: 'process', what: told } : { t: e.t, ...told });
  }
  return out;
}

/** Drops the routing keys an event removes, so that writing them again is news. */
function forgetRoutes(e: TraceEvent, d: Details, routes: Map<string, string>): void {
  if (e.k === 'redis.start') routes.clear();
  else if (e.k === 'redis.del') for (const key of d['keys'] as unknown[]) routes.delete(str(key));
  else if (e.k === 'redis.expired' || e.k === 'redis.evicted' || (e.k === 'fault.redis-evict' && d['evicted'])) routes.delete(str(d['key']));
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
