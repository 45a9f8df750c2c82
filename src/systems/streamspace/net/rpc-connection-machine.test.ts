import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MS, Simulation, type CloseReason } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost, type TransitionInfo } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import { rpcConnectionMachine, type ConnectionComponent, type ConnectionEvent } from './rpc-connection-machine.ts';
import { ok, RpcClient, serveRpc, type RpcResult } from './rpc.ts';

/** A client whose I/O is a log: what the statechart starts, and in which order. */
class FakeClient implements ConnectionComponent {
  readonly log: string[] = [];
  dial(): void {
    this.log.push('dial');
  }
  sendWaiting(): void {
    this.log.push('send waiting');
  }
  closeConnection(): void {
    this.log.push('close');
  }
  forgetConnection(): void {
    this.log.push('forget');
  }
  failRequests(message: string): void {
    this.log.push(`fail: ${message}`);
  }
  disconnectedMessage(reason: CloseReason): string {
    return `connection ${reason}`;
  }
  reportConnected(): void {
    this.log.push('onConnect');
  }
  reportDisconnected(reason: CloseReason): void {
    this.log.push(`onDisconnect ${reason}`);
  }
}

const host: StatechartHost<number> = {
  setTimer: () => {
    throw new Error('the connection statechart arms no timer of its own');
  },
  cancelTimer: () => undefined,
  record: () => undefined,
  fail: (error) => {
    throw error;
  },
};

function startFake(): { client: FakeClient; chart: Statechart<FakeClient, ConnectionEvent, number> } {
  const client = new FakeClient();
  const chart = new Statechart<FakeClient, ConnectionEvent, number>(compileMachine(rpcConnectionMachine), client, host);
  chart.start();
  return { client, chart };
}

describe("the RpcClient connection's statechart", () => {
  test('the compiled stepper agrees with xstate on random event sequences (dials, opens, ends, closes)', () => {
    fc.assert(fc.property(stepsArbitrary(rpcConnectionMachine, 40), (steps) => checkDifferential(rpcConnectionMachine, steps)), { numRuns: 300 });
  });

  test('it compiles to the modes of the module comment, with no timer', () => {
    const compiled = compileMachine(rpcConnectionMachine);
    expect(compiled.states.map((s) => s.id)).toEqual(['connection.idle', 'connection.dialing', 'connection.open']);
    expect(compiled.timers).toEqual([]);
    expect(compiled.events).toEqual(['DIAL', 'OPENED', 'DISCONNECTED', 'CLOSE']);
  });

  test('a call dials; the dial opens and the waiting calls are written; the end fails the requests, then tells the caller; the next call redials', () => {
    const { client, chart } = startFake();
    expect(chart.state.id).toBe('connection.idle');
    chart.send({ type: 'DIAL' });
    expect(chart.state.id).toBe('connection.dialing');
    // A call while dialling waits: no second dial.
    chart.send({ type: 'DIAL' });
    chart.send({ type: 'OPENED' });
    expect(chart.state.id).toBe('connection.open');
    chart.send({ type: 'DIAL' });
    chart.send({ type: 'DISCONNECTED', reason: 'reset' });
    expect(chart.state.id).toBe('connection.idle');
    chart.send({ type: 'DIAL' });
    expect(client.log).toEqual(['dial', 'send waiting', 'onConnect', 'forget', 'fail: connection reset', 'onDisconnect reset', 'dial']);
  });

  test("a failed dial fails the calls waiting for it; the client's close closes the connection without onDisconnect; close with no connection does nothing", () => {
    const { client, chart } = startFake();
    chart.send({ type: 'CLOSE' });
    expect(client.log).toEqual([]);
    chart.send({ type: 'DIAL' });
    chart.send({ type: 'DISCONNECTED', reason: 'refused' });
    expect(chart.state.id).toBe('connection.idle');
    chart.send({ type: 'OPENED' });
    expect(chart.state.id).toBe('connection.idle');
    chart.send({ type: 'DIAL' });
    chart.send({ type: 'CLOSE' });
    chart.send({ type: 'DIAL' });
    chart.send({ type: 'OPENED' });
    chart.send({ type: 'CLOSE' });
    expect(client.log).toEqual([
      'dial', 'forget', 'fail: connection refused', 'onDisconnect refused',
      'dial', 'close', 'fail: closed by client',
      'dial', 'send waiting', 'onConnect', 'close', 'fail: closed by client',
    ]);
  });
});

describe('RpcClient runs it', () => {
  /** A client and an echo server, with every transition of the run's statecharts counted. */
  function run() {
    const transitions: TransitionInfo[] = [];
    const sim = new Simulation({
      seed: 1,
      statecharts: { hookFor: (machine) => (machine.id === 'connection' ? (t) => void transitions.push(t) : undefined) },
    });
    sim.addNode('a');
    sim.addNode('b');
    sim.addProcess({ name: 'server', node: 'a', boot: (ctx) => ({ onAccept: (conn) => serveRpc(conn, (body, reply) => ctx.setTimer(MS, () => reply(ok(body)))) }) });
    const log: string[] = [];
    let client!: RpcClient;
    sim.addProcess({
      name: 'client', node: 'b', boot: (ctx) => {
        client = new RpcClient(ctx, { target: 'server', onConnect: () => log.push('onConnect'), onDisconnect: (r) => log.push(`onDisconnect ${r}`) });
        return {};
      },
    });
    sim.run({ until: 0 });
    const call = (n: number, onResult?: (r: RpcResult<unknown>) => void) =>
      client.call(n, (r) => {
        log.push(`${n}: ${r.ok ? 'ok' : r.error}`);
        onResult?.(r);
      });
    return { sim, transitions, log, call, client: () => client };
  }

  test('it steps on connection events only: a thousand calls on an open connection take no step', () => {
    const { sim, transitions, call } = run();
    call(0);
    sim.run();
    const steps = transitions.length;
    expect(transitions.map((t) => t.event)).toEqual(['xstate.init', 'DIAL', 'OPENED']);
    for (let i = 1; i <= 1000; i++) call(i);
    sim.run();
    expect(transitions).toHaveLength(steps);
  });

  test("a call made from a failed request's callback dials at once, before onDisconnect, as without a statechart", () => {
    const { sim, transitions, log, call } = run();
    call(1);
    sim.run();
    call(2, (r) => {
      if (r.ok) return;
      call(3);
      // The dial was made inside the callback, not once the step that failed request 2 ended.
      log.push(`last step: ${transitions.at(-1)!.event}`);
    });
    sim.restart('server', 0);
    sim.run();
    expect(log).toEqual(['onConnect', '1: ok', '2: connection', 'last step: DIAL', expect.stringMatching(/^onDisconnect /), 'onConnect', '3: ok']);
    expect(transitions.map((t) => t.event)).toEqual(['xstate.init', 'DIAL', 'OPENED', 'DISCONNECTED', 'DIAL', 'OPENED']);
  });
});
