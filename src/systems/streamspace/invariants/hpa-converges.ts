import { formatTime, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { boundTotal, formatBound, type BoundTerm, type Monitor, type RunWindow, type Violation } from '../../../invariants/monitor.ts';
import type { HpaConfig, StreamSpaceConfig } from '../config.ts';
import { DEFAULT_HPA_CONTROLLER_FLAGS, resolveBehavior, type ResolvedScalingRules } from '../hpa/config.ts';
import { hpaEvents } from '../hpa/events.ts';
import { loadEvents } from '../load/events.ts';
import type { ClusterView, HpaScale } from './cluster-view.ts';

const ID = 'hpa-converges';

/**
 * How many times the direction of the HPA's rescales may reverse in the steady stretch (no fault,
 * load unchanged and running). One: the first reversal may undo what came before the stretch (a
 * scale-up for a fault or a ramp, undone once its stabilisation window has passed). A second one
 * means the HPA undid its own decision under the same load: with replicas proportional to usage
 * (replica_calculator.go: ceil(current × usage / target), 10% tolerance both ways) a scale-down
 * leaves the pods at or below the target, so only a change of load, or pods that use CPU because
 * they were scaled (a new API pod's ClearAllSessions sending every user to log in again), can call
 * for the opposite step.
 */
export const HPA_REVERSAL_LIMIT = 1;

/**
 * metrics-server's --metric-resolution as the model runs it (hpa/metrics-server.ts: the release
 * manifest's `--metric-resolution=15s`): a pod's CPU is the rate between its last two scrapes.
 */
export const METRIC_RESOLUTION_US: Micros = 15 * SECOND;

/**
 * The scale-down rules of a behavior block with the API's defaults filled in (hpa/config.ts
 * `resolveBehavior`), or null for an HPA without one.
 */
function scaleDownRules(hpa: HpaConfig): ResolvedScalingRules | null {
  return hpa.behavior === null ? null : resolveBehavior(hpa.behavior, DEFAULT_HPA_CONTROLLER_FLAGS).scaleDown;
}

/**
 * The scale-down stabilisation window: `behavior.scaleDown.stabilizationWindowSeconds` (defaulted),
 * or for an HPA without a behavior block --horizontal-pod-autoscaler-downscale-stabilization
 * (5 min; horizontal.go `normalizeDesiredReplicas`).
 */
export function scaleDownWindowUs(hpa: HpaConfig): Micros {
  const rules = scaleDownRules(hpa);
  return rules === null ? DEFAULT_HPA_CONTROLLER_FLAGS.downscaleStabilizationUs : rules.stabilizationWindowSeconds * SECOND;
}

/**
 * How long the scale-down policies take from maxReplicas to minReplicas when every sync asks for
 * minReplicas, from the sync that takes the first step to the one that reaches min; null if they
 * never get there (selectPolicy Disabled, no policy, or an allowance of 0). Computed here from the
 * policies' documented rule, independently of the HPA under test (horizontal.go
 * `calculateScaleDownLimitWithBehaviors`: per policy, the size at the start of its period minus
 * its allowance, Percent truncated; selectPolicy Max takes the largest change, Min the smallest).
 * A behavior-less HPA has no scale-down rate limit (`convertDesiredReplicasWithRules`): 0.
 */
export function scaleDownPoliciesUs(hpa: HpaConfig, syncPeriodUs: Micros): Micros | null {
  const rules = scaleDownRules(hpa);
  if (rules === null) return 0;
  if (rules.selectPolicy === 'Disabled' || rules.policies.length === 0) return null;
  const longestUs = Math.max(...rules.policies.map((p) => p.periodSeconds)) * SECOND;
  // Each step needs at most one period to pass and one sync: more syncs than that is no progress.
  const maxSyncs = (hpa.maxReplicas - hpa.minReplicas) * (Math.ceil(longestUs / syncPeriodUs) + 1) + 1;
  const steps: { t: Micros; change: number }[] = [];
  let current = hpa.maxReplicas;
  for (let n = 0, t = 0; n <= maxSyncs; n++, t += syncPeriodUs) {
    if (current <= hpa.minReplicas) return t === 0 ? 0 : t - syncPeriodUs;
    const sizes = rules.policies.map((p) => {
      const start = current + steps.filter((s) => s.t > t - p.periodSeconds * SECOND).reduce((sum, s) => sum + s.change, 0);
      return p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    });
    const limit = Math.min(rules.selectPolicy === 'Min' ? Math.max(...sizes) : Math.min(...sizes), current);
    const next = Math.max(hpa.minReplicas, limit);
    if (next < current) {
      steps.push({ t, change: current - next });
      current = next;
    }
  }
  return null;
}

/**
 * From the instant the load stopped (and the faults healed) to the instant the replicas must be
 * back at minReplicas; null if the policies never get there. The metric still shows the load for
 * up to two resolutions (the rate window that holds the stop, then the next scrape); the last
 * recommendation that high holds the size for the stabilisation window; then the policies step
 * down; the two sync periods cover the syncs' phase against the scrapes and the last step. CPU a
 * pod still owes at the stop (a saturated pod's queue, api-pod/cpu.ts) is not in the bound: it
 * delays the scale-down and shows as a violation, the HPA's last metric in its message.
 */
export function convergenceBound(config: StreamSpaceConfig): BoundTerm[] | null {
  const syncUs = DEFAULT_HPA_CONTROLLER_FLAGS.syncPeriodUs;
  const policiesUs = scaleDownPoliciesUs(config.hpa, syncUs);
  if (policiesUs === null) return null;
  return [
    { what: 'metric lag: 2 metric resolutions', us: 2 * METRIC_RESOLUTION_US },
    { what: 'scale-down stabilisation window', us: scaleDownWindowUs(config.hpa) },
    { what: 'scale-down policies from max to min', us: policiesUs },
    { what: '2 HPA sync periods', us: 2 * syncUs },
  ];
}

/**
 * Where the load stopped changing: its last start, spike (each plus its ramp at its spawn rate)
 * or spike end.
 */
function loadSteadyFrom(view: ClusterView): Micros {
  const ramp = (users: number, perSecond: number): Micros => Math.ceil((users * SECOND) / perSecond);
  let from = 0;
  for (const e of view.loadChanges) {
    const start = loadEvents.details(e, 'load.start');
    if (start !== undefined) from = Math.max(from, e.t + ramp(start.users, start.spawnRate));
    else if (e.k === 'load.spike') {
      const d = loadEvents.details(e, 'load.spike')!;
      from = Math.max(from, e.t + ramp(d.users, d.spawnRate));
    } else if (e.k === 'load.spike-end') from = Math.max(from, e.t);
  }
  return from;
}

const direction = (s: HpaScale): 'up' | 'down' => (s.to > s.from ? 'up' : 'down');
const scaleText = (s: HpaScale): string => `${s.from} → ${s.to} at ${formatTime(s.t)}`;

/**
 * The HorizontalPodAutoscaler of the API Deployment keeps the replicas in range, comes back to
 * minReplicas once the load is gone, and does not flap. Only judged when the configuration runs
 * it (`hpa.enabled`); otherwise it never fires and costs nothing.
 */
export function hpaConverges(config: StreamSpaceConfig): Monitor<ClusterView> {
  const { minReplicas: min, maxReplicas: max } = config.hpa;
  const windowUs = scaleDownWindowUs(config.hpa);
  const bound = convergenceBound(config);
  const definition =
    'Judged only when the API Deployment has its HorizontalPodAutoscaler (hpa.enabled); otherwise it never fires. '
    + `(1) Every rescale the HPA writes (hpa.scale) sets the replicas within [minReplicas, maxReplicas] (${min}-${max} here). `
    + '(2) Once the load has stopped (load.stop) and the faults, if any, have healed, the replicas are back at minReplicas within '
    + (bound === null ? 'a bound, which these scale-down policies never reach (no judgement)' : formatBound(bound).replace(/^B = /, ''))
    + '; judged when the run goes on that long after both. '
    + '(3) In the steady stretch, with no fault (from the heal plus the recovery bound, H + B, in a run with faults), the load unchanged (after its last start, spike or spike end, plus its ramp) '
    + `and running (until load.stop), the HPA does not flap: no scale-down comes within the scale-down stabilisation window (${formatTime(windowUs)}) `
    + 'of a scale-up made since the heal (a fault may have erased the controller\'s memory before it), which a correct HPA cannot do (every recommendation in the window is at least the size it scaled up to, and it scales down '
    + `to the largest of them), and the direction of its rescales reverses at most ${HPA_REVERSAL_LIMIT === 1 ? 'once' : `${HPA_REVERSAL_LIMIT} times`}: `
    + 'the first reversal may undo what the faults or a load change before the stretch caused; another means it undid its own decision under an unchanged load. '
    + 'Reaching maxReplicas under a spike is a scenario claim, not an invariant: whether it does depends on the load and the CPU costs assumed.';
  if (!config.hpa.enabled) return { id: ID, definition, kinds: [] };

  const violation = (time: Micros, message: string, evidence: HpaScale[]): Violation => ({ invariant: ID, time, message, evidence: evidence.map((s) => s.event) });

  const converged = (view: ClusterView, window: RunWindow): Violation | null => {
    const stop = view.loadChanges.find((e) => e.k === 'load.stop');
    if (stop === undefined || bound === null) return null;
    // Without any fault the heal is only the run's earliest one: the stop alone counts.
    const quietFrom = Math.max(stop.t, view.faultInstants.length > 0 ? window.healAt : 0);
    const deadline = quietFrom + boundTotal(bound);
    if (window.endAt < deadline) return null;
    const last = view.hpaScales.at(-1);
    const replicas = last?.to ?? config.topology.apiReplicas;
    if (replicas === min) return null;
    const sync = view.lastHpaSync === null ? '' : `; the HPA's last recorded sync at ${formatTime(view.lastHpaSync.t)}: ${JSON.stringify(hpaEvents.details(view.lastHpaSync, 'hpa.sync'))}`;
    return violation(deadline,
      `${replicas} replicas at the end (${formatTime(window.endAt)}), not minReplicas ${min}, although the load stopped at ${formatTime(stop.t)}`
      + (view.faultInstants.length > 0 ? ` and the faults healed at ${formatTime(window.healAt)}` : '')
      + `, ${formatBound(bound).replace(/^B = /, '')} before the end`
      + (last === undefined ? '' : `; last rescale ${scaleText(last)}`) + sync,
      last === undefined ? [] : [last]);
  };

  const flapping = (view: ClusterView, window: RunWindow): Violation | null => {
    const stop = view.loadChanges.find((e) => e.k === 'load.stop');
    // Without any fault the whole run is fault-free; the heal is only the run's earliest one.
    const faulted = view.faultInstants.length > 0;
    const from = Math.max(faulted ? window.healAt + window.boundUs : 0, loadSteadyFrom(view));
    const to = Math.min(window.endAt, stop?.t ?? Number.POSITIVE_INFINITY);
    const reversals: HpaScale[] = [];
    const scales = view.hpaScales;
    for (let i = 1; i < scales.length; i++) {
      const s = scales[i]!;
      const before = scales[i - 1]!;
      if (s.t < from || s.t >= to || direction(s) === direction(before)) continue;
      if (direction(s) === 'down' && (!faulted || before.t >= window.healAt) && s.t - before.t < windowUs) {
        return violation(s.t,
          `scaled down ${scaleText(s)}, ${formatTime(s.t - before.t)} after scaling up ${scaleText(before)}: within the scale-down stabilisation window (${formatTime(windowUs)}), `
          + 'which holds every scale-down to the largest recommendation in it', [before, s]);
      }
      reversals.push(s);
    }
    if (reversals.length <= HPA_REVERSAL_LIMIT) return null;
    return violation(reversals[HPA_REVERSAL_LIMIT]!.t,
      `the HPA reversed direction ${reversals.length} times in the steady stretch from ${formatTime(from)} to ${formatTime(to)} (at most ${HPA_REVERSAL_LIMIT}): `
      + reversals.map(scaleText).join(', '), reversals);
  };

  return {
    id: ID,
    definition,
    kinds: ['hpa.scale'],
    onEvent(e, view) {
      const s = view.hpaScales.at(-1);
      if (s === undefined || s.event !== e || (s.to >= min && s.to <= max)) return null;
      return violation(e.t, `the HPA scaled ${scaleText(s)}, outside [minReplicas ${min}, maxReplicas ${max}] (${s.reason})`, [s]);
    },
    atEnd: (view, window) => flapping(view, window) ?? converged(view, window),
  };
}
