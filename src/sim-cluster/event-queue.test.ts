import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { EventQueue } from './event-queue.ts';

describe('EventQueue', () => {
  test('pops by time, and FIFO among equal times', () => {
    const q = new EventQueue<null>();
    const order: string[] = [];
    for (const [t, name] of [[5, 'a'], [1, 'b'], [5, 'c'], [3, 'd'], [1, 'e'], [5, 'f']] as const) {
      q.push(t, () => order.push(name), null, name);
    }
    while (q.size > 0) q.pop()!.run();
    expect(order).toEqual(['b', 'e', 'd', 'a', 'c', 'f']);
  });

  test('cancel removes an entry and reports whether it was queued', () => {
    const q = new EventQueue<null>();
    const a = q.push(1, () => {}, null, 'a');
    const b = q.push(2, () => {}, null, 'b');
    expect(q.cancel(a)).toBe(true);
    expect(q.cancel(a)).toBe(false);
    expect(q.isQueued(b)).toBe(true);
    expect(q.pop()).toBe(b);
    expect(q.cancel(b)).toBe(false);
    expect(q.size).toBe(0);
  });

  // Against a reference: a sorted array. Random pushes, pops and cancels in any interleaving.
  propTest.prop([
    fc.array(fc.oneof(
      fc.record({ op: fc.constant('push' as const), time: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ op: fc.constant('pop' as const) }),
      fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
    ), { maxLength: 300 }),
  ], { numRuns: 200 })('matches a sorted-array reference under push/pop/cancel', (ops) => {
    const q = new EventQueue<null>();
    const live: Array<{ time: number; seq: number; entry: ReturnType<typeof q.push> }> = [];
    for (const op of ops) {
      if (op.op === 'push') {
        const entry = q.push(op.time, () => {}, null, '');
        live.push({ time: op.time, seq: entry.seq, entry });
      } else if (op.op === 'pop') {
        live.sort((x, y) => x.time - y.time || x.seq - y.seq);
        const expected = live.shift();
        expect(q.pop()).toBe(expected?.entry);
      } else if (live.length > 0) {
        const [victim] = live.splice(op.pick % live.length, 1);
        expect(q.cancel(victim!.entry)).toBe(true);
      }
      expect(q.size).toBe(live.length);
    }
  });
});
