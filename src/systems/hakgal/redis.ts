import { Keyspace, ok, RedisError, serveRpc, serverError, type BootFn, type Micros, type RpcResult } from '../../index.ts';
import { aclAllows, formatBlob, parseBlob, type SessionBlob } from './session.ts';

/**
 * The commands the session manager sends, each under the tenant's ACL user (spec §1). GET and
 * SETEX are redis-py's `get`/`setex`; `CAS` and `GUARD` are Lua scripts (EVALSHA) of the fixes, run
 * atomically by Redis like any script.
 */
export type SessionCommand =
  | { cmd: 'GET'; acl: string; key: string }
  | { cmd: 'SETEX'; acl: string; key: string; seconds: number; value: string }
  /** `version-checked-cache`: SET key value EX seconds if the stored version is `expected` (0: the key is absent). */
  | { cmd: 'CAS'; acl: string; key: string; seconds: number; expected: number; value: string }
  /**
   * `atomic-counter`: if the session exists and the transfer is allowed (not a micro-transfer with
   * tx_count_1h already above `limit`), increment tx_count_1h and the version and re-set the TTL.
   */
  | { cmd: 'GUARD'; acl: string; key: string; seconds: number; limit: number; micro: boolean };

/** What `CAS` answers: stored, or the value found instead (null: absent). */
export type CasReply = { stored: true } | { stored: false; current: string | null };
/** What `GUARD` answers: the session after the increment, or why nothing was incremented. */
export type GuardReply = { outcome: 'allowed'; value: string } | { outcome: 'blocked'; value: string } | { outcome: 'absent' };

/**
 * What outlives a Redis process and what faults reach. No persistence by default (a restart is
 * empty); with the `redis-aof` setting (`appendonly yes`, `appendfsync always`) the dataset
 * survives. Faults set `replyDelayUs` (a slow server: replies past the client's read timeout) and
 * `oom` (memory full under noeviction: writes fail).
 */
export class SessionRedisStorage {
  live: Keyspace | null = null;
  /** The dataset an `appendfsync always` AOF reloads at restart. */
  persisted: Keyspace | null = null;
  replyDelayUs: Micros = 0;
  oom = false;
}

export interface SessionRedisOptions {
  /** `maxmemory` as a key count; past it allkeys-lru evicts (or, under `noeviction`, writes fail). */
  maxKeys: number;
  /** maxmemory-policy noeviction instead of allkeys-lru (the `noeviction` fix). */
  noEviction: boolean;
  /** Keep the dataset across restarts (AOF, fsync always). */
  aof: boolean;
}

const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

/**
 * A Redis 7 server holding the session keys: the shared `Keyspace` model (TTLs on this node's wall
 * clock, lazy expiry on access, LRU eviction), commands applied one at a time in arrival order,
 * replies in request order per connection after 50-200 µs of service time.
 */
export function sessionRedis(storage: SessionRedisStorage, options: SessionRedisOptions): BootFn {
  return (ctx) => {
    const onKeyEvent = (event: string, key: string): void => ctx.record(`redis.${event}`, { key });
    const keyspace = (options.aof ? storage.persisted : null)
      ?? new Keyspace({ maxKeys: options.maxKeys, evictionPolicy: options.noEviction ? 'noeviction' : 'allkeys-lru', onKeyEvent });
    storage.live = keyspace;
    if (options.aof) storage.persisted = keyspace;
    ctx.record('redis.start', { keys: keyspace.dbsize(ctx.now()) });
    const service = ctx.random('service');

    const write = (key: string, value: string, seconds: number): void => {
      if (storage.oom) throw new RedisError(OOM);
      keyspace.set(ctx.now(), key, value, { ex: seconds });
      const b = parseBlob(value);
      ctx.record('redis.session-write', { key, sid: b.sid, tx: b.tx, version: b.version });
    };

    const execute = (c: SessionCommand): unknown => {
      // Per-tenant ACL users (spec §1): a key outside the user's glob is refused.
      if (!aclAllows(c.acl, c.key)) throw new RedisError(`NOPERM this user has no permissions to access the '${c.key}' key`);
      const now = ctx.now();
      switch (c.cmd) {
        case 'GET':
          return keyspace.get(now, c.key);
        case 'SETEX':
          write(c.key, c.value, c.seconds);
          return 'OK';
        case 'CAS': {
          const current = keyspace.get(now, c.key);
          const version = current === null ? 0 : parseBlob(current).version;
          if (version !== c.expected) return { stored: false, current } satisfies CasReply;
          write(c.key, c.value, c.seconds);
          return { stored: true } satisfies CasReply;
        }
        case 'GUARD': {
          const current = keyspace.get(now, c.key);
          if (current === null) return { outcome: 'absent' } satisfies GuardReply;
          const b: SessionBlob = parseBlob(current);
          if (c.micro && b.tx > c.limit) return { outcome: 'blocked', value: current } satisfies GuardReply;
          const value = formatBlob({ ...b, tx: b.tx + 1, version: b.version + 1 });
          write(c.key, value, c.seconds);
          return { outcome: 'allowed', value } satisfies GuardReply;
        }
      }
    };

    return {
      onAccept(conn) {
        let lastReplyAt = 0;
        serveRpc(conn, (body, reply) => {
          let result: RpcResult<unknown>;
          try {
            result = ok(execute(body as SessionCommand));
          } catch (error) {
            if (!(error instanceof RedisError)) throw error;
            result = serverError(error.message);
          }
          const replyAt = Math.max(ctx.monotonic() + service.int(50, 200) + storage.replyDelayUs, lastReplyAt);
          lastReplyAt = replyAt;
          ctx.setTimer(replyAt - ctx.monotonic(), () => reply(result), 'redis.reply');
        });
      },
    };
  };
}
