import { withDeterminismGuard } from './determinism-guard.ts';
import { EventQueue } from './event-queue.ts';
import { Network, type ConnectionEnd, type ConnectionHandlers, type ConnectOptions, type NetworkHost, type NetworkOptions } from './network.ts';
import { NodeClock, type NodeClockOptions, type Ppm } from './node-clock.ts';
import { Incarnation, SimNode, SimProcess, type ProcessContext, type ProcessSpec, type TimerHandle } from './process.ts';
import { RandomStreams, type RandomStream } from './random.ts';
import { assertTime, formatTime, type Micros } from './time.ts';
import type { StatechartObserver } from './statechart/runtime.ts';
import { TraceRecorder, type TraceOptions } from './trace.ts';

export interface SimulationOptions {
  /** The run seed; every random stream derives from it. Required. */
  seed: number | string;
  /**
   * Maximum number of events a simulation may execute over its whole life. A model that loops
   * (a timer re-arming itself at zero delay, say) ends with `step-budget-exhausted` instead of
   * hanging. Default 50,000,000 (about 10 s of wall time at kernel speed).
   */
  stepBudget?: number;
  /** Network defaults; see `DEFAULT_NETWORK_OPTIONS`. */
  network?: Partial<NetworkOptions>;
  /** Record a trace event per delivered message (`net.recv`, `net.datagram`). Default true. */
  traceMessages?: boolean;
  trace?: TraceOptions;
  /** Install the determinism guard while events run. Default true. */
  guard?: boolean;
  /**
   * Watches the run's statecharts (the coverage recorder): every statechart a process makes asks it
   * for a hook. It sees transitions, never the trace, so the trace hash is the same with or without
   * it. Default: none.
   */
  statecharts?: StatechartObserver;
}

/**
 * How a `run()` call ended:
 * - `until-reached`: virtual time reached the requested instant;
 * - `quiescent`: no event is left (only without `until`);
 * - `step-budget-exhausted`: the simulation's step budget is spent (sticky);
 * - `model-failure`: an exception escaped a component, or a component called `fail` (sticky);
 * - `halted`: something (an invariant monitor) called `halt` (sticky).
 */
export type RunStatus = 'until-reached' | 'quiescent' | 'step-budget-exhausted' | 'model-failure' | 'halted';

export interface ModelFailure {
  message: string;
  stack: string | undefined;
  seed: number | string;
  time: Micros;
  /** The process whose callback threw, or `sim` for kernel-level work. */
  process: string;
  /** The label of the event that was running. */
  event: string;
}

export interface RunResult {
  status: RunStatus;
  now: Micros;
  steps: number;
  failure?: ModelFailure;
  haltReason?: string;
}

export interface RunLimits {
  /** Stop once virtual time would pass this instant; the clock is left at exactly `until`. */
  until?: Micros;
  /** Stop after this many more events (in addition to the simulation-wide budget). */
  maxSteps?: number;
}

const KERNEL = 'sim';

/** Calls a callback: `deliverTo` as a `deliverCall`. */
const callIt = (run: () => void): void => run();

/**
 * Keeps `fn(a, b)` for when a paused process resumes. A function of its own, not a closure made in
 * `deliverCall`: V8 would then allocate a context for the captured arguments on every delivery,
 * paused or not (one per message).
 */
function deferCall<A, B>(proc: SimProcess, fn: (a: A, b: B) => void, a: A, b: B, label: string): void {
  proc.deferred.push({ run: () => fn(a, b), arg: undefined, label, timer: null });
}

/**
 * The deterministic simulation kernel: virtual time, an event queue ordered by (time, sequence),
 * seeded random streams, nodes with their own clocks, processes that crash, restart and pause,
 * the network, and the trace. It knows nothing about StreamSpace.
 *
 * Everything happens inside `run()`: callbacks are synchronous, nothing reads real time or real
 * randomness, and the same (setup, seed) always produces the same trace hash.
 */
