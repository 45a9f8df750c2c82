import { describe, expect, test } from 'vitest';
import { streamspace } from '../systems/index.ts';
import { caseForSeed } from './seeded-case.ts';

describe('case spaces', () => {
  test('no fault kinds, or at most 0 faults, give fault-free cases', () => {
    for (let seed = 0; seed < 20; seed++) {
      expect(caseForSeed(streamspace, { profile: 'hardened', kinds: [] }, seed).schedule).toEqual([]);
      expect(caseForSeed(streamspace, { profile: 'hardened', maxFaults: 0 }, seed).schedule).toEqual([]);
      expect(caseForSeed(streamspace, { profile: 'hardened', swarm: false, maxFaults: 0 }, seed).schedule).toEqual([]);
    }
  });
});
