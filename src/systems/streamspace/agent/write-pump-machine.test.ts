import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ConnectionEnd, ProcessContext } from '../../../sim-cluster/index.ts';
import { compileMachine } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import type { AgentMessage, WsFrame } from '../wire.ts';
import { writerMachine } from './write-pump-machine.ts';
import { WritePump } from './write-pump.ts';

/** A WritePump on a hand-run clock and a socket whose writes succeed until told otherwise. */
class Fixture {
  readonly log: string[] = [];
  private readonly timers: Array<{ label: string; fn: () => void }> = [];
  conn: { id: string; fails: boolean } | null = { id: 'c1', fails: false };
  readonly writer: WritePump;

  constructor(survivesErrors = false, writeChanCapacity = 256) {
    const ctx = {
      record: (kind: string, d: Record<string, unknown>) => void this.log.push(`${kind} ${JSON.stringify(d)}`),
      setTimer: (us: number, fn: () => void, label: string) => {
        this.log.push(`timer ${label} ${us}`);
        this.timers.push({ label, fn });
        return this.timers.length;
      },
      cancelTimer: () => {
        throw new Error('the writer cancels no timer');
      },
      fail: (error: unknown) => {
        throw error;
      },
    } as unknown as ProcessContext;
    const socket = (): ConnectionEnd | null => {
      const c = this.conn;
      if (c === null) return null;
      return {
        id: c.id,
        send: (frame: WsFrame) => {
          this.log.push(`${c.fails ? 'failed' : 'wrote'} ${frame.ws === 'text' ? frame.messages.map((m) => m.type).join() : frame.ws} on ${c.id}`);
          return !c.fails;
        },
      } as unknown as ConnectionEnd;
    };
    this.writer = new WritePump(ctx, 'agent', { writeChanCapacity, pingPeriodUs: 54_000_000, survivesErrors }, socket);
  }

  /** Runs the oldest pending timer with this label. */
  fire(label: string): void {
    const i = this.timers.findIndex((t) => t.label === label);
    if (i < 0) throw new Error(`no timer ${label}`);
    const [t] = this.timers.splice(i, 1);
    t!.fn();
  }

  pendingTimers(): string[] {
    return this.timers.map((t) => t.label);
  }

  take(): string[] {
    const out = [...this.log];
    this.log.length = 0;
    return out;
  }
}

const ack = (commandId: string): AgentMessage => ({ type: 'ack', commandId });
const heartbeat: AgentMessage = { type: 'heartbeat', status: 'online', activeSessions: 0, capacity: 10 };

describe('the writer statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (start, writes, pings, failures, stop)', () => {
    fc.assert(fc.property(stepsArbitrary(writerMachine, 60), (steps) => checkDifferential(writerMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the modes of the module comment, with no timer', () => {
    const compiled = compileMachine(writerMachine);
    expect(compiled.id).toBe('writer');
    expect(compiled.states.map((s) => s.id)).toEqual(['writer.notStarted', 'writer.running.idle', 'writer.running.writing', 'writer.exited', 'writer.stopped']);
    expect(compiled.timers).toEqual([]);
    expect(compiled.events).toEqual(['STOP', 'START', 'PING', 'PINGED', 'PING_FAILED', 'ENQUEUED', 'WAKE', 'DRAINED', 'WRITE_FAILED']);
  });

  test('§7.4 step 2: messages wait in writeChan until Run starts writePump, which creates its ticker and takes them at once', () => {
    const f = new Fixture();
    f.writer.enqueue(ack('c1'));
    expect(f.take()).toEqual([]);
    f.writer.start();
    expect(f.take()).toEqual(['timer agent.ping 54000000', 'timer agent.write 0']);
    f.fire('agent.write');
    expect(f.take()).toEqual(['wrote ack on c1', 'agent.sent {"agent":"agent","type":"ack","command":"c1","conn":"c1"}']);
  });

  test('§7.6: one wake-up takes every message queued before it; a nil wsConn drops them; each tick writes a ping and arms the next', () => {
    const f = new Fixture();
    f.writer.start();
    f.writer.enqueue(ack('c1'));
    f.writer.enqueue(heartbeat);
    expect(f.take()).toEqual(['timer agent.ping 54000000', 'timer agent.write 0']);
    f.fire('agent.write');
    expect(f.take()).toEqual(['wrote ack on c1', 'agent.sent {"agent":"agent","type":"ack","command":"c1","conn":"c1"}', 'wrote heartbeat on c1']);
    f.conn = null;
    f.writer.enqueue(ack('c2'));
    f.fire('agent.write');
    f.fire('agent.ping');
    expect(f.take()).toEqual(['timer agent.write 0', 'timer agent.ping 54000000']);
    f.conn = { id: 'c2', fails: false };
    f.fire('agent.ping');
    expect(f.take()).toEqual(['wrote ping on c2', 'timer agent.ping 54000000']);
  });

  test('§7.6: as built, the first write error ends writePump for good: writeChan fills up, sends time out, the ticker stops', () => {
    const f = new Fixture(false, 2);
    f.writer.start();
    f.conn!.fails = true;
    f.writer.enqueue(ack('c1'));
    f.writer.enqueue(ack('c2'));
    f.take();
    f.fire('agent.write');
    expect(f.take()).toEqual(['failed ack on c1', 'agent.writer-exit {"agent":"agent","lost":"ack"}']);
    f.conn = { id: 'c2', fails: false };
    for (const id of ['c3', 'c4']) f.writer.enqueue(ack(id));
    f.fire('agent.ping');
    expect(f.take()).toEqual(['agent.send-timeout {"agent":"agent","type":"ack"}']);
    expect(f.pendingTimers()).toEqual([]);
  });

  test('§7.6: a failed ping ends writePump too; a wake-up armed before it runs out doing nothing', () => {
    const f = new Fixture();
    f.writer.start();
    f.writer.enqueue(ack('c1'));
    f.conn!.fails = true;
    f.take();
    f.fire('agent.ping');
    expect(f.take()).toEqual(['failed ping on c1', 'agent.writer-exit {"agent":"agent","lost":"ping"}']);
    f.fire('agent.write');
    expect(f.take()).toEqual([]);
  });

  test('design fix `writer-survives-errors`: the failed message is dropped, the next ones are written on the next wake-up, a failed ping keeps the ticker', () => {
    const f = new Fixture(true);
    f.writer.start();
    f.conn!.fails = true;
    f.writer.enqueue(ack('c1'));
    f.writer.enqueue(ack('c2'));
    f.take();
    f.fire('agent.write');
    expect(f.take()).toEqual(['failed ack on c1', 'agent.write-error {"agent":"agent","lost":"ack"}', 'timer agent.write 0']);
    f.conn = { id: 'c2', fails: false };
    f.fire('agent.write');
    expect(f.take()).toEqual(['wrote ack on c2', 'agent.sent {"agent":"agent","type":"ack","command":"c2","conn":"c2"}']);
    f.conn.fails = true;
    f.fire('agent.ping');
    expect(f.take()).toEqual(['failed ping on c2', 'timer agent.ping 54000000']);
  });

  test('§7.4 step 3: shutdown closes writeChan: writePump returns, whatever it was doing, and a pending wake-up or tick finds it gone', () => {
    for (const started of [false, true]) {
      const f = new Fixture();
      if (started) f.writer.start();
      f.writer.enqueue(ack('c1'));
      f.writer.stop();
      f.take();
      if (started) {
        f.fire('agent.write');
        f.fire('agent.ping');
      }
      f.writer.start();
      expect(f.take()).toEqual([]);
      expect(f.pendingTimers()).toEqual([]);
    }
  });
});
