import type fc from 'fast-check';
import * as v from 'valibot';
import { MINUTE, type Micros, type Simulation } from '../sim-cluster/index.ts';
import { humanUs, integer, isPlainObject, number, oneOf, problemOf, shown, boolean as booleanSchema, type RangeOptions } from './schema.ts';

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

/**
 * The value kinds a fault parameter may have. One declaration per parameter serves everything that
 * reads it: schedule validation (`scheduleProblem`), the JSON Schema of a system's schedules
 * (`scheduleSchema`, generated into `schemas/`) and `hasim list`. Numeric bounds may say why they
 * are what they are (`why`, or `minWhy`/`maxWhy` for one side); the message of a value out of
 * bounds repeats it.
 */
export type ParamSchema =
  | { type: 'target'; of: 'process' | 'pausable' | 'process-or-infrastructure' | 'node' | 'node-or-infrastructure'; doc: string }
  | { type: 'integer'; min: number; max: number; doc: string; why?: string; minWhy?: string; maxWhy?: string }
  | { type: 'number'; min: number; max: number; doc: string; why?: string; minWhy?: string; maxWhy?: string }
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
  /**
   * Whether a case space that names no kinds draws it. `by-default` (the default): every case space
   * may draw it. `when-named`: only a space that names it (`--faults`, `CaseSpace.kinds`) draws it;
   * for kinds that only make sense on some deployments (a user load, an HPA), and for kinds added
   * after campaigns stated claims over the default space, whose seeds must keep naming the same
   * schedules. Schedules given explicitly (`--schedule`, trace files, scenarios) may hold any kind.
   */
  readonly drawn?: 'by-default' | 'when-named';
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

/** The kinds a case space that names none draws from (`FaultKind.drawn`), in the system's order. */
export function drawnByDefault<K extends { readonly drawn?: 'by-default' | 'when-named' }>(kinds: readonly K[]): K[] {
  return kinds.filter((k) => k.drawn !== 'when-named');
}

/** Latest instant a fault may start or last, so that a bad schedule cannot simulate for months. */
export const MAX_FAULT_TIME_US: Micros = 24 * 60 * MINUTE;

/** Why a time is bounded by MAX_FAULT_TIME_US, in messages. */
const HORIZON = `a schedule stays within the run's horizon`;

/** `at`, which every fault has besides its kind's parameters. */
export const AT_PARAM: ParamSchema = {
  type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'the instant the fault starts (µs from the start of the run)', maxWhy: HORIZON,
};

/** The roles a target parameter accepts. */
export function rolesOf(of: Extract<ParamSchema, { type: 'target' }>['of'], roles: TargetRoles): readonly string[] {
  switch (of) {
    case 'process':
      return roles.process;
    case 'pausable':
    case 'process-or-infrastructure':
      return [...roles.process, ...roles.infrastructure];
    case 'node':
      return [...roles.process, ...roles.node];
    case 'node-or-infrastructure':
      return [...roles.process, ...roles.node, ...roles.infrastructure];
  }
}

/** Whether a parameter is a time: times say so in their doc (`how long the window lasts (µs)`). */
export function isTimeParam(p: ParamSchema): boolean {
  return /µs/.test(p.doc);
}

function rangeOptions(p: Extract<ParamSchema, { type: 'integer' | 'number' }>): RangeOptions {
  // A time's bounds are printed as times too.
  const unit = isTimeParam(p) ? 'µs' : undefined;
  // Times capped by the horizon say so without each kind repeating it.
  const maxWhy = p.maxWhy ?? (p.max === MAX_FAULT_TIME_US ? HORIZON : undefined);
  return {
    doc: p.doc,
    ...(p.why !== undefined ? { why: p.why } : {}),
    ...(p.minWhy !== undefined ? { minWhy: p.minWhy } : {}),
    ...(maxWhy !== undefined ? { maxWhy } : {}),
    ...(unit !== undefined ? { unit } : {}),
  };
}

/**
 * A target of the roles `allowed`: indexed roles need an `index` from 0 to the system's
 * `maxIndex`, the others take none.
 */
