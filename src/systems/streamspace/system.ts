import { ConfigError, type Resolved, type System } from '../../contract/system.ts';
import { StreamSpaceCluster } from './cluster/cluster.ts';
import { DEFAULT_CONFIG, resolveConfig, SETTLE_US, type ConfigOverrides, type StreamSpaceConfig } from './config.ts';
import { streamspaceExplainer } from './explain/index.ts';
import { STREAMSPACE_FAULT_KINDS, STREAMSPACE_PLATFORM, STREAMSPACE_ROLES } from './faults.ts';
import { boundedRecovery, recoveryBound, startRecoveryProber, unhealthyBecause } from './invariants/bounded-recovery.ts';
import { ClusterView } from './invariants/cluster-view.ts';
import { noDuplicateExecution } from './invariants/no-duplicate-execution.ts';
import { noLostCommands } from './invariants/no-lost-commands.ts';
import { noSplitBrain } from './invariants/no-split-brain.ts';
import { DESIGN_FIXES, PROFILES } from './profiles.ts';
import { SCENARIOS } from './scenarios/index.ts';

/** Merges two override sets section by section (the second wins). */
export function mergeOverrides(a: ConfigOverrides, b: ConfigOverrides): ConfigOverrides {
  const out: Record<string, Record<string, unknown>> = {};
  for (const src of [a, b]) {
    for (const [section, fields] of Object.entries(src)) out[section] = { ...out[section], ...(fields as Record<string, unknown>) };
  }
  return out as ConfigOverrides;
}

const shape = (v: unknown): string => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/**
 * Checks overrides' shape against the defaults and resolves them; bad input becomes a ConfigError.
 * Names are checked by resolveConfig; a value of the wrong type would only fail deep inside a run.
 */
function resolved(overrides: unknown): Resolved<StreamSpaceConfig> {
  if (shape(overrides) !== 'object') throw new ConfigError('config must be an object of sections');
  const base = DEFAULT_CONFIG as unknown as Record<string, Record<string, unknown> | undefined>;
  for (const [section, fields] of Object.entries(overrides as Record<string, unknown>)) {
    if (shape(fields) !== 'object') throw new ConfigError(`config section '${section}' must be an object`);
    for (const [field, value] of Object.entries(fields as Record<string, unknown>)) {
      const expected = base[section]?.[field];
      if (expected !== undefined && expected !== null && shape(value) !== shape(expected)) {
        throw new ConfigError(`${section}.${field} must be ${shape(expected) === 'array' ? 'an array' : `a ${shape(expected)}`}, got ${JSON.stringify(value)}`);
      }
    }
  }
  let config: StreamSpaceConfig;
  try {
    config = resolveConfig(overrides as ConfigOverrides);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
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
    if (shape(overrides) !== 'object') throw new ConfigError('config must be an object of sections');
    const unknown = fixes.find((name) => !DESIGN_FIXES.some((f) => f.name === name));
    if (unknown !== undefined) throw new ConfigError(`unknown fix '${unknown}' (known: ${DESIGN_FIXES.map((f) => f.name).join(', ')})`);
    const switched = { fixes: Object.fromEntries(DESIGN_FIXES.filter((f) => fixes.includes(f.name)).map((f) => [f.field, true])) };
    return resolved(mergeOverrides(mergeOverrides(p.config, overrides as ConfigOverrides), fixes.length > 0 ? switched : {}));
  },
  reresolve: resolved,
  build: ({ seed, config, simulation }) => new StreamSpaceCluster({ seed, config, simulation }),
  createView: () => new ClusterView(),
  settleUs: SETTLE_US,
  roles: STREAMSPACE_ROLES,
  platform: STREAMSPACE_PLATFORM,
  faults: STREAMSPACE_FAULT_KINDS,
  // The lost-command check waits for the longest command (start_session) before calling a command lost.
  invariants: (config) => [noSplitBrain, noDuplicateExecution, noLostCommands(config.agent.startSessionUs[1]), boundedRecovery],
  recovery: {
    bound: recoveryBound,
    drainUs: (config) => config.agent.startSessionUs[1],
    start: (cluster, view, healAt) => startRecoveryProber(cluster, view, healAt),
    atEnd(cluster, view) {
      view.lastUnhealthy = unhealthyBecause(cluster, view);
    },
    recoveredAt: (view) => view.recoveredAt,
  },
  explain: streamspaceExplainer,
  scenarios: SCENARIOS,
};
