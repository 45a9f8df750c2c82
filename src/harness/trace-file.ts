import { readFileSync } from 'node:fs';
import type { TraceHashScheme } from '../sim-cluster/index.ts';
import { faultProblem, type FaultRecord } from '../faults/fault-kind.ts';
import { ConfigError, type AnySystem } from '../contract/system.ts';
import { invariantIds } from './run-case.ts';

export const TRACE_FORMAT = 'hasim-trace';
/**
 * The format version this build writes. Version 2 changed only how the trace hash encodes events
 * (see src/sim-cluster/trace-encoding.ts); version 3 added the system's name and, per expectation,
 * the resolved fixes and configuration. Versions 1 and 2 are still read: they are StreamSpace's
 * (the first system), their expectations resolve the profile as this build defines it, and
 * version-1 files replay with the version-1 encoding so that their recorded hashes still match.
 */
export const TRACE_VERSION = 3;

/** The trace-hash encoding a file's expectations were recorded with. */
export function hashSchemeOf(trace: Pick<TraceFile, 'version'>): TraceHashScheme {
  return trace.version === 1 ? 'lines' : 'interned';
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

/** Checks a parsed trace file field by field; throws TraceFileError naming the first problem. */
export function validateTraceFile(data: unknown, where: string, systems: readonly AnySystem[]): TraceFile {
  const fail = (what: string): never => {
    throw new TraceFileError(`${where}: ${what}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail('expected a JSON object');
  const t = data as Record<string, unknown>;
  if (t['format'] !== TRACE_FORMAT) fail(`not a hasim trace file (format is ${JSON.stringify(t['format'])}, expected "${TRACE_FORMAT}")`);
  if (typeof t['version'] !== 'number') fail('missing version');
  if (!Number.isInteger(t['version']) || (t['version'] as number) < 1) fail(`unknown format version ${t['version']}`);
  if ((t['version'] as number) > TRACE_VERSION) fail(`format version ${t['version']} is newer than this build reads (${TRACE_VERSION}); upgrade hasim`);
  const version = t['version'] as number;
  if (version >= 3 && typeof t['system'] !== 'string') fail('missing system');
  const systemName = version >= 3 ? t['system'] as string : systems[0]!.name;
  const system = systems.find((s) => s.name === systemName) ?? fail(`unknown system ${JSON.stringify(systemName)} (known: ${systems.map((s) => s.name).join(', ')})`);
  if (typeof t['name'] !== 'string') fail('missing name');
  if (typeof t['explanation'] !== 'string') fail('missing explanation');
  if (!Number.isSafeInteger(t['seed']) || (t['seed'] as number) < 0) fail('seed must be a non-negative integer');
  if (typeof t['config'] !== 'object' || t['config'] === null || Array.isArray(t['config'])) fail('config must be an object');
  if (t['fixes'] !== undefined) {
    const known = system.fixes.map((f) => f.name);
    if (!Array.isArray(t['fixes'])) fail('fixes must be an array of fix names');
    for (const f of t['fixes'] as unknown[]) if (!known.includes(f as string)) fail(`fixes: unknown fix ${JSON.stringify(f)} (known: ${known.join(', ')})`);
  }
  validateSchedule(t['schedule'], where, system);
  if (t['invariants'] !== undefined) {
    const known = invariantIds(system);
    if (!Array.isArray(t['invariants'])) fail('invariants must be an array of invariant ids');
    for (const id of t['invariants'] as unknown[]) {
      if (!known.includes(id as string)) fail(`invariants: unknown invariant ${JSON.stringify(id)} (known: ${known.join(', ')})`);
    }
  }
  if (!Array.isArray(t['expectations']) || t['expectations'].length === 0) fail('expectations must be a non-empty array');
  (t['expectations'] as unknown[]).forEach((e, i) => {
    const x = e as Record<string, unknown>;
    if (typeof x !== 'object' || x === null) fail(`expectations[${i}] is not an object`);
    if (typeof x['profile'] !== 'string') fail(`expectations[${i}]: missing profile`);
    const profiles = system.profiles.map((p) => p.name);
    if (!profiles.includes(x['profile'] as string)) fail(`expectations[${i}]: unknown profile '${x['profile']}' (known: ${profiles.join(', ')})`);
    try {
      if (version >= 3) {
        if (!Array.isArray(x['fixes']) || x['fixes'].some((f) => typeof f !== 'string')) fail(`expectations[${i}]: fixes must be an array of fix names`);
        const resolved = system.reresolve(x['config']);
        const named = [...resolved.fixes].sort().join(',');
        if (named !== [...(x['fixes'] as string[])].sort().join(',')) fail(`expectations[${i}]: fixes ${JSON.stringify(x['fixes'])} do not match the recorded configuration, which turns on ${JSON.stringify(resolved.fixes)}`);
      } else {
        system.resolve(x['profile'] as string, t['config'], (t['fixes'] as string[] | undefined) ?? []);
      }
    } catch (error) {
      if (error instanceof ConfigError) fail(`expectations[${i}]: ${error.message}`);
      throw error;
    }
    if (typeof x['outcome'] !== 'string') fail(`expectations[${i}]: missing outcome`);
    if (typeof x['hash'] !== 'string' || !/^[0-9a-f]{64}$/.test(x['hash'])) fail(`expectations[${i}]: hash must be 64 hex digits`);
  });
  return { ...(t as unknown as TraceFile), system: systemName };
}

/** Checks a parsed fault schedule against a system's fault kinds and roles. */
export function validateSchedule(data: unknown, where: string, system: AnySystem): FaultRecord[] {
  if (!Array.isArray(data)) throw new TraceFileError(`${where}: schedule must be an array`);
  const kinds = new Map(system.faults.map((k) => [k.kind as string, k]));
  (data as unknown[]).forEach((f, i) => {
    const problem = faultProblem(f, kinds, system.roles);
    if (problem !== null) throw new TraceFileError(`${where}: schedule[${i}]: ${problem}`);
  });
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


