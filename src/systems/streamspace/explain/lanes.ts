import { formatTime, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import { REDIS } from '../cluster/cluster.ts';
import type { Lane, Segment } from '../../../contract/explain.ts';
import { ROUTING_KEY } from './narrate.ts';
import { ClusterView } from '../invariants/cluster-view.ts';
import { events as vocab } from '../events.ts';
import { readerHolds } from './reader-holds.ts';

export type { Lane, Segment } from '../../../contract/explain.ts';

/** Appends segments as a lane's state changes; equal consecutive states merge, empty ones vanish. */
class SegmentBuilder {
  readonly segments: Segment[] = [];
  private current: { from: Micros; tone: string; label: string } | null = null;

  constructor(private readonly lane: string) {}

  set(t: Micros, state: { tone: string; label: string } | null): void {
    const c = this.current;
    if (c !== null && state !== null && c.tone === state.tone && c.label === state.label) return;
    this.close(t);
    this.current = state === null ? null : { from: t, ...state };
  }

  close(t: Micros): void {
    const c = this.current;
    if (c !== null && t > c.from) {
      this.segments.push({ from: c.from, to: t, tone: c.tone, label: c.label, detail: `${this.lane}: ${c.label}, ${formatTime(c.from)} to ${formatTime(t)} (${formatTime(t - c.from)})` });
    }
    this.current = null;
  }
}

type Base = 'up' | 'paused' | 'crashed' | 'restarting' | 'exited';

interface ProcessState {
  base: Base | null;
  /** Its leader elector is leading (agent replicas). */
  leading: boolean;
  /** The API pod and connection its agent WebSocket uses (agent replicas). */
  ws: { pod: string; conn: string } | null;
  /** Its readiness probe has failed: out of the Service (kubelet.not-ready until kubelet.ready). */
  notReady: boolean;
  /** The command holding its reader until the read deadline passes (agent replicas, `reader-holds.ts`). */
  heldBy: string | null;
  builder: SegmentBuilder;
}

/**
 * The kinds of process the StreamSpace model runs, in the order their lanes are shown: the API pods
 * and the agent replicas next to each other (connections run between them), then the services.
 * Processes of other names follow in the order they first started.
 */
const LANE_ORDER = ['api', 'agent', 'redis', 'postgres', 'kube-api'];

function rank(name: string): number {
  const i = LANE_ORDER.findIndex((prefix) => name === prefix || name.startsWith(`${prefix}-`));
  return i === -1 ? LANE_ORDER.length : i;
}

/**
 * One lane per process that ever started, with its kernel states (up, paused, crashed, restarting,
 * exited). A process with a leader elector shows `leader` or `follower` while up, and the API pod
 * its agent WebSocket is connected to, and the command that holds its reader while one runs past
 * the read deadline; a pod whose readiness probe failed is marked NotReady.
 */
export function processLanes(events: readonly TraceEvent[], end: Micros): Lane[] {
  const elected = new Set(events.filter((e) => e.k.startsWith('elector.')).map((e) => e.p));
  const states = new Map<string, ProcessState>();
  const holds = readerHolds(events);
  const show = (p: string, s: ProcessState, t: Micros): void => {
    if (s.base === null) return s.builder.set(t, null);
    const role = s.base === 'up' && elected.has(p) ? (s.leading ? 'leader' : 'follower') : s.base;
    const suffix = s.base === 'paused' && s.leading ? ' (leader)' : '';
    const live = s.base === 'up' || s.base === 'paused';
    const ws = s.ws !== null && live ? ` → ${s.ws.pod}` : '';
    const ready = s.notReady && live ? ', NotReady' : '';
    const held = s.heldBy !== null && live ? `, reader held by ${s.heldBy}` : '';
    s.builder.set(t, { tone: role, label: `${role}${suffix}${ready}${held}${ws}` });
  };
  for (const e of events) {
    // The kubelet's readiness verdicts are about a pod: they go on that pod's lane.
    const p = e.k === 'kubelet.not-ready' || e.k === 'kubelet.ready' ? String(e.d!['pod']) : e.p;
    let s = states.get(p);
    if (s === undefined) {
      if (e.k !== 'proc.start') continue;
      states.set(p, (s = { base: null, leading: false, ws: null, notReady: false, heldBy: null, builder: new SegmentBuilder(p) }));
    }
    switch (e.k) {
      case 'proc.start':
        // A new container starts Ready as far as the probes go (model/kube/kubelet-probes.ts).
        Object.assign(s, { base: 'up', leading: false, ws: null, notReady: false, heldBy: null });
        break;
      case 'kubelet.not-ready':
        s.notReady = true;
        break;
      case 'kubelet.ready':
        s.notReady = false;
        break;
      case 'proc.crash':
        Object.assign(s, { base: 'crashed', leading: false, ws: null, heldBy: null });
        break;
      case 'proc.restart-scheduled':
        s.base = 'restarting';
        break;
      case 'proc.exit':
        Object.assign(s, { base: 'exited', leading: false, ws: null, heldBy: null });
        break;
      case 'proc.removed':
        s.base = null;
        break;
      case 'proc.pause':
        s.base = 'paused';
        break;
      case 'proc.resume':
        s.base = 'up';
        break;
      case 'elector.acquired':
        s.leading = true;
        break;
      case 'elector.stopped-leading':
        s.leading = false;
        break;
      case 'agent.connected': {
        const { pod, conn } = vocab.details(e, 'agent.connected')!;
        s.ws = { pod, conn };
        break;
      }
      case 'agent.execute': {
        const hold = holds.byExecute.get(e);
        if (hold === undefined) continue;
        s.heldBy = hold.command;
        break;
      }
      case 'agent.read-error':
        Object.assign(s, { ws: null, heldBy: null });
        break;
      case 'conn.close':
        if (s.ws?.conn === e.d!['c']) s.ws = null;
        break;
      default:
        continue;
    }
    show(p, s, e.t);
  }
  const names = [...states.keys()];
  // Array.prototype.sort is stable: within a kind, lanes keep the order the processes started in.
  names.sort((a, b) => rank(a) - rank(b));
  return names.map((name) => {
    const s = states.get(name)!;
    s.builder.close(end);
    return { name, kind: 'process', title: elected.has(name) ? `${name}: process states; leader or follower while up, and the API pod its WebSocket uses` : `${name}: process states`, segments: s.builder.segments };
  });
}

/** Who holds something from `t` on: nobody (null), a holder, or a state of its own tone (`down`, `unknown`). */
interface Change {
  t: Micros;
  holder: string | null;
  tone?: string;
}

/** A lane showing who holds something over time. */
function holderLane(name: string, kind: 'lease' | 'connection' | 'routing', title: string, changes: readonly Change[], end: Micros): Lane {
  const b = new SegmentBuilder(name);
  for (const c of changes) b.set(c.t, c.holder === null ? { tone: 'none', label: 'none' } : { tone: c.tone ?? 'value', label: c.holder });
  b.close(end);
  return { name, kind, title, segments: b.segments };
}

/**
 * Feeds the events to a fresh ClusterView, the reducer the invariants read, and calls `after` with
 * each event once the view has absorbed it: lanes show the state the checkers judged.
 */
function replayView(events: readonly TraceEvent[], after: (e: TraceEvent, view: ClusterView) => void): void {
  const view = new ClusterView();
  for (const e of events) {
    view.apply(e);
    after(e, view);
  }
}

/** Per Lease: the holder the API server has committed (what a fencing check would read). */
export function leaseLanes(events: readonly TraceEvent[], end: Micros): Lane[] {
  const changes = new Map<string, Change[]>();
  replayView(events, (e, view) => {
    const written = vocab.details(e, 'lease.create') ?? vocab.details(e, 'lease.update');
    if (written === undefined) return;
    const holder = view.leases.get(written.lease)!.holder;
    let list = changes.get(written.lease);
    if (list === undefined) changes.set(written.lease, (list = []));
    list.push({ t: e.t, holder: holder === '' ? null : holder });
  });
  const single = changes.size === 1;
  return [...changes].map(([lease, list]) => holderLane(single ? 'Lease holder' : `Lease ${lease}`, 'lease', `Lease ${lease}: the holder committed by the API server`, list, end));
}

/**
 * Per agent: the API pods whose AgentHub holds its connection (connection ownership), as the view
 * holds them. Two pods at once is the stale-mapping hazard; a pod's hub is empty again when the pod
 * restarts.
 */
export function connectionLanes(events: readonly TraceEvent[], end: Micros): Lane[] {
  const changes = new Map<string, Change[]>();
  const owners = (view: ClusterView, agent: string): string | null => {
    const pods = [...view.hubs].filter(([, hub]) => hub.has(agent)).map(([pod]) => pod).sort();
    return pods.length === 0 ? null : pods.join(' + ');
  };
  // The agents whose owners an event may change: the one it names, or every agent of a pod's hub
  // that a restart or crash empties (read before the view forgets them).
  let before = new Map<string, ReadonlySet<string>>();
  replayView(events, (e, view) => {
    let touched: Iterable<string> = [];
    const registered = vocab.details(e, 'hub.register') ?? vocab.details(e, 'hub.unregister');
    if (registered !== undefined) {
      if (!changes.has(registered.agent)) changes.set(registered.agent, []);
      touched = [registered.agent];
    } else if (e.k === 'proc.start' || e.k === 'proc.crash' || e.k === 'proc.exit') {
      touched = before.get(e.p) ?? [];
    }
    for (const agent of touched) {
      const list = changes.get(agent)!;
      const holder = owners(view, agent);
      if (list.at(-1)?.holder !== holder || list.length === 0) list.push({ t: e.t, holder });
    }
    before = new Map([...view.hubs].map(([pod, hub]) => [pod, new Set(hub.keys())]));
  });
  const single = changes.size === 1;
  return [...changes].map(([agent, list]) => holderLane(single ? 'Agent connection' : `Connection ${agent}`, 'connection', `agent ${agent}: the API pods whose hub holds its connection`, list, end));
}

/**
 * Per agent: the pod Redis routes its commands to (`agent:<id>:pod`), the mapping every other pod
 * relies on. Lost by DEL, expiry, eviction, or Redis restarting empty.
 */
export function routingLanes(events: readonly TraceEvent[], end: Micros): Lane[] {
  const changes = new Map<string, Change[]>();
  const set = (t: Micros, key: string, holder: string | null, tone?: string): void => {
    const agent = ROUTING_KEY.exec(key)?.[1];
    if (agent === undefined) return;
    let list = changes.get(agent);
    if (list === undefined) changes.set(agent, (list = []));
    list.push({ t, holder, ...(tone === undefined ? {} : { tone }) });
  };
  const everyKnown = (t: Micros, holder: string | null, tone?: string): void => {
    for (const agent of changes.keys()) set(t, `agent:${agent}:pod`, holder, tone);
  };
  for (const e of events) {
    const d = e.d ?? {};
    switch (e.k) {
      case 'redis.set':
        set(e.t, String(d['key']), String(d['value']));
        break;
      case 'redis.del':
        for (const key of d['keys'] as unknown[]) set(e.t, String(key), null);
        break;
      case 'redis.expired':
      case 'redis.evicted':
        set(e.t, String(d['key']), null);
        break;
      case 'fault.redis-evict':
        if (d['evicted']) set(e.t, String(d['key']), null);
        break;
      case 'proc.crash':
      case 'proc.exit':
        if (e.p === REDIS) everyKnown(e.t, 'Redis down', 'down');
        break;
      case 'redis.start':
        // A snapshot's content is not traced: after a restore the mapping is whatever it held.
        if (d['fromSnapshot'] && Number(d['keys']) > 0) everyKnown(e.t, 'restored from a snapshot', 'unknown');
        else everyKnown(e.t, null);
        break;
    }
  }
  const single = changes.size === 1;
  return [...changes].map(([agent, list]) => holderLane(single ? 'Redis routing' : `Routing ${agent}`, 'routing', `Redis agent:${agent}:pod: the pod other pods publish this agent's commands to`, list, end));
}
