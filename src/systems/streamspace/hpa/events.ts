import { vocabulary } from '../../../sim-cluster/index.ts';

/**
 * The HPA's trace events (recorded by hpa-controller.ts under the process name
 * `kube-controller-manager`). Counts and percents are integers. Kept small: one `hpa.sync` per
 * change of (replicas, recommended, desired), not one per sync.
 */
export interface HpaEvents {
  /**
   * A sync whose outcome differs from the last recorded one. `replicas`: the target's
   * spec.replicas; `recommended`: the metric's proposal before stabilisation and rate limits;
   * `desired`: after them (the size the HPA sets); `utilisation`: average CPU in percent of the
   * request over the pods counted; pod counts as the replica calculator grouped them.
   */
  'hpa.sync': { replicas: number; recommended: number; desired: number; utilisation: number; ready: number; unready: number; missing: number };
  /** The HPA wrote spec.replicas; `reason` as its SuccessfulRescale event words it. */
  'hpa.scale': { from: number; to: number; reason: string };
  /** The ScalingActive condition changed (`FailedGetResourceMetric` carries the metrics error). */
  'hpa.scaling-active': { active: boolean; reason: string; error: string | null };
}

export const hpaEvents = vocabulary<HpaEvents>();
