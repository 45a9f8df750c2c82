import type { Micros, Simulation } from '../../../sim-cluster/index.ts';
import { EMPTY_HISTORY, type HpaHistory } from './behavior.ts';
import { DEFAULT_HPA_CONTROLLER_FLAGS, type HpaControllerFlags, type HpaSpec } from './config.ts';
import { hpaEvents } from './events.ts';
import { reconcileAutoscaler, type ReconcileResult } from './reconcile.ts';
import type { ResourceMetrics, ScaleTarget } from './types.ts';

/**
 * The horizontal-pod-autoscaler controller of kube-controller-manager for one HPA
 * (kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go): every sync period it reads
 * the target's spec.replicas, its pods and their metrics, runs `reconcileAutoscaler`
 * (reconcile.ts) and writes spec.replicas when the decision differs from it. Its memory of
 * recommendations and scale events lives in this object, as in the controller's maps.
 *
 * It runs on the kernel's clock like the model's other Kubernetes controllers: the workqueue
 * re-adds the HPA one resync period after each sync (horizontal.go `processNextWorkItem`,
 * `NewDefaultHPARateLimiter`), modelled as a sync every `syncPeriodUs` exactly.
 *
 * Trace (process `kube-controller-manager`, events.ts): `hpa.sync` when (replicas, recommended,
 * desired) changes, `hpa.scale` on every rescale, `hpa.scaling-active` when the condition changes.
 */
export interface HorizontalPodAutoscalerOptions {
  spec: HpaSpec;
  /** kube-controller-manager's HPA flags; default `DEFAULT_HPA_CONTROLLER_FLAGS`. */
  flags?: Partial<HpaControllerFlags>;
  /**
   * The first sync. Default half a sync period after `start`: the HPA's loop and the
   * metrics-server's are not synchronised, and the offset keeps their ticks from tying when both
   * start together with equal periods.
   */
  firstSyncAtUs?: Micros;
}

/** Where the HPA reads metrics: the metrics-server (metrics-server.ts) or a stand-in. */
export interface ResourceMetricsSource {
  resourceMetrics(): ResourceMetrics;
}

export const HPA_PROCESS = 'kube-controller-manager';

export class HorizontalPodAutoscaler {
  readonly spec: HpaSpec;
  readonly flags: HpaControllerFlags;
  private history: HpaHistory = EMPTY_HISTORY;
  private lastResult: ReconcileResult | null = null;
  private lastSyncKey = '';
  private lastActive = '';

  constructor(
    private readonly target: ScaleTarget,
    private readonly metrics: ResourceMetricsSource,
    private readonly options: HorizontalPodAutoscalerOptions,
  ) {
    this.spec = options.spec;
    this.flags = { ...DEFAULT_HPA_CONTROLLER_FLAGS, ...options.flags };
  }

  /** The last sync's decision, or null before the first. */
  get status(): ReconcileResult | null {
    return this.lastResult;
  }

  /** Syncs every period from `firstSyncAtUs`. */
  start(sim: Simulation): void {
    const tick = (at: Micros): void => {
      sim.at(at, () => {
        this.sync(sim);
        tick(at + this.flags.syncPeriodUs);
      }, 'hpa sync');
    };
    tick(this.options.firstSyncAtUs ?? sim.now + Math.floor(this.flags.syncPeriodUs / 2));
  }

  /** One reconcile at the current instant. */
  sync(sim: Simulation): ReconcileResult {
    const now = sim.now;
    const currentReplicas = this.target.replicas();
    const result = reconcileAutoscaler({
      now, currentReplicas, pods: this.target.pods(), metrics: this.metrics.resourceMetrics(),
      spec: this.spec, flags: this.flags, history: this.history,
    });
    this.history = result.history;
    this.lastResult = result;
    const trace = { record: (kind: string, details?: Record<string, unknown>) => sim.trace.record(now, HPA_PROCESS, kind, details) };
    const active = `${result.scalingActive.active}/${result.scalingActive.reason}`;
    if (active !== this.lastActive) {
      this.lastActive = active;
      hpaEvents.record(trace, 'hpa.scaling-active', { ...result.scalingActive, error: result.error });
    }
    const p = result.proposal;
    if (p !== null) {
      const key = `${currentReplicas}/${p.replicas}/${result.desiredReplicas}`;
      if (key !== this.lastSyncKey) {
        this.lastSyncKey = key;
        hpaEvents.record(trace, 'hpa.sync', {
          replicas: currentReplicas, recommended: p.replicas, desired: result.desiredReplicas,
          utilisation: p.utilisation, ready: p.readyPods, unready: p.unreadyPods, missing: p.missingPods,
        });
      }
    }
    if (result.rescale) {
      hpaEvents.record(trace, 'hpa.scale', { from: currentReplicas, to: result.desiredReplicas, reason: result.reason });
      this.target.scale(result.desiredReplicas);
    }
    return result;
  }
}
