import type { RpcResult } from '../net/rpc.ts';

/**
 * What the API pod needs from Redis and PostgreSQL, as narrow ports. The pod's modules are written
 * against these; `api-pod.ts` binds them to the Redis and PostgreSQL clients. A result is an
 * RpcResult: `connection`/`timeout`/`server` errors are what go-redis and database/sql return.
 */
export interface HubRedisPort {
  /** `SET key value EX seconds` (agent_hub.go:279,285). */
  set(key: string, value: string, exSeconds: number, cb: (r: RpcResult<unknown>) => void): void;
  /** `GET key`; a missing key is `null`. */
  get(key: string, cb: (r: RpcResult<string | null>) => void): void;
  /** `DEL key` (agent_hub.go:335,341). */
  del(key: string, cb: (r: RpcResult<unknown>) => void): void;
  /** Design fix `conditional-unregister`: compare-and-delete (`key` must hold `value`). */
  delIfValue(key: string, value: string, alsoKeys: string[], cb: (r: RpcResult<unknown>) => void): void;
  /** `EXPIRE key seconds`; never re-creates a missing key (agent_hub.go:647,653). */
  expire(key: string, seconds: number, cb: (r: RpcResult<unknown>) => void): void;
  /** `PUBLISH channel message`; the value is the number of receivers, which the hub ignores. */
  publish(channel: string, message: string, cb: (r: RpcResult<number>) => void): void;
}

export interface HubDbPort {
  /** handleRegister: status online, last_heartbeat, updated_at (agent_hub.go:264-273). */
  setAgentOnline(agentId: string, cb: (r: RpcResult<unknown>) => void): void;
  /** handleUnregister: status offline (agent_hub.go:320-329). */
  setAgentOffline(agentId: string, cb: (r: RpcResult<unknown>) => void): void;
  /** UpdateAgentHeartbeat (agent_hub.go:631-641). */
  updateAgentHeartbeat(agentId: string, cb: (r: RpcResult<unknown>) => void): void;
}

/**
 * A go-redis PubSub (v9): SUBSCRIBE, then the first Receive returns the confirmation or an error.
 * After that, go-redis reconnects and resubscribes by itself after connection errors; messages
 * published during the gap are lost (spec §2.3 listenRedisCommands, step 4).
 */
export interface PubSubPort {
  subscribe(channel: string, handlers: { onConfirm(r: RpcResult<unknown>): void; onMessage(payload: string): void }): { close(): void };
}
