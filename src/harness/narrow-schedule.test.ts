import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { hakgal, streamspace } from '../systems/index.ts';
import { narrowScheduleValue } from './narrow-schedule.ts';
import { scheduleArbitraryFor, scheduleValueForSeed, type CaseSpace } from './seeded-case.ts';

const spaces: Array<[string, typeof streamspace | typeof hakgal, CaseSpace]> = [
  ['swarm', streamspace, { profile: 'streamspace-v2', deployment: 'seed-000' }],
  ['no swarm, 16 faults', streamspace, { profile: 'streamspace-v2', swarm: false, maxFaults: 16 }],
  ['another system', hakgal, { profile: 'as-built' }],
];

describe('a schedule value cut down to some of its faults', () => {
  // This pins what narrowScheduleValue relies on (fast-check's contexts, the schedule's gap
  // encoding): without a context it recognises, fast-check's shrinker gives nothing at all.
  test.each(spaces)('%s: the faults kept at their times, and fast-check shrinks only them', (_name, system, space) => {
    const arbitrary = scheduleArbitraryFor(system as typeof streamspace, space);
    let tried = 0;
    for (let seed = 0; seed < 40; seed++) {
      const drawn = scheduleValueForSeed(arbitrary, seed);
      const faults = drawn.value;
      if (faults.length < 2) continue;
      tried++;
      const keep = faults.map((_, i) => i).filter((i) => i % 2 === 1 || i === faults.length - 1);
      const narrowed = narrowScheduleValue(drawn, keep);
      expect(narrowed).not.toBeNull();
      expect(narrowed!.value).toEqual(keep.map((i) => faults[i]));
      const candidates = [...arbitrary.shrink(narrowed!.value, narrowed!.context).take(300)].map((c) => c.value);
      expect(candidates.length).toBeGreaterThan(0);
      // Smaller versions of the faults kept (fewer, earlier, shorter, other parameters), never a
      // schedule drawn anew with more faults.
      for (const c of candidates) expect(c.length).toBeLessThanOrEqual(keep.length);
      // Some keep every fault and change one's time or parameters.
      expect(candidates.some((c) => c.length === keep.length && JSON.stringify(c) !== JSON.stringify(narrowed!.value))).toBe(true);
    }
    expect(tried).toBeGreaterThan(10);
  });

  test('a value whose context it does not recognise gives null', () => {
    const faults = scheduleValueForSeed(scheduleArbitraryFor(streamspace, spaces[0]![2]), 10).value;
    expect(narrowScheduleValue(new fc.Value(faults, undefined), [0])).toBeNull();
    expect(narrowScheduleValue(new fc.Value(faults, { originalValue: [], originalContext: { itemsContexts: [] } }), [0])).toBeNull();
  });
});
