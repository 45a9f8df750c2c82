import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  caseOf, ConfigError, formatTraceFile, fuzz, MS, replayFile, replayTrace, runCase, SECOND, TRACE_FORMAT, TRACE_VERSION, validateTraceFile,
  type FaultRecord, type TraceFile,
} from '../../src/index.ts';
import { testSeeds } from '../../src/vitest.ts';
import { twoNodeLease } from './system.ts';

/** The holder stops the world for 10 s, three times the TTL: the other replica takes the lease meanwhile. */
const LONG_PAUSE: FaultRecord[] = [{ kind: 'pause', at: 3 * SECOND, target: { role: 'holder' }, durationUs: 10 * SECOND }];

describe('configuration', () => {
  test('profiles resolve to their fixes', () => {
    expect(twoNodeLease.resolve('as-built').fixes).toEqual([]);
    expect(twoNodeLease.resolve('fenced').fixes).toEqual(['fenced-writes']);
    expect(twoNodeLease.resolve('as-built', {}, ['fenced-writes']).config.fixes.fencedWrites).toBe(true);
  });

  test('bad input is a ConfigError naming the value', () => {
    expect(() => twoNodeLease.resolve('hardened')).toThrow(ConfigError);
    expect(() => twoNodeLease.resolve('as-built', {}, ['retry'])).toThrow(/unknown fix 'retry'/);
    expect(() => twoNodeLease.resolve('as-built', { lease: { ttlUs: '3s' } })).toThrow(/lease.ttlUs must be a non-negative integer/);
    expect(() => twoNodeLease.resolve('as-built', { lease: { renewEveryUs: 5 * SECOND } })).toThrow(/shorter than lease.ttlUs/);
    expect(() => twoNodeLease.reresolve({ store: {} })).toThrow(/unknown config section 'store'/);
  });
});

