import type { AnyStateMachine, StateValue } from 'xstate';

/**
 * Compiles an xstate v5 machine (built with `setup({ guards, actions, delays }).createMachine(…)`)
 * into a table-driven stepper with xstate's own semantics, for the components whose statecharts run
 * too often for xstate's interpreter (DESIGN decision 3: the definition is the source of truth, a
 * faster stepper runs it). Everything is derived once, when the machine is compiled:
 * - per leaf state and event type, the candidate transitions in xstate's order (the leaf's own, then
 *   its ancestors'), each with its guard and a plan;
 * - per (leaf, transition), the plan: the flat list of effects xstate's `transition()` lists for it
 *   (exit actions innermost first, with the cancels of the exited states' `after` timers; the
 *   transition's actions; entry actions outermost first, with the scheduling of the entered states'
 *   `after` timers and the initial actions of states entered by default) and the leaf it ends in.
 *   Exit and entry sets follow xstate's SCXML algorithm, `reenter: false` by default;
 * - per `after` delay of a state, a timer slot.
 *
 * The subset: compound and atomic states, a final state directly under the root, guarded, targetless
 * and self transitions, `reenter`, `after` with numeric or named delays, `initial` actions. Guards,
 * actions and delays are named (`'name'` or `{ type: 'name', params: {...} }` with static params)
 * and implemented in `setup`; the stepper calls the implementations xstate would call, with the same
 * `({ context, event }, params)` arguments (no `self` or `system`).
 *
 * Context: the machine's context is the component object itself, never copied or assigned: the
 * component keeps its own fields and the actions write them. A definition declares
 * `context: ({ input }) => input` so that xstate's interpreter, given the component as input, runs
 * the same actions on the same object; the stepper is bound to the component directly.
 *
 * Rejected when compiled, with an error naming the machine and the state: parallel and history
 * states, `invoke`, `always`, `onDone`, nested final states, wildcard event descriptors, inline
 * functions as guards, actions, params or delays, xstate's built-in actions (`assign`, `raise`,
 * `sendTo`, `spawnChild`, …) and built-in guards (`and`, `not`, `stateIn`, …), multiple targets,
 * a static context object (data xstate would own).
 */

/** How xstate calls a guard, an action or a delay function: `({ context, event }, params)`. */
export type Implementation = (args: ImplementationArgs, params: unknown) => unknown;

/** The first argument of an implementation. The stepper reuses one object per instance. */
export interface ImplementationArgs {
  context: unknown;
  event: { type: string };
}

/** A machine the stepper cannot run, or a definition that refers to something missing. */
export class StatechartError extends Error {
  override readonly name = 'StatechartError';
}

/** A leaf state: the stepper's configuration is one leaf and its ancestors. */
export interface StateInfo {
  /** Index in `CompiledMachine.states`. */
  readonly index: number;
  /** xstate's state id (`elector.leading.polling.attempting`). */
  readonly id: string;
  /** Keys from the root (`['leading', 'polling', 'attempting']`). */
  readonly path: readonly string[];
  /** The state value as xstate's snapshots give it (`{ leading: { polling: 'attempting' } }`). */
  readonly value: StateValue;
  /** A final state directly under the root: the machine is done. */
  readonly final: boolean;
}

/** One transition of the definition (an `on`, `after` or initial transition), for hooks and diagrams. */
export interface TransitionInfo {
  /** The machine's id: with `index`, what identifies the transition across machines (coverage). */
  readonly machine: string;
  /** Index in `CompiledMachine.transitions`; 0 is the initial transition. */
  readonly index: number;
  /** The state whose `on`/`after` declares it (the root for the initial transition). */
  readonly source: string;
  /** The event type (`xstate.after.<delay>.<state id>` for `after`, `xstate.init` for the initial transition). */
  readonly event: string;
  /** The `after` delay (name or milliseconds) when the transition is delayed. */
  readonly delay: string | number | null;
  /** Its position among the source's candidates for the event (guarded alternatives). */
  readonly candidate: number;
  /** The target state id; null for a targetless transition. */
  readonly target: string | null;
  readonly reenter: boolean;
  readonly guard: NamedRef | null;
  readonly actions: readonly NamedRef[];
  readonly description: string | null;
}

