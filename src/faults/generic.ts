import fc from 'fast-check';
import { MS, SECOND, type Micros } from '../sim-cluster/index.ts';
import { MAX_FAULT_TIME_US, rolesOf, type ArbitraryContext, type FaultKind, type ParamSchema, type Target, type TargetRoles } from './fault-kind.ts';

/**
 * The fault kinds every simulated cluster has: processes crash, are deleted or pause; nodes are
 * cut off, lose or delay packets, have their clocks stepped or drifting, or fail outright; single
 * processes are cut off from one another or from everyone, whatever node they share. They
 * act through the system's `Platform` (what a crash or a node failure means there); a system
 * lists the ones it takes, next to its own kinds.
 */

export type Crash = { kind: 'crash'; at: Micros; target: Target };
export type Delete = { kind: 'delete'; at: Micros; target: Target };
export type Pause = { kind: 'pause'; at: Micros; target: Target; durationUs: Micros };
export type Isolate = { kind: 'isolate'; at: Micros; target: Target; durationUs: Micros };
export type Partition = { kind: 'partition'; at: Micros; from: Target; to: Target; oneWay: boolean; durationUs: Micros };
export type LinkBurst = { kind: 'link-burst'; at: Micros; target: Target; dropRate: number; duplicateRate: number; delayUs: Micros; durationUs: Micros };
export type ClockJump = { kind: 'clock-jump'; at: Micros; target: Target; deltaUs: Micros };
export type ClockDrift = { kind: 'clock-drift'; at: Micros; target: Target; ppm: number; durationUs: Micros };
export type NodeFailure = { kind: 'node-failure'; at: Micros; target: Target; durationUs: Micros };
export type PodPartition = { kind: 'pod-partition'; at: Micros; from: Target; to: Target; oneWay: boolean; durationUs: Micros };
export type PodIsolate = { kind: 'pod-isolate'; at: Micros; target: Target; durationUs: Micros };
export type GenericFault = Crash | Delete | Pause | Isolate | Partition | LinkBurst | ClockJump | ClockDrift | NodeFailure | PodPartition | PodIsolate;

/** A target of one of `roles`: indexed roles draw an index up to the system's `maxIndex`. */
export function targetArbitrary(allowed: readonly string[], roles: TargetRoles): fc.Arbitrary<Target> {
  return fc.constantFrom(...allowed).chain((role) =>
    roles.indexed.includes(role) ? fc.nat({ max: roles.maxIndex }).map((index): Target => ({ role, index })) : fc.constant<Target>({ role }));
}

/** Window lengths drawn by the generic kinds: 1 s up to the campaign's longest window. */
const duration = (ctx: ArbitraryContext): fc.Arbitrary<Micros> => fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs });

const durationParam: ParamSchema = { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long the window lasts (µs)' };
const processTarget: ParamSchema = { type: 'target', of: 'process', doc: 'the process hit' };
const nodeTarget: ParamSchema = { type: 'target', of: 'node', doc: 'the node hit (the node of a process role, or a node role)' };
const atEnd = (f: { at: Micros; durationUs: Micros }): Micros => f.at + f.durationUs;
const atStart = (f: { at: Micros }): Micros => f.at;

/** Container crash, no cleanup (OOM kill, panic); the platform restarts it in place. */
export const crash: FaultKind<Crash, unknown, unknown> = {
  kind: 'crash',
  summary: 'container crash with no cleanup; the platform restarts it in place',
  params: { target: processTarget },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('crash' as const), target: targetArbitrary(ctx.roles.process, ctx.roles) }),
  end: atStart,
  apply(f, ctx) {
    const process = ctx.platform.resolveProcess(ctx.instance, ctx.view, f.target);
    ctx.record({ process });
    if (process !== null) ctx.platform.crashProcess(ctx.instance, process);
  },
};

