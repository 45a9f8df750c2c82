import { describe, expect, test } from 'vitest';
import { raise, setup } from 'xstate';
import { Simulation } from './simulation.ts';
import { MS } from './time.ts';
import { startActor } from './xstate-adapter.ts';

const chain = setup({}).createMachine({
  id: 'chain',
  initial: 'a',
  states: {
    a: { after: { 100: 'b' } },
    b: { after: { 200: 'c' } },
    c: { after: { 700: 'd' } },
    d: { type: 'final' },
  },
});

function states(sim: Simulation): Array<[number, unknown]> {
  return sim.trace.events.filter((e) => e.k === 'actor.state').map((e) => [e.t, e.d!['state']]);
}

function runChain(setupFaults: (sim: Simulation) => void = () => {}): Simulation {
  const sim = new Simulation({ seed: 1, trace: { keepEvents: true } });
  sim.addNode('n');
  sim.addProcess({ name: 'p', node: 'n', boot: (ctx) => (startActor(ctx, chain, { id: 'chain' }), {}) });
  setupFaults(sim);
  sim.run();
  return sim;
}

describe('xstate on the kernel clock', () => {
  test('an after: chain reaches each state at its exact virtual time', () => {
    const sim = runChain();
    expect(states(sim)).toEqual([[0, 'a'], [100 * MS, 'b'], [300 * MS, 'c'], [1000 * MS, 'd']]);
  });

  test('pause defers after: timers until resume', () => {
    const sim = runChain((s) => {
      s.at(50 * MS, () => s.pause('p'));
      s.at(500 * MS, () => s.resume('p'));
    });
    // b was due at 100 ms: it fires at resume (500), and b's 200 ms timer runs from there.
    expect(states(sim)).toEqual([[0, 'a'], [500 * MS, 'b'], [700 * MS, 'c'], [1400 * MS, 'd']]);
  });

  test('a crash cancels the actor timers; a restart starts the machine afresh', () => {
    const sim = runChain((s) => s.at(150 * MS, () => s.restart('p', 1000 * MS)));
    expect(states(sim)).toEqual([[0, 'a'], [100 * MS, 'b'], [1150 * MS, 'a'], [1250 * MS, 'b'], [1450 * MS, 'c'], [2150 * MS, 'd']]);
  });

  test('an error thrown by an action ends the run as a model failure', () => {
    const broken = setup({ actions: { explode: () => { throw new Error('action failed'); } } }).createMachine({
      initial: 'a',
      states: { a: { after: { 10: { target: 'b', actions: 'explode' } } }, b: {} },
    });
    const sim = new Simulation({ seed: 5 });
    sim.addNode('n');
    sim.addProcess({ name: 'p', node: 'n', boot: (ctx) => (startActor(ctx, broken, { id: 'broken' }), {}) });
    const r = sim.run();
    expect(r.status).toBe('model-failure');
    expect(r.failure).toMatchObject({ message: 'action failed', seed: 5, time: 10 * MS, process: 'p' });
  });

  test('a delayed raise without an explicit id is caught as a determinism leak', () => {
    const leaky = setup({}).createMachine({
      initial: 'a',
      states: { a: { entry: raise({ type: 'GO' }, { delay: 10 }), on: { GO: 'b' } }, b: {} },
    });
    const sim = new Simulation({ seed: 1 });
    sim.addNode('n');
    sim.addProcess({ name: 'p', node: 'n', boot: (ctx) => (startActor(ctx, leaky, { id: 'leaky' }), {}) });
    const r = sim.run();
    expect(r.status).toBe('model-failure');
    expect(r.failure?.message).toMatch(/determinism leak: Math\.random/);
  });
});
