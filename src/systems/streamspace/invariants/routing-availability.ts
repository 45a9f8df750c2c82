import { formatTime, MS, type Micros } from '../../../sim-cluster/index.ts';
import type { RunFigure, RunMeasures } from '../../../contract/system.ts';
import { leaseName } from '../config.ts';
import type { StreamSpaceCluster } from '../cluster/cluster.ts';
import type { ClusterView } from './cluster-view.ts';
import { serviceEndpoints } from './bounded-recovery.ts';

/** The routing facts one sample reads, all judged at the same instant. */
export interface RoutingSample {
  /** A command for any agent id in use, issued on any ready API pod, would be delivered to that agent's live connection now. */
  available: boolean;
  /** Ready API pods on which such a command would be delivered for every agent id, and ready pods in all. */
  deliveringPods: number;
  readyPods: number;
  /** For every agent id, the replica in charge (the leader, or the only replica without HA) has a live connection its pod's hub holds. */
  connected: boolean;
  /** For every agent id, Redis names the pod holding its current connection in `agent:<id>:pod` and says `agent:<id>:connected` = true. */
  mapped: boolean;
  /** For some agent id, Redis says it is connected but names a pod that does not hold its current connection (a stale entry). */
  staleMapping: boolean;
  /** Agent replicas that believe they lead, alive. */
  leaders: number;
}

/**
 * Whether a command issued on an API pod now would reach the agent's socket, judged from the
 * ClusterView (hub entries, connections, leaders, paused pods, each pod's hub mode) and from the
 * platform state no trace event carries: the Redis keyspace at the Redis node's wall clock (key
 * deadlines pass without an event) and the Service's ready endpoints, as the recovery probe reads
 * them. It follows SendCommandToAgent and the dispatcher's IsAgentConnected check (spec §2.3, §5.3):
 * - the pod's own hub holds an entry for the agent: the local path, delivered only if that entry is
 *   the agent's current connection (a stale entry swallows the command);
 * - otherwise, only a pod in Redis mode (`api.redis-mode`, fixed at boot, §4) can route: Redis is
 *   up, `agent:<id>:connected` is "true", `agent:<id>:pod` names the pod whose hub holds the agent's
 *   current connection, and that pod is subscribed to its channel (pub/sub keeps nothing, §4).
 * With several agent ids (one per agent pod, spec §0) every id must be reachable this way.
 */
export class RoutingState {
  constructor(private readonly cluster: StreamSpaceCluster, private readonly view: ClusterView) {}

  sample(): RoutingSample {
    const { cluster, view } = this;
    // The pods a client reaches through the Service, as the recovery probe counts them.
    const ready = serviceEndpoints(cluster);
    const leaders = [...view.leading.keys()].filter((r) => view.alive.has(r)).length;
    const delivering = new Set(ready.filter((pod) => view.running(pod)));
    let connected = true;
    let mapped = true;
    let staleMapping = false;
    for (const agentId of cluster.agentIds()) {
      const conn = this.connectionOf(agentId);
      const host = conn !== null && view.running(conn.pod) && view.hubs.get(conn.pod)?.get(agentId) === conn.conn ? conn.pod : null;
      const keys = this.agentKeys(agentId);
      const routed = host !== null && keys !== null && keys.connected && keys.pod === host
        && this.cluster.redis.live!.subscribers(`pod:${host}:commands`).length > 0;
      connected &&= host !== null;
      mapped &&= routed;
      staleMapping ||= !routed && keys !== null && keys.connected && keys.pod !== null && keys.pod !== host;
      for (const pod of delivering) {
        const local = view.hubs.get(pod)?.get(agentId);
        const delivers = local !== undefined ? host === pod && local === conn!.conn : routed && view.redisMode.get(pod) === true;
        if (!delivers) delivering.delete(pod);
      }
    }
    return {
      available: ready.length > 0 && delivering.size === ready.length,
      deliveringPods: delivering.size, readyPods: ready.length, connected, mapped, staleMapping, leaders,
    };
  }

  /** The connection of the replica in charge of `agentId`: the Lease holder while it leads (HA), else its only pod. */
  private connectionOf(agentId: string): { pod: string; conn: string } | null {
    const { cluster, view } = this;
    if (cluster.config.topology.agentHa) {
      const holder = view.holderOf(leaseName(agentId));
      return holder !== null && view.leading.has(holder) ? view.agentConnections.get(holder) ?? null : null;
    }
    const pod = cluster.agentPods.find((p) => cluster.agentIdOf(p) === agentId);
    return pod === undefined ? null : view.agentConnections.get(pod) ?? null;
  }

  /** The agent's two AgentHub keys (§4) as Redis holds them now, or null while Redis is down. */
  private agentKeys(agentId: string): { connected: boolean; pod: string | null } | null {
    const keyspace = this.cluster.redis.live;
    const redis = this.cluster.sim.process(this.cluster.redisMaster);
    if (keyspace === null || !redis.alive) return null;
    const now = redis.node.clock.wall(this.cluster.sim.now);
    return { connected: keyspace.peek(now, `agent:${agentId}:connected`)?.value === 'true', pod: keyspace.peek(now, `agent:${agentId}:pod`)?.value ?? null };
  }
}

type Signal = 'available' | 'connected' | 'mapped' | 'staleMapping';
type Gauge = 'leaders';