/** A named guard or action with its static params. */
export interface NamedRef {
  readonly name: string;
  readonly params: unknown;
}

/** Any state node (compound states included), for diagrams. */
export interface NodeInfo {
  readonly id: string;
  readonly key: string;
  readonly path: readonly string[];
  /** The parent's id; null for the root. */
  readonly parent: string | null;
  readonly type: 'atomic' | 'compound' | 'final';
  /** A compound state's initial child id. */
  readonly initial: string | null;
  readonly entry: readonly NamedRef[];
  readonly exit: readonly NamedRef[];
  readonly description: string | null;
}

/** A timer slot: one `after` delay of one state. */
export interface TimerInfo {
  readonly index: number;
  /** The delayed event, as xstate names it: `xstate.after.<delay>.<state id>`. */
  readonly event: string;
  /** The delay's name in `setup({ delays })`, or its value in milliseconds. */
  readonly delay: string | number;
  /** The state that arms it on entry and cancels it on exit. */
  readonly state: string;
}

/** The op codes of a plan (numbers, for a switch without string compares). */
export const OP_ACTION = 0;
export const OP_SCHEDULE = 1;
export const OP_CANCEL = 2;

export type Op =
  | { readonly kind: typeof OP_ACTION; readonly name: string; readonly fn: Implementation; readonly params: unknown }
  | { readonly kind: typeof OP_SCHEDULE | typeof OP_CANCEL; readonly slot: number };

/** What taking one transition from one leaf does. */
export interface Plan {
  readonly ops: readonly Op[];
  /** The leaf the step ends in (the same leaf for a targetless transition). */
  readonly next: StateInfo;
  /** The machine reached its top-level final state (its remaining exit actions are in `ops`). */
  readonly done: boolean;
  readonly transition: TransitionInfo;
}

/** A candidate transition for an event in a leaf: the first whose guard passes is taken. */
export interface Candidate {
  readonly guard: Implementation | undefined;
  readonly guardParams: unknown;
  readonly plan: Plan;
}

export interface CompiledMachine {
  readonly id: string;
  /** The definition (for diagrams and for running it under xstate's interpreter). */
  readonly machine: AnyStateMachine;
  readonly nodes: readonly NodeInfo[];
  readonly states: readonly StateInfo[];
  readonly transitions: readonly TransitionInfo[];
  readonly timers: readonly TimerInfo[];
  /** The event types of `on` transitions (not the delayed ones), in document order. */
  readonly events: readonly string[];
  readonly initial: Plan;
  /** Per leaf (by `StateInfo.index`): event type → candidates. */
  readonly table: ReadonlyArray<ReadonlyMap<string, readonly Candidate[]>>;
  /** Per timer slot: its delay in milliseconds, or the delay function to call. */
  readonly delays: ReadonlyArray<number | Implementation>;
}

// ---- xstate's StateNode and TransitionDefinition, as far as the compiler reads them ---------------

interface NodeView {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  path: string[];
  parent?: NodeView;
  order: number;
  description?: string;
  states: Record<string, NodeView>;
  entry: unknown[];
  exit: unknown[];
  invoke: unknown[];
  transitions: Map<string, TransitionView[]>;
  after: TransitionView[];
  initial: { target: NodeView[]; actions: unknown[] };
  config: Record<string, unknown>;
}

interface TransitionView {
  source: NodeView;
  target: NodeView[] | undefined;
  actions: unknown[];
  guard?: unknown;
  reenter: boolean;
  eventType: string;
  delay?: number | string;
  description?: string;
}

