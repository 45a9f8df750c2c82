import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import { boundTotal, type RunWindow } from '../../../invariants/monitor.ts';
import { caseOf, execute } from '../../../harness/run-case.ts';
import { resolveConfig, type ConfigOverrides } from '../config.ts';
import { NAMED_DEPLOYMENTS, STREAMSPACE_DEPLOYMENTS } from '../deployments.ts';
import { streamspace } from '../system.ts';
import { ClusterView } from './cluster-view.ts';
import { convergenceBound, HPA_REVERSAL_LIMIT, hpaConverges, scaleDownPoliciesUs, scaleDownWindowUs } from './hpa-converges.ts';

const S = SECOND;
const ev = (t: Micros, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t, p, k, d });
const scale = (t: Micros, from: number, to: number) => ev(t, 'kube-controller-manager', 'hpa.scale', { from, to, reason: 'cpu resource utilization (percentage of request) above target' });
/** Seed 004's load as load-generator.ts records it: 1,000 users spawned at 50/s (a 20 s ramp). */
const loadStart = (t: Micros) => ev(t, 'locust', 'load.start', { mode: 'closed', users: 1000, spawnRate: 50 });
const loadStop = (t: Micros) => ev(t, 'locust', 'load.stop', { users: 1000 });

const deployment = (name: string): ConfigOverrides => NAMED_DEPLOYMENTS.find((d) => d.name === name)!.overrides as ConfigOverrides;
/** The chart's HPA (min 2, max 10, no behavior) and seed 004's (min 3, max 10, its behavior block). */
const CHART = resolveConfig(deployment('r004-chart-autoscaling'));
const JEWELRY = resolveConfig(deployment('r004-jewelry-shop'));

/** Online checks on every event, then the end-of-run check: the first violation's message. */
function judge(config: typeof CHART, events: TraceEvent[], window: RunWindow): string | null {
  const monitor = hpaConverges(config);
  const view = new ClusterView();
  for (const e of events) {
    view.apply(e);
    if (!monitor.kinds!.includes(e.k)) continue;
    const v = monitor.onEvent?.(e, view);
    if (v) return v.message;
  }
  return monitor.atEnd?.(view, window)?.message ?? null;
}

describe('hpa-converges: the bounds it judges with', () => {
  test('scale-down window and policies: the chart\'s behavior-less HPA, seed 004\'s behavior block', () => {
    expect(scaleDownWindowUs(CHART.hpa)).toBe(300 * S);
    expect(scaleDownPoliciesUs(CHART.hpa, 15 * S)).toBe(0);
    expect(scaleDownWindowUs(JEWELRY.hpa)).toBe(300 * S);
    // 50% per 60 s, selectPolicy Min: 10 → 5 at once, → 3 (min) when that step leaves the period.
    expect(scaleDownPoliciesUs(JEWELRY.hpa, 15 * S)).toBe(60 * S);
    expect(convergenceBound(JEWELRY)!.map((t) => t.us)).toEqual([30 * S, 300 * S, 60 * S, 30 * S]);
    expect(boundTotal(convergenceBound(CHART)!)).toBe(360 * S);
  });

  test('policies that step one pod per period take one period per pod; Disabled never gets there', () => {
    const hpa = (scaleDown: object) => ({ ...JEWELRY.hpa, behavior: { scaleDown } });
    expect(scaleDownPoliciesUs(hpa({ policies: [{ type: 'Pods', value: 1, periodSeconds: 15 }] }), 15 * S)).toBe(6 * 15 * S);
    expect(scaleDownPoliciesUs(hpa({ policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] }), 15 * S)).toBe(6 * 60 * S);
    expect(scaleDownPoliciesUs(hpa({ selectPolicy: 'Disabled' }), 15 * S)).toBeNull();
    expect(scaleDownPoliciesUs(hpa({ policies: [{ type: 'Pods', value: 0, periodSeconds: 15 }] }), 15 * S)).toBeNull();
  });
});

