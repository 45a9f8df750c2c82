import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../sim-cluster/index.ts';
import { streamspace } from '../../systems/index.ts';
import { explainerOf, runTimeline } from './timeline.ts';

const ev = (s: number, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t: s * SECOND, p, k, d });

describe('a system without an Explainer', () => {
  const plain = { ...streamspace, explain: undefined };
  const events = [
    ev(1, 'api-0', 'proc.start'),
    ev(2, 'faults', 'fault.pause', { process: 'api-0', durationUs: 5 * SECOND }),
    ev(2, 'api-0', 'proc.pause'),
    ev(3, 'api-0', 'hub.register', { agent: 'a', conn: 'c1' }),
    ev(4, 'faults', 'fault.isolate', { node: null, durationUs: SECOND }),
    ev(7, 'api-0', 'proc.resume'),
  ];

  test('gets the generic story: faults with what they hit, and process lifecycle; no lanes', () => {
    expect(runTimeline(plain, events, { violation: null }).map((e) => e.what)).toEqual([
      'api-0: proc.start',
      'fault.pause api-0',
      'api-0: proc.pause',
      'fault.isolate (no live target)',
      'api-0: proc.resume',
    ]);
    expect(explainerOf(plain).lanes(events, 10 * SECOND)).toEqual([]);
  });

  test('the violation is told at its instant, after the events of that instant', () => {
    const violation = { invariant: 'x', time: 2 * SECOND, message: 'broken', evidence: [] };
    expect(runTimeline(plain, events, { violation }).map((e) => e.what).slice(1, 4)).toEqual(['fault.pause api-0', 'api-0: proc.pause', 'VIOLATION x: broken']);
  });

  test('StreamSpace tells its own events (the hub registration) and draws its lanes', () => {
    expect(runTimeline(streamspace, events, { violation: null }).some((e) => /registered/.test(e.what))).toBe(true);
    expect(explainerOf(streamspace).lanes(events, 10 * SECOND).length).toBeGreaterThan(0);
  });
});
