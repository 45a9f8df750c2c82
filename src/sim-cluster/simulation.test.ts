import { describe, expect, test } from 'vitest';
import type { ProcessBehaviour, ProcessContext } from './process.ts';
import { Simulation } from './simulation.ts';
import { MS, SECOND } from './time.ts';

function sim(seed = 1): Simulation {
  return new Simulation({ seed, trace: { keepEvents: true } });
}

/** A process that logs (true time, local time, label) of each callback into `log`. */
function ticker(log: Array<[number, string]>, s: Simulation, delays: number[]): (ctx: ProcessContext) => ProcessBehaviour {
  return (ctx) => {
    for (const d of delays) ctx.setTimer(d, () => log.push([s.now, `${ctx.name}#${ctx.incarnation}@${d}`]), `t${d}`);
    return {};
  };
}

describe('Simulation: time and timers', () => {
  test('timers fire at their instants, ties in scheduling order, and the clock jumps over idle time', () => {
    const s = sim();
    s.addNode('a');
    const log: Array<[number, string]> = [];
    s.addProcess({ name: 'p', node: 'a', boot: ticker(log, s, [3 * SECOND, 1 * SECOND, 3 * SECOND, 0]) });
    const r = s.run();
    expect(r.status).toBe('quiescent');
    expect(log).toEqual([[0, 'p#1@0'], [SECOND, 'p#1@1000000'], [3 * SECOND, 'p#1@3000000'], [3 * SECOND, 'p#1@3000000']]);
    expect(r.steps).toBe(5); // boot + 4 timers: idle time cost nothing
  });

  test('a timer delay must be a non-negative safe integer of µs: anything else fails the run, naming the timer', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      const s = sim();
      s.addNode('a');
      s.addProcess({ name: 'p', node: 'a', boot: (ctx) => (ctx.setTimer(bad, () => {}, 'bad-timer'), {}) });
      const r = s.run();
      expect(r.status, String(bad)).toBe('model-failure');
      expect(r.failure?.message, String(bad)).toContain('bad-timer');
    }
    const s = sim();
    s.addNode('a');
    const log: Array<[number, string]> = [];
    s.addProcess({ name: 'p', node: 'a', boot: ticker(log, s, [-0, Number.MAX_SAFE_INTEGER - 1]) });
    expect(s.run().status).toBe('quiescent');
    expect(log.map(([t]) => t)).toEqual([0, Number.MAX_SAFE_INTEGER - 1]);
  });

  test('a timer falling due past 2^53 µs fails the run instead of rounding its instant', () => {
    const s = sim();
    s.addNode('a');
    // The second timer's delay is a safe integer, but the instant it falls due is not.
    s.addProcess({ name: 'p', node: 'a', boot: (ctx) => (ctx.setTimer(Number.MAX_SAFE_INTEGER - 1, () => ctx.setTimer(2, () => {}, 'late')), {}) });
    const r = s.run();
    expect(r.status).toBe('model-failure');
    expect(r.failure?.message).toMatch(/timer due time \(late\)/);
    expect(r.now).toBe(Number.MAX_SAFE_INTEGER - 1);
  });

  test('run until stops at the instant and leaves later events queued', () => {
    const s = sim();
    s.addNode('a');
    const log: Array<[number, string]> = [];
    s.addProcess({ name: 'p', node: 'a', boot: ticker(log, s, [1 * SECOND, 5 * SECOND]) });
    expect(s.run({ until: 2 * SECOND })).toMatchObject({ status: 'until-reached', now: 2 * SECOND });
    expect(log.length).toBe(1);
    expect(s.run({ until: 10 * SECOND }).now).toBe(10 * SECOND);
    expect(log.length).toBe(2);
  });

  test('cancelled timers never fire', () => {
    const s = sim();
    s.addNode('a');
    let fired = 0;
    s.addProcess({
      name: 'p', node: 'a', boot: (ctx) => {
        const h = ctx.setTimer(SECOND, () => fired++);
        ctx.setTimer(SECOND - 1, () => ctx.cancelTimer(h));
        return {};
      },
    });
    s.run();
    expect(fired).toBe(0);
  });

  test('a runaway model ends with step-budget-exhausted, not a hang', () => {
    const s = new Simulation({ seed: 1, stepBudget: 10_000 });
    s.addNode('a');
    s.addProcess({
      name: 'loop', node: 'a', boot: (ctx) => {
        const again = (): void => void ctx.setTimer(0, again);
        again();
        return {};
      },
    });
    const r = s.run({ until: 60 * SECOND });
    expect(r.status).toBe('step-budget-exhausted');
    expect(r.steps).toBe(10_000);
    expect(s.run().status).toBe('step-budget-exhausted');
  });

  test('maxSteps bounds one run call without ending the simulation', () => {
    const s = sim();
    s.addNode('a');
    const log: Array<[number, string]> = [];
    s.addProcess({ name: 'p', node: 'a', boot: ticker(log, s, [1, 2, 3, 4]) });
    expect(s.run({ maxSteps: 2 }).status).toBe('step-budget-exhausted');
    expect(s.run().status).toBe('quiescent');
    expect(log.length).toBe(4);
  });

  test('an exception in a component ends the run as a model failure naming seed, time, process and event', () => {
    const s = sim(99);
    s.addNode('a');
    s.addProcess({
      name: 'buggy', node: 'a', boot: (ctx) => {
        ctx.setTimer(2 * SECOND, () => {
          throw new Error('boom');
        }, 'explode');
        return {};
      },
    });
    const r = s.run();
    expect(r.status).toBe('model-failure');
    expect(r.failure).toMatchObject({ message: 'boom', seed: 99, time: 2 * SECOND, process: 'buggy', event: 'explode' });
  });

  test('halt stops at the current event and is sticky', () => {
    const s = sim();
    s.addNode('a');
    const log: Array<[number, string]> = [];
    s.addProcess({ name: 'p', node: 'a', boot: ticker(log, s, [1, 2, 3]) });
    s.at(2, () => s.halt('invariant x violated'));
    const r = s.run();
    expect(r).toMatchObject({ status: 'halted', haltReason: 'invariant x violated' });
    // The halt was queued (at setup) before the process armed its t=2 timer (at boot): FIFO runs it first.
    expect(log.length).toBe(1);
    expect(s.run().status).toBe('halted');
  });

  test('events cannot be scheduled in the past, and times must be integers', () => {
    const s = sim();
    s.run({ until: 10 });
    expect(() => s.at(5, () => {})).toThrow(/before now/);
    expect(() => s.at(10.5, () => {})).toThrow(/integer/);
  });
});

