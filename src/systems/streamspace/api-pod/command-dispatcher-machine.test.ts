import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ProcessContext } from '../../../sim-cluster/index.ts';
import { compileMachine } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import type { RpcResult } from '../net/rpc.ts';
import type { AgentMessage } from '../wire.ts';
import type { AgentHub } from './agent-hub.ts';
import { dispatcherWorkerMachine } from './command-dispatcher-machine.ts';
import { CommandDispatcher, type DispatchedCommand, type DispatcherRowsPort } from './command-dispatcher.ts';

/**
 * The dispatcher with a hub and a table whose answers wait until the test gives them (`answer`),
 * or come at once (`sync`): what the workers ask, in which order, and what they record.
 */
class Fixture {
  readonly log: string[] = [];
  /** Answers not given yet, oldest first. */
  readonly pending: Array<{ what: string; answer: (outcome: string) => void }> = [];
  sync: ((what: string) => string) | null = null;
  readonly dispatcher: CommandDispatcher;

  constructor(fixes: { ambiguous?: boolean; claims?: boolean; workers?: number; capacity?: number } = {}) {
    const ctx = {
      record: (kind: string, d: Record<string, unknown>) => void this.log.push(`${kind} ${JSON.stringify(d)}`),
      setTimer: () => {
        throw new Error('the dispatcher arms no timer');
      },
      cancelTimer: () => undefined,
      fail: (error: unknown) => {
        throw error;
      },
    } as unknown as ProcessContext;
    const hub = {
      isAgentConnected: (agentId: string, cb: (connected: boolean, unknown?: boolean) => void) =>
        this.ask(`connected? ${agentId}`, (o) => (o === 'unknown' ? cb(false, true) : cb(o === 'yes'))),
      sendCommandToAgent: (agentId: string, m: AgentMessage & { type: 'command' }, cb: (error: string | null, ambiguous?: boolean) => void) =>
        this.ask(`send ${m.commandId} to ${agentId}`, (o) => (o === 'ok' ? cb(null) : cb(o, o === 'timeout'))),
    } as unknown as AgentHub;
    const result = <T>(o: string, value: T): RpcResult<T> => (o === 'error' ? { ok: false, error: 'connection', message: 'db down' } : { ok: true, value });
    const rows: DispatcherRowsPort = {
      markSent: (id, cb) => this.ask(`sent ${id}`, (o) => cb(result(o, null))),
      markFailedByDispatcher: (id, error, cb) => this.ask(`failed ${id} (${error})`, (o) => cb(result(o, null))),
      listPendingCommands: () => {
        throw new Error('not used');
      },
      claimForRedelivery: (id, cb) => this.ask(`claim ${id}`, (o) => cb(result(o, o))),
    };
    this.dispatcher = new CommandDispatcher(ctx, { queueCapacity: fixes.capacity ?? 1000, workers: fixes.workers ?? 10 }, hub, rows, fixes.ambiguous ?? false, fixes.claims ?? false);
  }

  private ask(what: string, answer: (outcome: string) => void): void {
    this.log.push(what);
    if (this.sync !== null) return answer(this.sync(what));
    this.pending.push({ what, answer });
  }

  /** Answers the oldest question starting with `prefix`. */
  answer(prefix: string, outcome: string): void {
    const i = this.pending.findIndex((p) => p.what.startsWith(prefix));
    if (i < 0) throw new Error(`nothing asked: ${prefix}`);
    const [p] = this.pending.splice(i, 1);
    p!.answer(outcome);
  }

  dispatch(id: string, extra: Partial<DispatchedCommand> = {}): void {
    expect(this.dispatcher.dispatch({ commandId: id, agentId: 'a', action: 'start_session', sessionId: `s-${id}`, ...extra })).toBe(true);
  }

  /** The log since the last call, without the `dispatcher.queued` lines. */
  take(): string[] {
    const out = this.log.filter((l) => !l.startsWith('dispatcher.queued'));
    this.log.length = 0;
    return out;
  }
}