/** An xstate built-in action (`raise`, `cancel`, `assign`, …): a function carrying its resolver. */
interface BuiltinAction {
  type: string;
  resolve: unknown;
  id?: string;
  delay?: unknown;
  sendId?: unknown;
}

const isBuiltin = (a: unknown): a is BuiltinAction => typeof a === 'function' && 'resolve' in a;

class Compiler {
  private readonly id: string;
  private readonly impls: { guards: Record<string, unknown>; actions: Record<string, unknown>; delays: Record<string, unknown> };
  private readonly nodes: NodeView[] = [];
  private readonly leafInfo = new Map<NodeView, StateInfo>();
  private readonly transitionInfo = new Map<TransitionView, TransitionInfo>();
  private readonly transitions: TransitionInfo[] = [];
  private readonly timers: TimerInfo[] = [];
  private readonly delays: Array<number | Implementation> = [];
  private readonly slotOf = new Map<string, number>();

  constructor(private readonly machine: AnyStateMachine) {
    this.id = machine.id;
    const impl = machine.implementations as { guards?: Record<string, unknown>; actions?: Record<string, unknown>; delays?: Record<string, unknown> };
    this.impls = { guards: impl.guards ?? {}, actions: impl.actions ?? {}, delays: impl.delays ?? {} };
  }

  private fail(node: NodeView | null, problem: string): never {
    throw new StatechartError(`statechart '${this.id}'${node === null ? '' : `, state '${node.id}'`}: ${problem}`);
  }

  compile(): CompiledMachine {
    const root = this.machine.root as unknown as NodeView;
    const context = (this.machine.config as { context?: unknown }).context;
    if (context !== undefined && typeof context !== 'function' && Object.keys(context as object).length > 0) {
      this.fail(null, 'a static context object is state xstate would own; the component keeps its own fields (declare `context: ({ input }) => input`)');
    }
    this.collect(root);
    for (const node of this.nodes) this.checkNode(node);
    for (const node of this.nodes) this.collectTimers(node);
    const states = this.nodes.filter((n) => n.type === 'atomic' || n.type === 'final').map((n, index) => {
      const info: StateInfo = { index, id: n.id, path: n.path, value: stateValue(n.path), final: n.type === 'final' };
      this.leafInfo.set(n, info);
      return info;
    });
    const initial = this.initialPlan(root);
    for (const node of this.nodes) {
      for (const list of node.transitions.values()) for (const t of list) this.register(t);
    }
    const events = [...new Set(this.nodes.flatMap((n) => [...n.transitions.keys()].filter((e) => !e.startsWith('xstate.after.'))))];
    const table = this.nodes.filter((n) => this.leafInfo.has(n)).map((leaf) => {
      const byEvent = new Map<string, Candidate[]>();
      for (let node: NodeView | undefined = leaf; node !== undefined; node = node.parent) {
        for (const [event, list] of node.transitions) {
          const candidates = byEvent.get(event) ?? [];
          for (const t of list) {
            const guard = t.guard === undefined ? null : this.namedGuard(node, t.guard);
            candidates.push({
              guard: guard === null ? undefined : guard.fn,
              guardParams: guard?.params,
              plan: this.plan(leaf, t),
            });
          }
          byEvent.set(event, candidates);
        }
      }
      return byEvent;
    });
    return {
      id: this.id,
      machine: this.machine,
      nodes: this.nodes.map((n) => this.nodeInfo(n)),
      states,
      transitions: this.transitions,
      timers: this.timers,
      events,
      initial,
      table,
      delays: this.delays,
    };
  }

  /** Every node in document order (xstate's `order`). */
  private collect(node: NodeView): void {
    this.nodes.push(node);
    for (const child of Object.values(node.states)) this.collect(child);
  }

