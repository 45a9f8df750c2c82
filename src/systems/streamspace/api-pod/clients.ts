import type { Micros, ProcessContext } from '../../../sim-cluster/index.ts';
import { ok, type RpcResult } from '../net/rpc.ts';
import { PostgresClient } from '../postgres/client.ts';
import type { CommandRow } from '../postgres/tables.ts';
import { RedisClient, RedisPubSub } from '../redis/client.ts';
import type { ApiPodClients } from './api-pod.ts';
import type { DispatchedCommand } from './command-dispatcher.ts';

export interface ApiPodClientTargets {
  /** Process name of PostgreSQL. */
  postgres: string;
  /** Process name of Redis. */
  redis: string;
  /** Deadline of the start-up PING (§4: 5 s). */
  pingTimeoutUs: Micros;
  /** Design fix `guarded-status-writes`. */
  guardedStatusWrites: boolean;
}

/** Binds the API pod's ports to a lib/pq-like PostgreSQL client and go-redis clients. */
export function apiPodClients(ctx: ProcessContext, targets: ApiPodClientTargets): ApiPodClients {
  const pg = new PostgresClient(ctx, { target: targets.postgres, guardedStatusWrites: targets.guardedStatusWrites });
  const toDispatched = (row: CommandRow): DispatchedCommand => ({
    commandId: row.commandId, agentId: row.agentId, action: row.action, sessionId: row.sessionId ?? '',
  });
  const redis = new RedisClient(ctx, { target: targets.redis });
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
      insertCommand: (row, cb) => pg.insertCommand({ ...row, payload: null }, cb),
      upsertAgentOnRegister: (agentId, cb) => pg.upsertAgentOnRegister(agentId, cb),
      agentExists: (agentId, cb) => pg.getAgent(agentId, (r) => cb(r.ok ? ok(r.value !== null) : (r as RpcResult<never>))),
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
      subscribe: (channel, handlers) => new RedisPubSub(ctx, channel, handlers, { target: targets.redis }),
    },
    ping: (cb) => redis.ping(cb, targets.pingTimeoutUs),
  };
}