describe('the dispatcher worker statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (answers of every step, the fixes\' guards)', () => {
    fc.assert(fc.property(stepsArbitrary(dispatcherWorkerMachine, 60), (steps) => checkDifferential(dispatcherWorkerMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the modes of the module comment, with no timer', () => {
    const compiled = compileMachine(dispatcherWorkerMachine);
    expect(compiled.id).toBe('dispatcher-worker');
    expect(compiled.states.map((s) => s.id)).toEqual([
      'dispatcher-worker.idle', 'dispatcher-worker.checking', 'dispatcher-worker.claiming',
      'dispatcher-worker.sending', 'dispatcher-worker.marking', 'dispatcher-worker.failing',
    ]);
    expect(compiled.timers).toEqual([]);
    // The initial transition, then the definition's 16.
    expect(compiled.transitions).toHaveLength(17);
  });

  test('§5.3 steps 1-3: IsAgentConnected, SendCommandToAgent, then the `sent` UPDATE, each waiting for its answer; sent is recorded when the UPDATE returns', () => {
    const f = new Fixture();
    f.dispatch('c1');
    expect(f.take()).toEqual(['connected? a']);
    f.answer('connected?', 'yes');
    expect(f.take()).toEqual(['send c1 to a']);
    f.answer('send', 'ok');
    expect(f.take()).toEqual(['sent c1']);
    f.answer('sent', 'error');
    // A failed `sent` UPDATE is only logged (§5.3 step 3).
    expect(f.take()).toEqual(['dispatcher.sent {"command":"c1","recorded":false}']);
  });

  test('§5.3: an agent connected nowhere, or a send error, ends in failCommand with that error; without the fixes a Redis error is "not connected" too', () => {
    const f = new Fixture();
    f.dispatch('c1');
    f.dispatch('c2');
    f.answer('connected? a', 'unknown');
    f.answer('connected? a', 'yes');
    f.answer('send c2', 'timeout');
    expect(f.take()).toEqual(['connected? a', 'connected? a', 'failed c1 (agent is not connected)', 'send c2 to a', 'failed c2 (timeout)']);
    f.answer('failed c2', 'ok');
    f.answer('failed c1', 'error');
    expect(f.take()).toEqual([
      'dispatcher.failed {"command":"c2","error":"timeout","recorded":true}',
      'dispatcher.failed {"command":"c1","error":"agent is not connected","recorded":false}',
    ]);
  });

  test('design fix `ambiguous-send-not-failed`: an unknown connection or an ambiguous send leaves the row as it is; a definite error still fails it', () => {
    const f = new Fixture({ ambiguous: true });
    f.dispatch('c1');
    f.dispatch('c2');
    f.dispatch('c3');
    f.answer('connected? a', 'unknown');
    f.answer('connected? a', 'yes');
    f.answer('connected? a', 'yes');
    f.answer('send c2', 'timeout');
    f.answer('send c3', 'agent a send buffer is full');
    expect(f.take()).toEqual([
      'connected? a', 'connected? a', 'connected? a',
      'dispatcher.connected-unknown {"command":"c1"}',
      'send c2 to a', 'send c3 to a',
      'dispatcher.send-ambiguous {"command":"c2","error":"timeout"}',
      'failed c3 (agent a send buffer is full)',
    ]);
  });

  test('design fixes `redeliver-unfinished` and `redelivery-claims-row`: a redelivery claims its row, is dropped when the row is finished, and is deferred instead of failed', () => {
    const f = new Fixture({ claims: true });
    for (const id of ['r1', 'r2', 'r3', 'r4']) f.dispatch(id, { redelivery: true });
    f.dispatch('first');
    for (let i = 0; i < 5; i++) f.answer('connected? a', i === 3 ? 'no' : 'yes');
    expect(f.take()).toEqual([
      ...Array(5).fill('connected? a'),
      'claim r1', 'claim r2', 'claim r3', 'dispatcher.redelivery-deferred {"command":"r4","error":"agent is not connected"}', 'send first to a',
    ]);
    f.answer('claim r1', 'completed');
    f.answer('claim r2', 'error');
    f.answer('claim r3', 'pending');
    f.answer('send r3', 'no such agent');
    expect(f.take()).toEqual([
      'dispatcher.redelivery-dropped {"command":"r1","status":"completed"}',
      'dispatcher.redelivery-deferred {"command":"r2","error":"db down"}',
      'send r3 to a',
      'dispatcher.redelivery-deferred {"command":"r3","error":"no such agent"}',
    ]);
  });

  test('design fix `redeliver-unfinished` alone: a redelivery is sent without a claim, and a failed send leaves the row for the next round', () => {
    const f = new Fixture();
    f.dispatch('r1', { redelivery: true });
    f.answer('connected? a', 'yes');
    f.answer('send r1', 'agent a send buffer is full');
    expect(f.take()).toEqual(['connected? a', 'send r1 to a', 'dispatcher.redelivery-deferred {"command":"r1","error":"agent a send buffer is full"}']);
  });

  test('§5.3: with every worker busy the queue holds the next commands; a worker that returns takes the oldest at once', () => {
    const f = new Fixture({ workers: 2, capacity: 2 });
    for (const id of ['c1', 'c2', 'c3', 'c4']) f.dispatch(id);
    // The queue is full: DispatchCommand fails without blocking.
    expect(f.dispatcher.dispatch({ commandId: 'c5', agentId: 'a', action: 'start_session', sessionId: 's' })).toBe(false);
    expect(f.take()).toEqual(['connected? a', 'connected? a', 'dispatcher.queue-full {"command":"c5"}']);
    f.answer('connected? a', 'no');
    f.answer('failed c1', 'ok');
    expect(f.take()).toEqual(['failed c1 (agent is not connected)', 'dispatcher.failed {"command":"c1","error":"agent is not connected","recorded":true}', 'connected? a']);
    expect(f.pending.map((p) => p.what)).toEqual(['connected? a', 'connected? a']);
  });

  test('answers given at once run a command to its end inside the dispatch, in the order the workers would', () => {
    const f = new Fixture({ workers: 1 });
    f.sync = (what) => (what.startsWith('connected?') ? 'yes' : what.startsWith('send c2') ? 'refused' : 'ok');
    f.dispatch('c1');
    f.dispatch('c2');
    expect(f.take()).toEqual([
      'connected? a', 'send c1 to a', 'sent c1', 'dispatcher.sent {"command":"c1","recorded":true}',
      'connected? a', 'send c2 to a', 'failed c2 (refused)', 'dispatcher.failed {"command":"c2","error":"refused","recorded":true}',
    ]);
  });
});