describe('two-node lease', () => {
  test('fault-free seeds pass under both profiles, and the lease is held and renewed', () => {
    for (const profile of ['as-built', 'fenced']) {
      for (let seed = 0; seed < 5; seed++) {
        const v = runCase(twoNodeLease, caseOf(twoNodeLease, profile, seed, []));
        expect(v.outcome, `${profile} seed ${seed}`).toBe('pass');
        expect(v.recoveryUs).toBe(0);
      }
    }
  });

  test('a long pause of the holder: as-built applies its stale write, fenced rejects it and recovers within the bound', () => {
    const asBuilt = runCase(twoNodeLease, caseOf(twoNodeLease, 'as-built', 1, LONG_PAUSE));
    expect(asBuilt.outcome).toBe('no-stale-writes');
    expect(asBuilt.violation!.message).toMatch(/^the store applied write \d+ of replica-\d \(epoch 1\) while replica-\d holds epoch 2$/);

    const fenced = runCase(twoNodeLease, caseOf(twoNodeLease, 'fenced', 1, LONG_PAUSE), { keepEvents: true });
    expect(fenced.outcome).toBe('pass');
    expect(fenced.events!.some((e) => e.k === 'store.write-rejected')).toBe(true);
    expect(fenced.recoveryUs).not.toBeNull();
    expect(fenced.recoveryUs!).toBeLessThanOrEqual(fenced.boundUs);
  });

  test('fuzzing as-built finds the stale write and shrinks it to a small schedule; a trace file of it replays', () => {
    const space = { profile: 'as-built', kinds: ['pause', 'crash', 'isolate', 'clock-jump'] };
    const result = fuzz(twoNodeLease, space, { seeds: 10, shrink: true });
    expect(result.failures.length).toBeGreaterThan(0);
    expect(result.failures.every((f) => f.outcome === 'no-stale-writes')).toBe(true);
    const [shrunk] = result.shrunk;
    expect(shrunk!.verdict.outcome).toBe('no-stale-writes');
    expect(shrunk!.faultsMinimal).toBeLessThanOrEqual(2);

    // The trace file: the shrunk case, and what it gives under each profile.
    const { seed, schedule } = shrunk!.case;
    const expectations = ['as-built', 'fenced'].map((profile) => {
      const c = caseOf(twoNodeLease, profile, seed, schedule);
      const v = runCase(twoNodeLease, c);
      return { profile, fixes: [...c.fixes], config: c.config, outcome: v.outcome, hash: v.hash };
    });
    expect(expectations.map((e) => e.outcome)).toEqual(['no-stale-writes', 'pass']);
    const trace: TraceFile = {
      format: TRACE_FORMAT, version: TRACE_VERSION, system: twoNodeLease.name,
      name: 'paused-holder-writes-after-takeover',
      explanation: 'The holder is paused past its TTL; the other replica acquires the lease; on resume the holder\'s overdue write timer runs before its overdue expiry timer, and the store applies the write.',
      config: {}, seed, schedule, expectations,
    };
    const text = formatTraceFile(trace);
    const read = validateTraceFile(JSON.parse(text), 'shrunk.json', [twoNodeLease]);
    expect(read).toEqual(trace);
    for (const r of replayTrace(twoNodeLease, read)) expect({ profile: r.expectation.profile, outcome: r.outcomeMatches, hash: r.hashMatches }).toEqual({ profile: r.expectation.profile, outcome: true, hash: true });

    const file = join(mkdtempSync(join(tmpdir(), 'two-node-lease-')), 'shrunk.json');
    writeFileSync(file, text);
    expect(replayFile(file, [twoNodeLease]).results.every((r) => r.outcomeMatches && r.hashMatches && r.drift === null)).toBe(true);
  });

  test('clock faults: a forward step of the store\'s wall clock, or the holder\'s clock at half speed while it is cut off', () => {
    // Alone, a clock-jump fails as-built only forward on the store's node, when the other replica asks before the holder renews.
    const jumps = fuzz(twoNodeLease, { profile: 'as-built', kinds: ['clock-jump'] }, { seeds: 20, shrink: true });
    const [jump] = jumps.shrunk;
    expect(jump!.case.schedule).toMatchObject([{ kind: 'clock-jump', target: { role: 'store' } }]);
    expect(runCase(twoNodeLease, caseOf(twoNodeLease, 'fenced', jump!.case.seed, jump!.case.schedule)).outcome).toBe('pass');

    // At 10% slow the holder's lease still ends locally before the other replica's next attempt; at half speed it outlives it.
    const slowAndCutOff = (ppm: number): FaultRecord[] => [
      { kind: 'clock-drift', at: 1500 * MS, target: { role: 'holder' }, ppm, durationUs: 20 * SECOND },
      { kind: 'isolate', at: 2500 * MS, target: { role: 'holder' }, durationUs: 4 * SECOND },
    ];
    expect(runCase(twoNodeLease, caseOf(twoNodeLease, 'as-built', 0, slowAndCutOff(-100_000))).outcome).toBe('pass');
    expect(runCase(twoNodeLease, caseOf(twoNodeLease, 'as-built', 0, slowAndCutOff(-500_000))).outcome).toBe('no-stale-writes');
    expect(runCase(twoNodeLease, caseOf(twoNodeLease, 'fenced', 0, slowAndCutOff(-500_000))).outcome).toBe('pass');
  });

  test('determinism: the same case twice gives the same trace hash; another seed another hash', () => {
    const c = caseOf(twoNodeLease, 'as-built', 7, LONG_PAUSE);
    const a = runCase(twoNodeLease, c);
    const b = runCase(twoNodeLease, c, { keepEvents: true });
    expect(b.hash).toBe(a.hash);
    expect(runCase(twoNodeLease, { ...c, seed: 8 }).hash).not.toBe(a.hash);
  });
});

// A property over 30 seeds of fenced, every fault kind in swarm schedules: none may apply a stale write.
testSeeds('fenced holds under every fault kind', twoNodeLease, { profile: 'fenced' }, { seeds: 30, timeout: 20_000 });
