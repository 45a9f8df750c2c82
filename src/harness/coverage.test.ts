import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { compileMachine, type RunCoverage } from '../sim-cluster/statechart/index.ts';
import { streamspace } from '../systems/index.ts';
import { combineReach, compiledMachines, coverageRecorder, CoverageTally, reachFigures, type MachineReach } from './coverage.ts';
import { caseOf, runCase } from './run-case.ts';

const switchMachine = compileMachine(setup({}).createMachine({
  id: 'switch',
  initial: 'off',
  states: { off: { on: { FLIP: 'on' } }, on: { on: { FLIP: 'off', BREAK: 'broken' } }, broken: {} },
}));

/** Seed `seed` reached the transitions at `transitions` (and the states at `states`) of the switch. */
const run = (states: number[], transitions: number[]): RunCoverage => ({ switch: { states, transitions } });

describe('CoverageTally', () => {
  const runs: Array<[number, RunCoverage]> = [[7, run([0, 1], [0, 1])], [3, run([0], [0])], [5, run([0, 1, 2], [0, 1, 3])], [4, run([0, 1], [0, 1, 2])]];

  test('per state and transition: reached, the seeds that reached it, the lowest of them; the totals from the definition', () => {
    const tally = new CoverageTally([switchMachine]);
    for (const [seed, r] of runs) tally.add(seed, r);
    const [m] = tally.summary();
    expect(tally.runs).toBe(4);
    expect(m!.states).toMatchObject({ reached: 3, total: 3 });
    expect(m!.transitions.list.map((t) => [t.label, t.reached, t.runs, t.lowestSeed])).toEqual([
      ['xstate.init', true, 4, 3], ['FLIP', true, 3, 4], ['FLIP', true, 1, 4], ['BREAK', true, 1, 5],
    ]);
    expect(m!.transitions).toMatchObject({ reached: 4, total: 4 });
  });

  test('the same figures whatever order the runs are added in', () => {
    const summary = (order: Array<[number, RunCoverage]>): MachineReach[] => {
      const tally = new CoverageTally([switchMachine]);
      for (const [seed, r] of order) tally.add(seed, r);
      return tally.summary();
    };
    const forward = summary(runs);
    expect(summary([...runs].reverse())).toEqual(forward);
    expect(summary([runs[2]!, runs[0]!, runs[3]!, runs[1]!])).toEqual(forward);
  });

  test('disjoint sets of runs combine into the figures of their union', () => {
    const part = (which: Array<[number, RunCoverage]>): MachineReach[] => {
      const tally = new CoverageTally([switchMachine]);
      for (const [seed, r] of which) tally.add(seed, r);
      return tally.summary();
    };
    expect(combineReach([part(runs.slice(0, 1)), part(runs.slice(1, 3)), part(runs.slice(3))])).toEqual(part(runs));
    const other = new CoverageTally([compileMachine(setup({}).createMachine({ id: 'other', initial: 'a', states: { a: {} } }))]).summary();
    expect(() => combineReach([part(runs), other])).toThrow("machine 1 is 'other', expected 'switch'");
  });

  test('an index outside the definition is refused', () => {
    expect(() => new CoverageTally([switchMachine]).add(0, run([0], [9]))).toThrow('index 9 out of range (0..3)');
  });
});

describe('coverage of a run of the model', () => {
  // A fault-free run of hardened StreamSpace (the seed-000 deployment's configuration).
  const fairWeather = caseOf(streamspace, 'hardened', 3, []);
  const elector = (): MachineReach => {
    const recorder = coverageRecorder(streamspace);
    runCase(streamspace, fairWeather, { statecharts: recorder });
    const tally = new CoverageTally(compiledMachines(streamspace));
    tally.add(3, recorder.covered());
    return tally.summary().find((m) => m.id === 'elector')!;
  };

  test('the leader renews its lease, and never loses leadership, in a fault-free run', () => {
    const m = elector();
    const transition = (source: string, label: RegExp) => {
      const found = m.transitions.list.filter((t) => t.source === source && label.test(t.label));
      expect(found, `${source} ${label}`).toHaveLength(1);
      return found[0]!;
    };
    expect(transition('elector.leading.polling.attempting', /^ATTEMPT_DONE \[attemptSucceeded\]/)).toMatchObject({ reached: true, runs: 1, lowestSeed: 3 });
    expect(transition('elector.leading.renewed', /^after retryPeriod/).reached).toBe(true);
    // Losing leadership: the renew deadline running out, with or without a release.
    expect(m.transitions.list.filter((t) => t.source === 'elector.leading.polling' && t.label.startsWith('after renewDeadline')).map((t) => t.reached)).toEqual([false, false]);
    expect(m.states.list.find((s) => s.id === 'elector.stopped')).toMatchObject({ reached: false, runs: 0, lowestSeed: null });
    expect(reachFigures(m).unreached).toContain('elector.leading.polling → elector.stopped: after renewDeadline / reportTransition, recordRenewFailed(why=deadline)');
  });

  test('recording coverage leaves the verdict and the trace hash as they are', () => {
    const plain = runCase(streamspace, fairWeather);
    const watched = runCase(streamspace, fairWeather, { statecharts: coverageRecorder(streamspace) });
    expect(watched.hash).toBe(plain.hash);
    expect(watched.outcome).toBe(plain.outcome);
    expect(watched.steps).toBe(plain.steps);
  });
});
