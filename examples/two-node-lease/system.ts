import fc from 'fast-check';
import {
  clockDrift, clockJump, crash, isolate, MAX_FAULT_TIME_US, MS, nodeFailure, partition, pause, SECOND,
  type FaultKind, type Micros, type Monitor, type Platform, type System, type Target, type TargetRoles, type TraceEvent, type View,
} from '../../src/index.ts';
import { FIXES, LEASE_PROFILES, reresolveLease, resolveLease, type LeaseConfig } from './config.ts';
import { LeaseCluster, REPLICAS, STORE } from './model.ts';

/** What the invariant and the recovery probe read: the store's lease record and effects, and what each replica believes. */
export class LeaseView implements View {
  /** The store's lease record, as its last grant left it. */
  holder: string | null = null;
  epoch = 0;
  lastGrant: TraceEvent | null = null;
  /** Writes the store applied, per replica. */
  readonly writes = new Map<string, number>();
  /** Replicas that believe they hold the lease, and the epoch they believe in. */
  readonly believes = new Map<string, number>();
  /** Processes running, and those of them paused. */
  readonly alive = new Set<string>();
  readonly paused = new Set<string>();
  recoveredAt: Micros | null = null;
  unhealthy: string | null = null;

  apply(e: TraceEvent): void {
    const d = e.d ?? {};
    switch (e.k) {
      case 'store.grant':
        this.holder = d['replica'] as string;
        this.epoch = d['epoch'] as number;
        this.lastGrant = e;
        return;
      case 'store.write':
        this.writes.set(d['replica'] as string, (this.writes.get(d['replica'] as string) ?? 0) + 1);
        return;
      case 'replica.acquired':
        this.believes.set(e.p, d['epoch'] as number);
        return;
      case 'replica.expired':
      case 'replica.lost':
        this.believes.delete(e.p);
        return;
      case 'proc.start':
        this.alive.add(e.p);
        return;
      case 'proc.crash':
      case 'proc.exit':
        // A new incarnation starts with no lease: whatever the old one believed died with it.
        this.alive.delete(e.p);
        this.paused.delete(e.p);
        this.believes.delete(e.p);
        return;
      case 'proc.pause':
        this.paused.add(e.p);
        return;
      case 'proc.resume':
        this.paused.delete(e.p);
        return;
      case 'lease.healthy':
        this.recoveredAt ??= e.t;
    }
  }
}

/** Judged on the store's effects (what it applied), not on what replicas believe. */
export const noStaleWrites: Monitor<LeaseView> = {
  id: 'no-stale-writes',
  definition:
    'Every write the store applies (store.write) comes from the replica its lease record names as holder at that instant, made under that record\'s epoch. '
    + 'A write applied after the store granted the lease to the other replica, or under an older epoch, is a stale write: two holders\' writes interleave.',
  onEvent(e, view) {
    if (e.k !== 'store.write') return null;
    const { replica, epoch, seq } = e.d as { replica: string; epoch: number; seq: number };
    if (replica === view.holder && epoch === view.epoch) return null;
    return {
      invariant: 'no-stale-writes',
      time: e.t,
      message: `the store applied write ${seq} of ${replica} (epoch ${epoch}) while ${view.holder ?? 'nobody'} holds epoch ${view.epoch}`,
      evidence: view.lastGrant === null ? [e] : [view.lastGrant, e],
    };
  },
};

/** A fault of this system's own: the store answers late (an fsync stall, an overloaded database). */
export type StoreSlow = { kind: 'store-slow'; at: Micros; delayUs: Micros; durationUs: Micros };

export const storeSlow: FaultKind<StoreSlow, LeaseCluster, LeaseView> = {
  kind: 'store-slow',
  summary: 'the store answers every request late for a while (writes still apply at once)',
  params: {
    delayUs: { type: 'integer', min: 0, max: 60 * SECOND, doc: 'added delay before each answer (µs)' },
    durationUs: { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long the window lasts (µs)' },
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('store-slow' as const),
    delayUs: fc.constantFrom(100 * MS, 1 * SECOND, 5 * SECOND),
    durationUs: fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs }),
  }),
  end: (f) => f.at + f.durationUs,
  apply(f, { instance, record, until }) {
    record({ delayUs: f.delayUs, durationUs: f.durationUs });
    instance.storeFaults.replyDelayUs = f.delayUs;
    until(STORE, () => void (instance.storeFaults.replyDelayUs = 0));
  },
  heal({ instance }) {
    instance.storeFaults.replyDelayUs = 0;
  },
};

