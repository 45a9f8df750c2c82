import { fromMillis, type Micros } from '../time.ts';
import { OP_ACTION, OP_SCHEDULE, type CompiledMachine, type Implementation, type ImplementationArgs, type Plan, type StateInfo, type TransitionInfo } from './compile.ts';

/**
 * What a running statechart needs from its process: timers on the virtual clock, the trace, the
 * run's failure path, and the run's observer of statecharts. A `ProcessContext` is one.
 */
export interface StatechartHost<H> {
  setTimer(delayUs: Micros, fn: () => void, label: string): H;
  cancelTimer(handle: H): void;
  record(kind: string, details: Record<string, unknown>): void;
  fail(error: unknown): void;
  /**
   * Watches every statechart of the run (coverage): each instance asks it once, when it is made,
   * for the hook of its machine. Default: none, and no statechart is watched.
   */
  readonly statecharts?: StatechartObserver | undefined;
}

/** Called after each transition taken: the transition, the leaf it was taken from and the leaf it ended in. */
export type TransitionHook = (transition: TransitionInfo, from: StateInfo, to: StateInfo) => void;

/**
 * What a run watches its statecharts with (the coverage recorder): it is asked once per instance,
 * so that an unwatched machine costs its instances nothing per step.
 */
export interface StatechartObserver {
  /** The hook for an instance of `machine`, or undefined to leave it unwatched. */
  hookFor(machine: CompiledMachine): TransitionHook | undefined;
}

export interface StatechartOptions {
  /**
   * When set, the state value is recorded as `actor.state` {actor, state} after every step that
   * changes it (the first one included), as the kernel's xstate adapter does. Default: not recorded.
   */
  actorId?: string;
  /** Labels of the `after` timers (seen in failure reports), by delay name or milliseconds. Default: xstate's delayed event type. */
  timerLabels?: Readonly<Record<string, string>>;
  /**
   * Called after every transition taken (the initial one included), besides the host's observer's
   * hook. Default: none, at the cost of one test per step.
   */
  onTransition?: TransitionHook;
  /**
   * Called when a guard, action or delay threw, once the statechart has stopped and cancelled its
   * timers and before `host.fail`: for the component to drop what it started (requests in flight).
   * Default: nothing.
   */
  onError?: (error: unknown) => void;
}

type Status = 'not-started' | 'active' | 'done' | 'error';

/** One hook calling `a` then `b`; either alone when the other is absent, so a single hook is called directly. */
function both(a: TransitionHook | undefined, b: TransitionHook | undefined): TransitionHook | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return (t, from, to) => {
    a(t, from, to);
    b(t, from, to);
  };
}

/**
 * A compiled machine bound to its component (xstate's `context`: the object the guards and actions
 * read and write) and to its process. Semantics are those of xstate's `transition()`:
 * - a step takes the first enabled candidate (the leaf's transitions, then its ancestors'), runs
 *   its plan's effects in order — exit actions innermost first (an exited state's `after` timers
 *   cancelled among them), the transition's actions, entry actions outermost first (an entered
 *   state's `after` timers armed among them, on the virtual clock) — then moves to the plan's leaf;
 * - delays are milliseconds, as in xstate, turned into whole µs (`fromMillis`) when armed;
 * - an event sent while a step runs (an action that sends one) waits for the step to finish; once
 *   the top-level final state is reached, events are ignored;
 * - an implementation that throws stops the statechart for good: its timers are cancelled, then
 *   `onError`, then `host.fail`.
 * It differs from an xstate actor in when timers are armed and cancelled: at their place in the list
 * of effects, as `transition()` lists them, where an actor defers them to the end of the step. No
 * time passes within a step, so the two differ only in the order of the queue entries a step makes,
 * which decides only between entries falling due at the same instant (a timer armed by a state's
 * entry, then a request sent by the next entry action, keep that order here).
 */
export class Statechart<TContext, TEvent extends { type: string } = { type: string }, H = unknown> {
  private leaf: StateInfo;
  private recorded: StateInfo | null = null;
  private status_: Status = 'not-started';
  private processing = false;
  private readonly mailbox: TEvent[] = [];
  private readonly handles: Array<H | undefined>;
  private readonly fire: Array<() => void>;
  private readonly labels: string[];
  private readonly args: ImplementationArgs;
  private readonly onTransition: TransitionHook | undefined;