describe('hpa-converges', () => {
  const window = (endAt: Micros, healAt: Micros = 120 * S): RunWindow => ({ healAt, boundUs: 10 * S, endAt });

  test('without an HPA it judges nothing, whatever the trace says', () => {
    const monitor = hpaConverges(resolveConfig());
    expect(monitor.kinds).toEqual([]);
    expect(monitor.atEnd).toBeUndefined();
    expect(monitor.definition).toMatch(/^Judged only when .*\(hpa\.enabled\)/);
  });

  test('a rescale outside [min, max] is a violation at once; one into the range from below it is not', () => {
    expect(judge(CHART, [scale(60 * S, 1, 2)], window(200 * S))).toBeNull();
    expect(judge(CHART, [scale(60 * S, 10, 11)], window(200 * S))).toMatch(/scaled 10 → 11 at 60\.000s, outside \[minReplicas 2, maxReplicas 10\]/);
    expect(judge(JEWELRY, [scale(60 * S, 4, 2)], window(200 * S))).toMatch(/outside \[minReplicas 3/);
  });

  test('back at min within the bound after the load stopped and the faults healed; judged only when the run lasts that long', () => {
    const up = [loadStart(60 * S), scale(100 * S, 2, 6), loadStop(200 * S)];
    // Load stopped at 200 s, healed at 120 s: the chart's bound (360 s) ends at 560 s.
    expect(judge(CHART, up, window(559 * S))).toBeNull();
    expect(judge(CHART, up, window(560 * S))).toMatch(/6 replicas at the end \(560\.000s\), not minReplicas 2, although the load stopped at 200\.000s/);
    expect(judge(CHART, [...up, scale(520 * S, 6, 2)], window(600 * S))).toBeNull();
    // A heal after the stop starts the bound: a fault (stale metrics, say) may hold the size until then.
    const stale = ev(150 * S, 'faults', 'fault.hpa-metrics-stale', { durationUs: 150 * S });
    expect(judge(CHART, [...up, stale], window(600 * S, 300 * S))).toBeNull();
    expect(judge(CHART, [...up, stale], window(660 * S, 300 * S))).toMatch(/although the load stopped at 200\.000s and the faults healed at 300\.000s, 360\.000s = /);
    // Without a fault the heal is only the run's earliest one: the stop alone starts the bound.
    expect(judge(CHART, up, window(600 * S, 300 * S))).toMatch(/although the load stopped at 200\.000s, 360\.000s = /);
    // No load.stop: nothing to converge to.
    expect(judge(CHART, [loadStart(60 * S), scale(100 * S, 2, 6)], window(2000 * S))).toBeNull();
  });

  test(`the direction reverses at most ${HPA_REVERSAL_LIMIT} time(s) in the steady stretch`, () => {
    // The load is steady from 80 s (1,000 users at 50/s from 60 s); with a fault, from H + B = 130 s.
    const once = [loadStart(60 * S), scale(70 * S, 2, 6), scale(400 * S, 6, 3)];
    expect(judge(CHART, once, window(2000 * S))).toBeNull();
    expect(judge(CHART, [...once, scale(500 * S, 3, 5)], window(2000 * S)))
      .toMatch(/reversed direction 2 times in the steady stretch from 80\.000s to 2000\.000s \(at most 1\): 6 → 3 at 400\.000s, 3 → 5 at 500\.000s/);
    const fault = ev(100 * S, 'faults', 'fault.crash', { process: 'api-0' });
    expect(judge(CHART, [...once, fault, scale(500 * S, 3, 5)], window(2000 * S))).toMatch(/in the steady stretch from 130\.000s/);
    // After load.stop the stretch is over: what the HPA does then is judged by the convergence check.
    expect(judge(CHART, [...once, loadStop(450 * S), scale(500 * S, 3, 5), scale(900 * S, 5, 2)], window(2000 * S))).toBeNull();
    // During a spike's ramp it is not steady either (300 users at 10/s: steady from 30 s after it).
    const spiked = [loadStart(60 * S), scale(70 * S, 2, 6), ev(600 * S, 'locust', 'load.spike', { users: 300, spawnRate: 10 }), scale(400 * S, 6, 3), scale(620 * S, 3, 5)];
    expect(judge(CHART, spiked, window(2000 * S))).toBeNull();
  });

  test('a scale-down within the stabilisation window of a scale-up made since the heal is impossible for a correct HPA', () => {
    const events = [loadStart(0), scale(150 * S, 2, 6), scale(300 * S, 6, 4)];
    expect(judge(CHART, events, window(2000 * S))).toMatch(/scaled down 6 → 4 at 300\.000s, 150\.000s after scaling up 2 → 6 at 150\.000s: within the scale-down stabilisation window \(300\.000s\)/);
    // A scale-up before the heal may have been made by a controller whose memory a fault erased: only the count applies.
    const fault = ev(140 * S, 'faults', 'fault.crash', { process: 'api-0' });
    expect(judge(CHART, [...events.slice(0, 2), fault, events[2]!], { healAt: 160 * S, boundUs: 10 * S, endAt: 2000 * S })).toBeNull();
  });
});

describe('end to end: the HPA under seed 004\'s load', () => {
  test.each(['r004-chart-autoscaling', 'r004-jewelry-shop'])('%s: 300 users for 3 minutes scale it up, and it is back at min once the load has stopped', (name) => {
    const overrides = STREAMSPACE_DEPLOYMENTS.overlay(deployment(name), { load: { users: 300, runUs: 3 * MINUTE } });
    const c = caseOf(streamspace, 'streamspace-v2', 4, [], { overrides, invariants: ['hpa-converges', 'no-lost-session'] });
    // No fault: the bound runs from the stop at 4 minutes; the heal at 15 minutes only makes the run last long enough to judge it.
    const { verdict, view } = execute(streamspace, c, { collect: 'all', minHealAt: 15 * MINUTE });
    const { minReplicas } = c.config.hpa;
    expect(verdict.modelFailure).toBeNull();
    expect(Math.max(...view.hpaScales.map((s) => s.to))).toBeGreaterThan(minReplicas);
    expect(view.hpaScales.at(-1)!.to).toBe(minReplicas);
    expect(verdict.violations.map((v) => v.invariant)).not.toContain('hpa-converges');
    // As built, the pods a scale-up starts run ClearAllSessions: the users logged in before are refused.
    const lost = verdict.violations.find((v) => v.invariant === 'no-lost-session');
    expect(lost?.time).toBeGreaterThan(view.hpaScales[0]!.t);
    expect(lost?.evidence.map((e) => e.k)).toEqual(['load.login', 'load.lost-session']);
  });
});
