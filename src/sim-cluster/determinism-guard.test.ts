import { describe, expect, test } from 'vitest';
import { isGuardActive, withDeterminismGuard } from './determinism-guard.ts';
import { Simulation } from './simulation.ts';

function runWith(fn: () => void) {
  const sim = new Simulation({ seed: 1 });
  sim.addNode('n');
  sim.addProcess({ name: 'p', node: 'n', boot: (ctx) => (ctx.setTimer(1, fn, 'leak'), {}) });
  return sim.run();
}

describe('determinism guard', () => {
  test.each([
    ['Math.random', () => Math.random()],
    ['Date.now', () => Date.now()],
    ['new Date()', () => new Date()],
    ['performance.now', () => performance.now()],
    ['setTimeout', () => setTimeout(() => {}, 1)],
    ['setInterval', () => setInterval(() => {}, 1)],
    ['setImmediate', () => setImmediate(() => {})],
    ['queueMicrotask', () => queueMicrotask(() => {})],
    ['crypto.randomUUID', () => crypto.randomUUID()],
  ])('%s inside a simulation fails the run loudly', (name, leak) => {
    const r = runWith(leak);
    expect(r.status).toBe('model-failure');
    expect(r.failure!.message).toContain(`determinism leak: ${name}`);
    expect(r.failure!.event).toBe('leak');
  });

  test('explicit instants still work (formatting a timestamp is not a leak)', () => {
    expect(runWith(() => new Date(0).toISOString()).status).toBe('quiescent');
  });

  test('globals are restored after the run, and the guard nests', () => {
    const realRandom = Math.random;
    withDeterminismGuard(() => {
      withDeterminismGuard(() => expect(isGuardActive()).toBe(true));
      expect(() => Math.random()).toThrow(/determinism leak/);
    });
    expect(isGuardActive()).toBe(false);
    expect(Math.random).toBe(realRandom);
    expect(typeof Date.now()).toBe('number');
    expect(new Date().getTime()).toBeGreaterThan(0);
  });
});
