import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { checkDifferential, stepsArbitrary } from './testing/differential.ts';

/**
 * The compiled stepper against xstate's interpreter on synthetic machines, each stressing one part
 * of the semantics; the real definitions have the same check beside them.
 */

const noop = (): void => undefined;
const no = (): boolean => false;

/** Deep nesting, entry/exit order, cross-level targets, `reenter`, self and internal targets, initial actions. */
const nesting = setup({
  actions: { enA: noop, exA: noop, enA1: noop, exA1: noop, enA2: noop, exA2: noop, enA21: noop, exA21: noop, enA22: noop, exA22: noop, enB: noop, exB: noop, initA: noop, initA2: noop, t1: noop, t2: noop, t3: noop },
}).createMachine({
  id: 'nest',
  initial: 'a',
  states: {
    a: {
      entry: 'enA',
      exit: 'exA',
      initial: { target: 'a1', actions: 'initA' },
      on: { TO_B: { target: 'b', actions: 't1' }, SELF_A: 'a', REENTER_A: { target: 'a', reenter: true, actions: 't2' }, DEEP: '#nest.a.a2.a22', INNER: '.a2' },
      states: {
        a1: { entry: 'enA1', exit: 'exA1', on: { NEXT: 'a2', SELF: { target: 'a1', actions: 't3' }, REENTER: { target: 'a1', reenter: true } } },
        a2: {
          entry: 'enA2',
          exit: 'exA2',
          initial: { target: 'a21', actions: { type: 'initA2', params: { n: 2 } } },
          on: { NEXT: '.a22', UP: '#nest.a', OUT: '#nest.b' },
          states: {
            a21: { entry: 'enA21', exit: 'exA21', on: { NEXT: 'a22', TO_B: { target: '#nest.b', actions: 't3' } } },
            a22: { entry: 'enA22', exit: 'exA22', on: { NEXT: '#nest.a.a1' } },
          },
        },
      },
    },
    b: { entry: 'enB', exit: 'exB', on: { BACK: 'a', DEEP: '#nest.a.a2.a22' } },
  },
});

/** Guarded candidates at several levels, guard params, targetless transitions (guarded or not). */
const guards = setup({
  guards: { g1: no, g2: no, g3: no },
  actions: { x: noop, y: noop, z: noop, enP: noop, exP: noop, enQ: noop, exQ: noop },
}).createMachine({
  id: 'guards',
  initial: 'p',
  on: { E: [{ guard: 'g3', target: '.q', actions: 'z' }, { actions: 'y' }], PING: { actions: 'x' } },
  states: {
    p: {
      entry: 'enP',
      exit: 'exP',
      initial: 'p1',
      on: { E: [{ guard: { type: 'g2', params: { level: 'p' } }, target: 'q' }], F: { guard: 'g1', actions: { type: 'x', params: { k: 1 } } } },
      states: {
        p1: { on: { E: [{ guard: 'g1', target: 'p2' }, { guard: 'g2', actions: 'x' }], F: 'p2' } },
        p2: { on: { E: { guard: 'g1', target: 'p1', actions: ['x', 'y'] }, G: { actions: 'z' } } },
      },
    },
    q: { entry: 'enQ', exit: 'exQ', on: { E: { guard: 'g1', target: 'p' }, G: [{ guard: 'g2', actions: 'y' }, { target: 'q', actions: 'z' }] } },
  },
});

/** `after` with named and numeric delays, guarded, on a parent and its children, re-armed, targetless, cancelled by leaving. */
const delays = setup({
  guards: { g: no, h: no },
  actions: { enW: noop, exW: noop, tick: noop, late: noop },
  delays: { short: 10, long: 50, computed: () => 30 },
}).createMachine({
  id: 'delays',
  initial: 'w',
  states: {
    w: {
      entry: 'enW',
      exit: 'exW',
      initial: 'w1',
      after: { long: [{ guard: 'g', target: 'v', actions: 'late' }, { target: 'w', reenter: true }] },
      on: { LEAVE: 'v' },
      states: {
        w1: { after: { short: 'w2', 200: { actions: 'tick' } }, on: { STAY: { target: 'w1', reenter: true } } },
        w2: { after: { computed: [{ guard: 'h', target: 'w1' }, { actions: 'tick' }] }, on: { BACK: 'w1' } },
      },
    },
    v: { after: { 5: 'w' }, on: { GO: 'w' } },
  },
});

/** The top-level final state, the machine's own entry, exit and timer (a re-entering transition of the root re-enters it), everything exited when done. */
const final = setup({
  actions: { enRoot: noop, exRoot: noop, enS: noop, exS: noop, enEnd: noop, exEnd: noop, bye: noop },
  delays: { d: 20 },
}).createMachine({
  id: 'final',
  entry: 'enRoot',
  exit: 'exRoot',
  after: { d: { actions: 'bye' } },
  on: { RESTART: { target: '.s', reenter: true }, AGAIN: '.s' },
  initial: 's',
  states: {
    s: { entry: 'enS', exit: 'exS', initial: 's1', on: { END: 'end' }, states: { s1: { on: { END2: '#final.end' } } } },
    end: { type: 'final', entry: 'enEnd', exit: 'exEnd' },
  },
});

describe('the compiled stepper agrees with xstate', () => {
  test.each([
    ['nesting and entry/exit order', nesting],
    ['guards and targetless transitions', guards],
    ['delayed transitions', delays],
    ['the final state', final],
  ])('%s', (_name, machine) => {
    fc.assert(fc.property(stepsArbitrary(machine), (steps) => checkDifferential(machine, steps)), { numRuns: 300 });
  });

  test('an example: entering a nested state by its id runs the entries outermost first, without the initial actions of states on the way', () => {
    expect(() => checkDifferential(nesting, [{ kind: 'event', type: 'DEEP', guards: {} }])).not.toThrow();
  });
});
