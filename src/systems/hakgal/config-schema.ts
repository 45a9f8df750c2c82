import { ConfigError, MAX_FAULT_TIME_US } from '../../index.ts';
import { DAY, type HakgalConfig, type Identity } from './config.ts';

/** String fields and the values each accepts. */
const ENUMS: Record<string, readonly string[]> = {
  'pod.secret': ['per-process', 'configured'],
  'pod.writes': ['create-task', 'await'],
  'workload.routing': ['service', 'pinned'],
};

/** Integer fields with an upper bound of their own (the rest are bounded by MAX_FAULT_TIME_US). */
const MAX: Record<string, number> = {
  'topology.pods': 8,
  'clock.startTimeOfDayUs': DAY - 1,
  'redis.maxKeys': 10_000_000,
  'session.ttlSeconds': 7 * 24 * 3600,
  'session.microLimit': 1_000_000,
  'session.trajectoryMax': 10_000,
  'workload.microPercent': 100,
  'workload.transferPercent': 100,
  'workload.requestsPerTab': 1_000_000,
};

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** At most 200 identities of at most 4 tabs, ids 1-64 characters: a run's size stays bounded. */
function identitiesProblem(value: unknown): string | null {
  if (!Array.isArray(value) || value.length === 0 || value.length > 200) return 'must be a list of 1-200 identities';
  for (const [i, x] of value.entries()) {
    if (!isObject(x)) return `[${i}] must be an object { tenant, user, tabs }`;
    const keys = Object.keys(x).sort().join(',');
    if (keys !== 'tabs,tenant,user') return `[${i}] must have exactly tenant, user and tabs, got ${keys}`;
    for (const f of ['tenant', 'user'] as const) {
      const s = x[f];
      if (typeof s !== 'string' || s.length === 0 || s.length > 64) return `[${i}].${f} must be a string of 1-64 characters`;
    }
    if (!Number.isSafeInteger(x['tabs']) || (x['tabs'] as number) < 1 || (x['tabs'] as number) > 4) return `[${i}].tabs must be an integer in 1-4`;
  }
  return null;
}

function fieldProblem(path: string, current: unknown, value: unknown): string | null {
  if (path === 'workload.identities') return identitiesProblem(value);
  if (typeof current === 'boolean') return typeof value === 'boolean' ? null : `must be true or false, got ${JSON.stringify(value)}`;
  const allowed = ENUMS[path];
  if (allowed !== undefined) return allowed.includes(value as string) ? null : `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`;
  const max = MAX[path] ?? MAX_FAULT_TIME_US;
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max ? null : `must be an integer in 0-${max}, got ${JSON.stringify(value)}`;
}

/**
 * `overrides` laid over `base`, section by section. Overrides come from outside (`--config`, trace
 * files): an unknown section or field, or a value of the wrong type or out of bounds, is a
 * `ConfigError` naming its path; `Object.hasOwn` keeps `__proto__` out.
 */
export function overlay(base: HakgalConfig, overrides: unknown): HakgalConfig {
  if (!isObject(overrides)) throw new ConfigError('config: must be an object of sections');
  const out = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, fields] of Object.entries(overrides)) {
    const target = Object.hasOwn(out, section) ? out[section]! : undefined;
    if (target === undefined) throw new ConfigError(`config.${section}: unknown section (known: ${Object.keys(out).join(', ')})`);
    if (!isObject(fields)) throw new ConfigError(`config.${section}: must be an object`);
    for (const [field, value] of Object.entries(fields)) {
      if (!Object.hasOwn(target, field)) throw new ConfigError(`config.${section}.${field}: unknown field (known: ${Object.keys(target).join(', ')})`);
      const problem = fieldProblem(`${section}.${field}`, target[field], value);
      if (problem !== null) throw new ConfigError(`config.${section}.${field}: ${problem}`);
      target[field] = structuredClone(value);
    }
  }
  return out as unknown as HakgalConfig;
}

/** The rules between fields: values the model could not run with are bad input, not findings. */
export function checkedConfig(config: HakgalConfig): HakgalConfig {
  const positive: Array<[string, number]> = [
    ['topology.pods', config.topology.pods], ['session.ttlSeconds', config.session.ttlSeconds],
    ['redis.readTimeoutUs', config.redis.readTimeoutUs], ['redis.maxKeys', config.redis.maxKeys],
    ['workload.thinkUs', config.workload.thinkUs], ['workload.requestTimeoutUs', config.workload.requestTimeoutUs],
  ];
  for (const [path, v] of positive) if (v === 0) throw new ConfigError(`config.${path}: must be positive, got 0`);
  if (config.workload.microPercent + config.workload.transferPercent > 100) {
    throw new ConfigError(`config.workload.transferPercent: microPercent + transferPercent must be at most 100, got ${config.workload.microPercent + config.workload.transferPercent}`);
  }
  const seen = new Set<string>();
  for (const id of config.workload.identities as Identity[]) {
    const key = JSON.stringify([id.tenant, id.user]);
    if (seen.has(key)) throw new ConfigError(`config.workload.identities: ${id.tenant}/${id.user} is listed twice`);
    seen.add(key);
  }
  return config;
}
