import { setup } from 'xstate';
import type { ProcessContext } from '../../../sim-cluster/index.ts';

/**
 * The statechart of the k8s-agent's writer goroutine, writePump (spec streamspace-v2-behavior §7.6;
 * agents/k8s-agent/main.go:858-904): the definition write-pump.ts runs through the kernel's compiled
 * stepper (sim-cluster/statechart). Run starts it once, after its first Connect succeeded (§7.4
 * step 2; `notStarted` until then). It waits in its select on writeChan and the ping ticker
 * (`idle`), takes the messages writeChan holds and writes each to the current wsConn, dropping
 * those that find it nil (`writing`), and writes a ping on every tick of its 54 s ticker. On any
 * write or ping error it returns and nothing restarts it (`exited`): writes then only fill
 * writeChan (§7.6); with the design fix `writer-survives-errors` it drops what failed and goes on.
 * Shutdown closes writeChan and writePump returns (`stopped`, §7.4 step 3). A writer that returned
 * cannot be restarted: both are final.
 *
 * The context is the writer itself (`WriterComponent`, implemented by write-pump.ts): it keeps
 * writeChan and the ping ticker and does the writes; the statechart decides when they happen and
 * what a failure does. The component answers with events: a message was put on writeChan
 * (`ENQUEUED`), writePump wakes to take it (`WAKE`), the channel is empty (`DRAINED`) or a write
 * failed (`WRITE_FAILED`), the ticker ticked (`PING`) and the ping was written (`PINGED`) or not
 * (`PING_FAILED`).
 *
 * No `after` delay: writePump's wake-up (the goroutine runs once the sender's step is done, a
 * 0 µs timer) and its ticker outlive the modes that arm them, as in the as-built model a timer
 * that finds the writer gone runs out doing nothing; an `after` would be cancelled when the state
 * is left (a paused process would resume with one deferred timer fewer). So the component arms
 * them and the final states ignore their end. The writer's trace events are `agent.sent`,
 * `agent.write-error` and `agent.writer-exit`; it records no `actor.state`.
 */

/** The writer's events: writeChan, its wake-up, the writes' outcome, the ticker, Run and shutdown. */
export type WriterEvent =
  /** Run started writePump (§7.4 step 2). */
  | { type: 'START' }
  /** A message was put on writeChan. */
  | { type: 'ENQUEUED' }
  /** writePump runs: it takes what writeChan holds. */
  | { type: 'WAKE' }
  /** writeChan is empty: every message taken was written or dropped. */
  | { type: 'DRAINED' }
  /** The write of a message failed; `lost`: the message's type. */
  | { type: 'WRITE_FAILED'; lost: string }
  /** A tick of the ping ticker. */
  | { type: 'PING' }
  /** The ping was written (or wsConn was nil: nothing to write on). */
  | { type: 'PINGED' }
  | { type: 'PING_FAILED' }
  /** Shutdown closed writeChan (§7.4 step 3). */
  | { type: 'STOP' };

/** The writer's modes, the leaf states of the machine. */
export type WriterMode = 'notStarted' | 'idle' | 'writing' | 'exited' | 'stopped';

/** writePump as its statechart sees it. */
export interface WriterComponent {
  readonly ctx: ProcessContext;
  readonly agentId: string;
  /** Design fix `writer-survives-errors`. */
  readonly survivesErrors: boolean;
  /** The select: answers `ENQUEUED` when writeChan holds a message. */
  select(): void;
  /** Arms writePump's wake-up, which answers `WAKE`. */
  wake(): void;
  /** Takes writeChan's messages and writes each to wsConn: answers `DRAINED` or `WRITE_FAILED`. */
  write(): void;
  /** Writes a ping to wsConn: answers `PINGED` or `PING_FAILED`. */
  ping(): void;
  /** Arms the ticker's next tick, which answers `PING`. */
  armPing(): void;
}

/** What a failed write lost: the message's type, or the ping. */
const lostOf = (event: WriterEvent): string => (event.type === 'WRITE_FAILED' ? event.lost : 'ping');

export const writerMachine = setup({
  types: {
    context: {} as WriterComponent,
    input: {} as WriterComponent,
    events: {} as WriterEvent,
  },
  guards: {
    /** Design fix `writer-survives-errors`: a failed write loses its message, not the writer. */
    survivesErrors: ({ context }) => context.survivesErrors,
  },
  actions: {
    /** writePump's select: a message in writeChan is taken at once (§7.6). */
    select: ({ context }) => context.select(),
    /** The writer goroutine wakes once the sender's step is done. */
    wake: ({ context }) => context.wake(),
    /** Each message: read wsConn, drop it when nil, else write it with the 10 s write deadline (§7.6). */
    write: ({ context }) => context.write(),
    /** The ticker's case: a ping with the write deadline (§7.6). */
    ping: ({ context }) => context.ping(),
    /** The ticker, created when writePump starts: a tick every pingPeriod, 54 s (§7.2, §7.6). */
    armPing: ({ context }) => context.armPing(),
    /** On any write or ping error writePump returns, and nothing restarts it (§7.6). */
    recordWriterExit: ({ context, event }) => {
      context.ctx.record('agent.writer-exit', { agent: context.agentId, lost: lostOf(event) });
    },
    /** Design fix `writer-survives-errors`: the message that failed is dropped; the writer stays for the next connection. */
    recordWriteError: ({ context, event }) => {
      context.ctx.record('agent.write-error', { agent: context.agentId, lost: lostOf(event) });
    },
  },
}).createMachine({
  id: 'writer',
  description: "the k8s-agent's writePump (§7.6): the single writer of writeChan and the pings; returns for good on its first write error",
  context: ({ input }) => input,
  initial: 'notStarted',
  on: { STOP: '.stopped' },
  states: {
    notStarted: {
      description: "created with the agent: Run starts writePump once its Connect succeeded (§7.4 step 2)",
      on: { START: { target: 'running', actions: 'armPing' } },
    },
    running: {
      description: 'writePump running: its select over writeChan and the ping ticker (§7.6)',
      initial: 'idle',
      on: {
        PING: { actions: 'ping' },
        PINGED: { actions: 'armPing' },
        PING_FAILED: [
          { guard: 'survivesErrors', actions: 'armPing' },
          { target: 'exited', actions: 'recordWriterExit' },
        ],
      },
      states: {
        idle: {
          description: 'writeChan empty: the select waits (§7.6)',
          entry: 'select',
          on: { ENQUEUED: 'writing' },
        },
        writing: {
          description: 'writeChan holds messages: writePump takes them one after the other and writes each to the current wsConn (§7.6)',
          entry: 'wake',
          on: {
            WAKE: { actions: 'write' },
            DRAINED: 'idle',
            WRITE_FAILED: [
              { guard: 'survivesErrors', target: 'idle', actions: 'recordWriteError' },
              { target: '#writer.exited', actions: 'recordWriterExit' },
            ],
          },
        },
      },
    },
    exited: {
      description: 'writePump returned on a write or ping error: nothing restarts it, writes only fill writeChan (§7.6)',
      type: 'final',
    },
    stopped: {
      description: 'shutdown closed writeChan: writePump returned (§7.4 step 3)',
      type: 'final',
    },
  },
});
