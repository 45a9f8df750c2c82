import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import type { TraceHashScheme } from '../sim-cluster/index.ts';
import { faultSchema, scheduleProblem, type FaultRecord } from '../faults/fault-kind.ts';
import { anyObject, integer, object, oneOf, problemOf, shown, type Schema } from '../faults/schema.ts';
import { ConfigError, type AnySystem, type Resolved } from '../contract/system.ts';
import { invariantIds } from './run-case.ts';

export const TRACE_FORMAT = 'hasim-trace';
/**
 * The format version this build writes. Version 2 changed only how the trace hash encodes events
 * (see src/sim-cluster/trace-encoding.ts); version 3 added the system's name and, per expectation,
 * the resolved fixes and configuration; version 4 changed only the hash's encoding again (`compact`).
 * Versions 1 to 3 are still read: versions 1 and 2 are StreamSpace's (the first system), their
 * expectations resolve the profile as this build defines it, and every file replays with the
 * encoding of its version (`hashSchemeOf`) so that its recorded hashes still match.
 */
export const TRACE_VERSION = 4;

/** The trace-hash encoding a file's expectations were recorded with. */
export function hashSchemeOf(trace: Pick<TraceFile, 'version'>): TraceHashScheme {
  if (trace.version === 1) return 'lines';
  return trace.version <= 3 ? 'interned' : 'compact';
}

/**
 * What replaying a trace must give under one configuration: outcome and trace hash. The
 * configuration is recorded resolved (every field, and the fixes it turns on), so the file means
 * the same after a profile's definition changes; `profile` says where it came from.
 */
export interface Expectation {
  profile: string;
  /** The fixes switched on (version 3; absent before). */
  fixes?: string[];
  /** The resolved configuration (version 3; absent before: the profile resolves as this build defines it). */
  config?: unknown;
  outcome: string;
  hash: string;
}

/**
 * A saved run (DESIGN decision 6): everything the run is a function of, and what it must give.
 * The case is replayed under each expectation's configuration; `seed` and `schedule` are shared;
 * `config` holds the overrides the case was found with, on top of each expectation's profile.
 */
export interface TraceFile {
  format: typeof TRACE_FORMAT;
  version: number;
  /** The system's name (version 3; before, the first system: StreamSpace). */
  system: string;
  name: string;
  /** The mechanism, in a few sentences, naming the spec behaviour that causes it. */
  explanation: string;
  config: unknown;
  /** Fixes switched on besides each expectation's profile's (version 3; absent: none). */
  fixes?: string[];
  seed: number;
  schedule: FaultRecord[];
  /** The invariants checked, when a run checked only some (absent: all). */
  invariants?: string[];
  expectations: Expectation[];
  /** How it was found: seeds tried, shrink steps and time, schedule size before and after. */
  found?: Record<string, number | string>;
}

/** A trace file that cannot be used: the message names the problem. */
export class TraceFileError extends Error {
  override readonly name = 'TraceFileError';
}

/** Reads and checks a trace file against the systems it may belong to (the first one for files before version 3). */
export function readTraceFile(path: string, systems: readonly AnySystem[]): TraceFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TraceFileError(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new TraceFileError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  return validateTraceFile(data, path, systems);
}

/** The system a checked trace file belongs to. */
export function systemOf(trace: Pick<TraceFile, 'system'>, systems: readonly AnySystem[]): AnySystem {
  const system = systems.find((s) => s.name === trace.system);
  if (system === undefined) throw new TraceFileError(`unknown system '${trace.system}' (known: ${systems.map((s) => s.name).join(', ')})`);
  return system;
}

/**
 * What the schema of a trace file knows about the system it belongs to. Each part left out is
 * checked elsewhere or not at all: a run checks configurations through the system (`resolve`,
 * `reresolve`), whose schemas the harness does not see; the JSON Schema generator passes them in.
 */
export interface TraceFileParts {
  /** The system's name, when the schema is for one system. */
  system?: string;
  /** One fault of its schedules. */
  fault?: Schema;
  /** Its configuration overrides (the file's `config`). */
  overrides?: Schema;
  /** A resolved configuration (an expectation's `config`). */
  config?: Schema;
  profiles?: readonly string[];
  fixes?: readonly string[];
  invariants?: readonly string[];
}

const names = (what: string, known: readonly string[] | undefined, doc: string): Schema =>
  known === undefined
    ? v.pipe(v.string((issue) => `must be a ${what} name, got ${shown(issue.input)}`), v.description(doc))
    : oneOf(known, { doc, name: what });

