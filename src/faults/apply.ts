import { SECOND, type Micros } from '../sim-cluster/index.ts';
import { KUBE_API, POSTGRES, REDIS, type StreamSpaceCluster } from '../systems/streamspace/cluster/cluster.ts';
import type { ClusterView } from '../systems/streamspace/invariants/cluster-view.ts';
import { faultEnd, type Fault, type Target } from './fault-kinds.ts';

/** How stale a Redis snapshot restored by `redis-restart` with `fromSnapshot` is (an RDB save a minute old). */
export const SNAPSHOT_STALENESS_US: Micros = 60 * SECOND;

/** The heal instant of a schedule: when its last fault's effects end (or `minHealAt`, if later). */
export function healTime(schedule: readonly Fault[], minHealAt: Micros = 0): Micros {
  let h = minHealAt;
  for (const f of schedule) h = Math.max(h, faultEnd(f));
  return h;
}

/**
 * Applies a fault schedule to a cluster: each fault at its instant (targets resolved then), window
 * faults undone at their end, and at the heal instant everything stops: partitions healed, links
 * reset, paused processes resumed, failed nodes back, PostgreSQL and the API server healthy, clocks
 * at their normal rate. Every application is recorded as a `fault.<kind>` trace event, the heal as
 * `fault.heal`.
 */
export function applySchedule(cluster: StreamSpaceCluster, view: ClusterView, schedule: readonly Fault[], healAt: Micros): void {
  const { sim } = cluster;
  const state = { healed: false };
  for (const fault of schedule) {
    if (fault.kind === 'redis-restart' && fault.fromSnapshot) {
      const saveAt = Math.max(0, fault.at - SNAPSHOT_STALENESS_US);
      sim.at(saveAt, () => {
        if (cluster.redis.live !== null) cluster.redis.snapshot = cluster.redis.live.snapshot();
      }, 'fault.redis-snapshot');
    }
    sim.at(fault.at, () => applyOne(cluster, view, fault, state), `fault.${fault.kind}`);
  }
  sim.at(healAt, () => {
    state.healed = true;
    heal(cluster, view);
  }, 'fault.heal');
}

function node(cluster: StreamSpaceCluster, process: string): string {
  return cluster.sim.process(process).node.name;
}

/** Resolves a target to a process name, or null if the role has no live member right now. */
export function resolveTarget(cluster: StreamSpaceCluster, view: ClusterView, target: Target): string | null {
  switch (target.role) {
    case 'api':
    case 'agent': {
      const pods = (target.role === 'api' ? cluster.apiPods : cluster.agentPods).filter((p) => view.alive.has(p));
      return pods.length === 0 ? null : pods[target.index % pods.length]!;
    }
    case 'worker-node':
      return null;
    case 'leader':
      return view.holderOf(`streamspace-agent-${cluster.agentIds()[0]}`);
    case 'agent-host':
      return view.hostOf(cluster.agentIds()[0]!);
    case 'redis':
      return REDIS;
    case 'postgres':
      return POSTGRES;
    case 'kube-api':
      return KUBE_API;
  }
}

/** The node a target lives on (a worker node targets itself). */
function resolveNode(cluster: StreamSpaceCluster, view: ClusterView, target: Target): string | null {
  if (target.role === 'worker-node') return cluster.workerNodes[target.index % cluster.workerNodes.length]!;
  const process = resolveTarget(cluster, view, target);
  return process === null ? null : node(cluster, process);
}

