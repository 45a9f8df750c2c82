import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { Simulation } from '../simulation.ts';
import { SECOND } from '../time.ts';
import { compileMachine } from './compile.ts';
import { CoverageRecorder } from './coverage.ts';
import { Statechart, type StatechartObserver } from './runtime.ts';

interface Lamp {
  flips: number;
}

/** A lamp that switches itself on after 1 s and off again after 2 s, and can break (never, here). */
const lamp = setup({
  types: { context: {} as Lamp, input: {} as Lamp, events: {} as { type: 'BREAK' } },
  actions: { flip: ({ context }) => void context.flips++ },
  delays: { warm: 1000, cool: 2000 },
}).createMachine({
  id: 'lamp',
  context: ({ input }) => input,
  initial: 'off',
  states: {
    off: { after: { warm: { target: 'on', actions: 'flip' } }, on: { BREAK: 'broken' } },
    on: { after: { cool: { target: 'off', actions: 'flip' } }, on: { BREAK: 'broken' } },
    broken: { type: 'final' },
  },
});
const LAMP = compileMachine(lamp);
const events = (indices: readonly number[]): string[] => indices.map((i) => LAMP.transitions[i]!.event);
const OTHER = compileMachine(setup({}).createMachine({ id: 'other', initial: 'idle', states: { idle: {} } }));

/** A simulation of one process running a lamp for `untilUs`, its statecharts watched by `statecharts`. */
function lampRun(statecharts: StatechartObserver | undefined, untilUs: number): { hash: string; flips: number } {
  const sim = new Simulation({ seed: 1, ...(statecharts ? { statecharts } : {}) });
  sim.addNode('n');
  const context: Lamp = { flips: 0 };
  sim.addProcess({
    name: 'p', node: 'n',
    boot: (ctx) => {
      new Statechart(LAMP, context, ctx, { actorId: 'lamp' }).start();
      return {};
    },
  });
  sim.run({ until: untilUs });
  return { hash: sim.trace.hash(), flips: context.flips };
}

describe('CoverageRecorder', () => {
  test('records the transitions taken and the leaves reached by every statechart of the run it watches', () => {
    const recorder = new CoverageRecorder([LAMP, OTHER]);
    lampRun(recorder, 2 * SECOND);
    const covered = recorder.covered();
    // Up to 2 s: the initial transition to off, then off → on at 1 s (on → off comes at 3 s).
    expect(covered['lamp']!.states.map((i) => LAMP.states[i]!.id)).toEqual(['lamp.off', 'lamp.on']);
    expect(events(covered['lamp']!.transitions)).toEqual(['xstate.init', 'xstate.after.warm.lamp.off']);
    // A listed machine that never ran is there with nothing reached.
    expect(covered['other']).toEqual({ states: [], transitions: [] });
  });

  test('leaves the trace hash and the run as they are: it is not part of the trace', () => {
    const plain = lampRun(undefined, 10 * SECOND);
    const watched = lampRun(new CoverageRecorder([LAMP]), 10 * SECOND);
    expect(watched).toEqual(plain);
    expect(plain.flips).toBe(7); // on at 1 s, off at 3 s, ..., on at 10 s
  });

  test('one recorder per run: a second run records into its own', () => {
    const first = new CoverageRecorder([LAMP]);
    lampRun(first, 5 * SECOND);
    const second = new CoverageRecorder([LAMP]);
    lampRun(second, 500_000);
    expect(events(first.covered()['lamp']!.transitions)).toEqual(['xstate.init', 'xstate.after.warm.lamp.off', 'xstate.after.cool.lamp.on']);
    expect(events(second.covered()['lamp']!.transitions)).toEqual(['xstate.init']);
  });

  test('a machine it was not made with runs unwatched; two machines under one id are refused', () => {
    const recorder = new CoverageRecorder([OTHER]);
    expect(recorder.hookFor(LAMP)).toBeUndefined();
    lampRun(recorder, 5 * SECOND);
    expect(Object.keys(recorder.covered())).toEqual(['other']);
    expect(() => new CoverageRecorder([LAMP, LAMP])).toThrow("two machines have the id 'lamp'");
    const impostor = compileMachine(setup({}).createMachine({ id: 'lamp', initial: 'a', states: { a: {} } }));
    expect(() => new CoverageRecorder([LAMP]).hookFor(impostor)).toThrow("the running machine 'lamp' is not the definition the system lists");
  });

  test('an instance given its own hook calls it too', () => {
    const seen: string[] = [];
    const recorder = new CoverageRecorder([LAMP]);
    const chart = new Statechart(LAMP, { flips: 0 }, {
      setTimer: () => 0, cancelTimer: () => undefined, record: () => undefined, fail: () => undefined, statecharts: recorder,
    }, { onTransition: (t, from, to) => seen.push(`${from.id} ${t.event} ${to.id}`) });
    chart.start();
    chart.send({ type: 'BREAK' });
    expect(seen).toEqual(['lamp.off xstate.init lamp.off', 'lamp.off BREAK lamp.broken']);
    expect(recorder.covered()['lamp']!.states).toEqual([0, 2]);
    expect(events(recorder.covered()['lamp']!.transitions)).toEqual(['xstate.init', 'BREAK']);
  });
});