  constructor(
    private readonly compiled: CompiledMachine,
    readonly context: TContext,
    private readonly host: StatechartHost<H>,
    private readonly options: StatechartOptions = {},
  ) {
    this.leaf = compiled.initial.next;
    this.args = { context, event: { type: 'xstate.init' } };
    this.handles = compiled.timers.map(() => undefined);
    this.fire = compiled.timers.map((timer, slot) => {
      const event = Object.freeze({ type: timer.event }) as TEvent;
      return () => {
        this.handles[slot] = undefined;
        this.send(event);
      };
    });
    this.labels = compiled.timers.map((t) => options.timerLabels?.[String(t.delay)] ?? t.event);
    this.onTransition = both(options.onTransition, host.statecharts?.hookFor(compiled));
  }

  /** The current leaf state (the one the last finished step ended in). */
  get state(): StateInfo {
    return this.leaf;
  }

  get status(): Status {
    return this.status_;
  }

  /** Enters the initial state (xstate's initial transition). */
  start(): void {
    if (this.status_ !== 'not-started') throw new Error(`statechart '${this.compiled.id}' already started`);
    this.status_ = 'active';
    this.processing = true;
    try {
      this.take(this.compiled.initial);
      this.drain();
    } finally {
      this.processing = false;
    }
  }

  send(event: TEvent): void {
    if (this.status_ !== 'active') {
      if (this.status_ === 'not-started') throw new Error(`statechart '${this.compiled.id}' received '${event.type}' before it started`);
      return;
    }
    if (this.processing) {
      this.mailbox.push(event);
      return;
    }
    this.processing = true;
    try {
      this.step(event);
      this.drain();
    } finally {
      this.processing = false;
    }
  }

  private drain(): void {
    while (this.mailbox.length > 0) {
      const next = this.mailbox.shift()!;
      if (this.status_ === 'active') this.step(next);
    }
  }

  private step(event: TEvent): void {
    const candidates = this.compiled.table[this.leaf.index]!.get(event.type);
    if (candidates === undefined) return;
    const args = this.args;
    args.event = event;
    let plan: Plan | undefined;
    try {
      for (let i = 0; i < candidates.length && plan === undefined; i++) {
        const c = candidates[i]!;
        if (c.guard === undefined || c.guard(args, c.guardParams)) plan = c.plan;
      }
    } catch (error) {
      this.crash(error);
      return;
    }
    if (plan !== undefined) this.take(plan);
  }

  private take(plan: Plan): void {
    const from = this.leaf;
    try {
      const ops = plan.ops;
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        if (op.kind === OP_ACTION) op.fn(this.args, op.params);
        else if (op.kind === OP_SCHEDULE) this.schedule(op.slot);
        else this.cancel(op.slot);
      }
    } catch (error) {
      this.crash(error);
      return;
    }
    this.leaf = plan.next;
    if (plan.done) this.status_ = 'done';
    if (this.onTransition !== undefined) this.onTransition(plan.transition, from, plan.next);
    if (this.options.actorId !== undefined && this.leaf !== this.recorded) {
      this.recorded = this.leaf;
      this.host.record('actor.state', { actor: this.options.actorId, state: this.leaf.value });
    }
  }

  private schedule(slot: number): void {
    const delay = this.compiled.delays[slot]!;
    const ms = typeof delay === 'number' ? delay : (delay as Implementation)(this.args, undefined);
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new Error(`statechart '${this.compiled.id}': delay '${this.compiled.timers[slot]!.delay}' gave ${String(ms)}, not a number of milliseconds`);
    }
    this.handles[slot] = this.host.setTimer(fromMillis(ms), this.fire[slot]!, this.labels[slot]!);
  }

  private cancel(slot: number): void {
    const handle = this.handles[slot];
    if (handle === undefined) return;
    this.handles[slot] = undefined;
    this.host.cancelTimer(handle);
  }

  private crash(error: unknown): void {
    this.status_ = 'error';
    this.mailbox.length = 0;
    for (let slot = 0; slot < this.handles.length; slot++) this.cancel(slot);
    this.options.onError?.(error);
    this.host.fail(error);
  }
}