function applyOne(cluster: StreamSpaceCluster, view: ClusterView, fault: Fault, state: { healed: boolean }): void {
  const { sim } = cluster;
  const record = (details: Record<string, unknown>): void => sim.trace.record(sim.now, 'faults', `fault.${fault.kind}`, details);
  // A window's own end does nothing once the heal has undone every fault.
  const end = (label: string, undo: () => void): void => sim.at(faultEnd(fault), () => {
    if (state.healed) return;
    undo();
    sim.trace.record(sim.now, 'faults', 'fault.end', { kind: fault.kind, what: label });
  }, `fault.end ${fault.kind}`);
  switch (fault.kind) {
    case 'crash':
    case 'delete': {
      const process = resolveTarget(cluster, view, fault.target);
      record({ process });
      if (process === null) return;
      if (process === KUBE_API) return sim.restart(process, cluster.config.kubernetes.containerRestartUs);
      if (fault.kind === 'crash') cluster.crashContainer(process);
      else cluster.deletePod(process);
      return;
    }
    case 'pause': {
      const process = resolveTarget(cluster, view, fault.target);
      record({ process, durationUs: fault.durationUs });
      if (process === null) return;
      sim.pause(process);
      return end(process, () => sim.resume(process));
    }
    case 'isolate': {
      const n = resolveNode(cluster, view, fault.target);
      record({ node: n, durationUs: fault.durationUs });
      if (n === null) return;
      sim.network.isolate(n);
      return end(n, () => sim.network.rejoin(n));
    }
    case 'partition': {
      const a = resolveNode(cluster, view, fault.from);
      const b = resolveNode(cluster, view, fault.to);
      record({ from: a, to: b, oneWay: fault.oneWay, durationUs: fault.durationUs });
      if (a === null || b === null || a === b) return;
      sim.network.partition([a], [b], fault.oneWay);
      return end(`${a}/${b}`, () => sim.network.heal([a], [b], fault.oneWay));
    }
    case 'link-burst': {
      const n = resolveNode(cluster, view, fault.target);
      record({ node: n, dropRate: fault.dropRate, duplicateRate: fault.duplicateRate, delayUs: fault.delayUs, durationUs: fault.durationUs });
      if (n === null) return;
      const base = sim.network.options.link;
      const burst = { ...base, latency: { ...base.latency, baseUs: base.latency.baseUs + fault.delayUs }, dropRate: fault.dropRate, duplicateRate: fault.duplicateRate };
      const others = sim.nodes.map((x) => x.name).filter((x) => x !== n);
      for (const o of others) {
        sim.network.setLink(n, o, burst);
        sim.network.setLink(o, n, burst);
      }
      return end(n, () => {
        for (const o of others) {
          sim.network.resetLink(n, o);
          sim.network.resetLink(o, n);
        }
      });
    }
    case 'clock-jump': {
      const n = resolveNode(cluster, view, fault.target);
      record({ node: n, deltaUs: fault.deltaUs });
      if (n !== null) sim.jumpClock(n, fault.deltaUs);
      return;
    }
    case 'clock-drift': {
      const n = resolveNode(cluster, view, fault.target);
      record({ node: n, ppm: fault.ppm, durationUs: fault.durationUs });
      if (n === null) return;
      sim.setClockDrift(n, fault.ppm);
      return end(n, () => sim.setClockDrift(n, 0));
    }
    case 'redis-restart': {
      record({ fromSnapshot: fault.fromSnapshot, downUs: fault.downUs });
      if (!fault.fromSnapshot) cluster.redis.snapshot = null;
      sim.crash(REDIS);
      return end(REDIS, () => {
        if (!sim.process(REDIS).alive && sim.process(REDIS).node.up) sim.start(REDIS);
        cluster.redis.snapshot = null;
      });
    }
    case 'redis-evict': {
      const key = `agent:${cluster.agentIds()[0]}:${fault.key}`;
      const evicted = cluster.redis.live?.evictKey(key) ?? false;
      record({ key, evicted });
      return;
    }
    case 'pg-write-errors':
      record({ durationUs: fault.durationUs });
      cluster.postgresFaults.writeErrors = true;
      return end(POSTGRES, () => void (cluster.postgresFaults.writeErrors = false));
    case 'kube-api':
      record({ mode: fault.mode, extraLatencyUs: fault.extraLatencyUs, durationUs: fault.durationUs });
      if (fault.mode === 'slow') cluster.kubeFaults.extraLatencyUs = fault.extraLatencyUs;
      else cluster.kubeFaults.mode = fault.mode;
      return end(KUBE_API, () => {
        cluster.kubeFaults.mode = 'ok';
        cluster.kubeFaults.extraLatencyUs = 0;
      });
    case 'node-failure': {
      const n = resolveNode(cluster, view, fault.target);
      record({ node: n, durationUs: fault.durationUs });
      if (n === null || !sim.node(n).up) return;
      cluster.failNode(n);
      return end(n, () => {
        if (!sim.node(n).up) cluster.recoverNode(n);
      });
    }
  }
}

/** The heal phase: every fault stops, whatever its own end time was. */
function heal(cluster: StreamSpaceCluster, view: ClusterView): void {
  const { sim } = cluster;
  sim.network.healAll();
  for (const a of sim.nodes) for (const b of sim.nodes) if (a !== b) sim.network.resetLink(a.name, b.name);
  for (const n of sim.nodes) {
    if (!n.up) cluster.recoverNode(n.name);
    if (n.clock.driftPpm !== 0) sim.setClockDrift(n.name, 0);
  }
  for (const p of sim.processes) if (p.status === 'paused') sim.resume(p.name);
  cluster.postgresFaults.writeErrors = false;
  cluster.kubeFaults.mode = 'ok';
  cluster.kubeFaults.extraLatencyUs = 0;
  if (!sim.process(REDIS).alive && sim.process(REDIS).status !== 'restarting' && sim.process(REDIS).node.up) sim.start(REDIS);
  sim.trace.record(sim.now, 'faults', 'fault.heal', { lastFaultAt: view.lastFaultAt });
}