/** `kubectl delete pod`: graceful termination, a replacement created while the old one still runs. */
export const deletion: FaultKind<Delete, unknown, unknown> = {
  kind: 'delete',
  summary: 'graceful deletion: SIGTERM, grace period, replacement (new name) created at once',
  params: { target: processTarget },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('delete' as const), target: targetArbitrary(ctx.roles.process, ctx.roles) }),
  end: atStart,
  apply(f, ctx) {
    const process = ctx.platform.resolveProcess(ctx.instance, ctx.view, f.target);
    ctx.record({ process });
    if (process !== null) ctx.platform.deleteProcess(ctx.instance, process);
  },
};

/** Stop-the-world pause of one process, of any length (GC, SIGSTOP, CPU starvation). */
export const pause: FaultKind<Pause, unknown, unknown> = {
  kind: 'pause',
  summary: 'stop-the-world pause of one process, any length; on resume its overdue timers fire',
  params: { target: { type: 'target', of: 'pausable', doc: 'the process paused' }, durationUs: durationParam },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('pause' as const), target: targetArbitrary(rolesOf('pausable', ctx.roles), ctx.roles), durationUs: duration(ctx) }),
  end: atEnd,
  apply(f, ctx) {
    const process = ctx.platform.resolveProcess(ctx.instance, ctx.view, f.target);
    ctx.record({ process, durationUs: f.durationUs });
    if (process === null) return;
    ctx.sim.pause(process);
    ctx.until(process, () => ctx.sim.resume(process));
  },
};

/** Symmetric partition between the target's node and every other node (single-node isolation). */
export const isolate: FaultKind<Isolate, unknown, unknown> = {
  kind: 'isolate',
  summary: 'symmetric partition of the target\'s node from every other node',
  params: { target: nodeTarget, durationUs: durationParam },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('isolate' as const), target: targetArbitrary(rolesOf('node', ctx.roles), ctx.roles), durationUs: duration(ctx) }),
  end: atEnd,
  apply(f, ctx) {
    const n = ctx.platform.resolveNode(ctx.instance, ctx.view, f.target);
    ctx.record({ node: n, durationUs: f.durationUs });
    if (n === null) return;
    ctx.sim.network.isolate(n);
    ctx.until(n, () => ctx.sim.network.rejoin(n));
  },
};

/** Partition between two targets' nodes; `oneWay` cuts only from → to (asymmetric). */
export const partition: FaultKind<Partition, unknown, unknown> = {
  kind: 'partition',
  summary: 'partition between two nodes, symmetric or one-way (from → to)',
  params: {
    from: nodeTarget,
    to: { type: 'target', of: 'node-or-infrastructure', doc: 'the far end' },
    oneWay: { type: 'boolean', doc: 'cut only from → to' },
    durationUs: durationParam,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('partition' as const),
    from: targetArbitrary(rolesOf('node', ctx.roles), ctx.roles),
    to: targetArbitrary(rolesOf('node-or-infrastructure', ctx.roles), ctx.roles),
    oneWay: fc.boolean(),
    durationUs: duration(ctx),
  }),
  end: atEnd,
  apply(f, ctx) {
    const a = ctx.platform.resolveNode(ctx.instance, ctx.view, f.from);
    const b = ctx.platform.resolveNode(ctx.instance, ctx.view, f.to);
    ctx.record({ from: a, to: b, oneWay: f.oneWay, durationUs: f.durationUs });
    if (a === null || b === null || a === b) return;
    ctx.sim.network.partition([a], [b], f.oneWay);
    ctx.until(`${a}/${b}`, () => ctx.sim.network.heal([a], [b], f.oneWay));
  },
};

