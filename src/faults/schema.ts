import * as v from 'valibot';

/**
 * The building blocks of hasim's input schemas (a system's fault schedules here, a system's
 * configuration, trace files) and how a problem with an input is told: one line, the path of the
 * bad value, what it must be and what it was (`schedule[2].durationUs: must be ≥ 0, got -5`).
 *
 * The schemas are valibot values. Why valibot and not zod: the `hasim` command is one esbuild
 * bundle whose start-up is most of a short run, and validation sits on that path (every case
 * resolves its configuration). Bundled, valibot adds about 10 kB of functions that do nothing when
 * loaded, and schemas are plain objects built in microseconds; zod 4 adds about 750 kB (35 kB for
 * zod/mini) and measurably more start-up. The JSON Schema files in `schemas/` are generated from
 * these same values by `@valibot/to-json-schema` (a development dependency: only
 * `scripts/generate-schemas.ts` and its test convert), so the files and the checks cannot disagree.
 */

export type Schema = v.GenericSchema;

/**
 * `v.pipe` over a list built at run time (valibot's overloads type each item in place); the
 * callers state the output type.
 */
export type AnyPipeItem = v.PipeItem<any, any, v.BaseIssue<unknown>>;
export function pipeOf<T>(schema: v.GenericSchema, ...items: AnyPipeItem[]): v.GenericSchema<unknown, T> {
  return (v.pipe as unknown as (...all: unknown[]) => v.GenericSchema<unknown, T>)(schema, ...items);
}

/** A value as a message quotes it: JSON, shortened. */
export function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const HOUR_US = 3_600_000_000;

/** A time in µs for people, when it is a round number of hours, minutes, seconds or milliseconds. */
export function humanUs(us: number): string {
  for (const [unit, size] of [['h', HOUR_US], ['min', 60_000_000], ['s', 1_000_000], ['ms', 1_000]] as const) {
    if (Math.abs(us) >= size && us % size === 0) return `${us / size} ${unit}`;
  }
  return `${us} µs`;
}

/** How a bound is told: the number, and for a µs value of a millisecond or more its unit (`3600000000 µs`). */
function bound(n: number, unit: string | undefined): string {
  return unit === 'µs' && Math.abs(n) >= 1_000 ? `${n} µs` : String(n);
}

/** The same bound for people (`1 h`), when it is in µs and a round time. */
function human(n: number, unit: string | undefined): string | undefined {
  if (unit !== 'µs' || Math.abs(n) < 1_000) return undefined;
  const text = humanUs(n);
  return text.endsWith(' µs') ? undefined : text;
}

export interface RangeOptions {
  /** One line of documentation: the JSON Schema's description. */
  doc?: string;
  /** Why the bounds are what they are, told in the error message and the description. */
  why?: string;
  /** Why the lower bound is what it is (when only that side needs a reason). */
  minWhy?: string;
  /** Why the upper bound is what it is. */
  maxWhy?: string;
  /** `µs` prints large bounds as times too. */
  unit?: string;
}

function describe(options: RangeOptions): string | undefined {
  const whys = [options.why, options.minWhy, options.maxWhy].filter((w) => w !== undefined);
  const doc = options.doc === undefined || /[.)]$/.test(options.doc) ? options.doc : `${options.doc}.`;
  const parts = [doc, whys.length === 0 ? undefined : `Bounds: ${whys.join('; ')}.`].filter((p) => p !== undefined);
  return parts.length === 0 ? undefined : parts.join(' ');
}

const because = (...whys: Array<string | undefined>): string => {
  const given = whys.filter((w) => w !== undefined);
  return given.length === 0 ? '' : ` (${given.join('; ')})`;
};

/**
 * An integer from `min` to `max`. A value of the wrong type names the whole range; one out of it
 * names the side it is on (`must be ≥ 0, got -5`).
 */
export function integer(min: number, max: number, options: RangeOptions = {}): v.GenericSchema<number> {
  const { unit } = options;
  const range = `must be an integer from ${min} to ${bound(max, unit)}${because(human(max, unit), options.why, options.minWhy, options.maxWhy)}`;
  const wrong = (issue: v.BaseIssue<unknown>): string => `${range}, got ${shown(issue.input)}`;
  const description = describe(options);
  return pipeOf<number>(
    v.number(wrong),
    v.integer(wrong),
    v.minValue(min, (issue) => `must be ≥ ${bound(min, unit)}${because(human(min, unit), options.why, options.minWhy)}, got ${shown(issue.input)}`),
    v.maxValue(max, (issue) => `must be ≤ ${bound(max, unit)}${because(human(max, unit), options.why, options.maxWhy)}, got ${shown(issue.input)}`),
    ...(description === undefined ? [] : [v.description(description)]),
  ) as v.GenericSchema<number>;
}