describe('Simulation: processes', () => {
  test('crash cancels timers and drops state; restart boots a fresh incarnation after the delay', () => {
    const s = sim();
    s.addNode('a');
    const log: Array<[number, string]> = [];
    let bootedWithCounter = -1;
    s.addProcess({
      name: 'p', node: 'a', boot: (ctx) => {
        let counter = 0;
        bootedWithCounter = counter;
        const tick = (): void => {
          counter++;
          log.push([s.now, `${ctx.incarnation}:${counter}`]);
          ctx.setTimer(SECOND, tick);
        };
        ctx.setTimer(SECOND, tick);
        return {};
      },
    });
    s.at(2 * SECOND + 500 * MS, () => s.restart('p', 10 * SECOND));
    s.run({ until: 14 * SECOND });
    expect(log).toEqual([
      [1 * SECOND, '1:1'],
      [2 * SECOND, '1:2'],
      // nothing while down; the new incarnation counts from scratch
      [13 * SECOND + 500 * MS, '2:1'],
    ]);
    expect(bootedWithCounter).toBe(0);
    expect(s.process('p').incarnation).toBe(2);
  });

  test('a crashed process holds no timers', () => {
    const s = sim();
    s.addNode('a');
    s.addProcess({ name: 'p', node: 'a', boot: ticker([], s, [1, 2, 3]) });
    s.run({ until: 0 });
    expect(s.process('p').pendingTimers).toBe(3);
    s.crash('p');
    expect(s.process('p').pendingTimers).toBe(0);
    expect(s.process('p').status).toBe('crashed');
    expect(s.run().steps).toBe(1); // only the boot ran
  });

  test('pause: nothing runs; on resume overdue timers fire in order and the local clock has jumped', () => {
    const s = sim();
    s.addNode('a');
    const seen: Array<[number, number, string]> = [];
    s.addProcess({
      name: 'p', node: 'a', boot: (ctx) => {
        for (const d of [1, 2, 3, 20]) ctx.setTimer(d * SECOND, () => seen.push([s.now, ctx.monotonic(), `t${d}`]));
        return {};
      },
    });
    s.at(1 * SECOND + 1, () => s.pause('p'));
    s.at(10 * SECOND, () => s.resume('p'));
    s.run();
    expect(seen).toEqual([
      [1 * SECOND, 1 * SECOND, 't1'],
      [10 * SECOND, 10 * SECOND, 't2'],
      [10 * SECOND, 10 * SECOND, 't3'],
      [20 * SECOND, 20 * SECOND, 't20'],
    ]);
  });

  test('setTimerCall runs fn(arg) as setTimer runs fn, in the same order, through a pause too, and cancels the same way', () => {
    const s = sim();
    s.addNode('a');
    const seen: Array<[number, string]> = [];
    const note = (what: string): void => void seen.push([s.now, what]);
    s.addProcess({
      name: 'p', node: 'a', boot: (ctx) => {
        ctx.setTimer(2 * SECOND, () => note('closure'));
        ctx.setTimerCall(2 * SECOND, note, 'call', 'call');
        ctx.cancelTimer(ctx.setTimerCall(SECOND, note, 'cancelled', 'call'));
        ctx.setTimerCall(3 * SECOND, note, 'after the pause', 'call');
        return {};
      },
    });
    s.at(SECOND, () => s.pause('p'));
    s.at(5 * SECOND, () => s.resume('p'));
    s.run();
    expect(seen).toEqual([[5 * SECOND, 'closure'], [5 * SECOND, 'call'], [5 * SECOND, 'after the pause']]);
    expect(s.process('p').pendingTimers).toBe(0);
  });

  test('a paused process can be crashed: its deferred work is dropped', () => {
    const s = sim();
    s.addNode('a');
    const log: Array<[number, string]> = [];
    s.addProcess({ name: 'p', node: 'a', boot: ticker(log, s, [SECOND]) });
    s.at(1, () => s.pause('p'));
    s.at(2 * SECOND, () => s.crash('p'));
    s.run();
    expect(log).toEqual([]);
    expect(s.process('p').deferred).toEqual([]);
  });

  test('node failure takes every process on it; recovery can restart them', () => {
    const s = sim();
    s.addNode('a');
    s.addNode('b');
    const log: Array<[number, string]> = [];
    s.addProcess({ name: 'p1', node: 'a', boot: ticker(log, s, [5 * SECOND]) });
    s.addProcess({ name: 'p2', node: 'a', boot: ticker(log, s, [5 * SECOND]) });
    s.addProcess({ name: 'q', node: 'b', boot: ticker(log, s, [5 * SECOND]) });
    s.at(SECOND, () => s.failNode('a'));
    s.at(2 * SECOND, () => s.recoverNode('a', true));
    s.run();
    expect(log).toEqual([[5 * SECOND, 'q#1@5000000'], [7 * SECOND, 'p1#2@5000000'], [7 * SECOND, 'p2#2@5000000']]);
  });

  test('a process reads its node clock: offset, drift and jumps; timers run in local durations', () => {
    const s = sim();
    s.addNode('a', { offsetUs: 3 * SECOND, driftPpm: 1000 });
    const seen: number[][] = [];
    s.addProcess({
      name: 'p', node: 'a', boot: (ctx) => {
        ctx.setTimer(10 * SECOND, () => seen.push([s.now, ctx.monotonic(), ctx.now()]));
        return {};
      },
    });
    s.at(SECOND, () => s.jumpClock('a', -SECOND));
    s.run();
    const trueFire = Math.ceil((10 * SECOND * 1e6) / 1_001_000);
    expect(seen).toEqual([[trueFire, 10 * SECOND, 10 * SECOND + 2 * SECOND]]);
  });

  test('exit from outside closes connections gracefully; a removed process frees its name', () => {
    const s = sim();
    s.addNode('a');
    s.addNode('b');
    const closes: string[] = [];
    s.addProcess({ name: 'srv', node: 'a', boot: () => ({ onAccept: (c) => void (c.onMessage = () => {}) }) });
    s.addProcess({ name: 'cli', node: 'b', boot: (ctx) => (ctx.connect('srv', { onClose: (r) => closes.push(r) }), {}) });
    s.run();
    s.exit('srv');
    s.run();
    expect(closes).toEqual(['closed']);
    expect(() => s.removeProcess('cli')).toThrow(/running/);
    s.removeProcess('srv');
    expect(s.hasProcess('srv')).toBe(false);
    s.addProcess({ name: 'srv', node: 'b', boot: () => ({}) });
    s.run();
    expect(s.process('srv').node.name).toBe('b');
  });

  test('signals reach onSignal; exit closes the process gracefully', () => {
    const s = sim();
    s.addNode('a');
    s.addProcess({ name: 'p', node: 'a', boot: (ctx) => ({ onSignal: (sig) => (sig === 'SIGTERM' ? ctx.exit() : undefined) }) });
    s.at(SECOND, () => s.signal('p', 'SIGTERM'));
    s.run();
    expect(s.process('p').status).toBe('exited');
    expect(s.trace.events.map((e) => e.k)).toEqual(['proc.start', 'proc.signal', 'proc.exit']);
  });
});

