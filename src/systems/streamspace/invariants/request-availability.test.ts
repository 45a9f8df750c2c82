import { describe, expect, test } from 'vitest';
import { MINUTE, MS, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { caseOf, execute } from '../../../harness/run-case.ts';
import { NAMED_DEPLOYMENTS, STREAMSPACE_DEPLOYMENTS } from '../deployments.ts';
import { RequestLog } from '../load/request-log.ts';
import { streamspace } from '../system.ts';
import {
  faultRecoveries, latencyPercentiles, outageBudget, recoveryTime, requestAvailability, requestFigures, windowedAvailability, type Span,
} from './request-availability.ts';

const RUN: Span = { fromUs: 0, toUs: 30 * MINUTE };

/**
 * A steady load of 100 requests a second (one every 10 ms, 5 ms each) over `span`; requests sent
 * while `down(t)` holds fail with `status` (503 by default, 0: no answer).
 */
function steadyLog(span: Span, down: (t: Micros) => boolean = () => false, status = 503): RequestLog {
  const log = new RequestLog();
  for (let t = span.fromUs; t < span.toUs; t += 10 * MS) log.add(t, 5 * MS, down(t) ? status : 200, 'list');
  return log;
}

const outage = (from: Micros, to: Micros) => (t: Micros) => t >= from && t < to;

describe('request availability: successes over requests sent in a span', () => {
  test('a 20 s outage in a 30-minute run: 98.9% available', () => {
    const log = steadyLog(RUN, outage(600 * SECOND, 620 * SECOND));
    const a = requestAvailability(log, RUN);
    expect(a.requests).toBe(180_000);
    expect(a.successes).toBe(180_000 - 2_000);
    expect(a.availability).toBeCloseTo(1 - 20 / 1800, 10);
    expect((100 * a.availability!).toFixed(1)).toBe('98.9');
  });

  test('counted by the instant a request was sent, in [from, to); no request: null', () => {
    const log = steadyLog(RUN, outage(600 * SECOND, 620 * SECOND));
    expect(requestAvailability(log, { fromUs: 600 * SECOND, toUs: 620 * SECOND }).availability).toBe(0);
    expect(requestAvailability(log, { fromUs: 620 * SECOND, toUs: 700 * SECOND }).availability).toBe(1);
    expect(requestAvailability(new RequestLog(), RUN)).toEqual({ requests: 0, successes: 0, availability: null });
  });

  test('the revocation probe\'s 401 is its right answer, not an outage: left out unless asked for', () => {
    const log = steadyLog({ fromUs: 0, toUs: 10 * SECOND });
    for (let t = 0; t < 10 * SECOND; t += SECOND) log.add(t, 5 * MS, 401, 'revoked-probe');
    expect(requestAvailability(log, RUN).availability).toBe(1);
    expect(requestAvailability(log, RUN, { ops: ['revoked-probe'] }).availability).toBe(0);
  });
});

describe('RTO: until the 10 s windowed availability stays at 99.9%', () => {
  test('a 20 s outage recovers a window after it ends: RTO ≈ 20 s + 10 s (less one 100 ms step)', () => {
    const log = steadyLog(RUN, outage(600 * SECOND, 620 * SECOND));
    // The window [619.9 s, 629.9 s) still holds the failures sent in the outage's last 100 ms.
    expect(recoveryTime(log, 600 * SECOND, RUN)).toBe(29_900 * MS);
    // The window's width and the target are options.
    expect(recoveryTime(log, 600 * SECOND, RUN, { windowUs: 5 * SECOND })).toBe(24_900 * MS);
  });

  test('a fault with no effect: 0; still down at the end of the span: never (null)', () => {
    expect(recoveryTime(steadyLog(RUN), 600 * SECOND, RUN)).toBe(0);
    expect(recoveryTime(steadyLog(RUN, outage(1790 * SECOND, RUN.toUs)), 1790 * SECOND, RUN)).toBeNull();
  });

  test('a failure rate within the target does not count as an outage', () => {
    // One request in 1,000 fails throughout: exactly 99.9%, the target.
    const log = new RequestLog();
    for (let i = 0; i < 180_000; i++) log.add(i * 10 * MS, 5 * MS, i % 1000 === 999 ? 503 : 200, 'list');
    expect(recoveryTime(log, 600 * SECOND, RUN)).toBe(0);
    // Three in 1,000: below it in every window.
    const worse = new RequestLog();
    for (let i = 0; i < 180_000; i++) worse.add(i * 10 * MS, 5 * MS, i % 1000 < 3 ? 503 : 200, 'list');
    expect(recoveryTime(worse, 600 * SECOND, RUN)).toBeNull();
  });

  test('a window in which no request was sent is below the target: every user waited on an unanswered request', () => {
    const log = new RequestLog();
    for (let t = 0; t < 120 * SECOND; t += 10 * MS) if (t < 50 * SECOND || t >= 65 * SECOND) log.add(t, 5 * MS, 200, 'list');
    const span = { fromUs: 0, toUs: 120 * SECOND };
    // Silent from 50 s to 65 s: the windows ending from 60 s to 65 s hold no request.
    expect(recoveryTime(log, 50 * SECOND, span)).toBe(15 * SECOND);
    const series = windowedAvailability(log, span);
    expect(series.lowest()).toEqual({ endUs: 60 * SECOND, availability: 0 });
  });
});

describe('the RTO of each fault, and the outage budget', () => {
  test('each fault judged up to the next; one not recovered from before the next forms an episode with it', () => {
    const down = (t: Micros) => outage(100 * SECOND, 105 * SECOND)(t) || outage(200 * SECOND, 210 * SECOND)(t);
    const span = { fromUs: 0, toUs: 400 * SECOND };
    const log = steadyLog(span, down);
    expect(faultRecoveries(log, [100 * SECOND, 200 * SECOND, 205 * SECOND], span)).toEqual([
      { atUs: 100 * SECOND, faults: 1, rtoUs: 14_900 * MS },
      { atUs: 200 * SECOND, faults: 2, rtoUs: 19_900 * MS },
    ]);
  });

  test('99.9% of 30 minutes is 1.8 s of outage: one 20 s outage, or five faults allowed 30 s each, contradict it', () => {
    const log = steadyLog(RUN, outage(600 * SECOND, 620 * SECOND));
    const rto = recoveryTime(log, 600 * SECOND, RUN);
    expect(outageBudget([rto], 30 * MINUTE, 0.999)).toEqual({ budgetUs: 1_800 * MS, spentUs: 29_900 * MS, exceeded: true });
    expect(outageBudget(Array(5).fill(30 * SECOND), 30 * MINUTE)).toEqual({ budgetUs: 1_800 * MS, spentUs: 150 * SECOND, exceeded: true });
    expect(outageBudget([1 * SECOND, 500 * MS], 30 * MINUTE).exceeded).toBe(false);
    expect(outageBudget([1 * SECOND, null], 30 * MINUTE)).toEqual({ budgetUs: 1_800 * MS, spentUs: null, exceeded: true });
  });
});

describe('latency percentiles', () => {
  test('nearest rank over the requests sent in the span, whatever their outcome', () => {
    const log = new RequestLog();
    for (let i = 1; i <= 100; i++) log.add(i * SECOND, i * MS, i === 100 ? 0 : 200, 'list');
    expect(latencyPercentiles(log, RUN)).toEqual({ requests: 100, p50: 50 * MS, p95: 95 * MS, p99: 99 * MS });
    expect(latencyPercentiles(log, { fromUs: 0, toUs: 11 * SECOND })).toMatchObject({ requests: 10, p50: 5 * MS, p95: 10 * MS });
    expect(latencyPercentiles(new RequestLog(), RUN)).toEqual({ requests: 0, p50: null, p95: null, p99: null });
  });
});

describe('the run\'s request figures', () => {
  const byId = (figures: ReturnType<typeof requestFigures>) => Object.fromEntries(figures.map((f) => [f.id, f]));

  test('without faults: availability and latency only', () => {
    const f = byId(requestFigures(steadyLog(RUN), RUN, []));
    expect(Object.keys(f)).toEqual(['request-availability', 'request-p50-latency', 'request-p95-latency', 'request-p99-latency']);
    expect(f['request-availability']).toMatchObject({ unit: 'fraction', value: 1 });
    expect(f['request-p95-latency']).toMatchObject({ unit: 'us', value: 5 * MS });
  });

  test('with a fault: its RTO, the budget and the flag', () => {
    const f = byId(requestFigures(steadyLog(RUN, outage(600 * SECOND, 620 * SECOND)), RUN, [600 * SECOND]));
    expect(f['request-rto']).toMatchObject({ unit: 'us', value: 29_900 * MS });
    expect(f['request-rto']!.text).toMatch(/fault at 600\.000s: 29\.900s/);
    expect(f['request-rto-sum']!.value).toBe(29_900 * MS);
    expect(f['request-outage-budget']!.value).toBe(1_800 * MS);
    expect(f['request-budget-exceeded']).toMatchObject({ unit: 'count', value: 1 });
    expect(f['request-budget-exceeded']!.text).toMatch(/more than the target allows/);
  });
});

describe('end to end: a small load on seed 004\'s deployment', () => {
  test('50 users for 3 minutes without a fault: every request answered, the figures sane, no session lost', () => {
    const jewelry = NAMED_DEPLOYMENTS.find((d) => d.name === 'r004-jewelry-shop')!;
    const overrides = STREAMSPACE_DEPLOYMENTS.overlay(jewelry.overrides, { load: { users: 50, spawnRatePerSecond: 10, runUs: 3 * MINUTE } });
    // The two fixes that keep sessions: the as-built cache invalidation and pod starts log users out.
    // The as-built agent loses some of the users' commands (`no-lost-commands`): not what this test is about.
    const invariants = ['no-lost-session', 'revocation', 'hpa-converges'];
    const c = caseOf(streamspace, 'streamspace-v2', 4, [], { overrides, fixes: ['keep-sessions-on-start', 'namespaced-cache-keys'], invariants });
    const { verdict, instance, view } = execute(streamspace, c, { measure: true, collect: 'all' });
    expect(verdict.modelFailure).toBeNull();
    expect(verdict.violations).toEqual([]);
    const f = Object.fromEntries(verdict.figures.map((x) => [x.id, x]));
    // Routing availability's figures come first, unchanged; the request figures follow, without RTOs (no fault).
    expect(verdict.figures.map((x) => x.id)).toEqual([
      'routing-availability', 'routing-downtime', 'request-availability', 'request-p50-latency', 'request-p95-latency', 'request-p99-latency',
    ]);
    expect(f['request-availability']!.value).toBe(1);
    // A request costs 2 ms of CPU and a login 60 ms (config apiCpu): nothing queues at this load.
    expect(f['request-p50-latency']!.value).toBeGreaterThan(0);
    expect(f['request-p95-latency']!.value).toBeLessThan(200 * MS);
    // Closed users thinking 1-3 s: about 50 / 2 s = 25 requests a second over the 3 minutes.
    const span = { fromUs: view.loadChanges[0]!.t, toUs: view.loadChanges.at(-1)!.t };
    expect(span.toUs - span.fromUs).toBe(3 * MINUTE);
    const requests = requestAvailability(instance.loadRecord!.log, span).requests;
    expect(requests).toBeGreaterThan(20 * 180);
    expect(requests).toBeLessThan(30 * 180);
    expect(view.logins.size).toBe(50);
  });
});
