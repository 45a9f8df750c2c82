import type { Micros } from '../../sim-cluster/index.ts';
import { POSTGRES } from '../cluster/cluster.ts';
import type { ScriptedAction } from './runner.ts';
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
      const wall = cluster.sim.process(POSTGRES).node.clock.wall(cluster.sim.now);
      cluster.postgres.insertCommand({ commandId, agentId, sessionId: null, action, payload: null }, wall, wall);
      cluster.sim.trace.record(cluster.sim.now, POSTGRES, 'db.command.insert', { command: commandId, agent: agentId, action, client: 'psql' });
    },
  };
}
