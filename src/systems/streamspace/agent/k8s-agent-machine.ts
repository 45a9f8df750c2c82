import { setup } from 'xstate';
import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { AgentMessage } from '../wire.ts';
import type { AgentFixes, BelievedTerm, Platform } from './k8s-agent.ts';

/**
 * The statechart of the k8s-agent's K8sAgent (spec streamspace-v2-behavior §7; agents/k8s-agent/
 * main.go, agent_message_handler.go): the definition k8s-agent.ts runs through the kernel's
 * compiled stepper (sim-cluster/statechart), drawn in docs/machines.md. Its modes are those of
 * Run and readPump: `connecting` (Connect: register, then dial, §7.3), `reading` and `executing`
 * (readPump: a command runs synchronously, no frames are read meanwhile, §7.5), `backoff`
 * (Reconnect's fixed sleeps), `failed` (Run returned an error: in HA mode it is only logged, and
 * nothing runs any more, §7.4), `stopped` (stopChan closed: shutdown, §7.4 step 3).
 *
 * The context is the agent itself (`AgentComponent`, implemented by K8sAgent): it keeps the socket,
 * the frames, its writer (writeChan and writePump, write-pump.ts) and the timers of its other
 * goroutines (SendHeartbeats, the command handlers); the statechart decides the mode and runs the
 * steps. The component answers the work an action starts with an event: Connect's outcome
 * (`CONNECTED`, `CONNECT_FAILED`), a read (`COMMAND`, `READ_FAILED`, or nothing while it waits for
 * a frame), the end of a Reconnect sleep (`SLEPT`) and of a handler (`HANDLED`).
 *
 * No `after` delay: each timer of the agent outlives the mode that arms it. Reconnect's sleep is a
 * time.Sleep that closing stopChan does not interrupt, the read deadline belongs to the socket and a
 * handler runs to completion (§7.4): an `after` would be cancelled when STOP leaves the state, and a
 * timer the as-built agent leaves to run out would vanish (a paused process would resume with one
 * deferred timer fewer). So the component arms them and `stopped`, a final state, ignores their end.
 *
 * `actor.state` {actor: 'agent', state} is recorded by `traceState`, the first entry action of every
 * state: on entering a state, before it starts its work (before `agent.execute`, which
 * explain/reader-holds.ts relies on).
 */

export type CommandMessage = Extract<AgentMessage, { type: 'command' }>;

/** The agent's events: the outcome of the work its actions started, Run and stopChan. */
export type AgentEvent =
  | { type: 'RUN' }
  | { type: 'CONNECTED' }
  | { type: 'CONNECT_FAILED' }
  /** A frame or a close arrived on the current socket, or its read deadline passed: read again. */
  | { type: 'READABLE' }
  /** wsConn is nil, or the read failed (deadline, closed socket, close frame). */
  | { type: 'READ_FAILED' }
  | { type: 'COMMAND'; message: CommandMessage }
  | { type: 'HANDLED' }
  | { type: 'SLEPT' }
  | { type: 'STOP' };

/** The agent's modes: the values `actor.state` records. */
export type AgentMode = 'idle' | 'connecting' | 'reading' | 'executing' | 'backoff' | 'failed' | 'stopped';

/** The agent as its statechart sees it: K8sAgent's fields and I/O. */
export interface AgentComponent {
  readonly ctx: ProcessContext;
  readonly agentId: string;
  readonly fixes: AgentFixes;
  readonly platform: Platform;
  /** Commands whose handler is running. */
  readonly running: ReadonlySet<string>;
  /** Reconnect's sleeps (§7.2: 2, 4, 8, 16, 32 s). */
  readonly reconnectBackoffUs: readonly number[];
  /** The sleep Reconnect takes next, as an index in `reconnectBackoffUs`; null before Run's Connect has failed. */
  reconnectStep: number | null;
  /** Whether Run has started its goroutines (heartbeats, writePump's pings, readPump). */
  pumpsStarted: boolean;
  /** Connect (§7.3): register, then dial; answers `CONNECTED` or `CONNECT_FAILED`. */
  connect(): void;
  /** Reconnect's `time.Sleep(reconnectBackoffUs[reconnectStep])`; answers `SLEPT`. */
  sleep(): void;
  /** Run's goroutines after its Connect succeeded (§7.4 step 2): the heartbeat ticker, writePump's ping ticker. */
  startPumps(): void;
  /** readPump's ReadMessage: answers `COMMAND` or `READ_FAILED`, or waits for a frame (`READABLE`). */
  read(): void;
  /** sendMessage (§7.2): enqueue on writeChan. */
  sendMessage(message: AgentMessage): void;
  /** The leadership term this replica believes it holds (null without HA). */
  term(): BelievedTerm | null;
  /** Whether the `fenced-effects` fix refuses a write under `term` now. */
  fenceRefuses(term: BelievedTerm | null): boolean;
  recordFenced(commandId: string, stage: 'start' | 'complete'): void;
  /** The command's handler (its own goroutine with `agent-async-handlers`): answers `HANDLED`. */
  startHandler(message: CommandMessage): void;
  /** Shutdown (§7.4 step 3): close writeChan, sleep 100 ms, close the socket. */
  shutdown(): void;
  /** Run returned its error: fatal in standalone mode, only logged with HA (§7.4). */
  runFailed(): void;
}

