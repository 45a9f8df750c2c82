import { setup, type Actor } from 'xstate';
import { startActor, type ConnectionEnd, type ProcessContext, type RandomStream, type TimerHandle } from '../../../sim-cluster/index.ts';
import { RpcClient, type RpcWire } from '../net/rpc.ts';
import type { AgentConfig } from '../config.ts';
import type { AgentMessage, HttpRequest, HttpResponse, WsFrame } from '../wire.ts';
import { events } from '../events.ts';

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

/**
 * The agent's goroutines as one statechart: `connecting` (Connect: register, then dial),
 * `reading` and `executing` (readPump: a command runs synchronously, no frames are read meanwhile),
 * `backoff` (Reconnect's fixed sleeps), `failed` (Run returned an error: in HA mode it is only
 * logged, and nothing runs any more), `stopped`.
 */
const agentMachine = setup({
  types: {
    events: {} as { type: 'CONNECTING' } | { type: 'READING' } | { type: 'EXECUTING' } | { type: 'BACKOFF' } | { type: 'FAILED' } | { type: 'STOP' },
  },
}).createMachine({
  id: 'agent',
  initial: 'idle',
  on: { STOP: '.stopped' },
  states: {
    idle: { on: { CONNECTING: 'connecting' } },
    connecting: { on: { READING: 'reading', BACKOFF: 'backoff', FAILED: 'failed' } },
    reading: { on: { EXECUTING: 'executing', BACKOFF: 'backoff', CONNECTING: 'connecting' } },
    executing: { on: { READING: 'reading' } },
    backoff: { on: { CONNECTING: 'connecting' } },
    failed: {},
    stopped: { type: 'final' },
  },
});

/**
 * The k8s-agent process's K8sAgent (spec §7): Connect (HTTP register, then WebSocket dial, swapping
 * wsConn **without closing the old socket**), readPump with its Reconnect cycles (2, 4, 8, 16, 32 s,
 * then again, forever), commands executed **synchronously inside readPump** with `ack` sent before
 * execution and no de-duplication, a single writer that **exits for good on its first write error**,
 * and heartbeats from a ticker created once in Run. A stopped K8sAgent cannot be restarted.
 */
export class K8sAgent {
  private readonly mode: Actor<typeof agentMachine>;
  private readonly rng: RandomStream;
  private wsConn: ConnectionEnd | null = null;
  /** Frames received on the current wsConn, not yet read. */
  private inbox: WsFrame[] = [];
  private readDeadlineUs = 0;
  private deadlineTimer: TimerHandle | undefined;
  private writeChan: AgentMessage[] = [];
  private writerAlive = true;
  /** Commands whose handler is running (the `agent-idempotent` fix skips a second delivery). */
  private readonly running = new Set<string>();
  private writerWake: TimerHandle | undefined;
  private stopped = false;
  private started = false;

  constructor(
    private readonly ctx: ProcessContext,
    readonly agentId: string,
    private readonly config: AgentConfig,
    private readonly service: ApiService,
    private readonly platform: Platform,
    /** The term this replica believes it leads under (null without HA). */
    private readonly term: () => BelievedTerm | null,
    private readonly fixes: AgentFixes,
    /** Run's Connect failed: fatal (process exit) in standalone mode, only logged with HA (§7.4). */
    private readonly onRunFailed: () => void = () => {},
  ) {
    this.rng = ctx.random('agent');
    this.mode = startActor(ctx, agentMachine, { id: 'agent' });
  }

  get state(): string {
    return String(this.mode.getSnapshot().value);
  }

  /** Run (§7.4): Connect, then heartbeats, readPump and writePump. */
  run(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.mode.send({ type: 'CONNECTING' });
    this.connect((ok) => {
      if (this.stopped) return;
      if (ok) return this.startPumps();
      if (this.fixes.retryConnect) {
        // Design fix: keep trying with the Reconnect backoff instead of giving up.
        this.ctx.record('agent.connect-retry', { agent: this.agentId });
        return this.reconnect(0, () => this.startPumps());
      }
      // Run returns the error; in HA mode it is only logged and the agent never runs (§7.4).
      this.ctx.record('agent.run-failed', { agent: this.agentId });
      this.mode.send({ type: 'FAILED' });
      this.onRunFailed();
    });
  }

  /** Run's goroutines after the first successful Connect: heartbeats, writePump's pings, readPump. */
  private startPumps(): void {
    this.ctx.setTimer(this.config.heartbeatIntervalUs, () => this.heartbeat(), 'agent.heartbeat');
    this.ctx.setTimer(this.config.pingPeriodUs, () => this.pingTick(), 'agent.ping');
    this.mode.send({ type: 'READING' });
    this.readNext();
  }

