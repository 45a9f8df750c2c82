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

describe('workUntil: work the run drives past the heal', () => {
  test('the run lasts as long after it as after a heal; the heal and the bound stay', () => {
    const c = caseForSeed(streamspace, { profile: 'hardened', deployment: 'seed-000' }, 3);
    const plain = runCase(streamspace, c);
    const tailAfterHeal = plain.endAt - plain.healAt;
    const workUntil = plain.healAt + 40_000_000;
    const longer = runCase(streamspace, c, { workUntil });
    expect(longer.healAt).toBe(plain.healAt);
    expect(longer.boundUs).toBe(plain.boundUs);
    expect(longer.endAt).toBe(workUntil + tailAfterHeal);
    // Work that stops before the heal changes nothing.
    expect(runCase(streamspace, c, { workUntil: plain.healAt - 1 })).toEqual(plain);
  });
});
