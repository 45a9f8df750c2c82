import { ConfigError, MS, SECOND, type Fix, type Micros, type Profile, type Resolved } from '../../src/index.ts';

/**
 * Everything a run of the two-node lease depends on besides the seed and the fault schedule. Plain
 * JSON data in sections: a trace file records it resolved, one section per line.
 */
export interface LeaseConfig {
  lease: {
    /** How long a grant lasts at the store, from when the store handles the request. */
    ttlUs: Micros;
    /** How often the holder renews and a follower tries to acquire. */
    renewEveryUs: Micros;
    /** Clock-rate error a replica allows for: it counts its lease as ttl × (1 − tolerance), from when it sent the request. */
    driftTolerancePpm: number;
  };
  replica: {
    /** How often a replica that believes it holds the lease writes. */
    writeEveryUs: Micros;
  };
  platform: {
    /** A crashed process is restarted in place after this long (a supervisor's restart delay). */
    restartUs: Micros;
  };
  fixes: {
    /** The store rejects a write made under an epoch older than its lease record's (a fencing token). */
    fencedWrites: boolean;
  };
}

export const DEFAULT_CONFIG: LeaseConfig = {
  lease: { ttlUs: 3 * SECOND, renewEveryUs: 1 * SECOND, driftTolerancePpm: 1_000 },
  replica: { writeEveryUs: 200 * MS },
  platform: { restartUs: 1 * SECOND },
  fixes: { fencedWrites: false },
};

/** Each named fix, with the `fixes` field that switches it on. */
export const FIXES: Array<Fix & { field: keyof LeaseConfig['fixes'] }> = [{
  name: 'fenced-writes',
  field: 'fencedWrites',
  change: 'the store rejects a write whose lease epoch (the fencing token every write carries) is lower than the epoch of its current lease record',
  removes: ['paused-holder-writes-after-takeover'],
}];

/** Overrides: any part of the configuration, section by section. */
type Overrides = { [S in keyof LeaseConfig]?: Partial<LeaseConfig[S]> };

/** The as-built system first, then the one with the fix. */
const PROFILES: Array<Profile & { overrides: Overrides }> = [
  { name: 'as-built', description: 'replicas write while their local lease timer runs; the store applies every write', overrides: {} },
  { name: 'fenced', description: 'as-built with fenced-writes', overrides: { fixes: { fencedWrites: true } } },
];
export const LEASE_PROFILES: readonly Profile[] = PROFILES;

/** `base` with `overrides` on top; every section, field and type is checked against the defaults. */
function overlay(base: LeaseConfig, overrides: unknown): LeaseConfig {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new ConfigError('config must be an object of sections');
  const out = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, fields] of Object.entries(overrides)) {
    const target = Object.hasOwn(out, section) ? out[section]! : undefined;
    if (target === undefined) throw new ConfigError(`unknown config section '${section}' (known: ${Object.keys(out).join(', ')})`);
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new ConfigError(`config section '${section}' must be an object`);
    for (const [field, value] of Object.entries(fields)) {
      const current = Object.hasOwn(target, field) ? target[field] : undefined;
      if (current === undefined) throw new ConfigError(`unknown field ${section}.${field} (known: ${Object.keys(target).join(', ')})`);
      const ok = typeof current === 'boolean' ? typeof value === 'boolean' : Number.isSafeInteger(value) && (value as number) >= 0;
      if (!ok) throw new ConfigError(`${section}.${field} must be ${typeof current === 'boolean' ? 'true or false' : 'a non-negative integer'}, got ${JSON.stringify(value)}`);
      target[field] = value;
    }
  }
  return out as unknown as LeaseConfig;
}

/** The checks a whole configuration must pass: values the model could not run with are bad input, not findings. */
function checked(config: LeaseConfig): Resolved<LeaseConfig> {
  const { lease, replica } = config;
  if (lease.ttlUs === 0 || replica.writeEveryUs === 0) throw new ConfigError('lease.ttlUs and replica.writeEveryUs must be positive');
  if (lease.renewEveryUs === 0 || lease.renewEveryUs >= lease.ttlUs) throw new ConfigError('lease.renewEveryUs must be positive and shorter than lease.ttlUs');
  if (lease.driftTolerancePpm >= 1_000_000) throw new ConfigError('lease.driftTolerancePpm must be below 1,000,000');
  return { config, fixes: FIXES.filter((f) => config.fixes[f.field]).map((f) => f.name) };
}

export function resolveLease(profile: string, overrides: unknown = {}, fixes: readonly string[] = []): Resolved<LeaseConfig> {
  const p = PROFILES.find((x) => x.name === profile);
  if (p === undefined) throw new ConfigError(`unknown profile '${profile}' (known: ${PROFILES.map((x) => x.name).join(', ')})`);
  const unknown = fixes.find((f) => !FIXES.some((x) => x.name === f));
  if (unknown !== undefined) throw new ConfigError(`unknown fix '${unknown}' (known: ${FIXES.map((f) => f.name).join(', ')})`);
  const switched = { fixes: Object.fromEntries(FIXES.filter((f) => fixes.includes(f.name)).map((f) => [f.field, true])) };
  return checked(overlay(overlay(overlay(DEFAULT_CONFIG, p.overrides), overrides), switched));
}

/** A configuration recorded in a trace file: complete, so it is checked on top of the defaults. */
export function reresolveLease(recorded: unknown): Resolved<LeaseConfig> {
  return checked(overlay(DEFAULT_CONFIG, recorded));
}
