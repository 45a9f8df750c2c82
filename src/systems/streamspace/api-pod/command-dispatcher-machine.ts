import { setup } from 'xstate';
import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { DispatchedCommand } from './command-dispatcher.ts';

/**
 * The statechart of one worker goroutine of the API pod's CommandDispatcher (spec
 * streamspace-v2-behavior §5.3; api/internal/services/command_dispatcher.go): the definition
 * command-dispatcher.ts runs, one instance per worker, through the kernel's compiled stepper
 * (sim-cluster/statechart). A worker waits on the queue (`idle`), then takes its command through
 * processCommand's steps, each with its own I/O: IsAgentConnected (`checking`), SendCommandToAgent
 * (`sending`), the `sent` UPDATE (`marking`) or failCommand (`failing`); with the design fix
 * `redelivery-claims-row` a redelivery claims its row between the first two (`claiming`). No
 * timeout anywhere: a worker waits for each answer as long as it takes (§5.3).
 *
 * The dispatcher itself has no modes of its own in the model: api/cmd/main.go:209-217 starts it
 * (its workers) as the hub starts, and nothing stops or drains it, not even SIGTERM (§5.3
 * Lifecycle): its queue and its workers end with the process.
 *
 * The context is the worker itself (`WorkerComponent`, implemented by command-dispatcher.ts): it
 * holds its command and reaches the queue, the hub and the `agent_commands` statements; the
 * statechart decides the steps and records their outcome. `READY` tells an idle worker the queue
 * may hold a command; `receive` takes it (`COMMAND`); each step's I/O answers with an event
 * carrying its outcome. No `after` delay and no `actor.state`: the model's dispatcher arms no timer
 * and its trace records the steps' outcomes only (`dispatcher.*`).
 */

/** A worker's events: the queue may hold a command, the command it took, the answers of its I/O. */
export type WorkerEvent =
  | { type: 'READY' }
  | { type: 'COMMAND' }
  /** IsAgentConnected answered true. */
  | { type: 'CONNECTED' }
  /** IsAgentConnected answered false; `unknown`: because Redis could not be asked. */
  | { type: 'NOT_CONNECTED'; unknown: boolean }
  /** The redelivery claim was made: the row's status afterwards. */
  | { type: 'CLAIMED'; status: string | null }
  | { type: 'CLAIM_FAILED'; error: string }
  /** SendCommandToAgent returned nil. */
  | { type: 'SENT' }
  /** SendCommandToAgent returned an error; `ambiguous`: the message may have been delivered all the same. */
  | { type: 'SEND_FAILED'; error: string; ambiguous: boolean }
  /** The `sent` or `failed` UPDATE returned; `ok`: it was applied. */
  | { type: 'WRITTEN'; ok: boolean };

/** A worker's modes, the leaf states of the machine. */
export type WorkerMode = 'idle' | 'checking' | 'claiming' | 'sending' | 'marking' | 'failing';

/** The error failCommand writes when IsAgentConnected is false (command_dispatcher.go:217-222). */
export const NOT_CONNECTED_ERROR = 'agent is not connected';

/** The statuses a redelivery may still send (`redelivery-claims-row` drops a row in any other). */
const UNFINISHED: readonly (string | null)[] = ['pending', 'sent', 'ack'];

/** One worker as its statechart sees it. */
export interface WorkerComponent {
  readonly ctx: ProcessContext;
  /** The command being processed (the last one while idle; null before the first). */
  readonly command: DispatchedCommand | null;
  /** The error failCommand writes for it (set by `markFailed`). */
  readonly failure: string;
  /** Design fix `ambiguous-send-not-failed`. */
  readonly ambiguousSendNotFailed: boolean;
  /** Design fix `redelivery-claims-row`. */
  readonly redeliveryClaimsRow: boolean;
  /** `<-queue`: takes the queue's first command, if it holds one, and answers `COMMAND`. */
  receive(): void;
  /** hub.IsAgentConnected: answers `CONNECTED` or `NOT_CONNECTED`. */
  checkConnected(): void;
  /** The `redelivery-claims-row` claim: answers `CLAIMED` or `CLAIM_FAILED`. */
  claim(): void;
  /** hub.SendCommandToAgent: answers `SENT` or `SEND_FAILED`. */
  sendToAgent(): void;
  /** The `sent` UPDATE, by command id only: answers `WRITTEN`. */
  markSent(): void;
  /** failCommand's UPDATE, by command id only: answers `WRITTEN`. */
  markFailed(error: string): void;
}

const commandId = (c: WorkerComponent): string => c.command!.commandId;

/** The error failCommand writes: SendCommandToAgent's, or "agent is not connected". */
const failureOf = (event: WorkerEvent): string => (event.type === 'SEND_FAILED' ? event.error : NOT_CONNECTED_ERROR);

