import { resolveConfig, type ConfigOverrides } from '../systems/streamspace/config.ts';
import { DESIGN_FIXES, PROFILES } from '../systems/streamspace/profiles.ts';
import { ALL_FAULT_KINDS, type FaultKind } from '../faults/fault-kinds.ts';
import type { CaseSpace } from '../harness/seeded-case.ts';
import { INVARIANT_IDS, mergeOverrides } from '../harness/run-case.ts';
import { parseCount, readJsonFlag, UsageError } from './args.ts';

/**
 * The flags that define which case a seed stands for, shared by `hasim fuzz` and `hasim run` so that
 * a seed found by one is rerun by the other with the same flags.
 */
export const CASE_SPACE_FLAGS = {
  profile: { type: 'string' },
  fixes: { type: 'string' },
  config: { type: 'string' },
  faults: { type: 'string' },
  'no-swarm': { type: 'boolean', default: false },
  swarm: { type: 'boolean', default: false },
  'max-faults': { type: 'string' },
  invariants: { type: 'string' },
} as const;

export const CASE_SPACE_HELP = `  --profile NAME      streamspace-v2 (as built) or hardened (every design fix); default hardened
  --fixes A,B         design fixes to add on top of the profile (see hasim list fixes)
  --config FILE       JSON configuration overrides, by section (topology, api, agent, election, ...)
  --faults A,B        fault kinds that may appear (default: every kind; see hasim list faults)
  --swarm/--no-swarm  swarm mode: each seed draws a subset of kinds and an intensity (default on)
  --max-faults N      most faults in one schedule (default 8)
  --invariants A,B    invariants to check (default: all; see hasim list invariants)`;

export interface CaseSpaceValues {
  profile?: string | undefined;
  fixes?: string | undefined;
  config?: string | undefined;
  faults?: string | undefined;
  'no-swarm'?: boolean | undefined;
  swarm?: boolean | undefined;
  'max-faults'?: string | undefined;
  invariants?: string | undefined;
}

export const DEFAULT_PROFILE = 'hardened';

function list(flag: string, text: string, known: readonly string[]): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError(`--${flag}: expected a comma-separated list`);
  for (const n of names) {
    if (!known.includes(n)) throw new UsageError(`--${flag}: unknown name '${n}' (known: ${known.join(', ')})`);
  }
  return [...new Set(names)];
}

function readConfig(path: string): ConfigOverrides {
  const data = readJsonFlag('config', path);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`--config ${path}: expected a JSON object of sections`);
  try {
    resolveConfig(data as ConfigOverrides);
  } catch (error) {
    throw new UsageError(`--config ${path}: ${(error as Error).message}`);
  }
  // resolveConfig checks names; a value of the wrong shape would only fail deep inside a run.
  const base = resolveConfig() as unknown as Record<string, Record<string, unknown>>;
  for (const [section, fields] of Object.entries(data as Record<string, unknown>)) {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new UsageError(`--config ${path}: section '${section}' must be an object`);
    for (const [field, value] of Object.entries(fields)) {
      const expected = base[section]![field];
      const shape = (v: unknown): string => (Array.isArray(v) ? 'array' : typeof v);
      if (expected !== undefined && expected !== null && shape(value) !== shape(expected)) {
        throw new UsageError(`--config ${path}: ${section}.${field} must be ${shape(expected) === 'array' ? 'an array' : `a ${shape(expected)}`}, got ${JSON.stringify(value)}`);
      }
    }
  }
  return data as ConfigOverrides;
}

/** Builds the case space from parsed flags; every bad name or value is a UsageError naming it. */
export function caseSpaceFrom(values: CaseSpaceValues): CaseSpace {
  const profile = values.profile ?? DEFAULT_PROFILE;
  if (!(profile in PROFILES)) throw new UsageError(`--profile: unknown profile '${profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
  if (values.swarm === true && values['no-swarm'] === true) throw new UsageError('--swarm and --no-swarm contradict each other');
  let config: ConfigOverrides = values.config === undefined ? {} : readConfig(values.config);
  if (values.fixes !== undefined) {
    const names = list('fixes', values.fixes, DESIGN_FIXES.map((f) => f.name));
    const fields = Object.fromEntries(DESIGN_FIXES.filter((f) => names.includes(f.name)).map((f) => [f.field, true]));
    config = mergeOverrides(config, { fixes: fields });
  }
  const space: CaseSpace = { profile, swarm: values['no-swarm'] !== true };
  if (Object.keys(config).length > 0) space.config = config;
  if (values.faults !== undefined) space.kinds = list('faults', values.faults, ALL_FAULT_KINDS) as FaultKind[];
  if (values['max-faults'] !== undefined) {
    const n = parseCount('max-faults', values['max-faults']);
    if (n < 1) throw new UsageError('--max-faults: must be at least 1');
    space.maxFaults = n;
  }
  if (values.invariants !== undefined) space.invariants = list('invariants', values.invariants, INVARIANT_IDS);
  return space;
}

/** The flags that select the same case space again (for printed rerun commands). */
export function caseSpaceArgs(values: CaseSpaceValues): string {
  const parts = [`--profile ${values.profile ?? DEFAULT_PROFILE}`];
  if (values.fixes !== undefined) parts.push(`--fixes ${values.fixes}`);
  if (values.config !== undefined) parts.push(`--config ${values.config}`);
  if (values.faults !== undefined) parts.push(`--faults ${values.faults}`);
  if (values['no-swarm'] === true) parts.push('--no-swarm');
  if (values['max-faults'] !== undefined) parts.push(`--max-faults ${values['max-faults']}`);
  if (values.invariants !== undefined) parts.push(`--invariants ${values.invariants}`);
  return parts.join(' ');
}
