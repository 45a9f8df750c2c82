import type { Micros } from '../sim-cluster/index.ts';

/**
 * Which process a fault hits. Pods get new names when replaced, so schedules name targets by role
 * and index, resolved when the fault fires: the `index`-th (modulo the count) live pod of the role,
 * in creation order. `leader` is the agent replica holding the Lease at that instant, and
 * `agent-host` the API pod whose hub holds the agent's connection.
 */
export type Target =
  | { role: 'api' | 'agent' | 'worker-node'; index: number }
  | { role: 'leader' | 'agent-host' | 'redis' | 'postgres' | 'kube-api' };

/**
 * A timed fault. `at` is the true time it starts (µs). Window faults last `durationUs` and are
 * undone at `at + durationUs` (and in any case at the heal). Every field is plain data.
 */
export type Fault =
  /** Container crash, no cleanup (OOM kill, panic); the kubelet restarts it in place. */
  | { kind: 'crash'; at: Micros; target: Target }
  /** `kubectl delete pod`: SIGTERM, grace period, replacement created while the old pod still runs. */
  | { kind: 'delete'; at: Micros; target: Target }
  /** Stop-the-world pause of one process, of any length (GC, SIGSTOP, CPU starvation). */
  | { kind: 'pause'; at: Micros; target: Target; durationUs: Micros }
  /** Symmetric partition between the target's node and every other node (single-node isolation). */
  | { kind: 'isolate'; at: Micros; target: Target; durationUs: Micros }
  /** Partition between two targets' nodes; `oneWay` cuts only from → to (asymmetric). */
  | { kind: 'partition'; at: Micros; from: Target; to: Target; oneWay: boolean; durationUs: Micros }
  /** Loss, duplication and extra delay on the links between the target's node and all others. */
  | { kind: 'link-burst'; at: Micros; target: Target; dropRate: number; duplicateRate: number; delayUs: Micros; durationUs: Micros }
  /** Steps the wall clock of the target's node (NTP step); monotonic time is unaffected. */
  | { kind: 'clock-jump'; at: Micros; target: Target; deltaUs: Micros }
  /** Drift of the target's node clock for a while, in ppm (both clocks). */
  | { kind: 'clock-drift'; at: Micros; target: Target; ppm: number; durationUs: Micros }
  /** Redis restarts: empty (no persistence, StreamSpace's chart) or from its last snapshot. */
  | { kind: 'redis-restart'; at: Micros; fromSnapshot: boolean; downUs: Micros }
  /** Redis evicts one AgentHub key (memory pressure from the cache in DB 0, spec §4). */
  | { kind: 'redis-evict'; at: Micros; key: 'pod' | 'connected' }
  /** Every PostgreSQL write fails for a while; reads still work. */
  | { kind: 'pg-write-errors'; at: Micros; durationUs: Micros }
  /** The Kubernetes API server is slow, answers errors, or black-holes requests for a while. */
  | { kind: 'kube-api'; at: Micros; mode: 'slow' | 'error' | 'blackhole'; extraLatencyUs: Micros; durationUs: Micros }
  /** A worker node fails with every process on it (no RST), and comes back after `durationUs`. */
  | { kind: 'node-failure'; at: Micros; target: Target; durationUs: Micros };

export type FaultKind = Fault['kind'];

/** Documentation of every fault kind: what it does and its parameters, for `hasim list` and the README. */
export const FAULT_KINDS: Record<FaultKind, { summary: string; params: string }> = {
  crash: { summary: 'container crash with no cleanup; the kubelet restarts it in place after containerRestartUs', params: 'target' },
  delete: { summary: 'graceful pod deletion: SIGTERM, grace period, replacement pod (new name) created at once', params: 'target' },
  pause: { summary: 'stop-the-world pause of one process, any length; on resume its overdue timers fire', params: 'target, durationUs' },
  isolate: { summary: 'symmetric partition of the target\'s node from every other node', params: 'target, durationUs' },
  partition: { summary: 'partition between two nodes, symmetric or one-way (from → to)', params: 'from, to, oneWay, durationUs' },
  'link-burst': { summary: 'loss, duplication and extra delay on every link of the target\'s node', params: 'target, dropRate, duplicateRate, delayUs, durationUs' },
  'clock-jump': { summary: 'wall-clock step on the target\'s node (monotonic time unaffected)', params: 'target, deltaUs' },
  'clock-drift': { summary: 'clock rate error on the target\'s node', params: 'target, ppm, durationUs' },
  'redis-restart': { summary: 'Redis restarts empty, or from its last snapshot (stale)', params: 'fromSnapshot, downUs' },
  'redis-evict': { summary: 'Redis evicts agent:<id>:pod or agent:<id>:connected', params: 'key' },
  'pg-write-errors': { summary: 'every PostgreSQL INSERT/UPDATE fails; reads work', params: 'durationUs' },
  'kube-api': { summary: 'Kubernetes API server slow, erroring (503) or black-holing requests', params: 'mode, extraLatencyUs, durationUs' },
  'node-failure': { summary: 'a worker node dies with all its processes (peers half-open) and comes back', params: 'target, durationUs' },
};

export const ALL_FAULT_KINDS = Object.keys(FAULT_KINDS) as FaultKind[];

/** When the fault's effects end (window faults), or its start (instant faults). */
export function faultEnd(fault: Fault): Micros {
  switch (fault.kind) {
    case 'pause':
    case 'isolate':
    case 'partition':
    case 'link-burst':
    case 'clock-drift':
    case 'pg-write-errors':
    case 'kube-api':
    case 'node-failure':
      return fault.at + fault.durationUs;
    case 'redis-restart':
      return fault.at + fault.downUs;
    default:
      return fault.at;
  }
}
