import { vocabulary, type Micros } from '../../sim-cluster/index.ts';

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
  'db.command.insert': { command: string; agent: string; action: string; client: string };
  /** A command row's status changed; `by` names the statement, `error` a failure's message. */
  'db.command.status': { command: string; agent: string; from: string; to: string; by: string; client: string; error?: string };
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