function targetSchema(allowed: readonly string[], roles: TargetRoles, doc: string): v.GenericSchema {
  const indexed = allowed.filter((r) => roles.indexed.includes(r));
  const plain = allowed.filter((r) => !roles.indexed.includes(r));
  const fields = 'a target has a role, and an index when the role is one of several members';
  const options = [
    ...(indexed.length === 0 ? [] : [v.strictObject({
      role: v.picklist(indexed),
      index: integer(0, roles.maxIndex, {
        doc: 'which member of the role, in creation order',
        why: `an index picks a member modulo the role's live members, wrapping by design; this system draws indexes up to ${roles.maxIndex}`,
      }),
    }, (issue) => (issue.expected === 'never' ? `unknown field (${fields})` : `missing: roles ${indexed.join(', ')} need an index from 0 to ${roles.maxIndex}`))]),
    ...(plain.length === 0 ? [] : [v.strictObject({ role: v.picklist(plain) }, (issue) => (
      issue.expected === 'never' && issue.input === 'index' ? `only roles ${indexed.join(', ') || '(none here)'} take an index` : `unknown field (${fields})`
    ))]),
  ];
  return v.pipe(
    v.custom(isPlainObject, (issue) => `must be a target object ({ "role": ... }), got ${shown(issue.input)}`),
    v.variant('role', options as unknown as v.VariantOptions<'role'>, (issue) => (issue.input === undefined
      ? `missing role (known here: ${allowed.join(', ')})`
      : `unknown role ${shown(issue.input)} (known here: ${allowed.join(', ')})`)),
    v.description(doc),
  );
}

/** The schema of one parameter of a fault kind, with the system's roles. */
export function paramSchema(p: ParamSchema, roles: TargetRoles): v.GenericSchema {
  switch (p.type) {
    case 'target':
      return targetSchema(rolesOf(p.of, roles), roles, p.doc);
    case 'integer':
      return integer(p.min, p.max, rangeOptions(p));
    case 'number':
      return number(p.min, p.max, rangeOptions(p));
    case 'boolean':
      return booleanSchema(p.doc);
    case 'enum':
      return oneOf(p.values, { doc: p.doc });
  }
}

const faultSchemas = new WeakMap<object, WeakMap<TargetRoles, v.GenericSchema>>();

/**
 * One fault of a system: `kind`, `at` and exactly its kind's parameters, each within its bounds,
 * and its effects ending within the horizon. Built once per list of kinds and roles.
 */
export function faultSchema(kinds: Iterable<AnyFaultKind<unknown, unknown>>, roles: TargetRoles): v.GenericSchema {
  const cached = faultSchemas.get(kinds)?.get(roles);
  if (cached !== undefined) return cached;
  const list = [...kinds];
  const names = list.map((k) => k.kind as string);
  const options = list.map((kind) => {
    const params = Object.keys(kind.params);
    const takes = params.length === 0 ? `${kind.kind} takes only kind and at` : `${kind.kind} takes ${params.join(', ')}`;
    const entries: v.ObjectEntries = {
      kind: v.literal(kind.kind as string),
      at: paramSchema(AT_PARAM, roles),
      ...Object.fromEntries(Object.entries(kind.params as Record<string, ParamSchema>).map(([name, p]) => [name, paramSchema(p, roles)])),
    };
    return v.pipe(
      v.strictObject(entries, (issue) => (issue.expected === 'never' ? `unknown parameter (${takes})` : `missing (${takes})`)),
      v.check((f) => kind.end(f as FaultRecord) <= MAX_FAULT_TIME_US, (issue) => {
        const end = kind.end(issue.input as FaultRecord);
        return `ends at ${end} (${humanUs(end)}), after the run's ${humanUs(MAX_FAULT_TIME_US)} horizon (${MAX_FAULT_TIME_US})`;
      }),
      v.description(kind.summary),
    );
  });
  const schema = v.pipe(
    v.custom(isPlainObject, (issue) => `must be a fault object ({ "kind": ..., "at": ... }), got ${shown(issue.input)}`),
    v.variant('kind', options as unknown as v.VariantOptions<'kind'>, (issue) => (issue.input === undefined
      ? `missing kind (known: ${names.join(', ')})`
      : `unknown fault kind ${shown(issue.input)} (known: ${names.join(', ')})`)),
  );
  if (!faultSchemas.has(kinds)) faultSchemas.set(kinds, new WeakMap());
  faultSchemas.get(kinds)!.set(roles, schema);
  return schema;
}

/** A system's fault schedule: an array of its faults. */
export function scheduleSchema(kinds: Iterable<AnyFaultKind<unknown, unknown>>, roles: TargetRoles): v.GenericSchema {
  return v.array(faultSchema(kinds, roles), (issue) => `must be an array of faults, got ${shown(issue.input)}`);
}

/**
 * The first problem of a fault schedule against a system's kinds and roles, as one line naming its
 * path from `root` (`schedule[2].durationUs: must be ≥ 0, got -5`), or null.
 */
export function scheduleProblem(data: unknown, kinds: Iterable<AnyFaultKind<unknown, unknown>>, roles: TargetRoles, root = 'schedule'): string | null {
  return problemOf(scheduleSchema(kinds, roles), data, root);
}

/**
 * The problem with one fault record, or null: its kind's schema against the system's roles, as
 * `path: message` with the path inside the record (`durationUs: must be ≥ 0, got -5`).
 */
export function faultProblem(raw: unknown, kinds: ReadonlyMap<string, AnyFaultKind<unknown, unknown>>, roles: TargetRoles): string | null {
  return problemOf(faultSchema(kinds.values(), roles), raw, '');
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
