import { describe, expect, test } from 'vitest';
import { caseForSeed, caseOf, runCase, runScenario, SECOND, type CaseSpace, type FaultRecord } from '../../index.ts';
import { testSeeds } from '../../vitest.ts';
import { NAMED_DEPLOYMENTS } from './deployments.ts';
import { hakgal } from './system.ts';

const SHARED_CRYPTO = NAMED_DEPLOYMENTS.find((d) => d.name === 'shared-crypto')!.overrides;

/** Known seeds of the default campaign (`hasim fuzz --system hakgal --profile as-built`) and what they violate as built. */
const FOUND: Array<{ space: Omit<CaseSpace, 'profile'>; seed: number; invariant: string }> = [
  { space: { deployment: 'swarm' }, seed: 1, invariant: 'no-lost-session' },
  { space: { deployment: 'swarm' }, seed: 4, invariant: 'tenant-isolation' },
  { space: { deployment: 'swarm' }, seed: 3, invariant: 'no-lost-update' },
  { space: { deployment: 'busy-session', invariants: ['rate-limit-safety'] }, seed: 0, invariant: 'rate-limit-safety' },
];

describe('as built, each invariant fails on a known seed; hardened passes the same case', () => {
  test.each(FOUND)('$invariant (seed $seed)', ({ space, seed, invariant }) => {
    const asBuilt = caseForSeed(hakgal, { ...space, profile: 'as-built' }, seed);
    expect(runCase(hakgal, asBuilt).outcome).toBe(invariant);
    const hardened = caseForSeed(hakgal, { ...space, profile: 'hardened' }, seed);
    expect(hardened.schedule).toEqual(asBuilt.schedule);
    expect(runCase(hakgal, hardened).outcome).toBe('pass');
  });

  test('ttl-semantics: a user back after 25 minutes with a 10-minute TTL (scenario r001-idle-past-ttl)', () => {
    const spec = hakgal.scenarios!.find((s) => s.name === 'r001-idle-past-ttl')!;
    expect(runScenario(hakgal, spec, { seed: 0, profile: 'as-built' }).outcome).toBe('ttl-semantics');
    expect(runScenario(hakgal, spec, { seed: 0, profile: 'hardened' }).outcome).toBe('pass');
  });
});

describe('the system\'s own faults', () => {
  const outcome = (profile: string, schedule: FaultRecord[], fixes: string[] = [], invariants = ['no-lost-session']) =>
    runCase(hakgal, caseOf(hakgal, profile, 5, schedule, { overrides: SHARED_CRYPTO, fixes, invariants })).outcome;

  test('date-rollover: pod 0 crosses its midnight and every id it computes changes; utc-salt-with-overlap keeps them', () => {
    const rollover: FaultRecord[] = [{ kind: 'date-rollover', at: 10 * SECOND, target: { role: 'pod', index: 0 }, overshootUs: 0 }];
    expect(outcome('as-built', rollover)).toBe('no-lost-session');
    expect(outcome('as-built', rollover, ['utc-salt-with-overlap'])).toBe('pass');
  });

  // Both pods restart, so that their caches are empty and every user's next request reads Redis.
  const restartBoth: FaultRecord[] = [
    { kind: 'crash', at: 10 * SECOND, target: { role: 'pod', index: 0 } },
    { kind: 'crash', at: 10 * SECOND, target: { role: 'pod', index: 1 } },
  ];

  test('redis-read-timeout: a restarted pod reads "absent" and writes an empty session over the live one; fail-closed refuses instead', () => {
    const schedule: FaultRecord[] = [{ kind: 'redis-read-timeout', at: 10 * SECOND, delayUs: 6 * SECOND, durationUs: 20 * SECOND }, ...restartBoth];
    expect(outcome('as-built', schedule)).toBe('no-lost-session');
    expect(outcome('as-built', schedule, ['fail-closed-on-read-error'])).toBe('pass');
  });

  test('redis-memory-pressure: allkeys-lru evicts live sessions, which a restarted pod cannot find', () => {
    // As built every write puts the whole cached blob back, so the pods restart at once, before any write.
    const schedule: FaultRecord[] = [{ kind: 'redis-memory-pressure', at: 10 * SECOND, evictKeys: 5, durationUs: 1 * SECOND }, ...restartBoth];
    expect(outcome('as-built', schedule)).toBe('no-lost-session');
    expect(outcome('hardened', schedule, [], [])).toBe('pass');
  });
});

describe('runs', () => {
  test('a seed replays bit for bit', () => {
    const c = caseForSeed(hakgal, { profile: 'hardened', deployment: 'swarm' }, 11);
    expect(runCase(hakgal, c).hash).toBe(runCase(hakgal, c).hash);
  });

  test('the seed\'s test as written holds; a real pod death loses the session as built, not hardened', () => {
    const spec = (name: string) => hakgal.scenarios!.find((s) => s.name === name)!;
    const preserved = (name: string, profile: string) => runScenario(hakgal, spec(name), { seed: 0, profile }).metrics['preserved'];
    expect(preserved('r001-single-session-as-written', 'as-built')).toBe(1);
    expect(preserved('r001-single-session-pod-death', 'as-built')).toBe(0);
    expect(preserved('r001-single-session-pod-death', 'hardened')).toBe(1);
  });
});

testSeeds('hardened holds over swarm deployments and every fault kind', hakgal, { profile: 'hardened', deployment: 'swarm' }, { seeds: 10, timeout: 60_000 });
