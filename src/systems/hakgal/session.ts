import { MINUTE, type Micros } from '../../index.ts';
import { DAY } from './config.ts';

/**
 * The session blob `RedisSessionManager` keeps per hashed id (spec seeds-001-004 §1: SessionState
 * {trajectory_buffer, context_data (tx_count_1h), created_at}), serialised as one JSON value under
 * one key. `sid` names the instance (which pod incarnation created it) so that checkers can tell a
 * continued session from a new empty one; `version` is read only by the `version-checked-cache` fix.
 */
export interface SessionBlob {
  sid: string;
  tenant: string;
  user: string;
  /** context_data.tx_count_1h: transfers the guard let through in this session. */
  tx: number;
  /** trajectory_buffer length (embedding vectors of chat turns, capped). */
  trajectory: number;
  createdAt: Micros;
  version: number;
}

/**
 * A stand-in for HMAC-SHA256 (spec §1 `hashed_id = HMAC(secret, ...)`): two FNV-1a passes over
 * key and message, as hex. Only equality matters to the model: equal inputs give equal ids,
 * different secrets give different ids. Pure, so it needs no crypto module.
 */
export function hmac(secret: string, message: string): string {
  const text = `${secret}\u0000${message}`;
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Day number 20103 is 2025-01-15, the seed report's date; only changes of day matter. */
const FIRST_DAY = 20_103;

/** The local date a pod's wall clock reads (`date.today()`), as a day number. */
export function localDay(wallUs: Micros, startTimeOfDayUs: Micros): number {
  return FIRST_DAY + Math.floor((wallUs + startTimeOfDayUs) / DAY);
}

/** How far back the `utc-salt-with-overlap` fix dates its salt: pods this far apart still agree. */
export const SALT_OVERLAP_US: Micros = 60 * MINUTE;

/**
 * The days whose ids a lookup tries, in order (spec §1 `daily_salt = HMAC(secret, date.today())`).
 * As built: today's local date only, so every id changes at the pod's own midnight. With the
 * `utc-salt-with-overlap` fix: the date an hour ago, then the day before it (the model's clocks
 * keep UTC, so local and UTC dates coincide; the hour is what lets skewed pods agree).
 */
export function saltDays(wallUs: Micros, startTimeOfDayUs: Micros, overlap: boolean): number[] {
  if (!overlap) return [localDay(wallUs, startTimeOfDayUs)];
  const day = localDay(wallUs - SALT_OVERLAP_US, startTimeOfDayUs);
  return [day, day - 1];
}

/** hashed_id = HMAC(secret, f"{tenant}:{user}:{daily_salt}"), daily_salt = HMAC(secret, date) (spec §1). */
export function hashedId(secret: string, tenant: string, user: string, day: number): string {
  return hmac(secret, `${tenant}:${user}:${hmac(secret, String(day))}`);
}

/** The Redis key (spec §1): `hakgal:tenant:{tenant}:session:{hashed_id}`. */
export function sessionKey(tenant: string, hid: string): string {
  return `hakgal:tenant:${tenant}:session:${hid}`;
}

/**
 * The per-tenant ACL (spec §1: `hakgal:tenant:{id}:*`): a glob, so tenant `acme`'s credentials
 * also match every key of tenant `acme:eu`. Only `*` at the end is used, so a prefix test is the glob.
 */
export function aclAllows(tenant: string, key: string): boolean {
  return key.startsWith(`hakgal:tenant:${tenant}:`);
}

export function parseBlob(value: string): SessionBlob {
  return JSON.parse(value) as SessionBlob;
}

/** Fixed key order: the blob's text is part of trace events, and so of the hash. */
export function formatBlob(b: SessionBlob): string {
  return JSON.stringify({ sid: b.sid, tenant: b.tenant, user: b.user, tx: b.tx, trajectory: b.trajectory, createdAt: b.createdAt, version: b.version });
}
