import { ConfigError, type Resolved, type RunMeasures, type System } from '../../contract/system.ts';
import { agentMachine } from './agent/k8s-agent-machine.ts';
import { writerMachine } from './agent/write-pump-machine.ts';
import { apiPodMachine } from './api-pod/api-pod-machine.ts';
import { dispatcherWorkerMachine } from './api-pod/command-dispatcher-machine.ts';
import { hubLoopMachine } from './api-pod/hub-loop-machine.ts';
import { StreamSpaceCluster } from './cluster/cluster.ts';
import { resolveConfig, SETTLE_US, type ConfigOverrides, type StreamSpaceConfig } from './config.ts';
import { configProblem, overridesProblem, withoutSchemaKey } from './config-schema.ts';
import { STREAMSPACE_DEPLOYMENTS } from './deployments.ts';
import { streamspaceExplainer } from './explain/index.ts';
import { STREAMSPACE_FAULT_KINDS, STREAMSPACE_PLATFORM, STREAMSPACE_ROLES } from './faults.ts';
import { boundedRecovery, recoveryBound, startRecoveryProber, unhealthyBecause } from './invariants/bounded-recovery.ts';
import { ClusterView } from './invariants/cluster-view.ts';
import { hpaConverges } from './invariants/hpa-converges.ts';
import { noDuplicateExecution } from './invariants/no-duplicate-execution.ts';
import { noFlapping } from './invariants/no-flapping.ts';
import { noLostAcknowledgedWrite } from './invariants/no-lost-acknowledged-write.ts';
import { noLostCommands } from './invariants/no-lost-commands.ts';
import { noLostSession } from './invariants/no-lost-session.ts';
import { noSplitBrain } from './invariants/no-split-brain.ts';
import { requestMeasures } from './invariants/request-availability.ts';
import { revocation } from './invariants/revocation.ts';
import { routingAvailability } from './invariants/routing-availability.ts';
import { kubeletContainerMachine } from './kube/kubelet-container-machine.ts';
import { podContainerMachine } from './cluster/pod-container-machine.ts';
import { electorMachine } from './kube/leader-elector-machine.ts';
import { rpcConnectionMachine } from './net/rpc-connection-machine.ts';
import { patroniMachine } from './postgres/patroni-machine.ts';
import { DESIGN_FIXES, PROFILES } from './profiles.ts';
import { pubSubMachine } from './redis/pubsub-machine.ts';
import { sentinelFailoverMachine } from './redis/sentinel-failover-machine.ts';
import { SCENARIOS } from './scenarios/index.ts';
import { STREAMSPACE_REPORT } from './scenarios/report.ts';

/** Merges two override sets section by section (the second wins). */
export function mergeOverrides(a: ConfigOverrides, b: ConfigOverrides): ConfigOverrides {
  const out: Record<string, Record<string, unknown>> = {};
  for (const src of [a, b]) {
    for (const [section, fields] of Object.entries(src)) out[section] = { ...out[section], ...(fields as Record<string, unknown>) };
  }
  return out as ConfigOverrides;
}

/** Checks overrides from outside (a `--config` file, a trace file) before anything merges them. */
function checked(overrides: unknown): ConfigOverrides {
  const problem = overridesProblem(overrides);
  if (problem !== null) throw new ConfigError(problem);
  return withoutSchemaKey(overrides as Record<string, unknown>) as ConfigOverrides;
}

/** Several measures as one: each started in turn, their figures in order. */
function allOf<I, V>(...measures: ReadonlyArray<RunMeasures<I, V>>): RunMeasures<I, V> {
  return {
    start(instance, view, fromUs, toUs) {
      for (const m of measures) m.start(instance, view, fromUs, toUs);
    },
    figures: (view, window) => measures.flatMap((m) => m.figures(view, window)),
  };
}

/**
 * Resolves checked overrides and checks the result: the rules between fields (election timing) hold
 * only for the configuration as a whole, wherever each value came from.
 */
