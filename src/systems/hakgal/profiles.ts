import { ConfigError, type Fix, type Profile, type Resolved } from '../../index.ts';
import { DEFAULT_CONFIG, type HakgalConfig } from './config.ts';
import { checkedConfig, overlay } from './config-schema.ts';

/** Each named design fix, with the `fixes` field that switches it on. */
export const FIXES: Array<Fix & { field: keyof HakgalConfig['fixes'] }> = [
  {
    name: 'shared-secret', field: 'sharedSecret',
    change: 'the HMAC key comes from a Secret mounted in every pod instead of `secrets.token_bytes(32)` per process, so every pod and every restart computes the same session ids',
    removes: ['second-pod-loses-the-session', 'restarted-pod-loses-every-session'],
  },
  {
    name: 'version-checked-cache', field: 'versionCheckedCache',
    change: 'every request reads the session from Redis (the in-memory copy is no longer an authority) and writes it back with a compare-and-set on a version field (a Lua script); a conflict re-reads and redoes the update',
    removes: ['two-pods-lose-updates', 'stale-cache-serves-expired-session'],
  },
  {
    name: 'atomic-counter', field: 'atomicCounter',
    change: 'the guard\'s check of tx_count_1h and its increment run as one Lua script in Redis, so two requests cannot both pass the check on the same count',
    removes: ['micro-transfers-past-the-limit'],
  },
  {
    name: 'fail-closed-on-read-error', field: 'failClosedOnReadError',
    change: 'a Redis error or timeout on the session read fails the request (503) instead of treating the session as absent and writing an empty one over it',
    removes: ['read-timeout-overwrites-session'],
  },
  {
    name: 'write-through', field: 'writeThrough',
    change: 'the session update is awaited before the tool runs and the request is answered, and a failed write fails the request instead of being swallowed',
    removes: ['swallowed-write-loses-update'],
  },
  {
    name: 'utc-salt-with-overlap', field: 'utcSaltWithOverlap',
    change: 'the daily salt is the UTC date an hour ago (so pods up to an hour apart agree), and a lookup that misses also tries the previous day\'s id and keeps using the key it finds',
    removes: ['midnight-rotates-every-session'],
  },
  {
    name: 'tenant-id-validation', field: 'tenantIdValidation',
    change: 'tenant and user ids containing \':\' are refused (400), so "tenant:user:salt" is unambiguous and the ACL glob hakgal:tenant:{id}:* matches one tenant only',
    removes: ['colliding-tenant-ids-share-a-session'],
  },
  {
    name: 'noeviction', field: 'noEviction',
    change: 'sessions live in a Redis of their own with maxmemory-policy noeviction: memory pressure fails writes (OOM) instead of evicting live sessions',
    removes: ['evicted-session-lost'],
  },
  {
    name: 'redis-aof', field: 'redisAof',
    change: 'Redis runs with appendonly yes and appendfsync always, so a restarted Redis reloads every acknowledged session instead of starting empty',
    removes: ['redis-restart-loses-every-session'],
  },
];

/** Overrides: any part of the configuration, section by section. */
export type HakgalOverrides = { [S in keyof HakgalConfig]?: Partial<HakgalConfig[S]> };

const ALL_FIXES = Object.fromEntries(FIXES.map((f) => [f.field, true])) as Partial<HakgalConfig['fixes']>;

/** The as-built manager first, then the one with every fix. */
export const PROFILES: Array<Profile & { overrides: HakgalOverrides }> = [
  { name: 'as-built', description: 'HAK_GAL v2.3.3 RedisSessionManager as the seed report ships it (spec seeds-001-004 §1)', overrides: {} },
  { name: 'hardened', description: `as-built with every fix: ${FIXES.map((f) => f.name).join(', ')}`, overrides: { fixes: ALL_FIXES } },
];

function resolvedOf(config: HakgalConfig): Resolved<HakgalConfig> {
  return { config: checkedConfig(config), fixes: FIXES.filter((f) => config.fixes[f.field]).map((f) => f.name) };
}

export function resolveHakgal(profile: string, overrides: unknown = {}, fixes: readonly string[] = []): Resolved<HakgalConfig> {
  const p = PROFILES.find((x) => x.name === profile);
  if (p === undefined) throw new ConfigError(`unknown profile '${profile}' (known: ${PROFILES.map((x) => x.name).join(', ')})`);
  const unknown = fixes.find((f) => !FIXES.some((x) => x.name === f));
  if (unknown !== undefined) throw new ConfigError(`unknown fix '${unknown}' (known: ${FIXES.map((f) => f.name).join(', ')})`);
  const switched = { fixes: Object.fromEntries(FIXES.filter((f) => fixes.includes(f.name)).map((f) => [f.field, true])) };
  return resolvedOf(overlay(overlay(overlay(DEFAULT_CONFIG, p.overrides), overrides), switched));
}

/** A configuration recorded in a trace file: complete, so it is checked on top of the defaults. */
export function reresolveHakgal(recorded: unknown): Resolved<HakgalConfig> {
  return resolvedOf(overlay(DEFAULT_CONFIG, recorded));
}