/** `replica` is indexed; `holder` is the replica the store's lease record names when the fault fires. */
export const LEASE_ROLES: TargetRoles = { process: ['replica', 'holder', 'store'], node: [], infrastructure: [], indexed: ['replica'], maxIndex: 1 };

function resolveProcess(_cluster: LeaseCluster, view: LeaseView, target: Target): string | null {
  if (target.role === 'replica') return REPLICAS[(target.index ?? 0) % REPLICAS.length]!;
  if (target.role === 'holder') return view.holder;
  return target.role === 'store' ? STORE : null;
}

/**
 * Processes run under a supervisor (systemd `Restart=always`): a crash restarts the process in place
 * after `platform.restartUs`. There is nothing like a pod deletion here, so a deletion is a crash too.
 * A failed node comes back with its processes started again.
 */
export const LEASE_PLATFORM: Platform<LeaseCluster, LeaseView> = {
  sim: (cluster) => cluster.sim,
  resolveProcess,
  resolveNode(cluster, view, target) {
    const process = resolveProcess(cluster, view, target);
    return process === null ? null : cluster.sim.process(process).node.name;
  },
  crashProcess: (cluster, process) => cluster.sim.restart(process, cluster.config.platform.restartUs),
  deleteProcess: (cluster, process) => cluster.sim.restart(process, cluster.config.platform.restartUs),
  failNode: (cluster, node) => cluster.sim.failNode(node),
  recoverNode: (cluster, node) => cluster.sim.recoverNode(node, true),
};

/** Why the system is not healthy now, or null: one running holder, believed by it alone, renewed within two renew periods. */
function unhealthyBecause(cluster: LeaseCluster, view: LeaseView): string | null {
  const { holder } = view;
  if (holder === null || !view.alive.has(holder) || view.paused.has(holder)) return `the lease record names ${holder ?? 'nobody'}, which is not running`;
  if (view.believes.size !== 1 || view.believes.get(holder) !== view.epoch) {
    return `believed held by ${[...view.believes].map(([r, e]) => `${r} (epoch ${e})`).join(', ') || 'nobody'}; the record says ${holder}, epoch ${view.epoch}`;
  }
  const since = cluster.sim.now - (view.lastGrant?.t ?? 0);
  return since > 2 * cluster.config.lease.renewEveryUs ? `${holder} last renewed ${since} µs ago` : null;
}

export const twoNodeLease: System<LeaseConfig, LeaseCluster, LeaseView> = {
  name: 'two-node-lease',
  description: 'two replicas writing under a TTL lease kept by a store on a third node',
  profiles: LEASE_PROFILES,
  fixes: FIXES,
  resolve: resolveLease,
  reresolve: reresolveLease,
  build: ({ seed, config, simulation }) => new LeaseCluster(config, seed, simulation),
  createView: () => new LeaseView(),
  // Both replicas ask at t = 0; one holds the lease a few ms later.
  settleUs: 2 * SECOND,
  roles: LEASE_ROLES,
  platform: LEASE_PLATFORM,
  faults: [crash, pause, isolate, partition, clockJump, clockDrift, nodeFailure, storeSlow],
  invariants: () => [noStaleWrites],
  recovery: {
    bound: (c) => [
      { what: 'a crashed process restarts (restartUs)', us: c.platform.restartUs },
      { what: 'a lease granted before the heal runs out at the store (ttl)', us: c.lease.ttlUs },
      { what: 'the next acquire attempt (renewEvery)', us: c.lease.renewEveryUs },
      { what: 'one renewal observed (renewEvery)', us: c.lease.renewEveryUs },
    ],
    drainUs: () => 0,
    start(cluster, view, healAt) {
      const check = (): void => {
        if (unhealthyBecause(cluster, view) === null) cluster.sim.trace.record(cluster.sim.now, 'checker', 'lease.healthy', { afterUs: cluster.sim.now - healAt });
        else cluster.sim.after(100 * MS, check, 'recovery.check');
      };
      cluster.sim.at(healAt, check, 'recovery.check');
    },
    atEnd(cluster, view) {
      view.unhealthy = unhealthyBecause(cluster, view);
    },
    recoveredAt: (view) => view.recoveredAt,
  },
};
