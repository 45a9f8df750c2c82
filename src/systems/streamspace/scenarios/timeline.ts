import { formatTime, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';

/** One step of a recovery timeline, relative to the fault. */
export interface TimelineStep {
  atUs: Micros;
  what: string;
}

/**
 * The trace events a reader of a seed report would look for in the logs, each as one sentence:
 * pod deletions, connections lost and made, hub registrations, Redis writes of the mapping, the
 * lease changing hands. Everything else (heartbeats, commands) is left out of a timeline.
 */
const MILESTONES: Record<string, (e: TraceEvent) => string | null> = {
  'k8s.delete-pod': (e) => `pod ${e.d!['pod']} deleted`,
  'scenario.action': (e) => String(e.d!['what']),
  'fault.pause': (e) => `${e.d!['process']} paused for ${formatTime(e.d!['durationUs'] as number)}`,
  'fault.redis-restart': (e) => `Redis crashed (${e.d!['fromSnapshot'] ? 'restarts from a snapshot' : 'restarts empty'} after ${formatTime(e.d!['downUs'] as number)})`,
  'fault.node-failure': (e) => `node ${e.d!['node']} failed`,
  'fault.crash': (e) => `container ${e.d!['process']} crashed`,
  'k8s.scale': (e) => `API Deployment scaled from ${e.d!['from']} to ${e.d!['to']} replicas`,
  'kubelet.not-ready': (e) => `${e.d!['pod']} failed its readiness probe ${e.d!['failures']} times: NotReady, out of the Service endpoints`,
  'kubelet.ready': (e) => `${e.d!['pod']} passes its readiness probe again: back in the endpoints`,
  'kubelet.liveness-kill': (e) => `${e.d!['pod']} failed its liveness probe ${e.d!['failures']} times: the kubelet kills and restarts it`,
  'kubelet.sigkill': (e) => `${e.d!['pod']} still paused after the grace period: SIGKILL`,
  'agent.read-error': (e) => `agent ${e.p} lost its WebSocket (${e.d!['why']})`,
  'agent.connected': (e) => `agent ${e.p} connected to ${e.d!['pod']}`,
  'agent.register': (e) => (e.d!['status'] === 200 ? null : `agent ${e.p} registration to ${e.d!['pod']} failed (status ${e.d!['status']})`),
  'hub.register': (e) => `${e.p} registered the agent`,
  'hub.unregister': (e) => `${e.p} unregistered the agent`,
  'hub.stale': (e) => `${e.p} found the agent's connection stale (last heartbeat ${formatTime(e.d!['ageUs'] as number)} ago)`,
  'hub.redis-error': (e) => `${e.p}: Redis ${e.d!['op']} ${e.d!['key']} failed (${e.d!['error']})`,
  'redis.set': (e) => (String(e.d!['key']).endsWith(':pod') ? `Redis: ${e.d!['key']} = ${e.d!['value']}` : null),
  // The hub's keys only: the users' sessions and cache keys come and go with every login and
  // logout; the session store's own milestones (a clear, a lost session) have lines of their own.
  'redis.del': (e) => {
    const keys = (e.d!['keys'] as string[]).filter((k) => k.startsWith('agent:'));
    return keys.length === 0 ? null : `Redis: DEL ${keys.join(' ')}`;
  },
  'auth.clear-sessions': (e) => `${e.p} cleared every session at start-up (ClearAllSessions: ${e.d!['removed']} keys${e.d!['error'] === null ? '' : `, error ${e.d!['error']}`})`,
  'auth.cache': (e) => (e.d!['enabled'] ? null : `${e.p} starts without its cache: it accepts every token for its whole life`),
  'hpa.scale': (e) => `HPA: API Deployment ${e.d!['from']} → ${e.d!['to']} replicas`,
  'load.start': (e) => `Locust starts ${e.d!['users']} users at ${e.d!['spawnRate']}/s`,
  'load.stop': () => 'Locust stops its users',
  'redis.expired': (e) => `Redis: ${e.d!['key']} expired (TTL)`,
  'redis.start': (e) => `Redis started (${e.d!['keys']} keys)`,
  'listener.subscribed': (e) => `${e.p} subscribed to its channel`,
  'listener.exit': (e) => `${e.p} listener gave up: ${e.d!['why']}`,
  'listener.forward': (e) => (scripted(e) ? `${e.p} forwarded ${e.d!['command']} from its Redis channel to the local agent` : null),
  'listener.drop': (e) => (scripted(e) ? `${e.p} dropped ${e.d!['command']} from its Redis channel (${e.d!['why']})` : null),
  'api.listening': (e) => `${e.p} ready`,
  'api.redis-mode': (e) => (e.d!['enabled'] ? null : `${e.p} runs in single-pod mode (no Redis hub)`),
  'elector.acquired': (e) => `${e.p} acquired the lease (transitions ${e.d!['transitions']})`,
  'elector.stopped-leading': (e) => `${e.p} stopped leading`,
  'elector.released': (e) => `${e.p} released the lease`,
};

/** Commands issued by a scenario's script (not by the simulated users or the recovery prober). */
function scripted(e: TraceEvent): boolean {
  return String(e.d!['command']).startsWith(SCRIPTED_COMMAND_PREFIX);
}

/** The id prefix of commands a scenario issues itself, so that timelines can follow them. */
export const SCRIPTED_COMMAND_PREFIX = 'test-';

/** The milestones from `from` on, relative to it. */
export function timeline(events: readonly TraceEvent[], from: Micros): TimelineStep[] {
  const steps: TimelineStep[] = [];
  for (const e of events) {
    if (e.t < from) continue;
    const what = MILESTONES[e.k]?.(e);
    if (what) steps.push({ atUs: e.t - from, what });
  }
  return steps;
}

/** A timeline as text, one `+12.345s  what` line per step. */
export function formatSteps(steps: readonly TimelineStep[]): string[] {
  return steps.map((s) => `  +${formatTime(s.atUs).padStart(9)}  ${s.what}`);
}