/**
 * How often the routing state is sampled: the resolution of availability and of the "restored"
 * metrics. 100 ms is finer than every delay the routing path has in the model (the 1 s recovery
 * check, the 10 s stale sweep, spec §2.4) and coarse enough to cost little on a run of minutes.
 */
export const SAMPLE_PERIOD_US: Micros = 100 * MS;

/**
 * The routing state sampled every `SAMPLE_PERIOD_US` of true time over a window, by kernel-level
 * timers (which record nothing in the trace, so sampling never changes a run's trace hash).
 */
export class RoutingSeries {
  readonly samples: RoutingSample[] = [];

  constructor(readonly fromUs: Micros, readonly periodUs: Micros = SAMPLE_PERIOD_US) {}

  /** Schedules the samples from `fromUs` to `toUs` (exclusive) on the state's simulation. */
  static record(state: RoutingState, schedule: (at: Micros, run: () => void) => void, fromUs: Micros, toUs: Micros): RoutingSeries {
    const series = new RoutingSeries(fromUs);
    const step = (at: Micros): void => {
      if (at >= toUs) return;
      schedule(at, () => {
        series.samples.push(state.sample());
        step(at + series.periodUs);
      });
    };
    step(fromUs);
    return series;
  }

  /** The samples taken before `toUs` (all of them by default). */
  private until(toUs: Micros = Number.POSITIVE_INFINITY): RoutingSample[] {
    return toUs === Number.POSITIVE_INFINITY ? this.samples : this.samples.slice(0, Math.max(0, Math.ceil((toUs - this.fromUs) / this.periodUs)));
  }

  /** Fraction of the samples (before `toUs`) in which `signal` held (1 for an empty series). */
  fraction(signal: Signal, toUs?: Micros): number {
    const samples = this.until(toUs);
    if (samples.length === 0) return 1;
    return samples.filter((s) => s[signal]).length / samples.length;
  }

  /** Time in which `signal` held, in µs. */
  timeUs(signal: Signal): Micros {
    return this.samples.filter((s) => s[signal]).length * this.periodUs;
  }

  /** Time (before `toUs`) in which `signal` did not hold, in µs. */
  downtimeUs(signal: Signal, toUs?: Micros): Micros {
    return this.until(toUs).filter((s) => !s[signal]).length * this.periodUs;
  }

  /**
   * From the window's start to the first sample in which `signal` holds again after it first
   * failed: 0 if it never failed, null if it never held again.
   */
  restoredAfter(signal: Signal): Micros | null {
    const broken = this.samples.findIndex((s) => !s[signal]);
    if (broken < 0) return 0;
    const back = this.samples.findIndex((s, i) => i > broken && s[signal]);
    return back < 0 ? null : back * this.periodUs;
  }

  /** From the window's start to the last time `signal` came back (null if it is broken at the end, 0 if never broken). */
  stableAfter(signal: Signal): Micros | null {
    const last = this.samples.at(-1);
    if (last === undefined) return 0;
    if (!last[signal]) return null;
    for (let i = this.samples.length - 1; i >= 0; i--) if (!this.samples[i]![signal]) return (i + 1) * this.periodUs;
    return 0;
  }

  max(gauge: Gauge): number {
    return this.samples.reduce((m, s) => Math.max(m, s[gauge]), 0);
  }
}

/**
 * Routing availability, measured on the runs that ask for it (`RunOptions.measure`: `hasim run`
 * and the scenarios; campaigns do not pay for it): the routing state is sampled from the first fault (a scenario's fault instant) to the end of the run
 * into `view.routing`, which the scenarios' metrics read too. The run's figures are over the
 * stretch the faults are to blame for: from the first fault to recovery (`recovery.healthy`), or to
 * the end of the run if the cluster never recovered. It is a figure, not an invariant: a fault may
 * legitimately cut every route for as long as it lasts (an isolated Redis with the agent on the
 * other pod, a partitioned agent), so no share of that stretch can be demanded of every schedule;
 * what must hold after the heal is `bounded-recovery`'s and `no-flapping`'s.
 */
export const routingAvailability: RunMeasures<StreamSpaceCluster, ClusterView> = {
  start(cluster, view, fromUs, toUs) {
    view.routing = RoutingSeries.record(new RoutingState(cluster, view), (at, run) => cluster.sim.at(at, run, 'routing.sample'), fromUs, toUs);
  },
  figures(view, window) {
    const series = view.routing;
    if (series === null) return [];
    const to = view.recoveredAt ?? window.endAt;
    const share = series.fraction('available', to);
    const down = series.downtimeUs('available', to);
    const until = view.recoveredAt === null ? `the end of the run at ${formatTime(to)} (never recovered)` : `recovery at ${formatTime(to)}`;
    return [
      {
        id: 'routing-availability', unit: 'fraction', value: share,
        text: `routing availability ${(100 * share).toFixed(2)}% from the first fault at ${formatTime(series.fromUs)} to ${until}: `
          + `down ${formatTime(down)} (a command issued on every ready API pod delivered to its agent's live connection, sampled every ${series.periodUs / MS} ms)`,
      },
      { id: 'routing-downtime', unit: 'us', value: down, text: '' },
    ] satisfies RunFigure[];
  },
};