export class Simulation {
  readonly seed: number | string;
  readonly random: RandomStreams;
  readonly trace: TraceRecorder;
  readonly network: Network;
  /** `SimulationOptions.statecharts`. */
  readonly statecharts: StatechartObserver | undefined;
  private readonly queue = new EventQueue<Incarnation>();
  /** A timer deferred by a pause → its entry after the resume (a cancel of the old handle follows it). */
  private readonly resumedTimers = new WeakMap<TimerHandle, TimerHandle>();
  private readonly nodesByName = new Map<string, SimNode>();
  private readonly nodeList: SimNode[] = [];
  private readonly processesByName = new Map<string, SimProcess>();
  private readonly stepBudget: number;
  private readonly guard: boolean;
  private currentTime: Micros = 0;
  private stepCount = 0;
  /** Process and label of the callback being executed, for failure reports. */
  private runningProcess = KERNEL;
  private runningLabel = '(outside an event)';
  private sticky: { status: RunStatus; failure?: ModelFailure; haltReason?: string } | null = null;

  constructor(options: SimulationOptions) {
    this.seed = options.seed;
    this.random = new RandomStreams(options.seed);
    this.trace = new TraceRecorder(options.trace);
    this.stepBudget = options.stepBudget ?? 50_000_000;
    this.guard = options.guard ?? true;
    this.statecharts = options.statecharts;
    this.network = new Network(new KernelHost(this, this.queue, this.processesByName), options.network, options.traceMessages ?? true);
  }

  /** True (simulation) time, in µs. Only checkers and fault injectors should read it. */
  get now(): Micros {
    return this.currentTime;
  }

  get steps(): number {
    return this.stepCount;
  }

  /** Number of queued events (for tests and diagnostics). */
  get pendingEvents(): number {
    return this.queue.size;
  }

  // ---- topology -----------------------------------------------------------------------------

  addNode(name: string, clock: NodeClockOptions = {}): SimNode {
    if (this.nodesByName.has(name)) throw new Error(`node '${name}' already exists`);
    const node = new SimNode(this.nodeList.length, name, new NodeClock(clock));
    this.nodesByName.set(name, node);
    this.nodeList.push(node);
    this.network.addNode(node);
    return node;
  }

  node(name: string): SimNode {
    const node = this.nodesByName.get(name);
    if (node === undefined) throw new Error(`unknown node '${name}'`);
    return node;
  }

  get nodes(): readonly SimNode[] {
    return this.nodeList;
  }

  addProcess(spec: ProcessSpec): SimProcess {
    if (this.processesByName.has(spec.name)) throw new Error(`process '${spec.name}' already exists`);
    const proc = new SimProcess(spec.name, this.node(spec.node), spec.boot);
    this.processesByName.set(spec.name, proc);
    proc.node.processes.push(proc);
    if (spec.autoStart ?? true) this.at(this.currentTime, () => this.start(spec.name), `start ${spec.name}`);
    return proc;
  }

  process(name: string): SimProcess {
    const proc = this.processesByName.get(name);
    if (proc === undefined) throw new Error(`unknown process '${name}'`);
    return proc;
  }

  hasProcess(name: string): boolean {
    return this.processesByName.has(name);
  }

  get processes(): IterableIterator<SimProcess> {
    return this.processesByName.values();
  }

  /** A kernel-level random stream (fault injection, workload), independent of every process stream. */
  stream(name: string): RandomStream {
    return this.random.get(name);
  }

  // ---- scheduling ---------------------------------------------------------------------------

  /** Schedules kernel-level work (fault injection, drivers) at a true instant. */
  at(time: Micros, run: () => void, label = 'at'): void {
    assertTime(time, 'event time');
    if (time < this.currentTime) throw new RangeError(`cannot schedule '${label}' at ${formatTime(time)}, before now (${formatTime(this.currentTime)})`);
    this.queue.push(time, run, null, label);
  }

  /** Schedules kernel-level work after a true delay. */
  after(delay: Micros, run: () => void, label = 'after'): void {
    this.at(this.currentTime + delay, run, label);
  }

  /**
   * @internal a timer of the running incarnation of `proc` (a context's `setTimer`, the network's):
   * `run(arg)` after `delay`.
   */
  scheduleOwned<T>(proc: SimProcess, delay: Micros, run: (arg: T) => void, label: string, arg?: T): TimerHandle {
    // assertTime's checks of the delay and of the instant it falls due (non-negative safe integers),
    // with their messages built only when one fails: this runs for every timer, and compares cost
    // less than calls of Number.isSafeInteger. Past 2^53 µs (285 years) instants are no longer exact,
    // so a timer due there is refused, not rounded.
    const due = this.currentTime + delay;
    if (!(delay >= 0 && due <= Number.MAX_SAFE_INTEGER && Math.floor(delay) === delay)) {
      assertTime(delay, `timer delay (${label})`);
      assertTime(due, `timer due time (${label})`);
    }
    const owner = proc.current;
    if (owner === null) throw new Error(`${proc.name} is not running; cannot schedule '${label}'`);
    owner.pendingTimers++;
    return this.queue.push(due, run as (arg?: unknown) => void, owner, label, arg);
  }