  private checkNode(node: NodeView): void {
    if (node.type === 'parallel') this.fail(node, 'parallel states are not supported');
    if (node.type === 'history') this.fail(node, 'history states are not supported');
    if (node.type === 'final' && node.parent !== undefined && node.parent.parent !== undefined) {
      this.fail(node, 'a final state is supported only directly under the root (no done events)');
    }
    if (node.invoke.length > 0 || node.config['invoke'] !== undefined) this.fail(node, '`invoke` is not supported: start work in a named entry action and stop it in an exit action');
    if (node.config['always'] !== undefined) this.fail(node, 'eventless (`always`) transitions are not supported');
    if (node.config['onDone'] !== undefined) this.fail(node, '`onDone` is not supported');
    if (node.config['route'] !== undefined) this.fail(node, '`route` is not supported');
    for (const [event, list] of node.transitions) {
      if (event.includes('*')) this.fail(node, `wildcard event descriptor '${event}' is not supported`);
      for (const t of list) {
        if (t.target !== undefined && t.target.length > 1) this.fail(node, `transition on '${t.eventType}' has several targets (parallel regions are not supported)`);
      }
    }
  }

  private collectTimers(node: NodeView): void {
    for (const t of node.after) {
      if (this.slotOf.has(t.eventType)) continue;
      const delay = t.delay!;
      const index = this.timers.length;
      this.slotOf.set(t.eventType, index);
      this.timers.push({ index, event: t.eventType, delay, state: node.id });
      if (typeof delay === 'number') {
        this.delays.push(delay);
        continue;
      }
      const impl = this.impls.delays[delay];
      if (typeof impl === 'number') this.delays.push(impl);
      else if (typeof impl === 'function') this.delays.push(impl as Implementation);
      else this.fail(node, `delay '${delay}' is not implemented in setup({ delays })`);
    }
  }

  private namedGuard(node: NodeView, ref: unknown): { fn: Implementation; params: unknown; name: string } {
    if (typeof ref === 'function') {
      this.fail(node, 'check' in ref ? `xstate's built-in guard '${(ref as { type?: string }).type ?? ref.name}' is not supported: write a named guard` : 'an inline guard function is not supported: name it in setup({ guards })');
    }
    const { name, params } = this.reference(node, 'guard', ref);
    const fn = this.impls.guards[name];
    if (fn === undefined) this.fail(node, `guard '${name}' is not implemented in setup({ guards })`);
    if (typeof fn !== 'function' || 'check' in fn) this.fail(node, `guard '${name}' must be a plain function, not an xstate built-in guard`);
    return { fn: fn as Implementation, params, name };
  }

  private reference(node: NodeView, what: string, ref: unknown): NamedRef {
    if (typeof ref === 'string') return { name: ref, params: undefined };
    if (typeof ref === 'object' && ref !== null && typeof (ref as { type?: unknown }).type === 'string') {
      const params = (ref as { params?: unknown }).params;
      if (typeof params === 'function') this.fail(node, `${what} '${(ref as { type: string }).type}': dynamic params (a function) are not supported`);
      return { name: (ref as { type: string }).type, params };
    }
    return this.fail(node, `unsupported ${what} reference ${String(ref)}`);
  }

  private action(node: NodeView, ref: unknown): Op & { kind: typeof OP_ACTION } {
    if (isBuiltin(ref)) this.fail(node, builtinProblem(ref.type));
    if (typeof ref === 'function') this.fail(node, 'an inline action function is not supported: name it in setup({ actions })');
    const { name, params } = this.reference(node, 'action', ref);
    const fn = this.impls.actions[name];
    if (fn === undefined) this.fail(node, `action '${name}' is not implemented in setup({ actions })`);
    if (isBuiltin(fn)) this.fail(node, `action '${name}': ${builtinProblem(fn.type)}`);
    if (typeof fn !== 'function') this.fail(node, `action '${name}' must be a function`);
    return { kind: OP_ACTION, name, fn: fn as Implementation, params };
  }

  private actions(node: NodeView, refs: readonly unknown[]): Op[] {
    return refs.map((r) => this.action(node, r));
  }