describe('Simulation: cancelling a timer a pause deferred', () => {
  /** Two timers fall due during a pause; the first one's callback cancels the second. */
  function run(cancelWhile: 'after-resume' | 'paused'): string[] {
    const sim = new Simulation({ seed: 1, trace: { keepEvents: true } });
    sim.addNode('n');
    let cancelDeadline: () => void = () => {};
    sim.addProcess({
      name: 'p',
      node: 'n',
      boot: (ctx) => {
        ctx.setTimer(1000, () => {
          ctx.record('first', {});
          cancelDeadline();
        }, 'first');
        const deadline = ctx.setTimer(2000, () => ctx.record('deadline', {}), 'deadline');
        cancelDeadline = () => ctx.cancelTimer(deadline);
        return {};
      },
    });
    sim.at(500, () => sim.pause('p'));
    // The kernel-level cancel stands for work done for the process while it is paused (its network's timers).
    if (cancelWhile === 'paused') sim.at(3000, () => cancelDeadline());
    sim.at(5000, () => sim.resume('p'));
    sim.run();
    return sim.trace.events.filter((e) => e.p === 'p').map((e) => `${e.k}${e.k === 'proc.resume' ? JSON.stringify(e.d) : ''}`);
  }

  test('after the resume, the cancel reaches the timer under its new handle: it does not fire', () => {
    expect(run('after-resume')).toEqual(['proc.start', 'proc.pause', 'proc.resume{"deferred":2}', 'first']);
  });

  test('while still paused, the cancel takes it out of the deferred work', () => {
    expect(run('paused')).toEqual(['proc.start', 'proc.pause', 'proc.resume{"deferred":1}', 'first']);
  });
});
