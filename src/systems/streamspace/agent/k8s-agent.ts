import type { ConnectionEnd, ProcessContext, RandomStream, TimerHandle } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import { agentMachine, type AgentComponent, type AgentEvent, type CommandMessage } from './k8s-agent-machine.ts';
import { RpcClient, type RpcWire } from '../net/rpc.ts';
import type { AgentConfig } from '../config.ts';
import type { AgentMessage, HttpRequest, HttpResponse, WsFrame } from '../wire.ts';
import { events } from '../events.ts';
import { WritePump } from './write-pump.ts';

/** Where an agent's HTTP and WebSocket connections go: the API Service (a load balancer). */
export interface ApiService {
  /** A ready API pod chosen at random, or null when the Service has no ready endpoint. */
  pick(rng: RandomStream): string | null;
}

/**
 * Side effects on the platform (Deployments, Services, PVCs). Creation uses plain Create calls, so
 * a second start of the same session fails with AlreadyExists (§7.5).
 */
export interface Platform {
  /** false: AlreadyExists. `commandId` labels what is created (used by the `agent-idempotent` fix). */
  createSession(sessionId: string, commandId: string): boolean;
  deleteSession(sessionId: string, commandId: string): void;
  /** Whether a command's effect exists already (resources labelled with its id). */
  hasEffectOf(commandId: string): boolean;
  /** Fencing (`fenced-effects` fix): whether `replica` still holds `lease` at `transitions`, checked atomically with the write. */
  fenceHolds(lease: string, replica: string, transitions: number): boolean;
}

/** The design fixes the agent implements; all off for the as-built profile. */
export interface AgentFixes {
  writerSurvivesErrors: boolean;
  asyncHandlers: boolean;
  retryConnect: boolean;
  idempotent: boolean;
  fencedEffects: boolean;
}

/** The leadership term the agent believes it holds while executing (for effect records). */
export interface BelievedTerm {
  lease: string;
  /** leaseTransitions when this replica started leading: its fencing epoch, had it one. */
  transitions: number;
  /** Whether the elector still believes it leads at this instant (IsLeader()). */
  electorLeads: boolean;
  /** The elector's current fencing token (leaseTransitions last observed while leading), or null after it stopped. */
  fencingToken: number | null;
}

/** The statechart (k8s-agent-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const AGENT = compileMachine(agentMachine);

/** The events without data, made once (READABLE is sent for every frame). */
const RUN: AgentEvent = { type: 'RUN' };
const STOP: AgentEvent = { type: 'STOP' };
const CONNECTED: AgentEvent = { type: 'CONNECTED' };
const CONNECT_FAILED: AgentEvent = { type: 'CONNECT_FAILED' };
const READABLE: AgentEvent = { type: 'READABLE' };
const READ_FAILED: AgentEvent = { type: 'READ_FAILED' };
const HANDLED: AgentEvent = { type: 'HANDLED' };
const SLEPT: AgentEvent = { type: 'SLEPT' };

/**
 * The k8s-agent process's K8sAgent (spec §7): Connect (HTTP register, then WebSocket dial, swapping
 * wsConn **without closing the old socket**), readPump with its Reconnect cycles (2, 4, 8, 16, 32 s,
 * then again, forever), commands executed **synchronously inside readPump** with `ack` sent before
 * execution and no de-duplication, a single writer that **exits for good on its first write error**,
 * and heartbeats from a ticker created once in Run. A stopped K8sAgent cannot be restarted.
 * Run and readPump are the statechart of k8s-agent-machine.ts, run by the kernel's compiled stepper
 * with this object as its context: the class keeps the socket, the frames and the timers, and
 * answers the work the statechart starts with events. writeChan and writePump are write-pump.ts.
 */
