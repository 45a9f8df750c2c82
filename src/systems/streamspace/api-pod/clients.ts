import type { Micros, ProcessContext } from '../../../sim-cluster/index.ts';
import { ok, type RpcResult } from '../net/rpc.ts';
import type { DialTarget } from '../net/rpc.ts';
import { PostgresClient } from '../postgres/client.ts';
import type { SqlPoolOptions } from '../postgres/pool.ts';
import type { CommandRow } from '../postgres/tables.ts';
import { RedisClient, RedisPubSub, type RedisTarget } from '../redis/client.ts';
import type { ApiPodClients } from './api-pod.ts';
import type { DispatchedCommand } from './command-dispatcher.ts';
import type { CachePort } from './session-auth.ts';

export interface ApiPodClientTargets {
  /** PostgreSQL: its process name, or a Service resolved per connection (the Patroni master Service). */
  postgres: DialTarget;
  /**
   * Redis, asked once per go-redis client the pod makes (the hub's, the pub/sub's, the cache's): a
   * process name, a Service, or a Sentinel-aware resolver (go-redis makes one per FailoverClient).
   */
  redis: () => RedisTarget;
  /** Deadline of the start-up PING (§4: 5 s). */
  pingTimeoutUs: Micros;
  /** Design fix `guarded-status-writes`. */
  guardedStatusWrites: boolean;
  /**
   * database/sql's pool as StreamSpace configures it (postgres/pool.ts), shared by every statement
   * of the pod as its one `*sql.DB` is; null: the model's one-connection clients (the single
   * PostgreSQL's runs, kept as they were).
   */
  pool: SqlPoolOptions | null;
}

/**
 * The cache's client (api/internal/cache/cache.go NewCache): go-redis on DB 0, a client of its own
 * besides the hub's (DB 1), with the same timeouts and retries as the model's go-redis client.
 */
function cachePort(redis: RedisClient): CachePort {
  return {
    ping: (timeoutUs, cb) => redis.ping(cb, timeoutUs),
    exists: (key, cb) => redis.exists([key], cb),
    get: (key, cb) => redis.get(key, cb),
    set: (key, value, exSeconds, cb) => redis.set(key, value, exSeconds, cb),
    del: (keys, cb, deadline) => redis.del(keys, cb, deadline === undefined ? undefined : { deadline }),
    // go-redis's Scan(ctx, cursor, match, 0): no COUNT, the server's default of 10.
    scan: (cursor, match, cb, deadline) => redis.scan(cursor, match, 0, cb, deadline === undefined ? undefined : { deadline }),
  };
}

/** Binds the API pod's ports to a lib/pq-like PostgreSQL client and go-redis clients. */
export function apiPodClients(ctx: ProcessContext, targets: ApiPodClientTargets): ApiPodClients {
  const pg = new PostgresClient(ctx, { target: targets.postgres, guardedStatusWrites: targets.guardedStatusWrites, ...(targets.pool === null ? {} : { pool: targets.pool }) });
  const toDispatched = (row: CommandRow): DispatchedCommand => ({
    commandId: row.commandId, agentId: row.agentId, action: row.action, sessionId: row.sessionId ?? '',
  });
  const redis = new RedisClient(ctx, { target: targets.redis() });
  // The users' reads (seed 004's load) take connections of their own from database/sql's pool
  // (MaxOpenConns 25, api/internal/db/database.go), with the statement timeouts kept per connection;
  // with the pool modelled they share it with every other statement.
  const users = targets.pool === null ? new PostgresClient(ctx, { target: targets.postgres, timeouts: 'per-connection' }) : pg;
  return {
    db: {
      setAgentOnline: (agentId, cb) => pg.setAgentOnline(agentId, cb),
      setAgentOffline: (agentId, cb) => pg.setAgentOffline(agentId, cb),
      updateAgentHeartbeat: (agentId, cb) => pg.updateAgentHeartbeat(agentId, cb),
      updateAgentCapacity: (agentId, capacity, cb) => pg.updateAgentCapacity(agentId, capacity, cb),
      markAckFromAgent: (commandId, agentId, cb) => pg.markAckFromAgent(commandId, agentId, cb),
      markCompletedFromAgent: (commandId, agentId, cb) => pg.markCompletedFromAgent(commandId, agentId, cb),
      markFailedFromAgent: (commandId, agentId, error, cb) => pg.markFailedFromAgent(commandId, agentId, error, cb),
      markSent: (commandId, cb) => pg.markSent(commandId, cb),
      markFailedByDispatcher: (commandId, error, cb) => pg.markFailedByDispatcher(commandId, error, cb),
      claimForRedelivery: (commandId, cb) => pg.claimForRedelivery(commandId, cb),
      listPendingCommands: (cb) => pg.listPendingCommands((r) => cb(r.ok ? ok(r.value.map(toDispatched)) : r)),
      listUnfinishedCommands: (staleUs, cb) => pg.listUnfinishedCommands(staleUs, (r) => cb(r.ok ? ok(r.value.map(toDispatched)) : r)),
      // Field by field rather than `{ ...row, payload: null }`: in Node 20's V8 a spread followed by
      // a key the spread object lacks takes a slow path (about 3 µs a call, a few percent of a seed).
      insertCommand: (row, cb) => pg.insertCommand({ commandId: row.commandId, agentId: row.agentId, sessionId: row.sessionId, action: row.action, payload: null }, cb),
      upsertAgentOnRegister: (agentId, cb) => pg.upsertAgentOnRegister(agentId, cb),
      agentExists: (agentId, cb) => pg.getAgent(agentId, (r) => cb(r.ok ? ok(r.value !== null) : (r as RpcResult<never>))),
      userRead: (stmt, user, cb) => users.userRead(stmt, user, cb),
      // Design fix sessions-in-postgres: the SessionStore's statements are the users' requests' too.
      insertSession: (jti, user, ttlUs, cb) => users.insertSession(jti, user, ttlUs, cb),
      sessionOfUser: (jti, user, cb) => users.sessionOfUser(jti, user, cb),
      deleteSession: (jti, cb) => users.deleteSession(jti, cb),
      clearSessions: (cb) => users.clearSessions(cb),
    },
    redis: {
      set: (key, value, ex, cb) => redis.set(key, value, ex, cb),
      get: (key, cb) => redis.get(key, cb),
      del: (key, cb) => redis.del(key, cb),
      delIfValue: (key, value, alsoKeys, cb) => redis.delIfValue(key, value, alsoKeys, cb),
      expire: (key, seconds, cb) => redis.expire(key, seconds, cb),
      publish: (channel, message, cb) => redis.publish(channel, message, cb),
    },
    pubsub: {
      subscribe: (channel, handlers) => new RedisPubSub(ctx, channel, handlers, { target: targets.redis() }),
    },
    ping: (cb) => redis.ping(cb, targets.pingTimeoutUs),
    cache: cachePort(new RedisClient(ctx, { target: targets.redis(), db: 0, timeouts: 'per-connection' })),
  };
}
