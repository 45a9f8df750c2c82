import { readFileSync } from 'node:fs';
import { ALL_FAULT_KINDS, type Fault } from '../faults/fault-kinds.ts';
import { PROFILES } from '../systems/streamspace/profiles.ts';
import type { ConfigOverrides } from '../systems/streamspace/config.ts';
import type { TraceHashScheme } from '../sim-cluster/index.ts';
import { INVARIANT_IDS } from './run-case.ts';

export const TRACE_FORMAT = 'hasim-trace';
/**
 * The format version this build writes. Version 2 changed only how the trace hash encodes events
 * (see src/sim-cluster/trace-encoding.ts); version-1 files are still read, and replayed with the
 * version-1 encoding so that their recorded hashes still match.
 */
export const TRACE_VERSION = 2;

/** The trace-hash encoding a file's expectations were recorded with. */
export function hashSchemeOf(trace: Pick<TraceFile, 'version'>): TraceHashScheme {
  return trace.version === 1 ? 'lines' : 'interned';
}

/** What replaying a trace under one profile must give: outcome and trace hash. */
export interface Expectation {
  profile: string;
  outcome: string;
  hash: string;
}

/**
 * A saved run (DESIGN decision 6): everything the run is a function of, and what it must give.
 * The case is replayed under each expectation's profile; `config`, `seed` and `schedule` are shared.
 */
export interface TraceFile {
  format: typeof TRACE_FORMAT;
  version: number;
  name: string;
  /** The mechanism, in a few sentences, naming the spec behaviour that causes it. */
  explanation: string;
  config: ConfigOverrides;
  seed: number;
  schedule: Fault[];
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

export function readTraceFile(path: string): TraceFile {
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
  return validateTraceFile(data, path);
}

/** Checks a parsed trace file field by field; throws TraceFileError naming the first problem. */
export function validateTraceFile(data: unknown, where: string): TraceFile {
  const fail = (what: string): never => {
    throw new TraceFileError(`${where}: ${what}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail('expected a JSON object');
  const t = data as Record<string, unknown>;
  if (t['format'] !== TRACE_FORMAT) fail(`not a hasim trace file (format is ${JSON.stringify(t['format'])}, expected "${TRACE_FORMAT}")`);
  if (typeof t['version'] !== 'number') fail('missing version');
  if (!Number.isInteger(t['version']) || (t['version'] as number) < 1) fail(`unknown format version ${t['version']}`);
  if ((t['version'] as number) > TRACE_VERSION) fail(`format version ${t['version']} is newer than this build reads (${TRACE_VERSION}); upgrade hasim`);
  if (typeof t['name'] !== 'string') fail('missing name');
  if (typeof t['explanation'] !== 'string') fail('missing explanation');
  if (!Number.isSafeInteger(t['seed']) || (t['seed'] as number) < 0) fail('seed must be a non-negative integer');
  if (typeof t['config'] !== 'object' || t['config'] === null || Array.isArray(t['config'])) fail('config must be an object');
  validateSchedule(t['schedule'], where);
  if (t['invariants'] !== undefined) {
    if (!Array.isArray(t['invariants'])) fail('invariants must be an array of invariant ids');
    for (const id of t['invariants'] as unknown[]) {
      if (!INVARIANT_IDS.includes(id as never)) fail(`invariants: unknown invariant ${JSON.stringify(id)} (known: ${INVARIANT_IDS.join(', ')})`);
    }
  }
  if (!Array.isArray(t['expectations']) || t['expectations'].length === 0) fail('expectations must be a non-empty array');
  (t['expectations'] as unknown[]).forEach((e, i) => {
    const x = e as Record<string, unknown>;
    if (typeof x?.['profile'] !== 'string' || !(x['profile'] in PROFILES)) fail(`expectations[${i}]: unknown profile ${JSON.stringify(x?.['profile'])}`);
    if (typeof x['outcome'] !== 'string') fail(`expectations[${i}]: missing outcome`);
    if (typeof x['hash'] !== 'string' || !/^[0-9a-f]{64}$/.test(x['hash'])) fail(`expectations[${i}]: hash must be 64 hex digits`);
  });
  return t as unknown as TraceFile;
}

/** Checks a parsed fault schedule: an array of faults of known kinds at integer instants. */
export function validateSchedule(data: unknown, where: string): Fault[] {
  const fail = (what: string): never => {
    throw new TraceFileError(`${where}: ${what}`);
  };
  if (!Array.isArray(data)) fail('schedule must be an array');
  (data as unknown[]).forEach((f, i) => {
    if (typeof f !== 'object' || f === null) fail(`schedule[${i}] is not an object`);
    const fault = f as Record<string, unknown>;
    if (!ALL_FAULT_KINDS.includes(fault['kind'] as never)) fail(`schedule[${i}]: unknown fault kind ${JSON.stringify(fault['kind'])}`);
    if (!Number.isSafeInteger(fault['at']) || (fault['at'] as number) < 0) fail(`schedule[${i}]: 'at' must be a non-negative integer (µs)`);
  });
  return data as Fault[];
}

/** The file's JSON, stable and readable in a pull request: one fault per line. */
export function formatTraceFile(trace: TraceFile): string {
  const { schedule, ...rest } = trace;
  const head = JSON.stringify({ ...rest, schedule: '§' }, null, 2);
  const faults = schedule.length === 0 ? '[]' : `[\n${schedule.map((f) => `    ${JSON.stringify(f)}`).join(',\n')}\n  ]`;
  return head.replace('"§"', faults) + '\n';
}

/** Builds a trace file for a case, computing each expectation by running it under that profile. */
export function traceFileFor(
  run: (profile: string) => { outcome: string; hash: string },
  fields: Omit<TraceFile, 'format' | 'version' | 'expectations'>,
  profiles: readonly string[],
): TraceFile {
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    ...fields,
    expectations: profiles.map((profile) => ({ profile, ...pick(run(profile)) })),
  };
}

function pick(v: { outcome: string; hash: string }): { outcome: string; hash: string } {
  return { outcome: v.outcome, hash: v.hash };
}