export class K8sAgent implements AgentComponent {
  private readonly mode: Statechart<K8sAgent, AgentEvent, TimerHandle>;
  private readonly rng: RandomStream;
  private wsConn: ConnectionEnd | null = null;
  /** Frames received on the current wsConn, not yet read. */
  private inbox: WsFrame[] = [];
  private readDeadlineUs = 0;
  private deadlineTimer: TimerHandle | undefined;
  /** writeChan and its writer, writePump (§7.6). */
  private readonly writer: WritePump;
  /** Commands whose handler is running (the `agent-idempotent` fix skips a second delivery). */
  readonly running = new Set<string>();
  /** stopChan closed: writePump and SendHeartbeats end. */
  private stopped = false;
  readonly reconnectBackoffUs: readonly number[];
  reconnectStep: number | null = null;
  pumpsStarted = false;
  /** Timer callbacks, made once: the read deadline passed, Reconnect's sleep ended. */
  private readonly readable = (): void => this.mode.send(READABLE);
  private readonly slept = (): void => this.mode.send(SLEPT);

  constructor(
    readonly ctx: ProcessContext,
    readonly agentId: string,
    private readonly config: AgentConfig,
    private readonly service: ApiService,
    readonly platform: Platform,
    /** The term this replica believes it leads under (null without HA). */
    readonly term: () => BelievedTerm | null,
    readonly fixes: AgentFixes,
    /** Run's Connect failed: fatal (process exit) in standalone mode, only logged with HA (§7.4). */
    private readonly onRunFailed: () => void = () => {},
  ) {
    this.rng = ctx.random('agent');
    this.reconnectBackoffUs = config.reconnectBackoffUs;
    this.writer = new WritePump(ctx, agentId, {
      writeChanCapacity: config.writeChanCapacity, pingPeriodUs: config.pingPeriodUs, survivesErrors: fixes.writerSurvivesErrors,
    }, () => this.wsConn);
    this.mode = new Statechart<K8sAgent, AgentEvent, TimerHandle>(AGENT, this, ctx);
    this.mode.start();
  }

  /** The statechart's mode (`idle`, `connecting`, `reading`, `executing`, `backoff`, `failed`, `stopped`). */
  get state(): string {
    return String(this.mode.state.value);
  }

  /** Run (§7.4): Connect, then heartbeats, readPump and writePump. Only the first call does anything. */
  run(): void {
    this.mode.send(RUN);
  }

  /** Run's goroutines after its Connect succeeded: heartbeats and writePump (readPump is the statechart's). */
  startPumps(): void {
    this.pumpsStarted = true;
    this.ctx.setTimer(this.config.heartbeatIntervalUs, () => this.heartbeat(), 'agent.heartbeat');
    this.writer.start();
  }

  runFailed(): void {
    this.onRunFailed();
  }

  /** Closes stopChan (§7.4 shutdown). Only the first call does anything. */
  stop(): void {
    this.mode.send(STOP);
  }

  /**
   * Shutdown (the statechart's `stopped`): close writeChan, sleep 100 ms, close the socket. A
   * command being executed runs to completion: the handler goroutine is not interrupted.
   */
  shutdown(): void {
    this.stopped = true;
    this.ctx.record('agent.stop', { agent: this.agentId });
    this.writer.stop();
    this.ctx.setTimer(100_000, () => {
      this.wsConn?.close();
      this.wsConn = null;
    }, 'agent.shutdown');
  }

  // ---- Connect (§7.3) ------------------------------------------------------------------------

  connect(): void {
    this.tryConnect((ok) => this.mode.send(ok ? CONNECTED : CONNECT_FAILED));
  }

  private tryConnect(done: (ok: boolean) => void): void {
    const pod = this.service.pick(this.rng);
    if (pod === null) return done(false);
    this.httpRequest(pod, { op: 'register-agent', agentId: this.agentId }, this.config.registerTimeoutUs, (status) => {
      if (status !== 200) {
        this.ctx.record('agent.register', { agent: this.agentId, pod, status });
        return done(false);
      }
      this.ctx.record('agent.register', { agent: this.agentId, pod, status });
      this.dial(done);
    });
  }