const commandOf = (event: AgentEvent): CommandMessage | null => (event.type === 'COMMAND' ? event.message : null);

const trace = (state: AgentMode) => ({ type: 'traceState', params: { state } }) as const;

export const agentMachine = setup({
  types: {
    context: {} as AgentComponent,
    input: {} as AgentComponent,
    events: {} as AgentEvent,
  },
  guards: {
    /** Run's Connect, or a retry of it (`agent-retry-connect`): the pumps start once it succeeds (§7.4 step 2). */
    beforePumps: ({ context }) => !context.pumpsStarted,
    /** Inside a Reconnect cycle: a failed attempt sleeps the next step (§7.5). */
    reconnecting: ({ context }) => context.reconnectStep !== null,
    /** Design fix `agent-retry-connect`: a failed first Connect retries with the Reconnect backoff instead of returning. */
    retryConnect: ({ context }) => context.fixes.retryConnect,
    /** handleMessage: no handler for the action (§7.5 step 3). */
    unknownAction: ({ event }) => {
      const m = commandOf(event);
      return m !== null && m.action !== 'start_session' && m.action !== 'stop_session';
    },
    /** Design fix `agent-idempotent`: the command's handler is running already. */
    alreadyRunning: ({ context, event }) => context.fixes.idempotent && context.running.has(commandOf(event)!.commandId),
    /** Design fix `agent-idempotent`: resources labelled with the command's id exist already. */
    effectExists: ({ context, event }) => context.fixes.idempotent && context.platform.hasEffectOf(commandOf(event)!.commandId),
    /** Design fix `fenced-effects`: the platform refuses the write under the term this replica believes it holds. */
    fencedAtStart: ({ context }) => context.fenceRefuses(context.term()),
    /** Design fix `agent-async-handlers`: the handler runs in its own goroutine and readPump reads on. */
    asyncHandlers: ({ context }) => context.fixes.asyncHandlers,
  },
  actions: {
    /** The trace's `actor.state`, recorded on entering a state before its work starts. */
    traceState: ({ context }, params: { state: AgentMode }) => {
      context.ctx.record('actor.state', { actor: 'agent', state: params.state });
    },
    /** Connect (§7.3): register over HTTP, then dial the WebSocket. */
    connect: ({ context }) => context.connect(),
    /** Run: SendHeartbeats and writePump start once, after the first successful Connect; none is restarted (§7.4, §7.7). */
    startPumps: ({ context }) => context.startPumps(),
    /** Run returns Connect's error (§7.4 step 1). */
    recordRunFailed: ({ context }) => {
      context.ctx.record('agent.run-failed', { agent: context.agentId });
    },
    /** Fatal in standalone mode (the container restarts), only logged in HA mode (§7.4). */
    reportRunFailed: ({ context }) => context.runFailed(),
    /** Design fix `agent-retry-connect`. */
    recordConnectRetry: ({ context }) => {
      context.ctx.record('agent.connect-retry', { agent: context.agentId });
    },
    /** Reconnect starts its cycle with the 2 s sleep (§7.5). */
    startReconnect: ({ context }) => {
      context.reconnectStep = 0;
    },
    /** A failed attempt: the next sleep; after the fifth, readPump reads the failed socket again and a new cycle starts (§7.5). */
    nextReconnectStep: ({ context }) => {
      context.reconnectStep = (context.reconnectStep! + 1) % context.reconnectBackoffUs.length;
    },
    /** Reconnect's sleep before each attempt (§7.5). */
    sleep: ({ context }) => context.sleep(),
    /** readPump reads the next frame (§7.5). */
    read: ({ context }) => context.read(),
    /** handleMessage: `ack` goes through writeChan before anything else (§7.5 step 2). */
    sendAck: ({ context, event }) => context.sendMessage({ type: 'ack', commandId: commandOf(event)!.commandId }),
    /** No handler for the action: `failed` at once, nothing executed (§7.5 step 3). */
    failUnknownAction: ({ context, event }) => {
      const { commandId, action } = commandOf(event)!;
      context.sendMessage({ type: 'failed', commandId, error: `unknown action ${action}` });
      context.ctx.record('agent.unknown-action', { command: commandId, agent: context.agentId, action });
    },
    /** Design fix `agent-idempotent`: a second delivery is not run again. */
    recordDuplicate: ({ context, event }, params: { why: 'running' | 'done' }) => {
      context.ctx.record('agent.dedup', { command: commandOf(event)!.commandId, agent: context.agentId, why: params.why });
    },
    /** Design fix `agent-idempotent`: a command whose effect exists is answered `complete` without running. */
    sendComplete: ({ context, event }) => context.sendMessage({ type: 'complete', commandId: commandOf(event)!.commandId }),
    /** Design fix `fenced-effects`: the handler does not start. */
    recordFencedAtStart: ({ context, event }) => context.recordFenced(commandOf(event)!.commandId, 'start'),
    /** handler.Handle (§7.5 step 4): inside readPump as built, in a goroutine of its own with `agent-async-handlers`. */
    startHandler: ({ context, event }) => context.startHandler(commandOf(event)!),
    /** Closing stopChan (§7.4 step 3); a handler being executed runs to completion. */
    shutdown: ({ context }) => context.shutdown(),
  },
}).createMachine({
  id: 'agent',
  description: "the k8s-agent's K8sAgent (§7): Run's Connect, readPump with its Reconnect cycles and synchronous handlers; never restarted",
  context: ({ input }) => input,
  initial: 'idle',
  on: { STOP: '.stopped' },
  states: {
    idle: {
      description: 'created, Run not called yet',
      entry: trace('idle'),
      on: { RUN: 'connecting' },
    },
    connecting: {
      description: "Connect: HTTP register, then the WebSocket dial, swapping wsConn without closing the old socket (§7.3)",
      entry: [trace('connecting'), 'connect'],
      on: {
        CONNECTED: [
          { guard: 'beforePumps', target: 'reading', actions: 'startPumps' },
          { target: 'reading' },
        ],
        CONNECT_FAILED: [
          { guard: 'reconnecting', target: 'backoff', actions: 'nextReconnectStep' },
          { guard: 'retryConnect', target: 'backoff', actions: ['recordConnectRetry', 'startReconnect'] },
          { target: 'failed', actions: 'recordRunFailed' },
        ],
      },
    },
    reading: {
      description: 'readPump blocked in ReadMessage on wsConn, until its 60 s read deadline (§7.3, §7.5)',
      entry: [trace('reading'), 'read'],
      on: {
        READABLE: { actions: 'read' },
        READ_FAILED: { target: 'backoff', actions: 'startReconnect' },
        COMMAND: [
          { guard: 'unknownAction', actions: ['sendAck', 'failUnknownAction', 'read'] },
          { guard: 'alreadyRunning', actions: ['sendAck', { type: 'recordDuplicate', params: { why: 'running' } }, 'read'] },
          { guard: 'effectExists', actions: ['sendAck', { type: 'recordDuplicate', params: { why: 'done' } }, 'sendComplete', 'read'] },
          { guard: 'fencedAtStart', actions: ['sendAck', 'recordFencedAtStart', 'read'] },
          { guard: 'asyncHandlers', actions: ['sendAck', 'startHandler', 'read'] },
          { target: 'executing', actions: 'sendAck' },
        ],
      },
    },
    executing: {
      description: 'a handler runs inside readPump: no frames are read meanwhile (§7.5)',
      entry: [trace('executing'), 'startHandler'],
      on: { HANDLED: 'reading' },
    },
    backoff: {
      description: "Reconnect's sleep before its next Connect: 2, 4, 8, 16, 32 s, then a new cycle (§7.5)",
      entry: [trace('backoff'), 'sleep'],
      on: { SLEPT: 'connecting' },
    },
    failed: {
      description: 'Run returned the error of its Connect: nothing runs any more (§7.4)',
      entry: [trace('failed'), 'reportRunFailed'],
    },
    stopped: {
      description: 'stopChan closed: writeChan closed, the socket closed 100 ms later; a K8sAgent cannot be restarted (§7.4)',
      type: 'final',
      entry: [trace('stopped'), 'shutdown'],
    },
  },
});
