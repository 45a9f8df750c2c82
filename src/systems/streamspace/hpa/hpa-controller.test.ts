import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND, Simulation, type Micros } from '../../../sim-cluster/index.ts';
import { JEWELRY_SHOP_HPA, STREAMSPACE_CHART_HPA, type HpaSpec } from './config.ts';
import { hpaEvents } from './events.ts';
import { HorizontalPodAutoscaler } from './hpa-controller.ts';
import { LoadDrivenDeployment } from './load-driven-deployment.ts';
import { MetricsServer } from './metrics-server.ts';

/**
 * Simulated runs: a Deployment whose pods share a CPU demand, the metrics-server scraping it every
 * 15 s from t = 0 and the HPA syncing every 15 s from t = 7.5 s.
 */

const HIGH = 3000; // millicores: every pod at its 1000m limit until there are 10
const LOW = 100;
const RISE: Micros = 61 * SECOND;
const DROP: Micros = 301 * SECOND;

interface Run {
  sim: Simulation;
  deployment: LoadDrivenDeployment;
  metrics: MetricsServer;
  hpa: HorizontalPodAutoscaler;
  scales(): { t: number; from: number; to: number }[];
}

function setUp(spec: HpaSpec): Run {
  const sim = new Simulation({ seed: 1, trace: { keepEvents: true } });
  const deployment = new LoadDrivenDeployment(sim, { replicas: spec.minReplicas });
  const metrics = new MetricsServer(deployment);
  const hpa = new HorizontalPodAutoscaler(deployment, metrics, { spec });
  metrics.start(sim);
  hpa.start(sim);
  sim.at(RISE, () => deployment.setDemand(HIGH));
  sim.at(DROP, () => deployment.setDemand(LOW));
  return {
    sim, deployment, metrics, hpa,
    scales: () => sim.trace.events.flatMap((e) => {
      const d = hpaEvents.details(e, 'hpa.scale');
      return d === undefined ? [] : [{ t: e.t / SECOND, from: d.from, to: d.to }];
    }),
  };
}

describe('HorizontalPodAutoscaler on the simulation', () => {
  test('seed 004\'s HPA: 3 → 10 under load; after the drop, 10 → 5 → 3 at 50% per 60 s, no sooner than the 300 s window', () => {
    const run = setUp(JEWELRY_SHOP_HPA.spec);
    expect(run.sim.run({ until: 15 * MINUTE }).status).toBe('until-reached');
    const scales = run.scales();
    // Up: 100% per 15 s or 2 pods, the larger: 3 → 6, then 6 → 12 capped at 10, one sync later.
    expect(scales.slice(0, 2)).toEqual([{ t: 82.5, from: 3, to: 6 }, { t: 97.5, from: 6, to: 10 }]);
    const down = scales.slice(2);
    expect(down.map(({ from, to }) => [from, to])).toEqual([[10, 5], [5, 3]]);
    // The last high recommendation (7.5 s after the drop, from the scrape before it) leaves the
    // 300 s window at 607.5 s; the next step waits for the first one's 60 s period to pass.
    expect(down[0]!.t * SECOND - DROP).toBeGreaterThanOrEqual(300 * SECOND);
    expect(down[0]!.t).toBe(607.5);
    expect(down[1]!.t - down[0]!.t).toBe(60);
    expect(run.deployment.replicas()).toBe(3);
  });

  test('the StreamSpace chart\'s HPA (no behavior): 2 → 4 → 8 → 10, then back to 2 in one step after the window', () => {
    const run = setUp(STREAMSPACE_CHART_HPA.spec);
    run.sim.run({ until: 15 * MINUTE });
    const scales = run.scales();
    expect(scales.map(({ from, to }) => [from, to])).toEqual([[2, 4], [4, 8], [8, 10], [10, 2]]);
    // The older path keeps a recommendation exactly 300 s old (`!Before(cutoff)`): one sync later
    // than with a behavior.
    expect(scales[3]!.t).toBe(622.5);
  });

  test('stale metrics: the HPA keeps acting on the frozen rates; with the metrics-server down it stops scaling', () => {
    const run = setUp(JEWELRY_SHOP_HPA.spec);
    run.sim.at(4 * MINUTE, () => { run.metrics.stale = true; });
    run.sim.run({ until: 12 * MINUTE });
    // Frozen at full load: no scale-down after the drop, however long.
    expect(run.scales().map((s) => s.to)).toEqual([6, 10]);
    expect(run.hpa.status).toMatchObject({ scalingActive: { active: true }, desiredReplicas: 10 });
    run.sim.at(12 * MINUTE, () => run.metrics.setDown(true));
    run.sim.run({ until: 30 * MINUTE });
    expect(run.scales().map((s) => s.to)).toEqual([6, 10]);
    expect(run.hpa.status).toMatchObject({ rescale: false, scalingActive: { active: false, reason: 'FailedGetResourceMetric' } });
    // The condition's changes: no metric yet at the first sync (one scrape of pods started at 0),
    // valid from the next, lost at the first sync with the metrics-server down.
    const changes = run.sim.trace.events.flatMap((e) => {
      const d = hpaEvents.details(e, 'hpa.scaling-active');
      return d === undefined ? [] : [[e.t / SECOND, d.active, d.reason]];
    });
    expect(changes).toEqual([[7.5, false, 'FailedGetResourceMetric'], [37.5, true, 'ValidMetricFound'], [727.5, false, 'FailedGetResourceMetric']]);
  });

  test('the trace stays small: one hpa.sync per change of outcome, not one per sync', () => {
    const run = setUp(JEWELRY_SHOP_HPA.spec);
    run.sim.run({ until: 30 * MINUTE });
    const syncs = run.sim.trace.events.filter((e) => e.k === 'hpa.sync');
    expect(syncs.length).toBeLessThan(30);
    for (const e of syncs) for (const v of Object.values(e.d!)) expect(Number.isInteger(v)).toBe(true);
  });
});
