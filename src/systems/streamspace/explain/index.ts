import type { Explainer } from '../../../contract/explain.ts';
import { connectionLanes, leaseLanes, processLanes, routingLanes } from './lanes.ts';
import { commandsOf, narrateRun } from './narrate.ts';

/**
 * StreamSpace's runs told to people: a lane per process (with kubelet readiness), the Lease holder,
 * the API pods holding the agent's connection and the Redis routing key; the key events, with every
 * step of the commands a violation names and the causes the trace shows for them (narrate.ts).
 */
export const streamspaceExplainer: Explainer = {
  lanes: (events, end) => [...processLanes(events, end), ...leaseLanes(events, end), ...connectionLanes(events, end), ...routingLanes(events, end)],
  narrate: (events, violation) => narrateRun(events, commandsOf(violation, events), violation),
};