  /**
   * @internal Cancels a timer wherever it is: in the queue; in its paused process's deferred work;
   * or rescheduled by the resume under a new handle (`resumedTimers`), which the caller never saw.
   */
  cancelOwned(handle: TimerHandle | null | undefined): void {
    if (handle === null || handle === undefined) return;
    let current: TimerHandle = handle;
    while (!this.queue.cancel(current)) {
      const next = this.resumedTimers.get(current);
      if (next === undefined) {
        const process = current.owner?.process;
        if (process !== undefined && process.status === 'paused') {
          const i = process.deferred.findIndex((d) => d.timer === current);
          if (i >= 0) process.deferred.splice(i, 1);
        }
        return;
      }
      current = next;
    }
    if (current.owner !== null) current.owner.pendingTimers--;
  }

  /** @internal see `NetworkHost.deliverTo` */
  deliverTo(proc: SimProcess, incarnation: number, run: () => void, label: string): boolean {
    return this.deliverCall(proc, incarnation, callIt, run, undefined, label);
  }

  /** @internal see `NetworkHost.deliverCall` */
  deliverCall<A, B>(proc: SimProcess, incarnation: number, fn: (a: A, b: B) => void, a: A, b: B, label: string): boolean {
    if (proc.incarnation !== incarnation || !proc.alive) return false;
    if (proc.status === 'paused') deferCall(proc, fn, a, b, label);
    else {
      // Name the process while its callback runs, so a failure report points at it.
      const previousProcess = this.runningProcess;
      const previousLabel = this.runningLabel;
      this.runningProcess = proc.name;
      this.runningLabel = label;
      try {
        fn(a, b);
      } finally {
        this.runningProcess = previousProcess;
        this.runningLabel = previousLabel;
      }
    }
    return true;
  }

  // ---- running ------------------------------------------------------------------------------

  /** Executes events in (time, sequence) order until a limit is hit, the queue drains, or the run ends. */
  run(limits: RunLimits = {}): RunResult {
    if (limits.until !== undefined) assertTime(limits.until, 'until');
    return this.guard ? withDeterminismGuard(() => this.loop(limits)) : this.loop(limits);
  }

  private loop(limits: RunLimits): RunResult {
    const until = limits.until ?? Number.POSITIVE_INFINITY;
    const stopAt = limits.maxSteps === undefined ? this.stepBudget : Math.min(this.stepBudget, this.stepCount + limits.maxSteps);
    const queue = this.queue;
    while (this.sticky === null) {
      const next = queue.peek();
      if (next === undefined || next.time > until) break;
      if (this.stepCount >= stopAt) {
        if (this.stepCount >= this.stepBudget) {
          this.sticky = { status: 'step-budget-exhausted' };
          this.trace.record(this.currentTime, KERNEL, 'sim.step-budget-exhausted', { steps: this.stepCount });
        }
        return this.result('step-budget-exhausted');
      }
      queue.pop();
      const owner = next.owner;
      if (owner !== null) {
        owner.pendingTimers--;
        if (!owner.alive) continue; // scheduled by an incarnation that has since died
      }
      this.currentTime = next.time;
      this.stepCount++;
      if (owner !== null && owner.process.status === 'paused') {
        owner.process.deferred.push({ run: next.run, arg: next.arg, label: next.label, timer: next });
        continue;
      }
      this.runningProcess = owner === null ? KERNEL : owner.process.name;
      this.runningLabel = next.label;
      try {
        next.run(next.arg);
      } catch (error) {
        this.fail(error);
      }
      this.runningProcess = KERNEL;
      this.runningLabel = '(outside an event)';
    }
    if (this.sticky !== null) return this.result(this.sticky.status);
    if (until !== Number.POSITIVE_INFINITY) {
      this.currentTime = Math.max(this.currentTime, until);
      return this.result('until-reached');
    }
    return this.result('quiescent');
  }

  private result(status: RunStatus): RunResult {
    const r: RunResult = { status, now: this.currentTime, steps: this.stepCount };
    if (this.sticky?.failure) r.failure = this.sticky.failure;
    if (this.sticky?.haltReason !== undefined) r.haltReason = this.sticky.haltReason;
    return r;
  }

