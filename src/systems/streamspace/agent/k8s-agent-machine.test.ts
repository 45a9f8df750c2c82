import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { compileMachine } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import { agentMachine } from './k8s-agent-machine.ts';

describe('the agent statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (connect outcomes, reads, commands, stop)', () => {
    fc.assert(fc.property(stepsArbitrary(agentMachine, 60), (steps) => checkDifferential(agentMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the modes of the module comment, with no timer', () => {
    const compiled = compileMachine(agentMachine);
    expect(compiled.states.map((s) => s.id)).toEqual([
      'agent.idle', 'agent.connecting', 'agent.reading', 'agent.executing', 'agent.backoff', 'agent.failed', 'agent.stopped',
    ]);
    expect(compiled.timers).toEqual([]);
  });
});