  /** Entry: the node's entry actions, its `after` timers (xstate appends them to `entry`). */
  private entryOps(node: NodeView): Op[] {
    return node.entry.map((a) => {
      if (isBuiltin(a) && a.type === 'xstate.raise' && a.delay !== undefined && typeof a.id === 'string') {
        const slot = this.slotOf.get(a.id);
        if (slot !== undefined && this.timers[slot]!.state === node.id) return { kind: OP_SCHEDULE, slot };
      }
      return this.action(node, a);
    });
  }

  /** Exit: the node's exit actions, the cancels of its `after` timers (xstate appends them to `exit`). */
  private exitOps(node: NodeView): Op[] {
    return node.exit.map((a) => {
      if (isBuiltin(a) && a.type === 'xstate.cancel' && typeof a.sendId === 'string') {
        const slot = this.slotOf.get(a.sendId);
        if (slot !== undefined && this.timers[slot]!.state === node.id) return { kind: OP_CANCEL, slot };
      }
      return this.action(node, a);
    });
  }

  /** Numbers a transition of the definition (in document order: `compile` registers them all before any plan). */
  private register(t: TransitionView): void {
    const guard = t.guard === undefined ? null : this.namedGuard(t.source, t.guard);
    const info: TransitionInfo = {
      machine: this.id,
      index: this.transitions.length,
      source: t.source.id,
      event: t.eventType,
      delay: t.delay ?? null,
      candidate: t.source.transitions.get(t.eventType)!.indexOf(t),
      target: t.target === undefined || t.target.length === 0 ? null : t.target[0]!.id,
      reenter: t.reenter,
      guard: guard === null ? null : { name: guard.name, params: guard.params },
      actions: t.actions.map((a) => {
        const op = this.action(t.source, a);
        return { name: op.name, params: op.params };
      }),
      description: t.description ?? null,
    };
    this.transitionInfo.set(t, info);
    this.transitions.push(info);
  }

  /** xstate's initial microstep: every state of the initial configuration entered, outermost first, each by default. */
  private initialPlan(root: NodeView): Plan {
    const leaf = initialLeaf(root);
    const transition: TransitionInfo = {
      machine: this.id, index: 0, source: root.id, event: 'xstate.init', delay: null, candidate: 0, target: leaf.id, reenter: true,
      guard: null, actions: [], description: null,
    };
    this.transitions.push(transition);
    const ops: Op[] = [];
    for (const node of chainOf(leaf)) {
      ops.push(...this.entryOps(node));
      if (node.type === 'compound') ops.push(...this.actions(node, node.initial.actions));
    }
    return this.finish(leaf, ops, transition);
  }

  /** One (leaf, transition) pair, as xstate's microstep computes it (exit set, transition actions, entry set). */
  private plan(leaf: NodeView, t: TransitionView): Plan {
    const transition = this.transitionInfo.get(t)!;
    const actions = this.actions(t.source, t.actions);
    const target = t.target?.[0];
    if (target === undefined) return { ops: actions, next: this.leafInfo.get(leaf)!, done: false, transition };

    const source = t.source;
    const domain = transitionDomain(source, target, t.reenter);
    const config = chainOf(leaf);
    // Without parallel states, xstate's extra cases (the domain itself exited when it is the source
    // of a re-entering transition, ancestors outside a re-entry domain) cannot arise: a re-entering
    // transition's domain is a proper ancestor of its source, or undefined (the root re-entered).
    const exits = config.filter((n) => isDescendant(n, domain)).sort((a, b) => b.order - a.order);

    const enter = new Set<NodeView>();
    const byDefault = new Set<NodeView>();
    if (source !== target || t.reenter) {
      enter.add(target);
      byDefault.add(target);
    }
    for (let n = target; n.type === 'compound';) {
      n = n.initial.target[0]!;
      enter.add(n);
      byDefault.add(n);
    }
    for (const anc of properAncestors(target, domain)) enter.add(anc);
    const entries = [...enter].sort((a, b) => a.order - b.order);

    const ops: Op[] = [];
    for (const n of exits) ops.push(...this.exitOps(n));
    ops.push(...actions);
    for (const n of entries) {
      ops.push(...this.entryOps(n));
      if (byDefault.has(n) && n.type === 'compound') ops.push(...this.actions(n, n.initial.actions));
    }
    const after = new Set(config.filter((n) => !exits.includes(n)));
    for (const n of entries) after.add(n);
    const leaves = [...after].filter((n) => n.type === 'atomic' || n.type === 'final');
    if (leaves.length !== 1) this.fail(source, `transition on '${t.eventType}' does not end in one leaf state`);
    return this.finish(leaves[0]!, ops, transition);
  }

