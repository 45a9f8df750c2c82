import type { ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import type { DispatcherConfig } from '../config.ts';
import type { AgentMessage } from '../wire.ts';
import type { AgentHub } from './agent-hub.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import { dispatcherWorkerMachine, type WorkerComponent, type WorkerEvent } from './command-dispatcher-machine.ts';

/** A command as the dispatcher sees it (an `agent_commands` row). */
export interface DispatchedCommand {
  commandId: string;
  agentId: string;
  action: string;
  sessionId: string;
  /**
   * Set by the `redeliver-unfinished` fix's reconciler: when the agent cannot be reached the row is
   * left as it is for the next round, instead of being marked failed (the first attempt may still
   * complete, and a final `failed` would hide it).
   */
  redelivery?: boolean;
}

/** The dispatcher's statements (§5.3): both filter **only** by command id and overwrite blindly. */
export interface DispatcherRowsPort {
  markSent(commandId: string, cb: (r: RpcResult<unknown>) => void): void;
  markFailedByDispatcher(commandId: string, error: string, cb: (r: RpcResult<unknown>) => void): void;
  listPendingCommands(cb: (r: RpcResult<DispatchedCommand[]>) => void): void;
  /**
   * Design fix `redelivery-claims-row`: claims the row for a redelivery (pending → sent by a
   * conditional UPDATE, or a re-read of a sent/ack row); the value is its status afterwards.
   */
  claimForRedelivery(commandId: string, cb: (r: RpcResult<string | null>) => void): void;
}

/** The workers' statechart (command-dispatcher-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const WORKER = compileMachine(dispatcherWorkerMachine);

/** The events without data, made once. */
const READY: WorkerEvent = { type: 'READY' };
const COMMAND: WorkerEvent = { type: 'COMMAND' };
const CONNECTED: WorkerEvent = { type: 'CONNECTED' };
const SENT: WorkerEvent = { type: 'SENT' };

/**
 * CommandDispatcher (spec §5.3, command_dispatcher.go): an in-memory queue of 1000 and 10 workers.
 * Each worker takes a command through three separate steps, each with its own I/O: IsAgentConnected,
 * SendCommandToAgent, then the `sent` UPDATE, which can land after the agent's `ack` or even
 * `complete` and overwrite it (§5.4). No retry, no re-scan, no timeout: the only re-queue is
 * DispatchPendingCommands, run once at process start. The queue dies with the process.
 * Each worker is the statechart of command-dispatcher-machine.ts, run by the kernel's compiled
 * stepper with a `DispatcherWorker` as its context.
 */
export class CommandDispatcher {
  private readonly queue: DispatchedCommand[] = [];
  private readonly workers: DispatcherWorker[] = [];

  constructor(
    private readonly ctx: ProcessContext,
    private readonly config: DispatcherConfig,
    hub: AgentHub,
    private readonly rows: DispatcherRowsPort,
    /** Design fix `ambiguous-send-not-failed`. */
    ambiguousSendNotFailed = false,
    /** Design fix `redelivery-claims-row`. */
    redeliveryClaimsRow = false,
  ) {
    // Start (command_dispatcher.go:57-94): the workers, each waiting on the queue.
    for (let i = 0; i < config.workers; i++) {
      this.workers.push(new DispatcherWorker(ctx, this.queue, hub, rows, ambiguousSendNotFailed, redeliveryClaimsRow));
    }
  }

  /** DispatchCommand (§5.3 :161-182): non-blocking enqueue; false means "command queue is full". */
  dispatch(command: DispatchedCommand): boolean {
    if (this.queue.length >= this.config.queueCapacity) {
      this.ctx.record('dispatcher.queue-full', { command: command.commandId });
      return false;
    }
    this.queue.push(command);
    this.ctx.record('dispatcher.queued', { command: command.commandId, depth: this.queue.length });
    // The send on the channel: an idle worker receives it, a busy one ignores READY. Which idle
    // worker takes it is the Go scheduler's choice and changes nothing: the workers are alike.
    for (const worker of this.workers) {
      if (this.queue.length === 0) break;
      worker.send(READY);
    }
    return true;
  }

  /** DispatchPendingCommands (§5.3 :315-362): one scan of `pending` rows at start-up. */
  dispatchPending(done: () => void): void {
    this.rows.listPendingCommands((r) => {
      if (!r.ok) {
        this.ctx.record('dispatcher.pending-scan', { ok: false });
        return done();
      }
      this.ctx.record('dispatcher.pending-scan', { ok: true, rows: r.value.length });
      for (const command of r.value) this.dispatch(command);
      done();
    });
  }
}

/**
 * One worker goroutine (command_dispatcher.go:190-277): the context of its statechart, which it
 * answers with the outcome of each step's I/O. Its callbacks are made once, as the worker runs one
 * command at a time.
 */
class DispatcherWorker implements WorkerComponent {
  private readonly chart: Statechart<DispatcherWorker, WorkerEvent, TimerHandle>;
  command: DispatchedCommand | null = null;
  failure = '';
  private readonly connected = (connected: boolean, unknown?: boolean): void => {
    this.chart.send(connected ? CONNECTED : { type: 'NOT_CONNECTED', unknown: unknown === true });
  };
  private readonly claimed = (r: RpcResult<string | null>): void => {
    this.chart.send(r.ok ? { type: 'CLAIMED', status: r.value } : { type: 'CLAIM_FAILED', error: r.message });
  };
  private readonly sent = (error: string | null, ambiguous?: boolean): void => {
    this.chart.send(error === null ? SENT : { type: 'SEND_FAILED', error, ambiguous: ambiguous === true });
  };
  private readonly written = (r: RpcResult<unknown>): void => {
    this.chart.send({ type: 'WRITTEN', ok: r.ok });
  };

  constructor(
    readonly ctx: ProcessContext,
    /** The dispatcher's queue, shared by its workers. */
    private readonly queue: DispatchedCommand[],
    private readonly hub: AgentHub,
    private readonly rows: DispatcherRowsPort,
    readonly ambiguousSendNotFailed: boolean,
    readonly redeliveryClaimsRow: boolean,
  ) {
    this.chart = new Statechart<DispatcherWorker, WorkerEvent, TimerHandle>(WORKER, this, ctx);
    this.chart.start();
  }

  send(event: WorkerEvent): void {
    this.chart.send(event);
  }

  receive(): void {
    const next = this.queue.shift();
    if (next === undefined) return;
    this.command = next;
    this.chart.send(COMMAND);
  }

  checkConnected(): void {
    this.hub.isAgentConnected(this.command!.agentId, this.connected);
  }

  /**
   * Design fix `redelivery-claims-row`: the reconciler picked the row a while ago (its scan, then
   * the queue), and the row's first dispatch may have been running all along, held up by the
   * network: its `failed` could commit after the scan and before the send, and the redelivery would
   * deliver a command the row says failed. The claim moves a pending row to `sent` before the send,
   * so a late `failed` (guarded: pending rows only) no longer applies, and a row that is finished
   * by then is not sent. When the claim cannot be made (database error) the row is left for the
   * next round.
   */
  claim(): void {
    this.rows.claimForRedelivery(this.command!.commandId, this.claimed);
  }

  sendToAgent(): void {
    const { commandId, agentId, action, sessionId } = this.command!;
    const message: AgentMessage & { type: 'command' } = { type: 'command', commandId, action, sessionId };
    this.hub.sendCommandToAgent(agentId, message, this.sent);
  }

  markSent(): void {
    this.rows.markSent(this.command!.commandId, this.written);
  }

  markFailed(error: string): void {
    this.failure = error;
    this.rows.markFailedByDispatcher(this.command!.commandId, error, this.written);
  }
}