  /**
   * Closing stopChan (§7.4 shutdown): close writeChan, sleep 100 ms, close the socket. A command
   * being executed runs to completion: the handler goroutine is not interrupted.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.mode.send({ type: 'STOP' });
    this.ctx.record('agent.stop', { agent: this.agentId });
    this.writerAlive = false;
    this.ctx.setTimer(100_000, () => {
      this.wsConn?.close();
      this.wsConn = null;
    }, 'agent.shutdown');
  }

  // ---- Connect (§7.3) ------------------------------------------------------------------------

  private connect(done: (ok: boolean) => void): void {
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
          if (this.state === 'reading') this.readNext();
        }
      },
      onClose: () => {
        if (!settled) return finish(false);
        if (this.wsConn === conn && this.state === 'reading') this.readNext();
      },
    }, { timeoutUs: this.config.dialTimeoutUs });
    const handshake = this.ctx.setTimer(this.config.dialTimeoutUs, () => {
      conn.close();
      finish(false);
    }, 'agent.dial-timeout');
  }

  // ---- readPump (§7.5) -----------------------------------------------------------------------

  /** Reads the next frame, or fails the read (closed socket, passed deadline), or waits. */
  private readNext(): void {
    this.ctx.cancelTimer(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (this.stopped) return;
    const conn = this.wsConn;
    if (conn === null) return this.reconnect();
    if (this.ctx.monotonic() >= this.readDeadlineUs) return this.readFailed('read deadline');
    const frame = this.inbox.shift();
    if (frame === undefined) {
      if (conn.state === 'closed' || conn.state === 'half-closed') return this.readFailed('connection closed');
      const wait = this.readDeadlineUs - this.ctx.monotonic();
      this.deadlineTimer = this.ctx.setTimer(wait, () => this.readNext(), 'agent.read-deadline');
      return;
    }
    switch (frame.ws) {
      case 'pong':
        this.readDeadlineUs = this.ctx.monotonic() + this.config.pongWaitUs;
        return this.readNext();
      case 'ping':
        conn.send({ ws: 'pong' } satisfies WsFrame);
        return this.readNext();
      case 'close':
        return this.readFailed('close frame');
      case 'text':
        if (frame.messages.length !== 1) {
          // A frame is parsed as exactly one JSON object; newline-joined messages fail (§1).
          this.ctx.record('agent.frame-dropped', {
            agent: this.agentId, messages: frame.messages.length,
            commands: frame.messages.flatMap((m) => (m.type === 'command' ? [m.commandId] : [])),
          });
          return this.readNext();
        }
        return this.handle(frame.messages[0]!);
    }
  }

  private readFailed(why: string): void {
    this.ctx.record('agent.read-error', { agent: this.agentId, why });
    this.reconnect();
  }

  /**
   * Reconnect (§7.5): sleep 2, 4, 8, 16, 32 s, trying Connect after each; after five failures it
   * returns and readPump reads the old (failed) socket again, which fails at once: a new cycle.
   */
  private reconnect(step = 0, onConnected?: () => void): void {
    if (this.stopped) return;
    const steps = this.config.reconnectBackoffUs;
    this.mode.send({ type: 'BACKOFF' });
    this.ctx.setTimer(steps[step]!, () => {
      if (this.stopped) return;
      this.mode.send({ type: 'CONNECTING' });
      this.connect((ok) => {
        if (this.stopped) return;
        if (ok) {
          if (onConnected !== undefined) return onConnected();
          this.mode.send({ type: 'READING' });
          return this.readNext();
        }
        this.reconnect((step + 1) % steps.length, onConnected);
      });
    }, 'agent.backoff');
  }

  /** handleMessage (§7.5): ack before executing, then run the handler synchronously. */
  private handle(message: AgentMessage): void {
    if (message.type !== 'command') return this.readNext();
    const { commandId, action, sessionId } = message;
    this.sendMessage({ type: 'ack', commandId });
    if (action !== 'start_session' && action !== 'stop_session') {
      // No handler for the action: `failed` at once, nothing executed (§7.5 step 3).
      this.sendMessage({ type: 'failed', commandId, error: `unknown action ${action}` });
      this.ctx.record('agent.unknown-action', { command: commandId, agent: this.agentId, action });
      return this.readNext();
    }
    if (this.fixes.idempotent) {
      // Design fix: a command already running is not started twice; one whose labelled effect
      // exists already is answered `complete` without running again.
      if (this.running.has(commandId)) {
        this.ctx.record('agent.dedup', { command: commandId, agent: this.agentId, why: 'running' });
        return this.readNext();
      }
      if (this.platform.hasEffectOf(commandId)) {
        this.ctx.record('agent.dedup', { command: commandId, agent: this.agentId, why: 'done' });
        this.sendMessage({ type: 'complete', commandId });
        return this.readNext();
      }
    }
    const term = this.term();
    const fenced = (stage: string): boolean => {
      if (!this.fixes.fencedEffects || term === null) return false;
      // The token is read at the write, not when the handler started.
      const token = this.term()?.fencingToken ?? null;
      if (token !== null && this.platform.fenceHolds(term.lease, this.ctx.name, token)) return false;
      events.record(this.ctx, 'agent.fenced', { command: commandId, agent: this.agentId, stage, token });
      return true;
    };
    if (fenced('start')) return this.readNext();
    const duration = this.handlerDuration(action);
    const async = this.fixes.asyncHandlers;
    if (!async) this.mode.send({ type: 'EXECUTING' });
    this.running.add(commandId);
    // The effect record: which replica executed which command, under which lease it believed it held.
    events.record(this.ctx, 'agent.execute', {
      command: commandId, agent: this.agentId, action, session: sessionId,
      lease: term?.lease ?? null, transitions: term?.transitions ?? null, electorLeads: term?.electorLeads ?? null,
    });
    this.ctx.setTimer(duration, () => {
      this.running.delete(commandId);
      if (fenced('complete')) {
        // The platform refused the write: no effect, no answer; redelivery reaches the leader.
        if (!this.stopped && !async) {
          this.mode.send({ type: 'READING' });
          this.readNext();
        }
        return;
      }
      let error: string | null = null;
      if (action === 'start_session') {
        if (!this.platform.createSession(sessionId, commandId)) error = `session ${sessionId} already exists`;
      } else this.platform.deleteSession(sessionId, commandId);
      events.record(this.ctx, 'agent.executed', { command: commandId, agent: this.agentId, ok: error === null });
      this.sendMessage(error === null ? { type: 'complete', commandId } : { type: 'failed', commandId, error });
      if (this.stopped || async) return;
      this.mode.send({ type: 'READING' });
      this.readNext();
    }, 'agent.execute');
    // Design fix: with handlers in their own goroutine the reader goes straight back to reading.
    if (async) this.readNext();
  }

  // ---- writePump (§7.6), heartbeats (§7.7) ---------------------------------------------------

  /**
   * sendMessage (§7.2): enqueue on writeChan. With a dead writer the channel fills up; once full,
   * every call waits 5 s and fails (that wait only delays this goroutine's next step, which the
   * model folds into dropping the message).
   */
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

  private sendMessage(message: AgentMessage): void {
    if (this.stopped) return;
    if (this.writeChan.length >= this.config.writeChanCapacity) {
      this.ctx.record('agent.send-timeout', { agent: this.agentId, type: message.type });
      return;
    }
    this.writeChan.push(message);
    if (this.writerAlive && this.writerWake === undefined) this.writerWake = this.ctx.setTimer(0, () => this.drainWriter(), 'agent.write');
  }

  private drainWriter(): void {
    this.writerWake = undefined;
    while (this.writerAlive && this.writeChan.length > 0) {
      const message = this.writeChan.shift()!;
      const conn = this.wsConn;
      if (conn === null) continue; // wsConn nil: the message is dropped
      if (!conn.send({ ws: 'text', messages: [message] } satisfies WsFrame)) return this.writerDied(message);
      if ('commandId' in message) this.ctx.record('agent.sent', { agent: this.agentId, type: message.type, command: message.commandId, conn: conn.id });
    }
  }

  /** On any write or ping error writePump returns, and nothing restarts it (§7.6). */
  private writerDied(message: AgentMessage): void {
    if (this.fixes.writerSurvivesErrors) {
      // Design fix: drop this message and keep the writer for the next connection.
      this.ctx.record('agent.write-error', { agent: this.agentId, lost: message.type });
      if (this.writeChan.length > 0 && this.writerWake === undefined) this.writerWake = this.ctx.setTimer(0, () => this.drainWriter(), 'agent.write');
      return;
    }
    this.writerAlive = false;
    this.ctx.record('agent.writer-exit', { agent: this.agentId, lost: message.type });
  }

  private pingTick(): void {
    if (this.stopped || !this.writerAlive) return;
    const conn = this.wsConn;
    if (conn !== null && !conn.send({ ws: 'ping' } satisfies WsFrame) && !this.fixes.writerSurvivesErrors) {
      this.writerAlive = false;
      this.ctx.record('agent.writer-exit', { agent: this.agentId, lost: 'ping' });
      return;
    }
    this.ctx.setTimer(this.config.pingPeriodUs, () => this.pingTick(), 'agent.ping');
  }

  private heartbeat(): void {
    if (this.stopped) return;
    this.sendMessage({ type: 'heartbeat', status: 'online', activeSessions: 0, capacity: this.config.capacity });
    this.ctx.setTimer(this.config.heartbeatIntervalUs, () => this.heartbeat(), 'agent.heartbeat');
  }
}
