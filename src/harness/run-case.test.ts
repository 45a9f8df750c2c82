import { describe, expect, test } from 'vitest';
import { streamspace } from '../systems/index.ts';
import { runCase } from './run-case.ts';
import { caseForSeed } from './seeded-case.ts';

describe('a run without the trace hash', () => {
  test('the same run and verdict, with an empty hash', () => {
    // Seed 12 of the seed-000 deployment as built: three faults, no-split-brain.
    const c = caseForSeed(streamspace, { profile: 'streamspace-v2', deployment: 'seed-000' }, 12);
    const hashed = runCase(streamspace, c);
    const bare = runCase(streamspace, c, { hash: false });
    expect(hashed.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(bare).toEqual({ ...hashed, hash: '' });
  });
});
