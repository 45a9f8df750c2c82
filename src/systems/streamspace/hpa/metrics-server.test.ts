import { describe, expect, test } from 'vitest';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { MetricsServer } from './metrics-server.ts';
import type { ResourceMetrics, ScaledPod } from './types.ts';

/** A pod burning `milli` millicores steadily since its start. */
function steadyPod(name: string, startedAt: Micros, milli: number): ScaledPod {
  const pod: ScaledPod = {
    name, startedAt, ready: true, readyChangedAt: startedAt, deleting: false,
    cpu: { cpuUsageUs: (now) => Math.floor(((now - pod.startedAt!) * milli) / 1000) },
  };
  return pod;
}

function metricsOf(r: ResourceMetrics) {
  if (!r.ok) throw new Error(r.error);
  return Object.fromEntries(r.pods);
}

describe('metrics-server (kubernetes-sigs/metrics-server pkg/storage)', () => {
  test('a pod\'s CPU is the rate between its last two scrapes, stamped with the later one', () => {
    const pods = [steadyPod('a', 0, 300)];
    const ms = new MetricsServer({ pods: () => pods });
    ms.scrape(100 * SECOND);
    // One point is not a rate: nothing to serve, which the HPA gets as an error.
    expect(ms.resourceMetrics()).toEqual({ ok: false, error: 'no metrics returned from resource metrics API' });
    ms.scrape(115 * SECOND);
    expect(metricsOf(ms.resourceMetrics())).toEqual({ a: { milli: 300, timestamp: 115 * SECOND, windowUs: 15 * SECOND } });
  });

  test('millicores are rounded up (Quantity.MilliValue of truncated nanocores)', () => {
    let used = 0;
    const pod: ScaledPod = { name: 'a', startedAt: 0, ready: true, readyChangedAt: 0, deleting: false, cpu: { cpuUsageUs: () => used } };
    const ms = new MetricsServer({ pods: () => [pod] });
    ms.scrape(100 * SECOND);
    used = 3_000_001; // 200.0000667m over 15 s
    ms.scrape(115 * SECOND);
    expect(metricsOf(ms.resourceMetrics())['a']!.milli).toBe(201);
  });

  test('a container started 10 s to one resolution before a scrape has a metric from that scrape', () => {
    // pod.go Store: a fresh container gets a synthetic previous point (its start, 0 CPU).
    const pods = [steadyPod('fresh', 103 * SECOND, 150), steadyPod('young', 110 * SECOND, 150)];
    const ms = new MetricsServer({ pods: () => pods });
    ms.scrape(115 * SECOND);
    expect(metricsOf(ms.resourceMetrics())).toEqual({ fresh: { milli: 150, timestamp: 115 * SECOND, windowUs: 12 * SECOND } });
    // 5 s old at the first scrape: it needs a second one.
    ms.scrape(130 * SECOND);
    expect(Object.keys(metricsOf(ms.resourceMetrics()))).toEqual(['fresh', 'young']);
  });

  test('a pod whose kubelet does not answer is dropped, and needs two scrapes when it is back', () => {
    const pods = [steadyPod('a', 0, 100), steadyPod('b', 0, 100)];
    let reachable = true;
    const ms = new MetricsServer({ pods: () => pods }, { scrapeable: (p) => p.name === 'a' || reachable });
    ms.scrape(100 * SECOND);
    ms.scrape(115 * SECOND);
    expect(Object.keys(metricsOf(ms.resourceMetrics()))).toEqual(['a', 'b']);
    reachable = false;
    ms.scrape(130 * SECOND);
    expect(Object.keys(metricsOf(ms.resourceMetrics()))).toEqual(['a']);
    reachable = true;
    ms.scrape(145 * SECOND);
    expect(Object.keys(metricsOf(ms.resourceMetrics()))).toEqual(['a']);
    ms.scrape(160 * SECOND);
    expect(Object.keys(metricsOf(ms.resourceMetrics()))).toEqual(['a', 'b']);
  });

  test('a restarted container is not paired with its previous incarnation\'s point', () => {
    const pod = steadyPod('a', 0, 100);
    const ms = new MetricsServer({ pods: () => [pod] });
    ms.scrape(100 * SECOND);
    ms.scrape(115 * SECOND);
    pod.startedAt = 120 * SECOND; // counter restarts from 0
    ms.scrape(130 * SECOND); // 10 s old: fresh container rule
    expect(metricsOf(ms.resourceMetrics())['a']).toEqual({ milli: 100, timestamp: 130 * SECOND, windowUs: 10 * SECOND });
    pod.startedAt = 137 * SECOND;
    ms.scrape(145 * SECOND); // 8 s old: no pair
    expect(ms.resourceMetrics().ok).toBe(false);
  });

  test('stale: the API keeps serving the frozen points; the thaw pairs with them over the whole freeze', () => {
    let milli = 400;
    let used = 0;
    let at = 100 * SECOND;
    const pod: ScaledPod = {
      name: 'a', startedAt: 0, ready: true, readyChangedAt: 0, deleting: false,
      cpu: { cpuUsageUs: (now) => { used += ((now - at) * milli) / 1000; at = now; return used; } },
    };
    const pods = [pod];
    const ms = new MetricsServer({ pods: () => pods });
    ms.scrape(100 * SECOND);
    ms.scrape(115 * SECOND);
    const before = metricsOf(ms.resourceMetrics());
    ms.stale = true;
    pod.cpu.cpuUsageUs(116 * SECOND);
    milli = 0; // the load goes away: the frozen metric does not show it
    pods.push(steadyPod('new', 120 * SECOND, 50));
    for (let t = 130; t <= 400; t += 15) ms.scrape(t * SECOND);
    expect(metricsOf(ms.resourceMetrics())).toEqual(before);
    ms.stale = false;
    ms.scrape(415 * SECOND);
    // 1 s at 400m then nothing for 299 s: 400m × 1 s / 300 s, rounded up.
    expect(metricsOf(ms.resourceMetrics())['a']).toEqual({ milli: 2, timestamp: 415 * SECOND, windowUs: 300 * SECOND });
  });

  test('down: the API does not answer and the storage is lost', () => {
    const pods = [steadyPod('a', 0, 100)];
    const ms = new MetricsServer({ pods: () => pods });
    ms.scrape(100 * SECOND);
    ms.scrape(115 * SECOND);
    ms.setDown(true);
    ms.scrape(130 * SECOND);
    expect(ms.resourceMetrics()).toMatchObject({ ok: false, error: expect.stringContaining('unable to fetch metrics from resource metrics API') });
    ms.setDown(false);
    ms.scrape(145 * SECOND);
    expect(ms.resourceMetrics()).toEqual({ ok: false, error: 'no metrics returned from resource metrics API' });
    ms.scrape(160 * SECOND);
    expect(ms.resourceMetrics().ok).toBe(true);
  });
});
