import type { ConnectionEnd, ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import type { ApiWebSocketConfig } from '../config.ts';
import { commandIds, type AgentMessage, type WsFrame } from '../wire.ts';
import type { AgentHub, HubConnection } from './agent-hub.ts';
import { events } from '../events.ts';

/** The command-row updates the WebSocket handler makes (§3 readPump; filter: command id AND agent id). */
export interface CommandRowsPort {
  markAckFromAgent(commandId: string, agentId: string, cb: (r: RpcResult<unknown>) => void): void;
  markCompletedFromAgent(commandId: string, agentId: string, cb: (r: RpcResult<unknown>) => void): void;
  markFailedFromAgent(commandId: string, agentId: string, error: string, cb: (r: RpcResult<unknown>) => void): void;
  /** handleHeartbeat's second UPDATE, for the capacity the agent reports (§3). */
  updateAgentCapacity(agentId: string, capacity: number, cb: (r: RpcResult<unknown>) => void): void;
}

/**
 * The API side of one agent WebSocket (spec §3, agent_websocket.go): the AgentConnection the hub
 * stores, the readPump and the writePump.
 *
 * readPump: frames are handled one at a time in arrival order, each handler's DB/Redis I/O
 * completing before the next frame is read. The read deadline (now + 60 s) moves only on pongs and
 * agent pings, never on data; it is checked when the pump goes to read, and by a timer while it
 * waits. On exit: `UnregisterAgent(agentId)` **by id only**, and the socket is closed.
 *
 * writePump: wakes `writerWakeUs` after a message is queued on Send and writes everything queued by
 * then as **one** frame (the coalescing quirk, §1); pings every 54 s; exits on a write error or when
 * the hub closes Send.
 */
export class AgentSocket implements HubConnection {
  lastPingUs: number;
  private readDeadlineUs: number;
  private readonly inbox: WsFrame[] = [];
  private reading = false;
  private readerExited = false;
  private deadlineTimer: TimerHandle | undefined;
  private sendQueue: AgentMessage[] = [];
  private sendClosed = false;
  private writerWake: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  /** Conn.Close() was called on this side: reads fail at once, buffered frames are discarded. */
  private closedLocally = false;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly conn: ConnectionEnd,
    readonly agentId: string,
    private readonly hub: AgentHub,
    private readonly rows: CommandRowsPort,
    private readonly config: ApiWebSocketConfig,
    private readonly sendBuffer: number,
    /** Design fix `frame-per-message`. */
    private readonly framePerMessage: boolean,
  ) {
    const now = ctx.monotonic();
    this.lastPingUs = now;
    this.readDeadlineUs = now + config.pongWaitUs;
    conn.onMessage = (frame) => {
      this.inbox.push(frame as WsFrame);
      this.pump();
    };
    conn.onClose = () => this.pump();
    this.pingTimer = ctx.setTimer(config.pingPeriodUs, () => this.ping(), 'ws.ping');
    this.armDeadline();
  }

  get id(): string {
    return this.conn.id;
  }

  /**
   * `go readPump()`, after RegisterAgent (§3 step 5): its first ReadMessage. A socket whose peer
   * already closed it (an upgrade request that waited in the accept queue of a paused pod while the
   * agent gave up on it) fails that read at once, and readPump exits through UnregisterAgent. The
   * close itself was reported before this socket existed, so nothing else would wake the reader.
   */
  startReading(): void {
    this.pump();
  }

  // ---- HubConnection -------------------------------------------------------------------------

  offer(message: AgentMessage): boolean {
    if (this.sendClosed || this.sendQueue.length >= this.sendBuffer) return false;
    this.sendQueue.push(message);
    if (this.writerWake === undefined) this.writerWake = this.ctx.setTimer(this.config.writerWakeUs, () => this.flush(), 'ws.write');
    return true;
  }

  closeByHub(): void {
    if (this.sendClosed) return;
    this.sendClosed = true;
    const lost = this.sendQueue.length;
    this.sendQueue = [];
    this.ctx.cancelTimer(this.writerWake);
    this.ctx.cancelTimer(this.pingTimer);
    this.ctx.record('ws.closed-by-hub', { conn: this.id, agent: this.agentId, lostMessages: lost });
    this.closeSocket();
    // The blocked ReadMessage now fails: readPump exits through its deferred UnregisterAgent.
    this.pump();
  }

  // ---- writePump -----------------------------------------------------------------------------

  private flush(): void {
    this.writerWake = undefined;
    if (this.sendClosed || this.sendQueue.length === 0) return;
    const queued = this.sendQueue;
    this.sendQueue = [];
    // As built, everything queued goes out as one newline-joined frame; the fix sends one frame each.
    const frames = this.framePerMessage ? queued.map((m) => [m]) : [queued];
    for (const messages of frames) {
      if (!this.conn.send({ ws: 'text', messages } satisfies WsFrame)) return this.writerFailed();
      events.record(this.ctx, 'ws.frame-out', {
        conn: this.id, agent: this.agentId, messages: messages.length,
        commands: commandIds(messages),
      });
    }
  }

  private ping(): void {
    this.pingTimer = undefined;
    if (this.sendClosed) return;
    if (!this.conn.send({ ws: 'ping' } satisfies WsFrame)) return this.writerFailed();
    this.pingTimer = this.ctx.setTimer(this.config.pingPeriodUs, () => this.ping(), 'ws.ping');
  }

  /** A write error: writePump returns and closes the socket; readPump then fails (§3). */
  private writerFailed(): void {
    this.ctx.cancelTimer(this.pingTimer);
    this.pingTimer = undefined;
    this.closeSocket();
    this.pump();
  }

  private closeSocket(): void {
    this.closedLocally = true;
    this.conn.close();
  }

  // ---- readPump ------------------------------------------------------------------------------

  private armDeadline(): void {
    this.ctx.cancelTimer(this.deadlineTimer);
    const wait = Math.max(0, this.readDeadlineUs - this.ctx.monotonic());
    this.deadlineTimer = this.ctx.setTimer(wait, () => {
      this.deadlineTimer = undefined;
      this.pump();
    }, 'ws.read-deadline');
  }

  /** Reads the next frame if the pump is waiting; exits on a closed socket or a passed deadline. */
  private pump(): void {
    if (this.reading || this.readerExited) return;
    if (this.closedLocally) return this.exitReader('socket closed locally');
    if ((this.conn.state === 'closed' || this.conn.state === 'half-closed') && this.inbox.length === 0) return this.exitReader('socket closed by peer');
    if (this.ctx.monotonic() >= this.readDeadlineUs) return this.exitReader('read deadline');
    const frame = this.inbox.shift();
    if (frame === undefined) return;
    switch (frame.ws) {
      case 'ping':
        // The ping handler extends the deadline and answers with a pong control frame.
        this.extendDeadline();
        this.conn.send({ ws: 'pong' } satisfies WsFrame);
        return this.pump();
      case 'pong':
        this.extendDeadline();
        return this.pump();
      case 'close':
        return this.exitReader('close frame');
      case 'text':
        this.reading = true;
        this.handleMessages(frame.messages, 0);
        return;
    }
  }

  private extendDeadline(): void {
    this.readDeadlineUs = this.ctx.monotonic() + this.config.pongWaitUs;
    this.armDeadline();
  }

  private handleMessages(messages: AgentMessage[], i: number): void {
    const message = messages[i];
    if (message === undefined) {
      this.reading = false;
      return this.pump();
    }
    this.ctx.record('ws.in', 'commandId' in message
      ? { conn: this.id, agent: this.agentId, type: message.type, command: message.commandId }
      : { conn: this.id, agent: this.agentId, type: message.type });
    switch (message.type) {
      // The continuations are inline arrows, not a named `next` closure: the TypeScript loader
      // (esbuild keepNames) renames every named closure with Object.defineProperty when it is
      // created, which cost ~2% of a fuzz run here.
      case 'heartbeat':
        // UpdateAgentHeartbeat, then the capacity UPDATE; errors are only logged (§3).
        return this.hub.updateAgentHeartbeat(this.agentId, () => this.rows.updateAgentCapacity(this.agentId, message.capacity, () => this.handleMessages(messages, i + 1)));
      case 'ack':
        return this.rows.markAckFromAgent(message.commandId, this.agentId, () => this.handleMessages(messages, i + 1));
      case 'complete':
        return this.rows.markCompletedFromAgent(message.commandId, this.agentId, () => this.handleMessages(messages, i + 1));
      case 'failed':
        return this.rows.markFailedFromAgent(message.commandId, this.agentId, message.error, () => this.handleMessages(messages, i + 1));
      case 'status':
        // Updates the session row (§3); sessions are not modelled beyond their commands.
        return this.handleMessages(messages, i + 1);
      case 'command':
        return this.handleMessages(messages, i + 1); // not an agent → API type: logged and ignored
    }
  }

  private exitReader(why: string): void {
    this.readerExited = true;
    this.ctx.cancelTimer(this.deadlineTimer);
    this.ctx.record('ws.reader-exit', { conn: this.id, agent: this.agentId, why });
    this.hub.unregisterAgent(this.agentId, this.id);
    this.closeSocket();
  }
}