const list = (what: string, known: readonly string[] | undefined, doc: string): Schema =>
  v.pipe(v.array(names(what, known, `a ${what} name`), (issue) => `must be an array of ${what} names, got ${shown(issue.input)}`), v.description(doc));

/**
 * A trace file of format version 1 to TRACE_VERSION as a schema: the envelope with every field at
 * its path, and whatever `parts` says about its system. Version-dependent rules (version 3 needs
 * `system` and, per expectation, `fixes` and `config`) are checked by `validateTraceFile`.
 */
export function traceFileSchema(parts: TraceFileParts = {}): Schema {
  const outcomes = parts.invariants === undefined ? undefined : ['pass', 'model-failure', ...parts.invariants];
  const expectation = object({
    profile: names('profile', parts.profiles, 'the profile the run was recorded under'),
    fixes: v.optional(list('fix', parts.fixes, 'the fixes the recorded configuration turns on (version 3)')),
    config: v.optional(parts.config ?? anyObject('must be an object (a resolved configuration)', 'the resolved configuration (version 3)')),
    outcome: names('outcome', outcomes, 'pass, model-failure or the id of the first invariant violated'),
    hash: v.pipe(
      v.string((issue) => `must be 64 hex digits, got ${shown(issue.input)}`),
      v.regex(/^[0-9a-f]{64}$/, (issue) => `must be 64 hex digits, got ${shown(issue.input)}`),
      v.description('the trace hash (SHA-256, lowercase hex)'),
    ),
  }, { doc: 'what replaying the case under one configuration must give', notObject: 'must be an object ({ "profile": ..., "outcome": ..., "hash": ... })' });
  const text = (doc: string): Schema => v.pipe(v.string((issue) => `must be a string, got ${shown(issue.input)}`), v.description(doc));
  return object({
    $schema: v.optional(text('the JSON Schema this file follows (for editors; ignored)')),
    format: v.pipe(v.literal(TRACE_FORMAT, (issue) => `not a hasim trace file (format is ${shown(issue.input)}, expected "${TRACE_FORMAT}")`), v.description('always "hasim-trace"')),
    version: integer(1, TRACE_VERSION, { doc: 'the format version', maxWhy: 'the version this build writes' }),
    system: v.optional(parts.system === undefined ? text('the system the run belongs to (version 3)') : v.pipe(v.literal(parts.system), v.description('the system the run belongs to (version 3)'))),
    name: text('the name of the run (a finding\'s name)'),
    explanation: text('the mechanism, in a few sentences'),
    config: parts.overrides ?? anyObject('must be an object (configuration overrides)', 'the configuration overrides the case was found with, over each expectation\'s profile'),
    fixes: v.optional(list('fix', parts.fixes, 'fixes switched on besides each expectation\'s profile\'s')),
    seed: integer(0, Number.MAX_SAFE_INTEGER, { doc: 'the simulation seed' }),
    found: v.optional(v.pipe(
      v.record(v.string(), v.union([v.number(), v.string()], (issue) => `must be a number or a string, got ${shown(issue.input)}`), (issue) => `must be an object, got ${shown(issue.input)}`),
      v.description('how it was found: seeds tried, shrink steps and time, schedule size before and after'),
    )),
    schedule: v.pipe(
      v.array(parts.fault ?? v.unknown(), (issue) => `must be an array of faults, got ${shown(issue.input)}`),
      v.description('the fault schedule, one fault per line'),
    ),
    invariants: v.optional(list('invariant', parts.invariants, 'the invariants checked, when a run checked only some')),
    expectations: v.pipe(
      v.array(expectation, (issue) => `must be a non-empty array of expectations, got ${shown(issue.input)}`),
      v.minLength(1, 'must be a non-empty array of expectations'),
      v.description('what replaying must give, per profile'),
    ),
  }, {
    doc: 'A hasim trace file: a saved run (docs/trace-files.md)',
    notObject: 'expected a JSON object',
    unknown: () => 'unknown field (a trace file has format, version, system, name, explanation, config, fixes, seed, found, schedule, invariants, expectations)',
  });
}

const envelopes = new WeakMap<AnySystem, Schema>();

/** The envelope a system's files are checked against (its configurations are checked by the system). */
function envelopeOf(system: AnySystem): Schema {
  let schema = envelopes.get(system);
  if (schema === undefined) {
    schema = traceFileSchema({
      fault: faultSchema(system.faults, system.roles),
      profiles: system.profiles.map((p) => p.name),
      fixes: system.fixes.map((f) => f.name),
      invariants: invariantIds(system),
    });
    envelopes.set(system, schema);
  }
  return schema;
}