  /**
   * Ends the run as a model failure. Used for exceptions escaping components; the failure carries
   * the seed, time, process and event label so it can be replayed.
   */
  fail(error: unknown): void {
    if (this.sticky !== null) return;
    const err = error instanceof Error ? error : new Error(String(error));
    const failure: ModelFailure = {
      message: err.message,
      stack: err.stack,
      seed: this.seed,
      time: this.currentTime,
      process: this.runningProcess,
      event: this.runningLabel,
    };
    this.sticky = { status: 'model-failure', failure };
    this.trace.record(this.currentTime, failure.process, 'sim.model-failure', { message: failure.message, event: failure.event });
  }

  /** Stops the run at the current event (an invariant monitor found a violation). Sticky. */
  halt(reason: string): void {
    if (this.sticky !== null) return;
    this.sticky = { status: 'halted', haltReason: reason };
    this.trace.record(this.currentTime, KERNEL, 'sim.halt', { reason });
  }

  get ended(): boolean {
    return this.sticky !== null;
  }

  // ---- process life cycle -------------------------------------------------------------------

  /** Boots a fresh incarnation of a process that is not running. */
  start(name: string): void {
    const proc = this.process(name);
    if (proc.alive) throw new Error(`process '${name}' is already running`);
    if (!proc.node.up) throw new Error(`cannot start '${name}': node '${proc.node.name}' is down`);
    proc.incarnation++;
    proc.current = new Incarnation(proc, proc.incarnation);
    proc.status = 'up';
    proc.restartEntry = null;
    proc.deferred = [];
    this.trace.record(this.currentTime, name, 'proc.start', { node: proc.node.name, incarnation: proc.incarnation });
    proc.ctx = this.contextFor(proc);
    const ctx = proc.ctx;
    this.deliverTo(proc, proc.incarnation, () => {
      proc.behaviour = proc.boot(ctx);
    }, 'boot');
  }

  /** Kills a process with no cleanup. Peers on live hosts get RST. */
  crash(name: string): void {
    const proc = this.process(name);
    if (!proc.alive) return;
    this.trace.record(this.currentTime, name, 'proc.crash');
    this.kill(proc, 'crashed', proc.node.up);
  }

  /** Crashes a process (if running) and boots a fresh incarnation after `delayUs`. */
  restart(name: string, delayUs: Micros): void {
    const proc = this.process(name);
    if (proc.alive) {
      this.trace.record(this.currentTime, name, 'proc.crash');
      this.kill(proc, 'restarting', proc.node.up);
    } else {
      proc.status = 'restarting';
    }
    this.trace.record(this.currentTime, name, 'proc.restart-scheduled', { delay: delayUs });
    assertTime(delayUs, 'restart delay');
    if (proc.restartEntry !== null) this.queue.cancel(proc.restartEntry);
    proc.restartEntry = this.queue.push(this.currentTime + delayUs, () => {
      proc.restartEntry = null;
      if (proc.status === 'restarting' && proc.node.up) this.start(name);
    }, null, `restart ${name}`);
  }

  /** Exits a process cleanly from outside, as if it handled SIGTERM by exiting: FIN on every connection. */
  exit(name: string): void {
    const proc = this.process(name);
    if (!proc.alive) return;
    this.trace.record(this.currentTime, name, 'proc.exit');
    for (const end of [...proc.ends]) end.close();
    this.kill(proc, 'exited', true);
  }

  /**
   * Forgets a process that is not running (an evicted pod), so its name can be used again, for
   * example by a replacement scheduled on another node.
   */
  removeProcess(name: string): void {
    const proc = this.process(name);
    if (proc.alive) throw new Error(`cannot remove '${name}': it is running`);
    if (proc.restartEntry !== null) this.queue.cancel(proc.restartEntry);
    this.processesByName.delete(name);
    const list = proc.node.processes;
    list.splice(list.indexOf(proc), 1);
    this.trace.record(this.currentTime, name, 'proc.removed', { node: proc.node.name });
  }

  /** Delivers a signal to a running process's `onSignal` (after a pause, if paused). */
  signal(name: string, signal: string): void {
    const proc = this.process(name);
    if (!proc.alive) return;
    this.trace.record(this.currentTime, name, 'proc.signal', { signal });
    this.deliverTo(proc, proc.incarnation, () => proc.behaviour?.onSignal?.(signal), `signal ${signal}`);
  }

