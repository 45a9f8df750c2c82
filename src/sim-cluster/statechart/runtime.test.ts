import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { Simulation } from '../simulation.ts';
import { MS } from '../time.ts';
import { compileMachine } from './compile.ts';
import { Statechart, type StatechartHost } from './runtime.ts';

interface Door {
  log: string[];
  chart?: Statechart<Door>;
  boom: boolean;
}

const door = setup({
  types: { context: {} as Door, input: {} as Door, events: {} as { type: 'OPEN' } | { type: 'CLOSE' } | { type: 'LOCK' } | { type: 'BREAK' } },
  guards: { intact: ({ context }) => !context.boom },
  actions: {
    opened: ({ context }) => void context.log.push('opened'),
    /** Sends CLOSE from inside a step: it must wait for the step to end. */
    autoClose: ({ context }) => {
      context.log.push('autoClose');
      context.chart!.send({ type: 'CLOSE' });
      context.log.push('autoClose returned');
    },
    closed: ({ context }) => void context.log.push('closed'),
    explode: () => {
      throw new Error('boom');
    },
  },
  delays: { slow: 1.5 },
}).createMachine({
  id: 'door',
  context: ({ input }) => input,
  initial: 'shut',
  states: {
    shut: { entry: 'closed', on: { OPEN: { guard: 'intact', target: 'open' }, LOCK: 'locked', BREAK: { actions: 'explode' } } },
    open: { entry: ['opened', 'autoClose'], on: { CLOSE: 'shut' }, after: { slow: 'shut' } },
    locked: { type: 'final' },
  },
});
const DOOR = compileMachine(door);

interface Logged {
  records: unknown[];
  timers: Array<{ delayUs: number; label: string; cancelled: boolean }>;
  failures: unknown[];
}

function host(): StatechartHost<number> & Logged {
  const logged: Logged = { records: [], timers: [], failures: [] };
  return {
    ...logged,
    setTimer: (delayUs, _fn, label) => logged.timers.push({ delayUs, label, cancelled: false }) - 1,
    cancelTimer: (h) => void (logged.timers[h]!.cancelled = true),
    record: (kind, details) => void logged.records.push([kind, details]),
    fail: (error) => void logged.failures.push(error),
  };
}

function started(h = host(), options = {}): { door: Door; chart: Statechart<Door>; h: ReturnType<typeof host> } {
  const d: Door = { log: [], boom: false };
  const chart = new Statechart(DOOR, d, h, options);
  d.chart = chart;
  chart.start();
  return { door: d, chart, h };
}

describe('Statechart', () => {
  test('an event sent by an action waits for the step that sent it', () => {
    const { door: d, chart, h } = started();
    chart.send({ type: 'OPEN' });
    expect(d.log).toEqual(['closed', 'opened', 'autoClose', 'autoClose returned', 'closed']);
    expect(chart.state.id).toBe('door.shut');
    // open's timer was armed (1.5 ms → 1500 µs) and cancelled when CLOSE left it.
    expect(h.timers).toEqual([{ delayUs: 1500, label: 'xstate.after.slow.door.open', cancelled: true }]);
  });

  test('actor.state is recorded after each step that changes the state, when an actor id is given', () => {
    const { chart, h } = started(host(), { actorId: 'door/1', timerLabels: { slow: 'door.slow' } });
    chart.send({ type: 'OPEN' });
    chart.send({ type: 'LOCK' });
    expect(h.records).toEqual([
      ['actor.state', { actor: 'door/1', state: 'shut' }],
      ['actor.state', { actor: 'door/1', state: 'open' }],
      ['actor.state', { actor: 'door/1', state: 'shut' }],
      ['actor.state', { actor: 'door/1', state: 'locked' }],
    ]);
    expect(h.timers.map((t) => t.label)).toEqual(['door.slow']);
    expect(started().h.records).toEqual([]);
  });

  test('the final state ends it: later events are ignored; an event before start is a bug', () => {
    const { door: d, chart } = started();
    chart.send({ type: 'LOCK' });
    expect(chart.status).toBe('done');
    chart.send({ type: 'OPEN' });
    expect(d.log).toEqual(['closed']);
    const fresh = new Statechart(DOOR, { log: [], boom: false }, host());
    expect(() => fresh.send({ type: 'OPEN' })).toThrow("statechart 'door' received 'OPEN' before it started");
  });

  test('an implementation that throws stops it for good: timers cancelled, then onError, then host.fail', () => {
    const order: string[] = [];
    const h = host();
    const fail = h.fail;
    h.fail = (error) => {
      order.push('fail');
      fail(error);
    };
    const { door: d, chart } = started(h, { onError: () => order.push('onError') });
    d.chart = undefined;
    d.log.length = 0;
    chart.send({ type: 'BREAK' });
    expect(chart.status).toBe('error');
    expect(order).toEqual(['onError', 'fail']);
    expect((h.failures[0] as Error).message).toBe('boom');
    chart.send({ type: 'OPEN' });
    expect(d.log).toEqual([]);
  });

  test('a guard that fails leaves the state as it is, and no transition is reported', () => {
    const taken: string[] = [];
    const { door: d, chart } = started(host(), { onTransition: (t: { event: string }, from: { id: string }) => taken.push(`${from.id} ${t.event}`) });
    d.boom = true;
    chart.send({ type: 'OPEN' });
    chart.send({ type: 'CLOSE' }); // not handled in shut
    expect(chart.state.id).toBe('door.shut');
    expect(taken).toEqual(['door.shut xstate.init']);
  });

  test('on a simulation, `after` delays are timers of the process: virtual time, and gone with a crash', () => {
    const sim = new Simulation({ seed: 1, trace: { keepEvents: true } });
    sim.addNode('n');
    const d: Door = { log: [], boom: false };
    sim.addProcess({
      name: 'p',
      node: 'n',
      boot: (ctx) => {
        // A door that is opened but does not close itself: its `slow` timer closes it.
        const quiet = door.provide({ actions: { autoClose: () => undefined } });
        const chart = new Statechart(compileMachine(quiet), d, ctx, { actorId: 'door' });
        chart.start();
        ctx.setTimer(10 * MS, () => chart.send({ type: 'OPEN' }), 'open');
        return {};
      },
    });
    sim.run();
    const states = sim.trace.events.filter((e) => e.k === 'actor.state').map((e) => [e.t, e.d!['state']]);
    expect(states).toEqual([[0, 'shut'], [10 * MS, 'open'], [10 * MS + 1500, 'shut']]);
  });
});
