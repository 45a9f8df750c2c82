import type fc from 'fast-check';
import { MINUTE, type Micros, type Simulation } from '../sim-cluster/index.ts';

/**
 * Which process or node a fault hits. Members of a system get new names when replaced, so
 * schedules name targets by role (and, for roles with several members, an index), resolved by the
 * system when the fault fires.
 */
export interface Target {
  role: string;
  /** The member of an indexed role: `index` modulo the live members, in creation order. */
  index?: number;
}

/**
 * The roles a system's faults may target (each list in the order its arbitraries draw from).
 * Node faults (isolate, partition, link faults, clocks, node failure) hit the node of a process
 * role, or a node role itself.
 */
export interface TargetRoles {
  /** Roles naming one process each, which crash and delete may hit. */
  readonly process: readonly string[];
  /** Roles naming a node only (a worker node), not a process. */
  readonly node: readonly string[];
  /**
   * Infrastructure processes that may be paused or cut off by a partition but that the schedule
   * never crashes or deletes (a managed control plane).
   */
  readonly infrastructure: readonly string[];
  /** Roles with several members, which take an `index`. */
  readonly indexed: readonly string[];
  /** Largest index an arbitrary draws (indexes wrap modulo the live members). */
  readonly maxIndex: number;
}

/** The value kinds a fault parameter may have; validation and `hasim list` read them. */
export type ParamSchema =
  | { type: 'target'; of: 'process' | 'pausable' | 'node' | 'node-or-infrastructure'; doc: string }
  | { type: 'integer'; min: number; max: number; doc: string }
  | { type: 'number'; min: number; max: number; doc: string }
  | { type: 'boolean'; doc: string }
  | { type: 'enum'; values: readonly string[]; doc: string };

/** A timed fault as plain data: `kind`, the true instant `at` (µs) it starts, and its parameters. */
export interface FaultRecord {
  readonly kind: string;
  readonly at: Micros;
  /** The kind's parameters (see its `params`). */
  readonly [param: string]: unknown;
}

/** What a fault may do to a system instance: the harness hands it to each fault kind's `apply`. */
export interface FaultContext<I, V> {
  readonly instance: I;
  readonly view: V;
  readonly sim: Simulation;
  readonly platform: Platform<I, V>;
  /** A node's clock drift before any fault (what a drift window returns to). */
  baseDriftPpm(node: string): number;
  /** Records the application as a `fault.<kind>` trace event with these details. */
  record(details: Record<string, unknown>): void;
  /** Undoes a window fault at its end, unless the heal has already undone everything. */
  until(label: string, undo: () => void): void;
}

/**
 * How generic faults reach a system's members. A system says how a target resolves and what a
 * container crash, a pod deletion or a node failure means for it (Kubernetes semantics, say).
 */
export interface Platform<I, V> {
  sim(instance: I): Simulation;
  /** The process a target names right now, or null if the role has no live member. */
  resolveProcess(instance: I, view: V, target: Target): string | null;
  /** The node a target lives on (a node role names itself), or null. */
  resolveNode(instance: I, view: V, target: Target): string | null;
  crashProcess(instance: I, process: string): void;
  deleteProcess(instance: I, process: string): void;
  failNode(instance: I, node: string): void;
  recoverNode(instance: I, node: string): void;
}

/** What an arbitrary of fault parameters may draw from. */
export interface ArbitraryContext {
  readonly roles: TargetRoles;
  /** Longest window fault. */
  readonly maxDurationUs: Micros;
}

/**
 * One kind of fault: its documentation and parameter schema, its fast-check arbitrary, when its
 * effects end, and how it is applied, undone and healed. Generic kinds live in `generic.ts`; a
 * system adds its own (a datastore restart, say) with the same shape.
 */
export interface FaultKind<F extends FaultRecord = FaultRecord, I = never, V = never> {
  readonly kind: F['kind'];
  /** One line: what the fault does. Printed by `hasim list`. */
  readonly summary: string;
  /** Every parameter but `kind` and `at`, with its schema. */
  readonly params: { readonly [K in Exclude<keyof F, 'kind' | 'at'>]-?: ParamSchema };
  /** The fault without its instant (`at` comes from the schedule's gaps). */
  arbitrary(ctx: ArbitraryContext): fc.Arbitrary<Omit<F, 'at'>>;
  /** When its effects end (window faults), or its start (instant faults). */
  end(fault: F): Micros;
  /** Work scheduled with the schedule, ahead of the fault (a snapshot taken before a restart). */
  prepare?(fault: F, ctx: Omit<FaultContext<I, V>, 'record' | 'until'>): void;
  apply(fault: F, ctx: FaultContext<I, V>): void;
  /** At the heal instant, whatever the fault's own end: put the system back to healthy. */
  heal?(ctx: Omit<FaultContext<I, V>, 'record' | 'until'>): void;
}

