/**
 * The agent ↔ API wire protocol (spec streamspace-v2-behavior §1). An AgentMessage is one JSON
 * object; the model keeps it as a plain object instead of serialising it, and represents a
 * WebSocket text frame as the list of messages it carries, which is what the framing quirk is
 * about: the API's writePump may coalesce queued messages into one frame, and the agents treat a
 * frame as exactly one JSON object, so a frame carrying more than one message fails to parse.
 */
export type AgentMessage =
  | { type: 'command'; commandId: string; action: string; sessionId: string }
  | { type: 'heartbeat'; status: 'online'; activeSessions: number; capacity: number }
  | { type: 'ack'; commandId: string }
  | { type: 'complete'; commandId: string }
  | { type: 'failed'; commandId: string; error: string }
  | { type: 'status'; sessionId: string; state: string };

/**
 * The command ids of a frame's messages, in order (a frame's trace details). A loop rather than a
 * `flatMap`, which makes an array per message: the API pods write a frame every few events.
 */
export function commandIds(messages: readonly AgentMessage[]): string[] {
  const ids: string[] = [];
  for (const m of messages) if (m.type === 'command') ids.push(m.commandId);
  return ids;
}

/** WebSocket frames on a simulated connection (RFC 6455 data and control frames). */
export type WsFrame =
  | { ws: 'text'; messages: AgentMessage[] }
  | { ws: 'ping' }
  | { ws: 'pong' }
  | { ws: 'close' };

/**
 * A user's JWT as the model carries it: its `jti` (the session id, `session:{jti}` in Redis) and the
 * user it names. The signature is always valid: every API pod shares JWT_SECRET (api/cmd/main.go:309),
 * so any pod accepts any token its session store accepts.
 */
export interface Token {
  jti: string;
  user: number;
}

/**
 * The HTTP requests an API pod serves (over RpcClient/serveRpc). The agents' requests and the
 * background `workload` carry no token; the users of the load generator (`load/`) do, and go
 * through AuthMiddleware when the pod runs its session store (`api.cacheEnabled`).
 */
export type HttpRequest =
  | { op: 'register-agent'; agentId: string }
  | { op: 'ws-upgrade'; agentId: string }
  | { op: 'create-session'; sessionId: string; agentId: string; requestId: string; token?: Token }
  | { op: 'delete-session'; sessionId: string; agentId: string; requestId: string; token?: Token }
  /** Admin `POST /agents/:id/command` (§5.2): IsAgentConnected first (503 if false), then insert and dispatch. */
  | { op: 'admin-command'; agentId: string; action: string; requestId: string }
  /** `POST /api/v1/auth/login` (auth/handlers.go:236): the token's jti is chosen by the pod. */
  | { op: 'login'; user: number }
  /** `POST /api/v1/auth/logout` (auth/handlers.go:345), behind AuthMiddleware. */
  | { op: 'logout'; token: Token }
  /** `GET /api/v1/sessions` (api/cmd/main.go:614), behind AuthMiddleware and CacheMiddleware. */
  | { op: 'list-sessions'; token: Token };

/** `token`: the JWT a login answers with. */
export type HttpResponse = { status: number; body?: string; token?: Token };