  /** A step that enters the top-level final state ends the machine: xstate then runs every remaining exit action, innermost first. */
  private finish(leaf: NodeView, ops: Op[], transition: TransitionInfo): Plan {
    const next = this.leafInfo.get(leaf)!;
    if (!next.final) return { ops, next, done: false, transition };
    for (const n of chainOf(leaf).reverse()) ops.push(...this.exitOps(n));
    return { ops, next, done: true, transition };
  }

  private nodeInfo(n: NodeView): NodeInfo {
    const named = (ops: Op[]): NamedRef[] => ops.flatMap((op) => (op.kind === OP_ACTION ? [{ name: op.name, params: op.params }] : []));
    return {
      id: n.id,
      key: n.key,
      path: n.path,
      parent: n.parent?.id ?? null,
      type: n.type as NodeInfo['type'],
      initial: n.type === 'compound' ? n.initial.target[0]!.id : null,
      entry: named(this.entryOps(n)),
      exit: named(this.exitOps(n)),
      description: n.description ?? null,
    };
  }
}

function builtinProblem(type: string): string {
  return type === 'xstate.assign'
    ? "xstate's assign is not supported: the component keeps its own fields and a named action writes them"
    : `xstate's built-in action '${type}' is not supported: write a named action`;
}

function stateValue(path: readonly string[]): StateValue {
  if (path.length === 0) return {};
  let value: StateValue = path[path.length - 1]!;
  for (let i = path.length - 2; i >= 0; i--) value = { [path[i]!]: value };
  return value;
}

/** The node and its ancestors, root first. */
function chainOf(node: NodeView): NodeView[] {
  const chain: NodeView[] = [];
  for (let n: NodeView | undefined = node; n !== undefined; n = n.parent) chain.unshift(n);
  return chain;
}

function initialLeaf(node: NodeView): NodeView {
  let n = node;
  while (n.type === 'compound') n = n.initial.target[0]!;
  return n;
}

/** xstate's isDescendant: a strict descendant; every node descends from `undefined`, the root included. */
function isDescendant(child: NodeView, parent: NodeView | undefined): boolean {
  let marker = child;
  while (marker.parent !== undefined && marker.parent !== parent) marker = marker.parent;
  return marker.parent === parent;
}

/** xstate's getProperAncestors: the ancestors of `node` below `to` (all of them when `to` is undefined). */
function properAncestors(node: NodeView, to: NodeView | undefined): NodeView[] {
  const out: NodeView[] = [];
  if (to === node) return out;
  for (let m = node.parent; m !== undefined && m !== to; m = m.parent) out.push(m);
  return out;
}

/** xstate's getTransitionDomain for one target. */
function transitionDomain(source: NodeView, target: NodeView, reenter: boolean): NodeView | undefined {
  if (!reenter && (target === source || isDescendant(target, source))) return source;
  for (const anc of properAncestors(target, undefined)) {
    if (isDescendant(source, anc)) return anc;
  }
  return reenter ? undefined : chainOf(source)[0];
}

/** Compiles a machine for the stepper; throws `StatechartError` for anything it does not support. */
export function compileMachine(machine: AnyStateMachine): CompiledMachine {
  return new Compiler(machine).compile();
}
