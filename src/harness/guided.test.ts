import { describe, expect, test } from 'vitest';
import { scheduleProblem } from '../faults/fault-kind.ts';
import { SYSTEMS, streamspace } from '../systems/index.ts';
import { twoNodeLease } from '../../examples/two-node-lease/system.ts';
import type { AnySystem } from '../contract/system.ts';
import { coverageRecorder, compiledMachines } from './coverage.ts';
import { Corpus, Guide, guidedCase, runFeatures, type CorpusEntry } from './guided.ts';
import { runCase } from './run-case.ts';
import { caseForSeed, scheduleOptionsFor, type CaseSpace } from './seeded-case.ts';
import { PairRecorder } from './transition-pairs.ts';

/** A corpus of the drawn schedules of seeds 1000.. (any schedules the space draws will do as parents). */
function corpusOf(system: AnySystem, space: CaseSpace, n: number): CorpusEntry[] {
  return Array.from({ length: n }, (_, i) => ({ seed: 1000 + i, schedule: caseForSeed(system, space, 1000 + i).schedule, newFeatures: 1, parent: null }));
}

describe('mutated schedules', () => {
  for (const system of [...SYSTEMS, twoNodeLease] as AnySystem[]) {
    for (const swarm of [true, false]) {
      test(`${system.name}${swarm ? '' : ' (no swarm)'}: every mutated schedule is valid and within the space's bounds`, () => {
        const space: CaseSpace = { profile: system.profiles[0]!.name, swarm, maxFaults: 6 };
        const o = scheduleOptionsFor(system, space);
        const kinds = new Set(o.kinds.map((k) => k.kind as string));
        const corpus = corpusOf(system, space, 12);
        let changed = 0;
        for (let seed = 0; seed < 300; seed++) {
          const c = guidedCase(system, space, seed, corpus, { mutateShare: 1 });
          expect(c).not.toBeNull();
          const { schedule, parent, mutations } = c!;
          expect(scheduleProblem(schedule, system.faults, system.roles)).toBeNull();
          expect(schedule.length).toBeLessThanOrEqual(6);
          expect(mutations.length).toBeGreaterThanOrEqual(1);
          expect(mutations.length).toBeLessThanOrEqual(3);
          for (let i = 0; i < schedule.length; i++) {
            expect(kinds.has(schedule[i]!.kind)).toBe(true);
            expect(schedule[i]!.at).toBeGreaterThanOrEqual(o.startUs);
            if (i > 0) expect(schedule[i]!.at).toBeGreaterThanOrEqual(schedule[i - 1]!.at);
          }
          if (JSON.stringify(schedule) !== JSON.stringify(corpus.find((e) => e.seed === parent)!.schedule)) changed++;
        }
        // A mutation may land where it started (a window clamped, a target redrawn alike); most do not.
        expect(changed).toBeGreaterThan(240);
      });
    }
  }

  test('a seed\'s case is a pure function of (seed, space, corpus, options); the share decides which seeds mutate', () => {
    const space: CaseSpace = { profile: 'streamspace-v2' };
    const corpus = corpusOf(streamspace, space, 5);
    for (let seed = 0; seed < 50; seed++) expect(guidedCase(streamspace, space, seed, corpus)).toEqual(guidedCase(streamspace, space, seed, corpus));
    const mutating = Array.from({ length: 400 }, (_, seed) => guidedCase(streamspace, space, seed, corpus)).filter((c) => c !== null).length;
    expect(mutating).toBeGreaterThan(160);
    expect(mutating).toBeLessThan(240);
    // Whether a seed mutates does not depend on the corpus: only which case it mutates does.
    for (let seed = 0; seed < 50; seed++) expect(guidedCase(streamspace, space, seed, corpus.slice(0, 2)) === null).toBe(guidedCase(streamspace, space, seed, corpus) === null);
    expect(guidedCase(streamspace, space, 3, [], { mutateShare: 1 })).toBeNull();
    expect(guidedCase(streamspace, space, 3, corpus, { mutateShare: 0 })).toBeNull();
  });
});

describe('corpus admission', () => {
  const run = (seed: number, transitions: number[], pairs: number[] = []) => ({
    seed, schedule: null, parent: null, coverage: { m: { states: [], transitions } }, pairs: { m: pairs },
  });

  test('features are the transitions and the transition pairs, by machine', () => {
    expect(runFeatures(run(0, [0, 3], [7]))).toEqual(['t:m:0', 't:m:3', 'p:m:7']);
  });

  test('a run is kept when it reaches a feature no run before it did', () => {
    const c = new Corpus();
    expect(c.admit(1, () => [], ['t:m:0', 't:m:1'], null)).toBe(true);
    expect(c.admit(2, () => [], ['t:m:1'], null)).toBe(false);
    expect(c.admit(3, () => [], ['t:m:1', 'p:m:4'], 1)).toBe(true);
    expect(c.entries.map((e) => [e.seed, e.newFeatures, e.parent])).toEqual([[1, 2, null], [3, 1, 1]]);
    expect(c.features).toBe(3);
  });

  test('an epoch is admitted in seed order whatever order its runs finished in; cases read the corpus two epochs back', () => {
    const space: CaseSpace = { profile: 'streamspace-v2' };
    const runs = [run(10, [0, 1]), run(11, [0, 1, 2]), run(12, [0, 1]), run(13, [5])];
    const admitted = (order: typeof runs): number[] => {
      const g = new Guide(streamspace, space, 10, { epochSeeds: 4 });
      g.admitEpoch(order);
      return g.corpus.entries.map((e) => e.seed);
    };
    expect(admitted(runs)).toEqual([10, 11, 13]);
    expect(admitted([...runs].reverse())).toEqual([10, 11, 13]);

    const g = new Guide(streamspace, space, 10, { epochSeeds: 4 });
    expect(g.epochsRead(13)).toBe(0);
    expect(g.epochsRead(17)).toBe(0);
    expect(g.epochsRead(18)).toBe(1);
    expect(g.caseFor(15)).toBeNull();
    expect(() => g.caseFor(18)).toThrow(/reads the corpus after 1 epochs, but 0 are admitted/);
    expect(() => g.admitEpoch([run(14, [0])])).toThrow(/not of epoch 0/);
    g.admitEpoch(runs);
    // A kept drawn case keeps the seed's drawn schedule.
    expect(g.corpus.entries[0]!.schedule).toEqual(caseForSeed(streamspace, space, 10).schedule);
    expect(() => g.caseFor(15)).toThrow(/reads the corpus after 0 epochs, but 1 are admitted/);
  });
});

describe('transition pairs', () => {
  test('recording pairs changes no trace hash, and pairs follow the transitions', () => {
    const c = caseForSeed(streamspace, { profile: 'hardened', deployment: 'seed-000' }, 3);
    const plain = runCase(streamspace, c);
    const coverage = coverageRecorder(streamspace);
    const pairs = new PairRecorder(compiledMachines(streamspace), coverage);
    const watched = runCase(streamspace, c, { statecharts: pairs });
    expect(watched.hash).toBe(plain.hash);
    const covered = coverage.covered();
    for (const m of compiledMachines(streamspace)) {
      const total = m.transitions.length;
      const list = pairs.pairs()[m.id]!;
      // Each pair's second transition was taken; a machine that ran has at least its start's pair.
      for (const p of list) expect(covered[m.id]!.transitions).toContain(p % total);
      expect(list.length > 0).toBe(covered[m.id]!.transitions.length > 0);
    }
    expect(Object.values(pairs.pairs()).some((l) => l.length > 3)).toBe(true);
  });
});
