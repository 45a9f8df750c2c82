import type { ConnectionEnd, Micros, ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import type { AgentMessage, WsFrame } from '../wire.ts';
import { writerMachine, type WriterComponent, type WriterEvent } from './write-pump-machine.ts';

/** The statechart (write-pump-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const WRITER = compileMachine(writerMachine);

/** The events without data, made once. */
const START: WriterEvent = { type: 'START' };
const STOP: WriterEvent = { type: 'STOP' };
const ENQUEUED: WriterEvent = { type: 'ENQUEUED' };
const WAKE: WriterEvent = { type: 'WAKE' };
const DRAINED: WriterEvent = { type: 'DRAINED' };
const PING: WriterEvent = { type: 'PING' };
const PINGED: WriterEvent = { type: 'PINGED' };
const PING_FAILED: WriterEvent = { type: 'PING_FAILED' };

export interface WritePumpOptions {
  /** writeChan's capacity (§7.1: 256). */
  writeChanCapacity: number;
  /** The ping ticker's period (§7.2: 54 s). */
  pingPeriodUs: Micros;
  /** Design fix `writer-survives-errors`. */
  survivesErrors: boolean;
}

/**
 * The k8s-agent's writeChan and its single writer, writePump (spec §7.1, §7.6): the statechart of
 * write-pump-machine.ts, run by the kernel's compiled stepper with this object as its context. The
 * writer writes on the agent's current wsConn, read at each write (`socket`).
 */
export class WritePump implements WriterComponent {
  private readonly chart: Statechart<WritePump, WriterEvent, TimerHandle>;
  private readonly writeChan: AgentMessage[] = [];
  /** Timer callbacks, made once: writePump wakes up, the ticker ticks. */
  private readonly woken = (): void => this.chart.send(WAKE);
  private readonly ticked = (): void => this.chart.send(PING);

  constructor(
    readonly ctx: ProcessContext,
    readonly agentId: string,
    private readonly options: WritePumpOptions,
    /** The agent's wsConn now (null: none). */
    private readonly socket: () => ConnectionEnd | null,
  ) {
    this.chart = new Statechart<WritePump, WriterEvent, TimerHandle>(WRITER, this, ctx);
    this.chart.start();
  }

  get survivesErrors(): boolean {
    return this.options.survivesErrors;
  }

  /** Run starts writePump (§7.4 step 2). */
  start(): void {
    this.chart.send(START);
  }

  /** Shutdown closes writeChan (§7.4 step 3). */
  stop(): void {
    this.chart.send(STOP);
  }

  /**
   * sendMessage's enqueue on writeChan (§7.2). With a dead writer the channel fills up; once full,
   * every call waits 5 s and fails (that wait only delays the sender's next step, which the model
   * folds into dropping the message).
   */
  enqueue(message: AgentMessage): void {
    if (this.writeChan.length >= this.options.writeChanCapacity) {
      this.ctx.record('agent.send-timeout', { agent: this.agentId, type: message.type });
      return;
    }
    this.writeChan.push(message);
    this.chart.send(ENQUEUED);
  }

  select(): void {
    if (this.writeChan.length > 0) this.chart.send(ENQUEUED);
  }

  wake(): void {
    this.ctx.setTimer(0, this.woken, 'agent.write');
  }

  write(): void {
    while (this.writeChan.length > 0) {
      const message = this.writeChan.shift()!;
      const conn = this.socket();
      if (conn === null) continue; // wsConn nil: the message is dropped
      if (!conn.send({ ws: 'text', messages: [message] } satisfies WsFrame)) return this.chart.send({ type: 'WRITE_FAILED', lost: message.type });
      if ('commandId' in message) this.ctx.record('agent.sent', { agent: this.agentId, type: message.type, command: message.commandId, conn: conn.id });
    }
    this.chart.send(DRAINED);
  }

  ping(): void {
    const conn = this.socket();
    this.chart.send(conn !== null && !conn.send({ ws: 'ping' } satisfies WsFrame) ? PING_FAILED : PINGED);
  }

  armPing(): void {
    this.ctx.setTimer(this.options.pingPeriodUs, this.ticked, 'agent.ping');
  }
}