function resolved(overrides: ConfigOverrides): Resolved<StreamSpaceConfig> {
  let config: StreamSpaceConfig;
  try {
    config = resolveConfig(overrides);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const problem = configProblem(config);
  if (problem !== null) throw new ConfigError(problem);
  return { config, fixes: DESIGN_FIXES.filter((f) => config.fixes[f.field]).map((f) => f.name) };
}

/**
 * The StreamSpace v2 HA control plane (commit 15f3690) as a hasim System: API pods with the
 * Redis-backed AgentHub, k8s-agent replicas electing a leader on a Lease, the CommandDispatcher over
 * PostgreSQL, on a simulated Kubernetes cluster. Profiles: `streamspace-v2` (as built) and
 * `hardened` (every design fix); see docs/streamspace-model.md and docs/fixes.md.
 */
export const streamspace: System<StreamSpaceConfig, StreamSpaceCluster, ClusterView> = {
  name: 'streamspace',
  description: 'StreamSpace v2 HA control plane: AgentHub over Redis pub/sub, Lease-elected agents, CommandDispatcher over PostgreSQL',
  profiles: Object.values(PROFILES).map((p) => ({ name: p.name, description: p.description, overrides: p.config })),
  fixes: DESIGN_FIXES.map((f) => ({ name: f.name, change: f.change, removes: f.removes })),
  resolve(profile, overrides = {}, fixes = []) {
    const p = PROFILES[profile];
    if (p === undefined) throw new ConfigError(`unknown profile '${profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
    const own = checked(overrides);
    const unknown = fixes.find((name) => !DESIGN_FIXES.some((f) => f.name === name));
    if (unknown !== undefined) throw new ConfigError(`unknown fix '${unknown}' (known: ${DESIGN_FIXES.map((f) => f.name).join(', ')})`);
    const switched = { fixes: Object.fromEntries(DESIGN_FIXES.filter((f) => fixes.includes(f.name)).map((f) => [f.field, true])) };
    return resolved(mergeOverrides(mergeOverrides(p.config, own), fixes.length > 0 ? switched : {}));
  },
  reresolve: (recorded) => resolved(checked(recorded)),
  build: ({ seed, config, simulation }) => new StreamSpaceCluster({ seed, config, simulation }),
  createView: () => new ClusterView(),
  settleUs: SETTLE_US,
  roles: STREAMSPACE_ROLES,
  platform: STREAMSPACE_PLATFORM,
  faults: STREAMSPACE_FAULT_KINDS,
  // The lost-command check waits for the longest command (start_session) before calling a command lost.
  // The session and HPA checks judge only what the load generator and the HPA record: on a
  // configuration without them they never fire.
  invariants: (config) => [
    noSplitBrain, noDuplicateExecution, noLostCommands(config.agent.startSessionUs[1]), boundedRecovery, noFlapping(config),
    noLostSession(config), revocation, hpaConverges(config), noLostAcknowledgedWrite,
  ],
  recovery: {
    bound: recoveryBound,
    drainUs: (config) => config.agent.startSessionUs[1],
    start: (cluster, view, healAt) => startRecoveryProber(cluster, view, healAt),
    atEnd(cluster, view) {
      view.lastUnhealthy = unhealthyBecause(cluster, view);
    },
    recoveredAt: (view) => view.recoveredAt,
  },
  // Routing availability on every measured run; request availability, latency and RTOs besides on a run with a load.
  measures: allOf(routingAvailability, requestMeasures),
  deployments: STREAMSPACE_DEPLOYMENTS,
  explain: streamspaceExplainer,
  // The components with modes, in the order docs/machines.md draws them: control plane first, then the datastores.
  machines: [
    electorMachine, kubeletContainerMachine, podContainerMachine, apiPodMachine, hubLoopMachine, dispatcherWorkerMachine, agentMachine, writerMachine,
    rpcConnectionMachine, pubSubMachine, sentinelFailoverMachine, patroniMachine,
  ],
  scenarios: SCENARIOS,
  scenarioReport: STREAMSPACE_REPORT,
};
