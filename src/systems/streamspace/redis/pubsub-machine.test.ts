import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ProcessContext } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import type { RpcResult } from '../net/rpc.ts';
import { pubSubMachine, type PubSubComponent, type PubSubEvent } from './pubsub-machine.ts';

/** A PubSub whose I/O is a log: what the statechart starts, and when. */
class FakePubSub implements PubSubComponent {
  readonly log: string[] = [];
  readonly channel = 'pod:api-0:commands';
  firstDials = 0;
  /** Whether `onConfirm` closes the PubSub on a failure, as listenRedisCommands does. */
  closeOnFailure = true;
  chart!: Statechart<FakePubSub, PubSubEvent, number>;
  readonly ctx = { record: (kind: string) => void this.log.push(kind) } as unknown as ProcessContext;
  connect(): void {
    this.log.push(`connect ${this.firstDials}`);
  }
  forgetConnection(): void {
    this.log.push('forget');
  }
  sleep(): void {
    this.log.push('sleep');
  }
  confirm(result: RpcResult<unknown>): void {
    this.log.push(`onConfirm ${result.ok}`);
    if (!result.ok && this.closeOnFailure) this.chart.send({ type: 'CLOSE' });
  }
  deliver(payload: string): void {
    this.log.push(`onMessage ${payload}`);
  }
  restartHealthCheck(): void {
    this.log.push('health');
  }
  healthCheck(): void {
    this.log.push('ping');
  }
  closeConnection(): void {
    this.log.push('close');
  }
}

const OK: RpcResult<unknown> = { ok: true, value: 1 };
const REFUSED: RpcResult<unknown> = { ok: false, error: 'connection', message: 'refused' };
const subscribed: PubSubEvent = { type: 'SUBSCRIBED', result: OK };
const dialFailed: PubSubEvent = { type: 'SUBSCRIBE_FAILED', result: REFUSED, opened: false };

function startFake(closeOnFailure = true): FakePubSub {
  const pubsub = new FakePubSub();
  pubsub.closeOnFailure = closeOnFailure;
  const host: StatechartHost<number> = {
    setTimer: () => {
      throw new Error('the PubSub statechart arms no timer of its own');
    },
    cancelTimer: () => undefined,
    record: () => undefined,
    fail: (error) => {
      throw error;
    },
  };
  pubsub.chart = new Statechart(compileMachine(pubSubMachine), pubsub, host);
  pubsub.chart.start();
  return pubsub;
}

describe('the PubSub statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (dials, confirmations, reconnects, close)', () => {
    fc.assert(fc.property(stepsArbitrary(pubSubMachine, 60), (steps) => checkDifferential(pubSubMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the states of the module comment, with no timer', () => {
    const compiled = compileMachine(pubSubMachine);
    expect(compiled.states.map((s) => s.id)).toEqual([
      'pubsub.subscribing', 'pubsub.redialing', 'pubsub.listening.subscribed', 'pubsub.listening.reconnecting', 'pubsub.listening.resubscribing', 'pubsub.closed',
    ]);
    expect(compiled.timers).toEqual([]);
    expect(compiled.events).toEqual(['MESSAGE', 'CLOSE', 'SUBSCRIBED', 'SUBSCRIBE_FAILED', 'DISCONNECTED', 'RECONNECT', 'HEALTH_CHECK']);
  });

  test("Client.Subscribe's failed dial is retried once at once; the Receive's failure reaches the caller, which closes the PubSub for good", () => {
    const pubsub = startFake();
    expect(pubsub.log).toEqual(['connect 1']);
    pubsub.chart.send(dialFailed);
    expect(pubsub.chart.state.id).toBe('pubsub.subscribing');
    pubsub.chart.send(dialFailed);
    expect(pubsub.chart.state.id).toBe('pubsub.closed');
    expect(pubsub.chart.status).toBe('done');
    // The caller's Close runs once the step that reported the failure has ended.
    expect(pubsub.log).toEqual(['connect 1', 'forget', 'connect 2', 'onConfirm false', 'close']);
    pubsub.chart.send({ type: 'RECONNECT' });
    pubsub.chart.send({ type: 'MESSAGE', payload: 'late' });
    expect(pubsub.log).toHaveLength(5);
  });

  test('a dial that opened, then failed, is not retried: its failure is the first Receive\'s', () => {
    const pubsub = startFake();
    pubsub.chart.send({ type: 'SUBSCRIBE_FAILED', result: REFUSED, opened: true });
    expect(pubsub.log).toEqual(['connect 1', 'onConfirm false', 'close']);
  });

  test('after the confirmation, a broken connection is redialled and resubscribed without telling the caller; messages and the health check go on', () => {
    const pubsub = startFake();
    pubsub.chart.send(subscribed);
    expect(pubsub.chart.state.id).toBe('pubsub.listening.subscribed');
    pubsub.chart.send({ type: 'MESSAGE', payload: 'a' });
    pubsub.chart.send({ type: 'DISCONNECTED' });
    expect(pubsub.chart.state.id).toBe('pubsub.listening.reconnecting');
    // The health check outlives the connection.
    pubsub.chart.send({ type: 'HEALTH_CHECK' });
    pubsub.chart.send({ type: 'RECONNECT' });
    expect(pubsub.chart.state.id).toBe('pubsub.listening.resubscribing');
    // A failed resubscription waits for the connection's end.
    pubsub.chart.send(dialFailed);
    expect(pubsub.chart.state.id).toBe('pubsub.listening.resubscribing');
    pubsub.chart.send(subscribed);
    expect(pubsub.chart.state.id).toBe('pubsub.listening.subscribed');
    expect(pubsub.log).toEqual([
      'connect 1', 'onConfirm true', 'health',
      'health', 'onMessage a',
      'forget', 'pubsub.disconnected', 'sleep',
      'ping',
      // A redial after the confirmation is not one of the first dials.
      'connect 1',
      'pubsub.resubscribed', 'health',
    ]);
    pubsub.chart.send({ type: 'CLOSE' });
    expect(pubsub.log.at(-1)).toBe('close');
  });

  test('before any confirmation a broken connection is redialled as a first dial, and messages skip the health check', () => {
    const pubsub = startFake(false);
    pubsub.chart.send({ type: 'MESSAGE', payload: 'early' });
    pubsub.chart.send({ type: 'SUBSCRIBE_FAILED', result: { ok: false, error: 'server', message: 'ERR' }, opened: true });
    pubsub.chart.send({ type: 'DISCONNECTED' });
    expect(pubsub.chart.state.id).toBe('pubsub.redialing');
    pubsub.chart.send({ type: 'HEALTH_CHECK' });
    pubsub.chart.send({ type: 'RECONNECT' });
    pubsub.chart.send(dialFailed);
    expect(pubsub.chart.state.id).toBe('pubsub.subscribing');
    expect(pubsub.log).toEqual([
      'connect 1', 'onMessage early', 'onConfirm false',
      'forget', 'pubsub.disconnected', 'sleep',
      'connect 2', 'onConfirm false',
    ]);
  });
});
