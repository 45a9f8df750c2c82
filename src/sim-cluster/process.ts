import type { NodeClock } from './node-clock.ts';
import type { QueueEntry } from './event-queue.ts';
import type { RandomStream } from './random.ts';
import type { ConnectionEnd, ConnectionHandlers, ConnectOptions } from './network.ts';
import type { Micros } from './time.ts';
import type { StatechartObserver } from './statechart/runtime.ts';

/**
 * Life of a simulated process (DESIGN decision 4):
 * - `up`: runs its timers and receives messages;
 * - `paused`: a stop-the-world freeze. Nothing of it runs; its due timers and incoming messages
 *   wait (the kernel still buffers TCP data for it) and run, in their original order, on resume;
 * - `crashed`: volatile state dropped, timers cancelled, connections dead;
 * - `restarting`: crashed, with a fresh incarnation scheduled to boot after a delay;
 * - `exited`: stopped by its own `exit()` (graceful shutdown), connections closed with FIN.
 */
export type ProcessStatus = 'not-started' | 'up' | 'paused' | 'crashed' | 'restarting' | 'exited';

/** What a process does when the outside world reaches it. Every hook is optional. */
export interface ProcessBehaviour {
  /** An inbound connection was accepted; set the end's handlers here. Without this hook, connects are refused. */
  onAccept?(conn: ConnectionEnd): void;
  /** A datagram arrived. */
  onDatagram?(from: string, payload: unknown): void;
  /** A signal was delivered (e.g. `SIGTERM` for a graceful Kubernetes pod deletion). */
  onSignal?(signal: string): void;
}

/** Builds a fresh incarnation of a process. Called at every (re)start with a new context. */
export type BootFn = (ctx: ProcessContext) => ProcessBehaviour;

export interface ProcessSpec {
  name: string;
  node: string;
  boot: BootFn;
  /** Boot as soon as the process is added (at the current virtual time). Default true. */
  autoStart?: boolean;
}

/**
 * One life of a process. Every queue entry the process schedules is owned by its incarnation;
 * when the incarnation dies its entries are not removed from the queue but skipped as they come
 * due, which makes a crash O(1) and keeps the per-timer cost to a counter update.
 */
export class Incarnation {
  alive = true;
  /** Timers armed by this incarnation and not yet fired or cancelled. */
  pendingTimers = 0;
  constructor(
    readonly process: SimProcess,
    readonly number: number,
  ) {}
}

/** Opaque handle of a pending timer. */
export type TimerHandle = QueueEntry<Incarnation>;

/**
 * Everything a component may touch. Times are the node's local readings; a component never sees
 * true time (the checkers do). All callbacks scheduled through it belong to this incarnation: they
 * are cancelled by a crash and deferred by a pause.
 */
export interface ProcessContext {
  readonly name: string;
  readonly node: string;
  readonly incarnation: number;
  /** Local wall-clock time (µs): for timestamps, TTLs and anything compared across nodes. */
  now(): Micros;
  /** Local monotonic time (µs): for measuring elapsed time, as Go's time.Since does. */
  monotonic(): Micros;
  /** Runs `fn` after `delayUs` of local monotonic time. */
  setTimer(delayUs: Micros, fn: () => void, label?: string): TimerHandle;
  /**
   * `setTimer` of the call `fn(arg)`: `fn` can be one function shared by many timers (an RPC
   * client's request timeout), so that arming one makes no closure.
   */
  setTimerCall<T>(delayUs: Micros, fn: (arg: T) => void, arg: T, label: string): TimerHandle;
  cancelTimer(handle: TimerHandle | undefined): void;
  /** A random stream private to this process name, continued across restarts. */
  random(stream: string): RandomStream;
  /** Appends an event to the run's trace (and to its hash). */
  record(kind: string, details?: Record<string, unknown>): void;
  connect(target: string, handlers: ConnectionHandlers, options?: ConnectOptions): ConnectionEnd;
  sendDatagram(target: string, payload: unknown): void;
  /** Graceful exit: timers cancelled, every connection closed with FIN. */
  exit(): void;
  /** Ends the run as a model failure (a bug in the model, not a finding about the system). */
  fail(error: unknown): void;
  /** The run's observer of statecharts (`SimulationOptions.statecharts`), which the statecharts this process makes report to. */
  readonly statecharts?: StatechartObserver | undefined;
}

export class SimNode {
  up = true;
  readonly processes: SimProcess[] = [];
  constructor(
    readonly index: number,
    readonly name: string,
    readonly clock: NodeClock,
  ) {}
}

export class SimProcess {
  status: ProcessStatus = 'not-started';
  incarnation = 0;
  behaviour: ProcessBehaviour | null = null;
  ctx: ProcessContext | null = null;
  /** The running incarnation, or null while the process is not alive. */
  current: Incarnation | null = null;
  /**
   * Work that came due while paused, in the order it came due: `run(arg)`. `timer`: the handle of
   * the timer it came from (null for a delivery), so a later `cancelTimer` still reaches it.
   */
  deferred: Array<{ run: (arg?: unknown) => void; arg: unknown; label: string; timer: QueueEntry<Incarnation> | null }> = [];
  /** Open or connecting connection ends of this incarnation. */
  readonly ends = new Set<ConnectionEnd>();
  /** Pending restart, if `restarting`. */
  restartEntry: QueueEntry<Incarnation> | null = null;

  constructor(
    readonly name: string,
    readonly node: SimNode,
    readonly boot: BootFn,
  ) {}

  /** Alive means this incarnation still exists: up, or paused with its memory intact. */
  get alive(): boolean {
    return this.status === 'up' || this.status === 'paused';
  }

  /** Timers armed by the running incarnation and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.current?.pendingTimers ?? 0;
  }
}
