import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../sim-cluster/index.ts';
import { zoomTicks } from './figure.ts';
import { messageArrows } from './messages.ts';

describe('message arrows', () => {
  const events: TraceEvent[] = [
    { t: 0, p: 'api-0', k: 'conn.dial', d: { c: 'c1', to: 'redis' } },
    { t: 2_500, p: 'redis', k: 'net.recv', d: { c: 'c1', n: 0, sent: 1_000 } },
    { t: 4_000, p: 'api-0', k: 'net.recv', d: { c: 'c1', n: 0, sent: 3_000 } },
    { t: 5_000, p: 'agent-0', k: 'net.datagram', d: { from: 'api-1', sent: 4_200 } },
    { t: 6_000, p: 'api-1', k: 'net.drop', d: { to: 'agent-0', why: 'loss' } },
  ];

  test('go from the send instant to the delivery, so their slope is the latency', () => {
    const { arrows, total, dropped } = messageArrows(events, 100, 0);
    expect(total).toBe(4);
    expect(dropped).toBe(1);
    expect(arrows.map((a) => [a.from, a.to, a.sent, a.t, a.dropped])).toEqual([
      ['api-0', 'redis', 1_000, 2_500, null],
      ['redis', 'api-0', 3_000, 4_000, null],
      ['api-1', 'agent-0', 4_200, 5_000, null],
      ['api-1', 'agent-0', 6_000, 6_000, 'loss'],
    ]);
    expect(arrows[0]!.detail).toBe('api-0 → redis: segment 0 on c1, sent 0.001s, received 0.002s, latency 1.500 ms');
    expect(arrows[3]!.detail).toBe('api-1 → agent-0: datagram DROPPED at 0.006s (loss)');
  });

  test('a delivery without its send instant (an older trace) stands at the delivery', () => {
    const { arrows } = messageArrows([{ t: 9_000, p: 'b', k: 'net.datagram', d: { from: 'a' } }], 10, 0);
    expect(arrows[0]).toMatchObject({ sent: 9_000, t: 9_000 });
  });
});

describe('the time axis of the timeline', () => {
  test('has round ticks at every zoom level, about as far apart, none too close to the end for its label', () => {
    const scales = [1, 8, 64];
    const ticks = zoomTicks(300 * SECOND, scales);
    scales.forEach((k, level) => {
      const shown = ticks[level]!;
      const step = shown[1]! - shown[0]!;
      // 1-2-5 steps: 100 s at 1 px/s, 10 s at 8, 1 s at 64.
      expect(step).toBe([100, 10, 1][level]);
      expect(shown[0]).toBe(0);
      expect((300 - shown.at(-1)!) * k).toBeGreaterThanOrEqual(40);
    });
  });
});
