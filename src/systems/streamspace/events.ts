import { vocabulary, type Micros } from '../../sim-cluster/index.ts';
import type { RpcErrorKind } from './net/rpc.ts';

/**
 * The StreamSpace trace events that its view (`invariants/cluster-view.ts`) and checkers read, with
 * their details. Components record them through `events.record`, readers get them through
 * `events.details`: the map is the contract between the two. Other kinds (a component's own
 * diagnostics) are recorded with plain `ctx.record`.
 */
export interface StreamSpaceEvents {
  /** The API server committed a Lease write (api-server.ts). */
  'lease.create': LeaseWritten;
  'lease.update': LeaseWritten;
  /** OnStartedLeading: the replica's elector acquired the Lease (leader-elector.ts). */
  'elector.acquired': { lease: string; identity: string; transitions: number };
  /** OnStoppedLeading; `led`: whether it had led. */
  'elector.stopped-leading': { lease: string; led: boolean };
  /** The hub's map now holds this connection for the agent (agent-hub.ts). */
  'hub.register': { agent: string; conn: string };
  'hub.unregister': { agent: string; conn: string };
  /** The agent replica's WebSocket to an API pod is up (k8s-agent.ts). */
  'agent.connected': { agent: string; pod: string; conn: string };
  /** The effect record: a replica starts executing a command, under the lease it believes it holds. */
  'agent.execute': {
    command: string; agent: string; action: string; session: string;
    lease: string | null; transitions: number | null; electorLeads: boolean | null;
  };
  'agent.executed': { command: string; agent: string; ok: boolean };
  /** The platform refused a fenced write (fix `fenced-effects`): no effect. */
  'agent.fenced': { command: string; agent: string; stage: string; token: number | null };
  /** A command row committed (postgres/server.ts): from then on any pod may dispatch it. */
  /** `wid`: the write's id, on a pooled client's writes (postgres/statements.ts), so a failover's `pg.lost-writes` can take it back. */
  'db.command.insert': { command: string; agent: string; action: string; client: string; wid?: string };
  /** A command row's status changed; `by` names the statement, `error` a failure's message. */
  'db.command.status': { command: string; agent: string; from: string; to: string; by: string; client: string; error?: string; wid?: string };
  /** The API pod wrote a WebSocket frame to the agent (agent-socket.ts). */
  'ws.frame-out': { conn: string; agent: string; messages: number; commands: string[] };
  /** The recovery prober found the cluster healthy (invariants/bounded-recovery.ts). */
  'recovery.healthy': { afterUs: Micros; probes: number };
}

interface LeaseWritten {
  lease: string;
  holder: string;
  transitions: number;
  rv: number;
  by: string;
}

export const events = vocabulary<StreamSpaceEvents>();

/**
 * Kinds recorded with plain `ctx.record` (a component's diagnostics, the kernel's actor states)
 * whose details the explainer (`explain/`) reads. Declared here, with the component that records
 * each, so that those reads are typed; recording them through `events.record` instead would change
 * nothing in the trace (same kind, same details), only who checks the shape.
 */
export interface StreamSpaceDiagnostics {
  /** The kernel's xstate adapter: an actor's state value changed (`agent` in k8s-agent.ts, `hub` in agent-hub.ts). */
  'actor.state': { actor: string; state: unknown };
  /** An API pod started with (true) or without (false, single-pod mode) its Redis hub (api-pod.ts). */
  'api.redis-mode': { enabled: boolean };
  /** The hub's register or unregister got an error back from Redis for one key (agent-hub.ts). */
  'hub.redis-error': { op: 'set' | 'del' | 'del-if-value'; key: string; error: RpcErrorKind };
  /** The hub found a connection whose last ping is older than the stale threshold (agent-hub.ts). */
  'hub.stale': { agent: string; conn: string; ageUs: Micros };
  /** readPump failed a read and goes to Reconnect (k8s-agent.ts). */
  'agent.read-error': { agent: string; why: string };
  /** Redis applied a SET (redis/server.ts). `db` only for a database other than the hub's DB 1 (the cache's DB 0). */
  'redis.set': { key: string; value: string; ex: number | null; db?: number };
  /** Redis applied a DEL (or a compare-and-delete) that removed at least one key (redis/server.ts). */
  'redis.del': { keys: string[]; removed: number; db?: number };
  /** A key's TTL ran out, or the keyspace evicted it (redis/keyspace.ts, through server.ts). */
  'redis.expired': { key: string; db?: number };
  'redis.evicted': { key: string; db?: number };
  /** A Redis incarnation started with `keys` keys (redis/server.ts). */
  'redis.start': { keys: number; fromSnapshot: boolean };
  /** The dispatcher queued a command (command-dispatcher.ts). */
  'dispatcher.queued': { command: string; depth: number };
  /** The dispatcher marked a command failed (command-dispatcher.ts). */
  'dispatcher.failed': { command: string; error: string; recorded: boolean };
  /** SendCommandToAgent's outcome; `pod` on the publish path, `conn` on the local one (agent-hub.ts). */
  'hub.send': { command: string; agent: string; path: 'local' | 'none' | 'redis-lookup' | 'publish'; conn?: string; pod?: string; ok: boolean; receivers?: number };
}

/** The typed reader of the diagnostic kinds (their producers record them with `ctx.record`). */
export const diagnostics = vocabulary<StreamSpaceDiagnostics>();
