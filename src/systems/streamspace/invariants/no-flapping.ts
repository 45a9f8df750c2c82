import { formatTime } from '../../../sim-cluster/index.ts';
import type { StreamSpaceConfig } from '../config.ts';
import type { AgentConnection, ClusterView } from './cluster-view.ts';
import { formatBound, type BoundTerm, type Monitor, type RunWindow, type Violation } from '../../../invariants/monitor.ts';

/**
 * How many times one agent id's connection may be replaced in the fault-free stretch after the
 * recovery bound. One: the connection an agent id holds at H + B was made before or during
 * recovery, possibly over state the faults left behind that no check up to then exercised (a socket
 * half-open since a node failure, a hub entry a paused pod registered late; spec §7.3, §10); one
 * replacement is the system's correct answer to such a leftover. A connection made in the stretch
 * itself was made over a healed network to a live pod, with nothing left to clear: if it is
 * replaced again, connections do not hold in a healthy cluster.
 */
export const FLAP_LIMIT = 1;

/**
 * The longest a healthy cluster takes to notice that a connection made in the fault-free stretch
 * is dead and to make the next one: the slowest liveness check of the connection (the agent's read
 * deadline, §7.2 pongWait 60 s; the API's read deadline, §10, 60 s; the hub's stale threshold plus
 * its sweep, §2.4, 45 + 10 s), then the first reconnect backoff step (§7.5, 2 s), then registration
 * and the WebSocket dial, each at most its timeout (§7.2, 10 s + 10 s). A flap shows its second
 * replacement within this of the first, so the stretch `no-flapping` watches must be at least this
 * long (the run's stretch after H + B is at least the longest command plus 10 s: 130 s by default;
 * longer when the run's own work, a scenario's users, outlasts the heal: `RunOptions.workUntil`).
 */
export function replacementCycle(config: StreamSpaceConfig): BoundTerm[] {
  const a = config.agent;
  const h = config.api.hub;
  return [
    { what: 'slowest liveness check: max(agent pongWait, API pongWait, stale threshold + sweep)', us: Math.max(a.pongWaitUs, config.api.ws.pongWaitUs, h.staleThresholdUs + h.staleSweepUs) },
    { what: 'first reconnect backoff step', us: a.reconnectBackoffUs[0] ?? 0 },
    { what: 'registration + dial timeouts', us: a.registerTimeoutUs + a.dialTimeoutUs },
  ];
}

/**
 * No agent id's connection is replaced again and again once the cluster must have recovered: from
 * the heal plus the recovery bound (H + B) to the end of the run, no faults act, and by H + B every
 * agent id holds one routed connection (`bounded-recovery`). Every `agent.connected` of an agent id
 * that had a connection before replaces it (the new socket takes over the id in the hub and in
 * Redis, spec §2.2, §4). More than FLAP_LIMIT replacements of one id in that stretch is flapping:
 * two replicas taking the id from each other, or connections that die as soon as they are made.
 * The stretch (at least the longest command + 10 s) is the whole window W: it is longer than one
 * `replacementCycle`, so a connection made early in it that does not hold is replaced again within it.
 *
 * No fault acts in the stretch, but Kubernetes may still delete pods in it for reasons of its own:
 * the HPA scaling the API Deployment down once a load is gone (seed 004's 10 → 3, in steps, from
 * 300 s after the load stops), an eviction, a rollout. A replacement whose predecessor's API pod or
 * agent replica was deleted between the two connections is the system's answer to that deletion
 * (the agent reconnects, spec §7.5), not a connection that failed to hold: it is not counted.
 * Without this, seed 004's node failures counted the two scale-down steps that each removed the
 * pod the agent had just reconnected to as flapping (r004-node-failure seed 130, hardened).
 */
export function noFlapping(config: StreamSpaceConfig): Monitor<ClusterView> {
  const cycle = replacementCycle(config);
  return {
    id: 'no-flapping',
    definition:
      'From the heal plus the recovery bound (H + B) to the end of the run (a fault-free stretch of at least the longest command + 10 s), '
      + `no agent id's connection is replaced (an agent.connected for an id that had a connection) more than ${FLAP_LIMIT === 1 ? 'once' : `${FLAP_LIMIT} times`}: `
      + 'one replacement may clear a leftover of the faults in the connection held at H + B; a connection made in the healed cluster that is replaced again is flapping. '
      + 'A replacement of a connection whose API pod or agent replica Kubernetes deleted in between (a scale-down, an eviction) is not counted. '
      + `The stretch outlasts one detect-and-reconnect cycle, ${formatBound(cycle).replace(/^B = /, '')}, so such a flap shows within it.`,
    atEnd(view: ClusterView, window: RunWindow): Violation | null {
      const from = window.healAt + window.boundUs;
      for (const [agentId, opened] of view.connectionsOpened) {
        // The first connection an id ever opens replaces nothing (a new agent pod's own id).
        const replacements = opened.filter((c, i) => i > 0 && c.t >= from && c.t <= window.endAt && !deletedUnder(view, opened[i - 1]!, c.t));
        if (replacements.length <= FLAP_LIMIT) continue;
        return {
          invariant: 'no-flapping',
          time: replacements[FLAP_LIMIT]!.t,
          message: `${agentId}'s connection was replaced ${replacements.length} times after H + B = ${formatTime(from)} (at most ${FLAP_LIMIT}): `
            + replacements.map((c) => `${c.replica} → ${c.pod} (${c.conn}) at ${formatTime(c.t)}`).join(', '),
          evidence: [],
        };
      }
      return null;
    },
  };
}

/** Whether Kubernetes deleted the pod or the agent replica of connection `c` before `until` (the next connection). */
function deletedUnder(view: ClusterView, c: AgentConnection, until: number): boolean {
  return view.deletedBetween(c.pod, c.t, until) || view.deletedBetween(c.replica, c.t, until);
}