  /** Freezes a process: nothing of it runs until `resume`. */
  pause(name: string): void {
    const proc = this.process(name);
    if (proc.status !== 'up') return;
    proc.status = 'paused';
    this.trace.record(this.currentTime, name, 'proc.pause');
  }

  /**
   * Unfreezes a process. Everything that came due while it was paused (timers, messages) runs now,
   * in the order it came due, before anything the process schedules afterwards.
   */
  resume(name: string): void {
    const proc = this.process(name);
    if (proc.status !== 'paused') return;
    proc.status = 'up';
    const deferred = proc.deferred;
    proc.deferred = [];
    this.trace.record(this.currentTime, name, 'proc.resume', { deferred: deferred.length });
    for (const d of deferred) {
      const handle = this.scheduleOwned(proc, 0, d.run, d.label, d.arg);
      if (d.timer !== null) this.resumedTimers.set(d.timer, handle);
    }
  }

  private kill(proc: SimProcess, status: 'crashed' | 'restarting' | 'exited', reset: boolean): void {
    proc.status = status;
    if (proc.current !== null) proc.current.alive = false;
    proc.current = null;
    proc.deferred = [];
    proc.behaviour = null;
    proc.ctx = null;
    this.network.processDied(proc, reset);
  }

  // ---- nodes --------------------------------------------------------------------------------

  /**
   * Node failure (power loss, kernel panic, the VM gone): every process on it dies at once and
   * nothing is sent to their peers, whose connections stay half-open.
   */
  failNode(name: string): void {
    const node = this.node(name);
    if (!node.up) return;
    node.up = false;
    this.trace.record(this.currentTime, KERNEL, 'node.fail', { node: name });
    for (const proc of node.processes) {
      if (proc.alive) {
        this.trace.record(this.currentTime, proc.name, 'proc.crash', { cause: 'node-failure' });
        this.kill(proc, 'crashed', false);
      }
      else if (proc.status === 'restarting') proc.status = 'crashed';
    }
  }

  /** Brings a failed node back; with `restartProcesses`, boots every process that was on it. */
  recoverNode(name: string, restartProcesses = false): void {
    const node = this.node(name);
    if (node.up) return;
    node.up = true;
    this.trace.record(this.currentTime, KERNEL, 'node.recover', { node: name });
    this.network.nodeRecovered();
    if (restartProcesses) for (const proc of node.processes) if (!proc.alive && proc.status !== 'exited') this.start(proc.name);
  }

  /** Pauses every process on a node (a VM suspend, or a whole-node stall). */
  pauseNode(name: string): void {
    for (const proc of this.node(name).processes) this.pause(proc.name);
  }

  /**
   * Resumes every process on a node. `clockStoppedUs` moves the node's clocks back by that much,
   * for a VM suspend, where CLOCK_MONOTONIC does not count suspended time.
   */
  resumeNode(name: string, clockStoppedUs: Micros = 0): void {
    const node = this.node(name);
    if (clockStoppedUs > 0) {
      node.clock.freezeFor(clockStoppedUs);
      this.trace.record(this.currentTime, KERNEL, 'clock.freeze', { node: name, us: clockStoppedUs });
    }
    for (const proc of node.processes) this.resume(proc.name);
  }

  /** Steps a node's wall clock by `deltaUs` (monotonic time is unaffected). */
  jumpClock(name: string, deltaUs: Micros): void {
    this.node(name).clock.jump(deltaUs);
    this.trace.record(this.currentTime, KERNEL, 'clock.jump', { node: name, delta: deltaUs });
  }

  /** Sets a node's clock drift, in ppm, from now on. */
  setClockDrift(name: string, driftPpm: Ppm): void {
    this.node(name).clock.setDrift(this.currentTime, driftPpm);
    this.trace.record(this.currentTime, KERNEL, 'clock.drift', { node: name, ppm: driftPpm });
  }

  // ---- contexts -----------------------------------------------------------------------------

  private contextFor(proc: SimProcess): ProcessContext {
    return new KernelContext(this, proc);
  }
}

/**
 * The network's view of the simulation. A class rather than an object literal of closures: its
 * methods are then the same functions for every simulation, so the network's calls to them (several
 * per message) stay monomorphic and are inlined, in a campaign's thousandth run as in its first.
 */
class KernelHost implements NetworkHost {
  readonly rng: RandomStream;

