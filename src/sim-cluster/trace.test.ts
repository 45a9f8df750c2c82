import { describe, expect, test } from 'vitest';
import { TraceRecorder, type TraceEvent } from './trace.ts';

describe('a trace recorder without the hash', () => {
  test('listeners get the same events; asking for the hash throws', () => {
    const seen: Array<TraceEvent[]> = [[], []];
    const recorders = [new TraceRecorder(), new TraceRecorder({ hash: false })];
    recorders.forEach((r, i) => r.subscribe((e) => seen[i]!.push(e)));
    for (const r of recorders) {
      r.record(1, 'p', 'a.k', { n: 1, s: 'x' });
      r.record(2, 'sim', 'b.k');
    }
    expect(seen[1]).toEqual(seen[0]);
    expect(recorders[1]!.count).toBe(2);
    expect(recorders[0]!.hash()).toMatch(/^[0-9a-f]{64}$/);
    expect(() => recorders[1]!.hash()).toThrow(/not hashed/);
  });
});