/** A configuration problem under `at`: a message that names its path (`config.x.y: ...`) gets `at` before it. */
function configProblemAt(at: string, message: string): string {
  if (message.startsWith('config')) return `${at}${message}`;
  return `${at}config: ${message}`;
}

/** Checks a parsed trace file field by field; throws TraceFileError naming the first problem and its path. */
export function validateTraceFile(data: unknown, where: string, systems: readonly AnySystem[]): TraceFile {
  const fail = (what: string): never => {
    throw new TraceFileError(`${where}: ${what}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail('expected a JSON object');
  const t = data as Record<string, unknown>;
  if (t['format'] !== TRACE_FORMAT) fail(`not a hasim trace file (format is ${JSON.stringify(t['format'])}, expected "${TRACE_FORMAT}")`);
  if (typeof t['version'] !== 'number') fail('version: missing');
  if (!Number.isInteger(t['version']) || (t['version'] as number) < 1) fail(`version: unknown format version ${t['version']}`);
  if ((t['version'] as number) > TRACE_VERSION) fail(`version: format version ${t['version']} is newer than this build reads (${TRACE_VERSION}); upgrade hasim`);
  const version = t['version'] as number;
  if (version >= 3 && t['system'] === undefined) fail('system: missing (files of version 3 and later name the system)');
  if (t['system'] !== undefined && typeof t['system'] !== 'string') fail(`system: must be a system name, got ${shown(t['system'])}`);
  const systemName = (t['system'] as string | undefined) ?? systems[0]!.name;
  const system = systems.find((s) => s.name === systemName) ?? fail(`system: unknown system ${JSON.stringify(systemName)} (known: ${systems.map((s) => s.name).join(', ')})`);
  const problem = problemOf(envelopeOf(system), t, '');
  if (problem !== null) fail(problem);
  const expectations = t['expectations'] as Expectation[];
  const fixes = (t['fixes'] as string[] | undefined) ?? [];
  expectations.forEach((x, i) => {
    const at = `expectations[${i}].`;
    if (version >= 3 && x.fixes === undefined) fail(`${at}fixes: missing (files of version 3 and later record the fixes of each configuration)`);
    if (version >= 3 && x.config === undefined) fail(`${at}config: missing (files of version 3 and later record each resolved configuration)`);
    try {
      system.resolve(x.profile, t['config'], fixes);
    } catch (error) {
      if (error instanceof ConfigError) fail(configProblemAt('', error.message));
      throw error;
    }
    if (version < 3) return;
    let resolved: Resolved<unknown>;
    try {
      resolved = system.reresolve(x.config);
    } catch (error) {
      if (error instanceof ConfigError) fail(configProblemAt(at, error.message));
      throw error;
    }
    const named = [...resolved.fixes].sort().join(',');
    if (named !== [...(x.fixes ?? [])].sort().join(',')) fail(`${at}fixes: ${JSON.stringify(x.fixes)} do not match the recorded configuration, which turns on ${JSON.stringify(resolved.fixes)}`);
  });
  return { ...(t as unknown as TraceFile), system: systemName };
}

/** Checks a parsed fault schedule against a system's fault kinds and roles; the message names the fault's path (`schedule[2].durationUs`). */
export function validateSchedule(data: unknown, where: string, system: AnySystem): FaultRecord[] {
  const problem = scheduleProblem(data, system.faults, system.roles, 'schedule');
  if (problem !== null) throw new TraceFileError(`${where}: ${problem}`);
  return data as FaultRecord[];
}

/**
 * The file's JSON, stable and readable in a pull request: one fault per line, and each recorded
 * configuration one section per line (a changed setting shows as one changed line).
 */
export function formatTraceFile(trace: TraceFile): string {
  const { schedule, expectations, ...rest } = trace;
  const configs: string[] = [];
  const marked = expectations.map((e) => (e.config === undefined ? e : { ...e, config: `§config${configs.push(formatSections(e.config)) - 1}` }));
  let text = JSON.stringify({ ...rest, schedule: '§schedule', expectations: marked }, null, 2);
  const faults = schedule.length === 0 ? '[]' : `[\n${schedule.map((f) => `    ${JSON.stringify(f)}`).join(',\n')}\n  ]`;
  text = text.replace('"§schedule"', () => faults);
  configs.forEach((c, i) => {
    text = text.replace(`"§config${i}"`, () => c);
  });
  return text + '\n';
}

function formatSections(config: unknown): string {
  const sections = Object.entries(config as Record<string, unknown>);
  if (sections.length === 0) return '{}';
  return `{\n${sections.map(([k, v]) => `        ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n      }`;
}