export const dispatcherWorkerMachine = setup({
  types: {
    context: {} as WorkerComponent,
    input: {} as WorkerComponent,
    events: {} as WorkerEvent,
  },
  guards: {
    /** Design fix `ambiguous-send-not-failed`: IsAgentConnected was false only because Redis could not be asked. */
    connectionUnknown: ({ context, event }) => context.ambiguousSendNotFailed && event.type === 'NOT_CONNECTED' && event.unknown,
    /** Design fix `ambiguous-send-not-failed`: the send failed after Redis may have delivered it (a timeout, a lost connection). */
    sendAmbiguous: ({ context, event }) => context.ambiguousSendNotFailed && event.type === 'SEND_FAILED' && event.ambiguous,
    /** Design fix `redeliver-unfinished`: a redelivery that cannot reach the agent leaves the row for the next round instead of failing it. */
    redelivery: ({ context }) => context.command!.redelivery === true,
    /** Design fix `redelivery-claims-row`: a redelivery claims its row before the send. */
    claimsRow: ({ context }) => context.redeliveryClaimsRow && context.command!.redelivery === true,
    /** The claimed row is finished (or gone): the redelivery is not sent. */
    rowFinished: ({ event }) => event.type === 'CLAIMED' && !UNFINISHED.includes(event.status),
  },
  actions: {
    /** worker (command_dispatcher.go:190-200): blocked on `<-queue` until a command comes. */
    receive: ({ context }) => context.receive(),
    /** processCommand step 1 (§5.3, :217-222): hub.IsAgentConnected. */
    checkConnected: ({ context }) => context.checkConnected(),
    /** Design fix `redelivery-claims-row`: pending → sent by a conditional UPDATE, or a re-read of a sent/ack row. */
    claim: ({ context }) => context.claim(),
    /** processCommand step 2 (§5.3, :225-230): hub.SendCommandToAgent. */
    sendToAgent: ({ context }) => context.sendToAgent(),
    /** processCommand step 3 (§5.3, :233-246): status `sent`, filtered only by command id, after the send. */
    markSent: ({ context }) => context.markSent(),
    /** failCommand (§5.3, :265-277): status `failed` with the error, filtered only by command id. */
    markFailed: ({ context, event }) => context.markFailed(failureOf(event)),
    /** A failed `sent` UPDATE is only logged: the row stays as it was (§5.3 step 3). */
    recordSent: ({ context, event }) => {
      context.ctx.record('dispatcher.sent', { command: commandId(context), recorded: event.type === 'WRITTEN' && event.ok });
    },
    /** failCommand's errors are only logged (§5.3). */
    recordFailed: ({ context, event }) => {
      context.ctx.record('dispatcher.failed', { command: commandId(context), error: context.failure, recorded: event.type === 'WRITTEN' && event.ok });
    },
    /** Design fix `ambiguous-send-not-failed`: Redis could not say; the row stays for redelivery instead of becoming `failed`. */
    recordConnectedUnknown: ({ context }) => {
      context.ctx.record('dispatcher.connected-unknown', { command: commandId(context) });
    },
    /** Design fix `ambiguous-send-not-failed`: the row stays as it is. */
    recordSendAmbiguous: ({ context, event }) => {
      context.ctx.record('dispatcher.send-ambiguous', { command: commandId(context), error: event.type === 'SEND_FAILED' ? event.error : '' });
    },
    /** Design fix `redeliver-unfinished` (or the claim could not be made): the row is left for the next round. */
    recordRedeliveryDeferred: ({ context, event }) => {
      const error = event.type === 'CLAIM_FAILED' ? event.error : failureOf(event);
      context.ctx.record('dispatcher.redelivery-deferred', { command: commandId(context), error });
    },
    /** Design fix `redelivery-claims-row`: the row is finished by now; the redelivery is dropped. */
    recordRedeliveryDropped: ({ context, event }) => {
      context.ctx.record('dispatcher.redelivery-dropped', { command: commandId(context), status: event.type === 'CLAIMED' ? event.status : null });
    },
  },
}).createMachine({
  id: 'dispatcher-worker',
  description: "one of an API pod's CommandDispatcher workers (§5.3, command_dispatcher.go:190-277): takes a command off the queue, then IsAgentConnected, SendCommandToAgent and the `sent` UPDATE, or failCommand",
  context: ({ input }) => input,
  initial: 'idle',
  states: {
    idle: {
      description: 'blocked receiving on the queue (:190-200); started with the dispatcher, never stopped (§5.3 Lifecycle)',
      entry: 'receive',
      on: {
        READY: { actions: 'receive' },
        COMMAND: 'checking',
      },
    },
    checking: {
      description: "IsAgentConnected: the hub's read lock, then its map or Redis GET agent:<id>:connected (§5.3 step 1)",
      entry: 'checkConnected',
      on: {
        CONNECTED: [
          { guard: 'claimsRow', target: 'claiming' },
          { target: 'sending' },
        ],
        NOT_CONNECTED: [
          { guard: 'connectionUnknown', target: 'idle', actions: 'recordConnectedUnknown' },
          { guard: 'redelivery', target: 'idle', actions: 'recordRedeliveryDeferred' },
          { target: 'failing' },
        ],
      },
    },
    claiming: {
      description: 'design fix redelivery-claims-row: the redelivery claims its row (pending → sent) before the send',
      entry: 'claim',
      on: {
        CLAIM_FAILED: { target: 'idle', actions: 'recordRedeliveryDeferred' },
        CLAIMED: [
          { guard: 'rowFinished', target: 'idle', actions: 'recordRedeliveryDropped' },
          { target: 'sending' },
        ],
      },
    },
    sending: {
      description: 'SendCommandToAgent: a put on the local Send, or GET agent:<id>:pod and PUBLISH (§5.3 step 2, §2.3)',
      entry: 'sendToAgent',
      on: {
        SENT: 'marking',
        SEND_FAILED: [
          { guard: 'sendAmbiguous', target: 'idle', actions: 'recordSendAmbiguous' },
          { guard: 'redelivery', target: 'idle', actions: 'recordRedeliveryDeferred' },
          { target: 'failing' },
        ],
      },
    },
    marking: {
      description: 'the `sent` UPDATE, after the send: it can land on an ack, complete or failed that came first (§5.3 step 3, §5.4)',
      entry: 'markSent',
      on: { WRITTEN: { target: 'idle', actions: 'recordSent' } },
    },
    failing: {
      description: 'failCommand: the `failed` UPDATE with the error (§5.3, :265-277)',
      entry: 'markFailed',
      on: { WRITTEN: { target: 'idle', actions: 'recordFailed' } },
    },
  },
});