/** Loss, duplication and extra delay on the links between the target's node and all others. */
export const linkBurst: FaultKind<LinkBurst, unknown, unknown> = {
  kind: 'link-burst',
  summary: 'loss, duplication and extra delay on every link of the target\'s node',
  params: {
    target: nodeTarget,
    dropRate: { type: 'number', min: 0, max: 1, doc: 'share of packets lost' },
    duplicateRate: { type: 'number', min: 0, max: 1, doc: 'share of packets delivered twice' },
    delayUs: { type: 'integer', min: 0, max: 60 * 60 * SECOND, doc: 'extra one-way delay (µs)' },
    durationUs: durationParam,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('link-burst' as const), target: targetArbitrary(rolesOf('node', ctx.roles), ctx.roles),
    dropRate: fc.constantFrom(0, 0.1, 0.3, 0.6), duplicateRate: fc.constantFrom(0, 0.1, 0.5),
    delayUs: fc.constantFrom(0, 50 * MS, 500 * MS, 5 * SECOND), durationUs: duration(ctx),
  }),
  end: atEnd,
  apply(f, ctx) {
    const n = ctx.platform.resolveNode(ctx.instance, ctx.view, f.target);
    ctx.record({ node: n, dropRate: f.dropRate, duplicateRate: f.duplicateRate, delayUs: f.delayUs, durationUs: f.durationUs });
    if (n === null) return;
    const { sim } = ctx;
    const base = sim.network.options.link;
    const burst = { ...base, latency: { ...base.latency, baseUs: base.latency.baseUs + f.delayUs }, dropRate: f.dropRate, duplicateRate: f.duplicateRate };
    const others = sim.nodes.map((x) => x.name).filter((x) => x !== n);
    for (const o of others) {
      sim.network.setLink(n, o, burst);
      sim.network.setLink(o, n, burst);
    }
    ctx.until(n, () => {
      for (const o of others) {
        sim.network.resetLink(n, o);
        sim.network.resetLink(o, n);
      }
    });
  },
};

/** Steps the wall clock of the target's node (NTP step); monotonic time is unaffected. */
export const clockJump: FaultKind<ClockJump, unknown, unknown> = {
  kind: 'clock-jump',
  summary: 'wall-clock step on the target\'s node (monotonic time unaffected)',
  params: { target: nodeTarget, deltaUs: { type: 'integer', min: -MAX_FAULT_TIME_US, max: MAX_FAULT_TIME_US, doc: 'the step (µs), either sign' } },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('clock-jump' as const), target: targetArbitrary(rolesOf('node', ctx.roles), ctx.roles), deltaUs: fc.integer({ min: -120 * SECOND, max: 120 * SECOND }) }),
  end: atStart,
  apply(f, ctx) {
    const n = ctx.platform.resolveNode(ctx.instance, ctx.view, f.target);
    ctx.record({ node: n, deltaUs: f.deltaUs });
    if (n !== null) ctx.sim.jumpClock(n, f.deltaUs);
  },
};

/** Drift of the target's node clock for a while, in ppm (both clocks). */
export const clockDrift: FaultKind<ClockDrift, unknown, unknown> = {
  kind: 'clock-drift',
  summary: 'clock rate error on the target\'s node',
  params: {
    target: nodeTarget,
    ppm: { type: 'integer', min: -999_999, max: 1_000_000, doc: 'rate error, parts per million', minWhy: 'a rate error of -1000000 ppm or less would stop or reverse the clock', maxWhy: 'a clock running twice as fast' },
    durationUs: durationParam,
  },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('clock-drift' as const), target: targetArbitrary(rolesOf('node', ctx.roles), ctx.roles), ppm: fc.constantFrom(-100_000, -500, 500, 100_000), durationUs: duration(ctx) }),
  end: atEnd,
  apply(f, ctx) {
    const n = ctx.platform.resolveNode(ctx.instance, ctx.view, f.target);
    ctx.record({ node: n, ppm: f.ppm, durationUs: f.durationUs });
    if (n === null) return;
    ctx.sim.setClockDrift(n, f.ppm);
    ctx.until(n, () => ctx.sim.setClockDrift(n, ctx.baseDriftPpm(n)));
  },
};