/**
 * A fault kind of any record shape, as a system lists them: the list holds kinds of different
 * record types, each checked against its own type where it is defined.
 */
export type AnyFaultKind<I, V> = FaultKind<any, I, V>;

/** Latest instant a fault may start or last, so that a bad schedule cannot simulate for months. */
export const MAX_FAULT_TIME_US: Micros = 24 * 60 * MINUTE;

/** The problem with one fault record, or null: its kind's schema against the system's roles. */
export function faultProblem(raw: unknown, kinds: ReadonlyMap<string, AnyFaultKind<unknown, unknown>>, roles: TargetRoles): string | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'is not an object';
  const f = raw as Record<string, unknown>;
  const kind = kinds.get(f['kind'] as string);
  if (kind === undefined) return `unknown fault kind ${JSON.stringify(f['kind'])} (known: ${[...kinds.keys()].join(', ')})`;
  if (!Number.isSafeInteger(f['at']) || (f['at'] as number) < 0 || (f['at'] as number) > MAX_FAULT_TIME_US) {
    return `'at' must be an integer from 0 to ${MAX_FAULT_TIME_US} (µs)`;
  }
  for (const [name, schema] of Object.entries(kind.params as Record<string, ParamSchema>)) {
    const problem = paramProblem(f[name], schema, roles);
    if (problem !== null) return `${kind.kind}: '${name}' ${problem}`;
  }
  const known = new Set(['kind', 'at', ...Object.keys(kind.params)]);
  const extra = Object.keys(f).find((k) => !known.has(k));
  if (extra !== undefined) return `${kind.kind}: unknown parameter '${extra}'`;
  return null;
}

/** The roles a target parameter accepts. */
export function rolesOf(of: Extract<ParamSchema, { type: 'target' }>['of'], roles: TargetRoles): readonly string[] {
  switch (of) {
    case 'process':
      return roles.process;
    case 'pausable':
      return [...roles.process, ...roles.infrastructure];
    case 'node':
      return [...roles.process, ...roles.node];
    case 'node-or-infrastructure':
      return [...roles.process, ...roles.node, ...roles.infrastructure];
  }
}

function paramProblem(value: unknown, schema: ParamSchema, roles: TargetRoles): string | null {
  switch (schema.type) {
    case 'target': {
      if (typeof value !== 'object' || value === null) return 'must be a target object ({ "role": ... })';
      const t = value as Record<string, unknown>;
      const allowed = rolesOf(schema.of, roles);
      if (!allowed.includes(t['role'] as string)) return `has unknown role ${JSON.stringify(t['role'])} (known here: ${allowed.join(', ')})`;
      if (roles.indexed.includes(t['role'] as string)) {
        if (!Number.isSafeInteger(t['index']) || (t['index'] as number) < 0) return `needs a non-negative integer 'index' for role ${t['role']}`;
      } else if (t['index'] !== undefined) return `role ${t['role']} takes no index`;
      return null;
    }
    case 'integer':
      return Number.isSafeInteger(value) && (value as number) >= schema.min && (value as number) <= schema.max
        ? null : `must be an integer from ${schema.min} to ${schema.max}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= schema.min && value <= schema.max
        ? null : `must be a number from ${schema.min} to ${schema.max}`;
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'enum':
      return schema.values.includes(value as string) ? null : `must be one of ${schema.values.join(', ')}`;
  }
}

/** A parameter list for people: `target, durationUs` with each one's meaning. */
export function describeParams(kind: AnyFaultKind<unknown, unknown>): string {
  return Object.keys(kind.params).join(', ');
}

/**
 * What a fault hit, as resolved when it fired, from its `fault.<kind>` event's details (the generic
 * kinds record `process`, `node`, or `from`/`to`): a process, a node, or two nodes; null when its
 * role had no live member; undefined for faults without a target.
 */
export function faultTarget(d: Readonly<Record<string, unknown>>): string | null | undefined {
  if ('process' in d) return d['process'] === null ? null : String(d['process']);
  if ('node' in d) return d['node'] === null ? null : String(d['node']);
  if ('from' in d) return d['from'] === null || d['to'] === null ? null : `${String(d['from'])} ${d['oneWay'] ? '→' : '↔'} ${String(d['to'])}`;
  return undefined;
}
