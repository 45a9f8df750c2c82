import type { Micros } from '../../../sim-cluster/index.ts';
import { INGRESS_NODE, POSTGRES, type StreamSpaceCluster } from '../cluster/cluster.ts';
import { RpcClient } from '../net/rpc.ts';
import type { HttpRequest, HttpResponse } from '../wire.ts';
import type { ScriptedAction } from './define.ts';
import { agentInCharge, agentPod, otherApiPod } from './targets.ts';

/** `kubectl delete pod` of the API pod the agent in charge is connected to. */
export function deleteAgentPod(at: Micros): ScriptedAction {
  return {
    at, what: 'delete the API pod the agent is connected to',
    run: (cluster, view) => {
      const pod = agentPod(cluster, view);
      if (pod !== null) cluster.deletePod(pod);
    },
    asFault: { kind: 'delete', at, target: { role: 'agent-host' } },
  };
}

/** `kubectl delete pod` of an API pod the agent is not connected to (the `index`-th such pod). */
export function deleteOtherApiPod(at: Micros, index = 0): ScriptedAction {
  return {
    at, what: 'delete an API pod the agent is not connected to',
    run: (cluster, view) => {
      const pod = otherApiPod(cluster, view, index);
      if (pod !== null) cluster.deletePod(pod);
    },
    asFault: { kind: 'delete', at, target: { role: 'api', index } },
  };
}

/** `kubectl delete pod` of the agent replica that holds the Lease. */
export function deleteLeader(at: Micros): ScriptedAction {
  return {
    at, what: 'delete the leading agent pod',
    run: (cluster, view) => {
      const leader = agentInCharge(cluster, view);
      if (leader !== null) cluster.deletePod(leader);
    },
    asFault: { kind: 'delete', at, target: { role: 'leader' } },
  };
}

/**
 * `psql -c "INSERT INTO agent_commands (...) VALUES (..., 'pending')"` (report 003, step 1): a row
 * written straight into the table, which no API pod hears of; only a start-up pending scan (§5.3)
 * dispatches it. Recorded as the server records producers' inserts, with client `psql`.
 */
export function insertPendingRow(at: Micros, commandId: string, action: string): ScriptedAction {
  return {
    at, what: `psql: INSERT ${commandId} (action ${action}, status pending) into agent_commands`,
    run: (cluster) => {
      const agentId = cluster.agentIds()[0]!;
      const wall = cluster.sim.process(cluster.postgresPrimary).node.clock.wall(cluster.sim.now);
      cluster.postgres.insertCommand({ commandId, agentId, sessionId: null, action, payload: null }, wall, wall);
      cluster.sim.trace.record(cluster.sim.now, POSTGRES, 'db.command.insert', { command: commandId, agent: agentId, action, client: 'psql' });
    },
  };
}

/** `kubectl scale deployment streamspace-api --replicas=N`. */
export function scaleApi(at: Micros, replicas: number): ScriptedAction {
  return { at, what: `kubectl scale deployment streamspace-api --replicas=${replicas}`, run: (cluster) => cluster.scaleApi(replicas) };
}

/**
 * A stop-the-world pause of the API pod the agent is connected to (CPU starvation, a long GC,
 * SIGSTOP): its kernel still accepts data, nothing answers, and on resume its overdue timers fire
 * (the stale sweep, the read deadline). The scenario's heal resumes it.
 */
export function pauseAgentPod(at: Micros, durationUs: Micros): ScriptedAction {
  return {
    at, what: `the agent's API pod stops the world for ${durationUs / 1_000_000} s`,
    run: (cluster, view) => {
      const pod = agentPod(cluster, view);
      if (pod !== null) cluster.sim.pause(pod);
    },
    asFault: { kind: 'pause', at, target: { role: 'agent-host' }, durationUs },
  };
}

/** The worker node of the API pod the agent is connected to fails with everything on it; the scenario's heal brings it back. */
export function failAgentPodNode(at: Micros, durationUs: Micros): ScriptedAction {
  return {
    at, what: 'the node of the API pod the agent is connected to fails',
    run: (cluster, view) => {
      const pod = agentPod(cluster, view);
      if (pod !== null) cluster.failNode(cluster.podNode(pod));
    },
    asFault: { kind: 'node-failure', at, target: { role: 'agent-host' }, durationUs },
  };
}

/** Which API pod an operator's command goes to: the agent's own, or one without the agent. */
export type PodChoice = 'agent-pod' | 'other-pod';

/**
 * An operator's `POST /api/v1/agents/:id/command` (spec §5.2 admin producer) sent straight to one
 * API pod, as `kubectl port-forward` would; the answer is recorded as `operator.response`.
 */
export function adminCommand(at: Micros, choice: PodChoice, commandId: string, action: string): ScriptedAction {
  return {
    at, what: `operator: POST /agents/:id/command ${commandId} (action ${action}) on the ${choice === 'agent-pod' ? 'agent\'s API pod' : 'API pod without the agent'}`,
    run: (cluster, view) => {
      const pod = choice === 'agent-pod' ? agentPod(cluster, view) : otherApiPod(cluster, view);
      // The operator's process boots at this instant; it acts once it is up.
      if (!cluster.sim.hasProcess('operator')) cluster.sim.addProcess({ name: 'operator', node: INGRESS_NODE, boot: () => ({}) });
      cluster.sim.after(0, () => send(cluster, pod), 'scenario.operator');
    },
  };

  function send(cluster: StreamSpaceCluster, pod: string | null): void {
    const ctx = cluster.sim.process('operator').ctx!;
    if (pod === null) return ctx.record('operator.response', { command: commandId, pod: null, status: 0 });
    const client = new RpcClient(ctx, { target: pod, requestTimeoutUs: 30_000_000, connectTimeoutUs: 30_000_000, timeoutIncludesDial: true });
      const request: HttpRequest = { op: 'admin-command', agentId: cluster.agentIds()[0]!, action, requestId: commandId };
    client.call<HttpResponse>(request, (r) => {
      client.close();
      ctx.record('operator.response', { command: commandId, pod, status: r.ok ? r.value.status : 0 });
    });
  }
}