  /** One HTTP request on a fresh connection; status 0 means a transport error or timeout. */
  private httpRequest(pod: string, request: HttpRequest, timeoutUs: number, done: (status: number) => void): void {
    const client = new RpcClient(this.ctx, { target: pod, connectTimeoutUs: timeoutUs, requestTimeoutUs: timeoutUs, timeoutIncludesDial: true });
    client.call<HttpResponse>(request, (r) => {
      client.close();
      done(r.ok ? r.value.status : 0);
    });
  }

  /** The WebSocket dial (§7.3 step 2): upgrade request, 10 s handshake timeout, then swap wsConn. */
  private dial(done: (ok: boolean) => void): void {
    const pod = this.service.pick(this.rng);
    if (pod === null) return done(false);
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      this.ctx.cancelTimer(handshake);
      done(ok);
    };
    const conn: ConnectionEnd = this.ctx.connect(pod, {
      onOpen: () => conn.send({ kind: 'req', id: 1, body: { op: 'ws-upgrade', agentId: this.agentId } satisfies HttpRequest } satisfies RpcWire),
      onMessage: (raw) => {
        if (!settled) {
          const msg = raw as RpcWire;
          const status = msg.kind === 'res' && msg.result.ok ? (msg.result.value as HttpResponse).status : 0;
          if (status !== 101) {
            conn.close();
            return finish(false);
          }
          // Swap wsConn; the previous socket is not closed (§7.3).
          this.wsConn = conn;
          this.inbox = [];
          this.readDeadlineUs = this.ctx.monotonic() + this.config.pongWaitUs;
          events.record(this.ctx, 'agent.connected', { agent: this.agentId, pod, conn: conn.id });
          return finish(true);
        }
        if (this.wsConn === conn) {
          this.inbox.push(raw as WsFrame);
          this.mode.send(READABLE);
        }
      },
      onClose: () => {
        if (!settled) return finish(false);
        if (this.wsConn === conn) this.mode.send(READABLE);
      },
    }, { timeoutUs: this.config.dialTimeoutUs });
    const handshake = this.ctx.setTimer(this.config.dialTimeoutUs, () => {
      conn.close();
      finish(false);
    }, 'agent.dial-timeout');
  }

  // ---- readPump (§7.5) -----------------------------------------------------------------------

  /**
   * ReadMessage: hands the next command to the statechart (`COMMAND`), fails the read (closed
   * socket, passed deadline, close frame: `READ_FAILED`), or waits for a frame until the read
   * deadline (`READABLE`). Control frames, frames that fail to parse and messages that are not
   * commands are dealt with here, as gorilla/websocket and handleMessage do.
   */
  read(): void {
    this.ctx.cancelTimer(this.deadlineTimer);
    this.deadlineTimer = undefined;
    const conn = this.wsConn;
    if (conn === null) return this.mode.send(READ_FAILED);
    if (this.ctx.monotonic() >= this.readDeadlineUs) return this.readFailed('read deadline');
    const frame = this.inbox.shift();
    if (frame === undefined) {
      if (conn.state === 'closed' || conn.state === 'half-closed') return this.readFailed('connection closed');
      const wait = this.readDeadlineUs - this.ctx.monotonic();
      this.deadlineTimer = this.ctx.setTimer(wait, this.readable, 'agent.read-deadline');
      return;
    }
    switch (frame.ws) {
      case 'pong':
        this.readDeadlineUs = this.ctx.monotonic() + this.config.pongWaitUs;
        return this.read();
      case 'ping':
        conn.send({ ws: 'pong' } satisfies WsFrame);
        return this.read();
      case 'close':
        return this.readFailed('close frame');
      case 'text': {
        if (frame.messages.length !== 1) {
          // A frame is parsed as exactly one JSON object; newline-joined messages fail (§1).
          this.ctx.record('agent.frame-dropped', {
            agent: this.agentId, messages: frame.messages.length,
            commands: frame.messages.flatMap((m) => (m.type === 'command' ? [m.commandId] : [])),
          });
          return this.read();
        }
        const message = frame.messages[0]!;
        // handleMessage acts on commands only.
        if (message.type !== 'command') return this.read();
        return this.mode.send({ type: 'COMMAND', message });
      }
    }
  }

  private readFailed(why: string): void {
    this.ctx.record('agent.read-error', { agent: this.agentId, why });
    this.mode.send(READ_FAILED);
  }

  /** Reconnect's sleep (§7.5): a time.Sleep, which closing stopChan does not interrupt. */
  sleep(): void {
    this.ctx.setTimer(this.reconnectBackoffUs[this.reconnectStep!]!, this.slept, 'agent.backoff');
  }

  /** The `fenced-effects` fix refuses the write: the token is read at the write, not when the handler started. */
  fenceRefuses(term: BelievedTerm | null): boolean {
    if (!this.fixes.fencedEffects || term === null) return false;
    const token = this.term()?.fencingToken ?? null;
    return token === null || !this.platform.fenceHolds(term.lease, this.ctx.name, token);
  }

  recordFenced(commandId: string, stage: 'start' | 'complete'): void {
    events.record(this.ctx, 'agent.fenced', { command: commandId, agent: this.agentId, stage, token: this.term()?.fencingToken ?? null });
  }

  /**
   * handler.Handle (§7.5 step 4): the effect record now, the platform's write and the answer
   * (`complete` or `failed`) when the handler returns; then `HANDLED`.
   */
  startHandler(message: CommandMessage): void {
    const { commandId, action, sessionId } = message;
    const term = this.term();
    const duration = this.handlerDuration(action);
    this.running.add(commandId);
    // The effect record: which replica executed which command, under which lease it believed it held.
    events.record(this.ctx, 'agent.execute', {
      command: commandId, agent: this.agentId, action, session: sessionId,
      lease: term?.lease ?? null, transitions: term?.transitions ?? null, electorLeads: term?.electorLeads ?? null,
    });
    this.ctx.setTimer(duration, () => this.finishHandler(message, term), 'agent.execute');
  }

  private finishHandler({ commandId, action, sessionId }: CommandMessage, term: BelievedTerm | null): void {
    this.running.delete(commandId);
    if (this.fenceRefuses(term)) {
      // The platform refused the write: no effect, no answer; redelivery reaches the leader.
      this.recordFenced(commandId, 'complete');
    } else {
      let error: string | null = null;
      if (action === 'start_session') {
        if (!this.platform.createSession(sessionId, commandId)) error = `session ${sessionId} already exists`;
      } else this.platform.deleteSession(sessionId, commandId);
      events.record(this.ctx, 'agent.executed', { command: commandId, agent: this.agentId, ok: error === null });
      this.sendMessage(error === null ? { type: 'complete', commandId } : { type: 'failed', commandId, error });
    }
    this.mode.send(HANDLED);
  }

  /**
   * How long a handler runs (§7.5): stop_session uniform in `stopSessionUs`; start_session uniform
   * in `startSessionUs`, or log-normal clamped to it (`startSessionDistribution`, config.ts says why).
   */
  private handlerDuration(action: string): number {
    const c = this.config;
    if (action !== 'start_session') return this.rng.int(c.stopSessionUs[0], c.stopSessionUs[1]);
    const [min, max] = c.startSessionUs;
    if (c.startSessionDistribution === 'uniform') return this.rng.int(min, max);
    return Math.min(max, Math.max(min, Math.round(this.rng.logNormal(c.startSessionMedianUs, c.startSessionSigma))));
  }

  // ---- writeChan (§7.2), heartbeats (§7.7) -----------------------------------------------------

  /** sendMessage (§7.2): enqueue on writeChan; nothing once stopChan is closed. */
  sendMessage(message: AgentMessage): void {
    if (this.stopped) return;
    this.writer.enqueue(message);
  }

  private heartbeat(): void {
    if (this.stopped) return;
    this.sendMessage({ type: 'heartbeat', status: 'online', activeSessions: 0, capacity: this.config.capacity });
    this.ctx.setTimer(this.config.heartbeatIntervalUs, () => this.heartbeat(), 'agent.heartbeat');
  }
}
