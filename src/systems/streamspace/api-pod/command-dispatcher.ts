import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import type { DispatcherConfig } from '../config.ts';
import type { AgentMessage } from '../wire.ts';
import type { AgentHub } from './agent-hub.ts';

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

/** The statuses a redelivery may still send (`redeliver-unfinished` picks rows in these). */
const UNFINISHED: readonly (string | null)[] = ['pending', 'sent', 'ack'];

/**
 * CommandDispatcher (spec §5.3, command_dispatcher.go): an in-memory queue of 1000 and 10 workers.
 * Each worker takes a command through three separate steps, each with its own I/O: IsAgentConnected,
 * SendCommandToAgent, then the `sent` UPDATE, which can land after the agent's `ack` or even
 * `complete` and overwrite it (§5.4). No retry, no re-scan, no timeout: the only re-queue is
 * DispatchPendingCommands, run once at process start. The queue dies with the process.
 */
export class CommandDispatcher {
  private readonly queue: DispatchedCommand[] = [];
  private idleWorkers: number;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly config: DispatcherConfig,
    private readonly hub: AgentHub,
    private readonly rows: DispatcherRowsPort,
    /** Design fix `ambiguous-send-not-failed`. */
    private readonly ambiguousSendNotFailed = false,
    /** Design fix `redelivery-claims-row`. */
    private readonly redeliveryClaimsRow = false,
  ) {
    this.idleWorkers = config.workers;
  }

  /** DispatchCommand (§5.3 :161-182): non-blocking enqueue; false means "command queue is full". */
  dispatch(command: DispatchedCommand): boolean {
    if (this.queue.length >= this.config.queueCapacity) {
      this.ctx.record('dispatcher.queue-full', { command: command.commandId });
      return false;
    }
    this.queue.push(command);
    this.ctx.record('dispatcher.queued', { command: command.commandId, depth: this.queue.length });
    this.startWorkers();
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

  private startWorkers(): void {
    while (this.idleWorkers > 0 && this.queue.length > 0) {
      this.idleWorkers--;
      this.process(this.queue.shift()!, () => {
        this.idleWorkers++;
        this.startWorkers();
      });
    }
  }

  /** processCommand (§5.3 :190-250). */
  private process(command: DispatchedCommand, done: () => void): void {
    const { commandId, agentId } = command;
    this.hub.isAgentConnected(agentId, (connected, unknown) => {
      if (!connected && unknown && this.ambiguousSendNotFailed) {
        // Design fix: Redis could not say; the row stays for redelivery instead of becoming `failed`.
        this.ctx.record('dispatcher.connected-unknown', { command: commandId });
        return done();
      }
      if (!connected) return this.failOrDefer(command, 'agent is not connected', done);
      if (command.redelivery && this.redeliveryClaimsRow) return this.claimThenSend(command, done);
      this.send(command, done);
    });
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
  private claimThenSend(command: DispatchedCommand, done: () => void): void {
    const { commandId } = command;
    this.rows.claimForRedelivery(commandId, (r) => {
      if (!r.ok) {
        this.ctx.record('dispatcher.redelivery-deferred', { command: commandId, error: r.message });
        return done();
      }
      if (!UNFINISHED.includes(r.value)) {
        this.ctx.record('dispatcher.redelivery-dropped', { command: commandId, status: r.value });
        return done();
      }
      this.send(command, done);
    });
  }

  /** SendCommandToAgent, then the `sent` UPDATE (§5.3 steps 2-3). */
  private send(command: DispatchedCommand, done: () => void): void {
    const { commandId, agentId } = command;
    const message: AgentMessage & { type: 'command' } = { type: 'command', commandId, action: command.action, sessionId: command.sessionId };
    this.hub.sendCommandToAgent(agentId, message, (error, ambiguous) => {
      if (error !== null && ambiguous && this.ambiguousSendNotFailed) {
        this.ctx.record('dispatcher.send-ambiguous', { command: commandId, error });
        return done();
      }
      if (error !== null) return this.failOrDefer(command, error, done);
      this.rows.markSent(commandId, (r) => {
        // A failed `sent` UPDATE is only logged: the row stays as it was (§5.3 step 3).
        this.ctx.record('dispatcher.sent', { command: commandId, recorded: r.ok });
        done();
      });
    });
  }

  /** A dispatch failed: failCommand, or for a redelivery, leave the row for the next one. */
  private failOrDefer(command: DispatchedCommand, error: string, done: () => void): void {
    if (!command.redelivery) return this.fail(command.commandId, error, done);
    this.ctx.record('dispatcher.redelivery-deferred', { command: command.commandId, error });
    done();
  }

  /** failCommand (§5.3 :265-277). */
  private fail(commandId: string, error: string, done: () => void): void {
    this.rows.markFailedByDispatcher(commandId, error, (r) => {
      this.ctx.record('dispatcher.failed', { command: commandId, error, recorded: r.ok });
      done();
    });
  }
}
