import { MS, type BoundTerm, type RecoveryProbe } from '../../index.ts';
import { REDIS, type HakgalCluster } from './cluster.ts';
import type { HakgalConfig } from './config.ts';
import type { HakgalView } from './view.ts';

/** Why the deployment is not serving, or null: Redis up, every pod running and in the Service. */
function unhealthyBecause(cluster: HakgalCluster, view: HakgalView): string | null {
  if (!view.alive.has(REDIS)) return 'redis is not running';
  const down = cluster.pods.filter((p) => !view.alive.has(p) || cluster.sim.process(p).status !== 'up' || !cluster.service.isReady(p));
  return down.length === 0 ? null : `not serving: ${down.join(', ')}`;
}

/**
 * Recovery after the heal: every pod back in the Service and Redis up. The bound's terms: a
 * replaced pod starting, then the kubelet's readiness probe bringing back a pod it had marked
 * NotReady (3 periods of 5 s and a timeout), and a liveness restart of a pod paused up to the heal.
 */
export const HAKGAL_RECOVERY: RecoveryProbe<HakgalConfig, HakgalCluster, HakgalView> = {
  bound: (c): BoundTerm[] => [
    { what: 'a deleted pod or Redis is replaced (pod.replaceUs)', us: c.pod.replaceUs },
    { what: 'a crashed container restarts (pod.restartUs)', us: c.pod.restartUs },
    { what: 'the readiness probe passes again (period 5 s, timeout 1 s)', us: 6_000 * MS },
    { what: 'a liveness restart of a pod paused up to the heal (3 × 10 s + 1 s)', us: 31_000 * MS },
  ],
  // Requests in flight at the bound finish or time out.
  drainUs: (c) => c.workload.requestTimeoutUs,
  start(cluster, view, healAt) {
    const check = (): void => {
      if (unhealthyBecause(cluster, view) === null) cluster.sim.trace.record(cluster.sim.now, 'checker', 'hk.healthy', { afterUs: cluster.sim.now - healAt });
      else cluster.sim.after(100 * MS, check, 'recovery.check');
    };
    cluster.sim.at(healAt, check, 'recovery.check');
  },
  atEnd(cluster, view) {
    view.unhealthy = unhealthyBecause(cluster, view);
  },
  recoveredAt: (view) => view.recoveredAt,
};
