import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import { electorMachine } from './leader-elector-machine.ts';

describe('the elector statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (attempt answers, cancels, every timer)', () => {
    fc.assert(fc.property(stepsArbitrary(electorMachine, 80), (steps) => checkDifferential(electorMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the states, transitions and timers of the module comment', () => {
    const compiled = compileMachine(electorMachine);
    expect(compiled.states.map((s) => s.id)).toEqual([
      'elector.acquiring.attempting', 'elector.acquiring.sleeping',
      'elector.leading.polling.attempting', 'elector.leading.polling.waitingTick', 'elector.leading.renewed',
      'elector.releasing', 'elector.stopped',
    ]);
    expect(compiled.timers.map((t) => `${t.state} ${t.delay}`)).toEqual([
      'elector.acquiring.sleeping acquireSleep', 'elector.leading.polling renewDeadline',
      'elector.leading.polling.waitingTick pollTick', 'elector.leading.renewed retryPeriod',
    ]);
    expect(compiled.events).toEqual(['CANCEL', 'ATTEMPT_DONE', 'RELEASE_DONE', 'RELEASE_TIMEOUT']);
    // The initial transition, then the definition's 14.
    expect(compiled.transitions).toHaveLength(15);
  });

  test('a renew cycle costs the same every time: 2 transitions, 1 guard call, 6 actions, 2 timers armed and 1 cancelled (counted, not timed)', () => {
    const count = { guards: 0, actions: 0, set: 0, cancel: 0, transitions: 0 };
    const impl = electorMachine.implementations as { guards: object; actions: object };
    const stub = (electorMachine.provide as (i: object) => AnyStateMachine)({
      guards: Object.fromEntries(Object.keys(impl.guards).map((g) => [g, () => (count.guards++, true)])),
      actions: Object.fromEntries(Object.keys(impl.actions).map((a) => [a, () => void count.actions++])),
      delays: { acquireSleep: 3000, retryPeriod: 2000, renewDeadline: 10000, pollTick: 2000 },
    });
    const timers = new Map<number, () => void>();
    let next = 0;
    const host: StatechartHost<number> = {
      setTimer: (_us, fn) => (count.set++, timers.set(++next, fn), next),
      cancelTimer: (h) => void (count.cancel++, timers.delete(h)),
      record: () => undefined,
      fail: (error) => {
        throw error;
      },
    };
    const chart = new Statechart(compileMachine(stub), {}, host, { onTransition: () => void count.transitions++ });
    chart.start();
    chart.send({ type: 'ATTEMPT_DONE' });
    expect(chart.state.id).toBe('elector.leading.polling.attempting');
    const cycles = 1000;
    Object.assign(count, { guards: 0, actions: 0, set: 0, cancel: 0, transitions: 0 });
    for (let i = 0; i < cycles; i++) {
      chart.send({ type: 'ATTEMPT_DONE' });
      const [handle, fire] = [...timers][timers.size - 1]!;
      timers.delete(handle);
      fire();
    }
    expect(chart.state.id).toBe('elector.leading.polling.attempting');
    expect(count).toEqual({ guards: cycles, actions: 6 * cycles, set: 2 * cycles, cancel: cycles, transitions: 2 * cycles });
    expect(timers.size).toBe(1); // the poll's deadline
  });
});
