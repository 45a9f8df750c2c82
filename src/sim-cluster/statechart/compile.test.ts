import { describe, expect, test } from 'vitest';
import { assign, fromCallback, raise, setup, type AnyStateMachine } from 'xstate';
import { compileMachine, StatechartError } from './compile.ts';

const noop = (): void => undefined;
const yes = (): boolean => true;

/** Machines using what the stepper does not run, each with the message that names machine and state. */
const rejected: Array<[string, () => AnyStateMachine, string]> = [
  ['a parallel state', () => setup({}).createMachine({ id: 'm', initial: 'p', states: { p: { type: 'parallel', states: { a: {}, b: {} } } } }), "statechart 'm', state 'm.p': parallel states are not supported"],
  ['a history state', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { initial: 'x', states: { x: {}, h: { type: 'history' } } } } }), "statechart 'm', state 'm.a.h': history states are not supported"],
  ['invoke', () => setup({ actors: { work: fromCallback(() => undefined) } }).createMachine({ id: 'm', initial: 'a', states: { a: { invoke: { src: 'work' } } } }), "statechart 'm', state 'm.a': `invoke` is not supported: start work in a named entry action and stop it in an exit action"],
  ['always', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { always: 'b' }, b: {} } }), "statechart 'm', state 'm.a': eventless (`always`) transitions are not supported"],
  ['onDone', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { initial: 'x', onDone: 'b', states: { x: { type: 'final' } } }, b: {} } }), "statechart 'm', state 'm.a': `onDone` is not supported"],
  ['a nested final state', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { initial: 'x', states: { x: { type: 'final' } } } } }), "statechart 'm', state 'm.a.x': a final state is supported only directly under the root (no done events)"],
  ['a wildcard', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { on: { '*': 'a' } } } }), "statechart 'm', state 'm.a': wildcard event descriptor '*' is not supported"],
  ['an inline guard', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { on: { E: { guard: yes, target: 'a' } } } } }), "statechart 'm', state 'm.a': an inline guard function is not supported: name it in setup({ guards })"],
  ['an inline action', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { entry: noop } } }), "statechart 'm', state 'm.a': an inline action function is not supported: name it in setup({ actions })"],
  ['assign', () => setup({ types: { context: {} as { n: number } } }).createMachine({ id: 'm', context: { n: 0 }, initial: 'a', states: { a: {} } }), "statechart 'm': a static context object is state xstate would own; the component keeps its own fields (declare `context: ({ input }) => input`)"],
  ['assign in a transition', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { on: { E: { actions: assign({}) } } } } }), "statechart 'm', state 'm.a': xstate's assign is not supported: the component keeps its own fields and a named action writes them"],
  ['a named assign', () => setup({ actions: { bump: assign({}) } }).createMachine({ id: 'm', initial: 'a', states: { a: { entry: 'bump' } } }), "statechart 'm', state 'm.a': action 'bump': xstate's assign is not supported: the component keeps its own fields and a named action writes them"],
  ['raise', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { entry: raise({ type: 'E' }) } } }), "statechart 'm', state 'm.a': xstate's built-in action 'xstate.raise' is not supported: write a named action"],
  ['dynamic params', () => setup({ actions: { log: (_: unknown, _p: { n: number }) => undefined } }).createMachine({ id: 'm', initial: 'a', states: { a: { entry: { type: 'log', params: () => ({ n: 1 }) } } } }), "statechart 'm', state 'm.a': action 'log': dynamic params (a function) are not supported"],
  ['a missing delay', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { after: { later: 'a' } } } }), "statechart 'm', state 'm.a': delay 'later' is not implemented in setup({ delays })"],
  ['several targets', () => setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { on: { E: { target: ['#m.b', '#m.c'] } } }, b: {}, c: {} } }), "statechart 'm', state 'm.a': transition on 'E' has several targets (parallel regions are not supported)"],
];

describe('compileMachine', () => {
  test.each(rejected)('rejects %s, naming the machine and the state', (_name, machine, message) => {
    let m: AnyStateMachine;
    try {
      m = machine();
    } catch (error) {
      // xstate itself refused it: nothing for the compiler to do.
      throw new Error(`xstate rejected the fixture: ${(error as Error).message}`);
    }
    expect(() => compileMachine(m)).toThrow(new StatechartError(message));
  });

  test('a guard or action named but not implemented is reported when compiled, not when first used', () => {
    const m = setup({}).createMachine({ id: 'm', initial: 'a', states: { a: { on: { E: { guard: 'ready', target: 'a' } } } } } as never) as unknown as AnyStateMachine;
    expect(() => compileMachine(m)).toThrow("statechart 'm', state 'm.a': guard 'ready' is not implemented in setup({ guards })");
    const n = setup({}).createMachine({ id: 'n', initial: 'a', states: { a: { exit: 'clean' } } } as never) as unknown as AnyStateMachine;
    expect(() => compileMachine(n)).toThrow("statechart 'n', state 'n.a': action 'clean' is not implemented in setup({ actions })");
  });

  test('state values are xstate\'s, leaves in document order, delays by slot', () => {
    const m = setup({ delays: { soon: 5 } }).createMachine({
      id: 'm',
      initial: 'a',
      states: { a: { initial: 'x', states: { x: { after: { soon: 'y', 20: 'y' } }, y: {} } }, b: { type: 'final' } },
    });
    const c = compileMachine(m);
    expect(c.states.map((s) => [s.id, s.value, s.final])).toEqual([
      ['m.a.x', { a: 'x' }, false],
      ['m.a.y', { a: 'y' }, false],
      ['m.b', 'b', true],
    ]);
    // Object keys that look like numbers come first (JavaScript's order, which xstate follows too).
    expect(c.timers.map((t) => [t.event, t.delay])).toEqual([['xstate.after.20.m.a.x', 20], ['xstate.after.soon.m.a.x', 'soon']]);
    expect(c.delays).toEqual([20, 5]);
    expect(c.initial.next.id).toBe('m.a.x');
  });
});
