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

/** WebSocket frames on a simulated connection (RFC 6455 data and control frames). */
export type WsFrame =
  | { ws: 'text'; messages: AgentMessage[] }
  | { ws: 'ping' }
  | { ws: 'pong' }
  | { ws: 'close' };

/** The HTTP requests an API pod serves (over RpcClient/serveRpc, one request per connection). */
export type HttpRequest =
  | { op: 'register-agent'; agentId: string }
  | { op: 'ws-upgrade'; agentId: string }
  | { op: 'create-session'; sessionId: string; agentId: string; requestId: string }
  | { op: 'delete-session'; sessionId: string; agentId: string; requestId: string }
  /** Admin `POST /agents/:id/command` (§5.2): IsAgentConnected first (503 if false), then insert and dispatch. */
  | { op: 'admin-command'; agentId: string; action: string; requestId: string };

export type HttpResponse = { status: number; body?: string };