/** A node fails with every process on it (no RST), and comes back after `durationUs`. */
export const nodeFailure: FaultKind<NodeFailure, unknown, unknown> = {
  kind: 'node-failure',
  summary: 'a node dies with all its processes (peers half-open) and comes back',
  params: { target: nodeTarget, durationUs: durationParam },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('node-failure' as const), target: targetArbitrary(rolesOf('node', ctx.roles), ctx.roles), durationUs: duration(ctx) }),
  end: atEnd,
  apply(f, ctx) {
    const n = ctx.platform.resolveNode(ctx.instance, ctx.view, f.target);
    ctx.record({ node: n, durationUs: f.durationUs });
    if (n === null || !ctx.sim.node(n).up) return;
    ctx.platform.failNode(ctx.instance, n);
    ctx.until(n, () => {
      if (!ctx.sim.node(n).up) ctx.platform.recoverNode(ctx.instance, n);
    });
  },
};

/**
 * Partition between two processes (pods), wherever they run: a NetworkPolicy denying traffic
 * between them, or a chaos tool's pod partition (Chaos Mesh `NetworkChaos` with `action:
 * partition`, which drops packets in the pods' network namespaces). Packets are dropped, not
 * refused: each side sees what a node partition would show it. Unlike `partition`, it separates
 * two processes on one node and leaves the node's other processes alone. The cut follows the
 * processes' names: a container restarted in place is still cut, a replacement pod is not.
 */
export const podPartition: FaultKind<PodPartition, unknown, unknown> = {
  kind: 'pod-partition',
  summary: 'partition between two processes (a NetworkPolicy between pods), symmetric or one-way (from → to); their nodes are untouched',
  params: {
    from: processTarget,
    to: { type: 'target', of: 'process-or-infrastructure', doc: 'the far end (a process, or an infrastructure process such as the API server)' },
    oneWay: { type: 'boolean', doc: 'cut only from → to' },
    durationUs: durationParam,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('pod-partition' as const),
    from: targetArbitrary(ctx.roles.process, ctx.roles),
    to: targetArbitrary(rolesOf('process-or-infrastructure', ctx.roles), ctx.roles),
    oneWay: fc.boolean(),
    durationUs: duration(ctx),
  }),
  end: atEnd,
  apply(f, ctx) {
    const a = ctx.platform.resolveProcess(ctx.instance, ctx.view, f.from);
    const b = ctx.platform.resolveProcess(ctx.instance, ctx.view, f.to);
    ctx.record({ from: a, to: b, oneWay: f.oneWay, durationUs: f.durationUs });
    if (a === null || b === null || a === b) return;
    ctx.sim.network.cutProcesses([a], [b], f.oneWay);
    ctx.until(`${a}/${b}`, () => ctx.sim.network.healProcesses([a], [b], f.oneWay));
  },
};

/**
 * One process (pod) cut off from every other process, both ways: a deny-all NetworkPolicy on its
 * pod. Its node, the node's kubelet and the node's other pods are unaffected (NetworkPolicy always
 * allows traffic between a pod and its own node), so with pods packed on shared nodes it differs
 * from `isolate`, which cuts every pod of the node.
 */
export const podIsolate: FaultKind<PodIsolate, unknown, unknown> = {
  kind: 'pod-isolate',
  summary: 'one process cut off from every other process (a deny-all NetworkPolicy on its pod); its node is untouched',
  params: { target: { type: 'target', of: 'process-or-infrastructure', doc: 'the process cut off' }, durationUs: durationParam },
  arbitrary: (ctx) => fc.record({ kind: fc.constant('pod-isolate' as const), target: targetArbitrary(rolesOf('process-or-infrastructure', ctx.roles), ctx.roles), durationUs: duration(ctx) }),
  end: atEnd,
  apply(f, ctx) {
    const process = ctx.platform.resolveProcess(ctx.instance, ctx.view, f.target);
    ctx.record({ process, durationUs: f.durationUs });
    if (process === null) return;
    ctx.sim.network.isolateProcess(process);
    ctx.until(process, () => ctx.sim.network.rejoinProcess(process));
  },
};

/** Every generic kind, for systems that take them all. */
export const GENERIC_FAULT_KINDS = [crash, deletion, pause, isolate, partition, linkBurst, clockJump, clockDrift, nodeFailure, podPartition, podIsolate] as const;
