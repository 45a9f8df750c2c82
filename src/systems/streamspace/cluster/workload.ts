import type { BootFn } from '../../../sim-cluster/index.ts';
import { RpcClient } from '../net/rpc.ts';
import type { WorkloadConfig } from '../config.ts';
import type { HttpRequest, HttpResponse } from '../wire.ts';
import type { ApiServiceEndpoints } from './api-service.ts';

export interface WorkloadOptions {
  config: WorkloadConfig;
  endpoints: ApiServiceEndpoints;
  /** The agent ids sessions can be placed on (the shared id, or each replica's own). */
  agentIds: () => readonly string[];
}

/**
 * Users of StreamSpace (spec §5.2 producers): every request lands on a random ready API pod through
 * the Service and becomes a command row there. Requests come at uniformly random intervals in
 * [0, 2 × requestIntervalUs]; a share `createFraction` creates a session (start_session) on a random
 * agent id, the rest delete one created earlier (stop_session), through the agent id that created
 * it (the session row's agent_id, §5.2). Each request is one HTTP request on a new connection; the
 * command id is the request id, so a checker can follow it end to end.
 */
export function workload(options: WorkloadOptions): BootFn {
  return (ctx) => {
    const { config } = options;
    const rng = ctx.random('requests');
    /** Sessions created, each with the agent id that runs it. */
    const sessions: Array<{ id: string; agentId: string }> = [];
    let next = 0;
    const send = (): void => {
      const pod = options.endpoints.pick(rng);
      const agents = options.agentIds();
      const n = next++;
      const create = sessions.length === 0 || rng.chance(config.createFraction);
      // Drawn for every request, deletes too, so that the stream's numbers do not depend on which
      // requests create; with one shared agent id both choices name it.
      const drawn = rng.pick(agents);
      const deleted = create ? null : sessions.splice(rng.int(0, sessions.length - 1), 1)[0]!;
      const sessionId = deleted === null ? `session-${n}` : deleted.id;
      const agentId = deleted === null ? drawn : deleted.agentId;
      const request: HttpRequest = create
        ? { op: 'create-session', sessionId, agentId, requestId: `cmd-${n}` }
        : { op: 'delete-session', sessionId, agentId, requestId: `cmd-${n}` };
      ctx.record('user.request', { command: request.requestId, op: request.op, session: sessionId, agent: agentId, pod });
      if (pod !== null) {
        const client = new RpcClient(ctx, { target: pod, connectTimeoutUs: 30_000_000, requestTimeoutUs: 30_000_000, timeoutIncludesDial: true });
        client.call<HttpResponse>(request, (r) => {
          client.close();
          const status = r.ok ? r.value.status : 0;
          ctx.record('user.response', { command: request.requestId, status });
          if (create && status === 200) sessions.push({ id: sessionId, agentId });
        });
      }
      ctx.setTimer(rng.int(0, 2 * config.requestIntervalUs), send, 'user.request');
    };
    if (config.requestIntervalUs > 0) ctx.setTimer(config.startUs, send, 'user.request');
    return {};
  };
}