/** A finite number from `min` (or above it, with `exclusiveMin`) to `max`. */
export function number(min: number, max: number, options: RangeOptions & { exclusiveMin?: boolean } = {}): v.GenericSchema<number> {
  const low = options.exclusiveMin === true ? `> ${min}` : `≥ ${min}`;
  const range = `must be a number ${options.exclusiveMin === true ? `above ${min} and up to` : `from ${min} to`} ${max}${because(options.why, options.minWhy, options.maxWhy)}`;
  const wrong = (issue: v.BaseIssue<unknown>): string => `${range}, got ${shown(issue.input)}`;
  const description = describe(options);
  return pipeOf<number>(
    v.number(wrong),
    v.finite(wrong),
    options.exclusiveMin === true
      ? v.gtValue(min, (issue) => `must be ${low}${because(options.why, options.minWhy)}, got ${shown(issue.input)}`)
      : v.minValue(min, (issue) => `must be ${low}${because(options.why, options.minWhy)}, got ${shown(issue.input)}`),
    v.maxValue(max, (issue) => `must be ≤ ${max}${because(options.why, options.maxWhy)}, got ${shown(issue.input)}`),
    ...(description === undefined ? [] : [v.description(description)]),
  ) as v.GenericSchema<number>;
}

export function boolean(doc?: string): v.GenericSchema<boolean> {
  const schema = v.boolean((issue) => `must be true or false, got ${shown(issue.input)}`);
  return (doc === undefined ? schema : v.pipe(schema, v.description(doc))) as v.GenericSchema<boolean>;
}

/**
 * One of a list of values; the message lists them. With `name`, a name of something the input
 * refers to (`unknown profile "x" (known: a, b)`), else a value of an enumeration
 * (`must be one of slow, error, blackhole, got "explode"`).
 */
export function oneOf<const T extends readonly string[]>(values: T, options: { doc?: string; name?: string } = {}): v.GenericSchema<T[number]> {
  const schema = v.picklist(values, (issue) => (options.name === undefined
    ? `must be one of ${values.join(', ')}, got ${shown(issue.input)}`
    : `unknown ${options.name} ${shown(issue.input)} (known: ${values.join(', ')})`));
  return (options.doc === undefined ? schema : v.pipe(schema, v.description(options.doc))) as v.GenericSchema<T[number]>;
}

/** A JSON object and not an array (valibot's object schemas take arrays as objects). */
export const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export interface ObjectOptions {
  doc?: string;
  /** What a value that is not an object must be (default: `must be an object`). */
  notObject?: string;
  /** The message for an unknown key (default: `unknown field`). */
  unknown?: (key: string) => string;
  /** The message for a missing key (default: `missing`). */
  missing?: (key: string) => string;
}

/**
 * An object with exactly these entries: an unknown key is an error at its own path, a missing one
 * too. Arrays are rejected before the entries are looked at.
 */
export function object<E extends v.ObjectEntries>(entries: E, options: ObjectOptions = {}): v.GenericSchema<unknown, v.InferOutput<v.StrictObjectSchema<E, undefined>>> {
  const notObject = options.notObject ?? 'must be an object';
  const message = (issue: v.BaseIssue<unknown>): string => {
    if (issue.expected === 'never') return options.unknown?.(String(issue.input)) ?? 'unknown field';
    if (issue.expected === 'Object') return `${notObject}, got ${shown(issue.input)}`;
    const key = (issue.expected ?? '').replace(/^"|"$/g, '');
    return options.missing?.(key) ?? 'missing';
  };
  return pipeOf<v.InferOutput<v.StrictObjectSchema<E, undefined>>>(
    v.custom<Record<string, unknown>>(isPlainObject, (issue) => `${notObject}, got ${shown(issue.input)}`),
    v.strictObject(entries, message),
    ...(options.doc === undefined ? [] : [v.description(options.doc)]),
  );
}

/**
 * A rule between fields of an object, reported at the path of one of them (`['renewDeadlineUs']`).
 * Runs only when the object's own fields are valid.
 */
export function rule<T>(holds: (value: T) => boolean, message: (value: T) => string, path: readonly string[]): AnyPipeItem {
  const check = v.check<T, (issue: v.CheckIssue<T>) => string>(holds, (issue) => message(issue.input));
  return v.forward(check as never, path as never) as unknown as AnyPipeItem;
}

/** A value that is a JSON object, its entries not looked at here (a system checks them). */
export function anyObject(what = 'must be an object', doc?: string): v.GenericSchema<Record<string, unknown>> {
  const schema = v.custom<Record<string, unknown>>(isPlainObject, (issue) => `${what}, got ${shown(issue.input)}`);
  return (doc === undefined ? schema : v.pipe(schema, v.description(doc))) as v.GenericSchema<Record<string, unknown>>;
}

/** The path of an issue from `root`: `schedule[2].target.index`. */
export function pathOf(root: string, issue: v.BaseIssue<unknown>): string {
  let path = root;
  for (const item of issue.path ?? []) {
    const key = item.key as string | number;
    if (item.type === 'array' || typeof key === 'number') path += `[${String(key)}]`;
    else path += /^[A-Za-z_$][\w$]*$/.test(key) ? `${path === '' ? '' : '.'}${key}` : `[${JSON.stringify(key)}]`;
  }
  return path;
}

/** The first problem of `input` against `schema`, as `path: message`, or null when it conforms. */
export function problemOf(schema: v.GenericSchema, input: unknown, root: string): string | null {
  const result = v.safeParse(schema, input, { abortEarly: true });
  if (result.success) return null;
  const issue = result.issues[0];
  const path = pathOf(root, issue);
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}
