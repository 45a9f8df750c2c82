import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ProcessContext, RandomStream } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import { hubLoopMachine, type HubComponent, type HubEvent } from './hub-loop-machine.ts';

/** A hub whose channels are counters and whose handlers return when told: what the Run loop reads and starts. */
class FakeHub implements HubComponent {
  readonly log: string[] = [];
  readonly registerQueue: string[] = [];
  readonly unregisterQueue: string[] = [];
  tickPending = false;
  stale = 0;
  readonly capacity = 2;
  chart!: Statechart<FakeHub, HubEvent, number>;
  readonly ctx = { record: (kind: string, d: Record<string, unknown>) => void this.log.push(`${kind}:${String(d['state'] ?? '')}`) } as unknown as ProcessContext;
  /** Always the last ready case. */
  readonly selectRng = { pick: <T>(items: readonly T[]): T => items[items.length - 1]! } as unknown as RandomStream;
  send(event: HubEvent): void {
    this.chart.send(event);
  }
  receiveRegister(): void {
    this.log.push(`register ${this.registerQueue.shift()!}`);
  }
  receiveUnregister(): void {
    this.log.push(`unregister ${this.unregisterQueue.shift()!}`);
  }
  sweepBlocks(): boolean {
    return this.unregisterQueue.length + this.stale > this.capacity;
  }
  sweep(): void {
    this.tickPending = false;
    for (; this.stale > 0; this.stale--) {
      if (this.unregisterQueue.length >= this.capacity) return void this.log.push('deadlock');
      this.unregisterQueue.push('stale');
    }
  }
}

function startFake(): FakeHub {
  const hub = new FakeHub();
  const host: StatechartHost<number> = {
    setTimer: () => {
      throw new Error('the hub loop arms no timer');
    },
    cancelTimer: () => undefined,
    record: (kind, details) => hub.ctx.record(kind, details),
    fail: (error) => {
      throw error;
    },
  };
  hub.chart = new Statechart(compileMachine(hubLoopMachine), hub, host);
  hub.chart.start();
  return hub;
}

describe('the hub loop statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (select, handlers, sweeps, the deadlock)', () => {
    fc.assert(fc.property(stepsArbitrary(hubLoopMachine, 60), (steps) => checkDifferential(hubLoopMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the states and transitions of the module comment, with no timer', () => {
    const compiled = compileMachine(hubLoopMachine);
    expect(compiled.states.map((s) => s.id)).toEqual(['hub.idle', 'hub.handling', 'hub.deadlocked']);
    expect(compiled.timers).toEqual([]);
    expect(compiled.events).toEqual(['READY', 'REGISTER', 'UNREGISTER', 'SWEEP', 'DONE']);
    // The initial transition, then the definition's 6.
    expect(compiled.transitions).toHaveLength(7);
  });

  test('Run handles one case at a time, records its state before the handler starts, and selects again when the handler returns', () => {
    const hub = startFake();
    hub.registerQueue.push('a');
    hub.unregisterQueue.push('b');
    hub.send({ type: 'READY' });
    expect(hub.chart.state.id).toBe('hub.handling');
    // A send while a handler runs waits in its channel.
    hub.registerQueue.push('c');
    hub.send({ type: 'READY' });
    hub.send({ type: 'DONE' });
    hub.send({ type: 'DONE' });
    hub.send({ type: 'DONE' });
    expect(hub.chart.state.id).toBe('hub.idle');
    expect(hub.log).toEqual([
      'actor.state:idle',
      'actor.state:handling', 'unregister b',
      'actor.state:idle', 'actor.state:handling', 'register a',
      'actor.state:idle', 'actor.state:handling', 'register c',
      'actor.state:idle',
    ]);
  });

  test('a sweep that fits in the channel goes back to the select; one that does not deadlocks Run for good', () => {
    const hub = startFake();
    hub.stale = 1;
    hub.tickPending = true;
    hub.send({ type: 'READY' });
    expect(hub.log.slice(1)).toEqual(['actor.state:handling', 'unregister stale']);
    hub.send({ type: 'DONE' });
    hub.log.length = 0;
    hub.unregisterQueue.push('x', 'y');
    hub.stale = 1;
    hub.tickPending = true;
    // The select takes the last ready case, the tick: the sweep blocks on the full channel.
    hub.send({ type: 'READY' });
    expect(hub.chart.state.id).toBe('hub.deadlocked');
    expect(hub.chart.status).toBe('done');
    expect(hub.log).toEqual(['deadlock', 'actor.state:deadlocked']);
    hub.send({ type: 'READY' });
    expect(hub.log).toHaveLength(2);
  });
});