  constructor(
    private readonly sim: Simulation,
    private readonly queue: EventQueue<Incarnation>,
    private readonly processesByName: ReadonlyMap<string, SimProcess>,
  ) {
    this.rng = sim.random.get('network');
  }

  get now(): Micros {
    return this.sim.now;
  }

  schedule(time: Micros, run: () => void, label: string): void {
    this.queue.push(time, run, null, label);
  }

  scheduleCall<T>(time: Micros, fn: (arg: T) => void, arg: T, label: string): void {
    this.queue.push(time, fn as (arg?: unknown) => void, null, label, arg);
  }

  scheduleFor(proc: SimProcess, delayUs: Micros, run: () => void, label: string): TimerHandle {
    return this.sim.scheduleOwned(proc, delayUs, run, label);
  }

  cancel(handle: TimerHandle | null): void {
    this.sim.cancelOwned(handle);
  }

  deliverTo(proc: SimProcess, incarnation: number, run: () => void, label: string): boolean {
    return this.sim.deliverTo(proc, incarnation, run, label);
  }

  deliverCall<A, B>(proc: SimProcess, incarnation: number, fn: (a: A, b: B) => void, a: A, b: B, label: string): boolean {
    return this.sim.deliverCall(proc, incarnation, fn, a, b, label);
  }

  findProcess(name: string): SimProcess | undefined {
    return this.processesByName.get(name);
  }

  record(p: string, k: string, d?: Record<string, unknown>): void {
    this.sim.trace.record(this.sim.now, p, k, d);
  }
}

/**
 * The context of one process incarnation. A class for the reason `KernelHost` is one: components
 * call `setTimer`, `now` and `record` on every message, and with methods shared by every context
 * those calls are inlined instead of dispatched to each incarnation's own closures.
 */
class KernelContext implements ProcessContext {
  readonly name: string;
  readonly node: string;
  readonly incarnation: number;
  private readonly clock: NodeClock;
  /**
   * The streams this incarnation has asked for by their short names: servers draw one per
   * request, and building and hashing the full `<process>/<stream>` name each time showed up in
   * profiles.
   */
  private readonly streams = new Map<string, RandomStream>();

  constructor(
    private readonly sim: Simulation,
    private readonly proc: SimProcess,
  ) {
    this.name = proc.name;
    this.node = proc.node.name;
    this.incarnation = proc.incarnation;
    this.clock = proc.node.clock;
  }

  private live(what: string): void {
    const proc = this.proc;
    if (proc.incarnation !== this.incarnation || !proc.alive) {
      throw new Error(`${proc.name} (incarnation ${this.incarnation}) is no longer running but called ${what}`);
    }
  }

  now(): Micros {
    return this.clock.wall(this.sim.now);
  }

  monotonic(): Micros {
    return this.clock.monotonic(this.sim.now);
  }

  setTimer(delayUs: Micros, fn: () => void, label = 'timer'): TimerHandle {
    this.live('setTimer');
    return this.sim.scheduleOwned(this.proc, this.clock.toTrueDelay(delayUs), fn, label);
  }

  setTimerCall<T>(delayUs: Micros, fn: (arg: T) => void, arg: T, label: string): TimerHandle {
    this.live('setTimerCall');
    return this.sim.scheduleOwned(this.proc, this.clock.toTrueDelay(delayUs), fn, label, arg);
  }

  cancelTimer(handle: TimerHandle | undefined): void {
    this.sim.cancelOwned(handle);
  }

  random(stream: string): RandomStream {
    let found = this.streams.get(stream);
    if (found === undefined) {
      found = this.sim.random.get(`${this.proc.name}/${stream}`);
      this.streams.set(stream, found);
    }
    return found;
  }

  record(kind: string, details?: Record<string, unknown>): void {
    this.sim.trace.record(this.sim.now, this.proc.name, kind, details);
  }

  connect(target: string, handlers: ConnectionHandlers, options?: ConnectOptions): ConnectionEnd {
    this.live('connect');
    return this.sim.network.connect(this.proc, target, handlers, options);
  }

  sendDatagram(target: string, payload: unknown): void {
    this.live('sendDatagram');
    this.sim.network.sendDatagram(this.proc, target, payload);
  }

  exit(): void {
    if (this.proc.incarnation === this.incarnation) this.sim.exit(this.proc.name);
  }

  fail(error: unknown): void {
    this.sim.fail(error);
  }

  get statecharts(): StatechartObserver | undefined {
    return this.sim.statecharts;
  }
}
