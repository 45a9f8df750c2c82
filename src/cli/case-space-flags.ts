import { ConfigError, type AnySystem } from '../contract/system.ts';
import { DEPLOYMENT_SWARM, resolveSeed, swarmDeployments, type CaseSpace } from '../harness/seeded-case.ts';
import { invariantIds } from '../harness/run-case.ts';
import { SYSTEMS } from '../systems/index.ts';
import { parseCount, readJsonFlag, UsageError } from './args.ts';

/**
 * The flags that define which case a seed stands for, shared by `hasim fuzz` and `hasim run` so that
 * a seed found by one is rerun by the other with the same flags.
 */
export const CASE_SPACE_FLAGS = {
  system: { type: 'string' },
  profile: { type: 'string' },
  deployment: { type: 'string' },
  fixes: { type: 'string' },
  config: { type: 'string' },
  faults: { type: 'string' },
  'no-swarm': { type: 'boolean', default: false },
  swarm: { type: 'boolean', default: false },
  'max-faults': { type: 'string' },
  invariants: { type: 'string' },
} as const;

export { CASE_SPACE_HELP } from './help.ts';

export interface CaseSpaceValues {
  system?: string | undefined;
  profile?: string | undefined;
  deployment?: string | undefined;
  fixes?: string | undefined;
  config?: string | undefined;
  faults?: string | undefined;
  'no-swarm'?: boolean | undefined;
  swarm?: boolean | undefined;
  'max-faults'?: string | undefined;
  invariants?: string | undefined;
}

export const DEFAULT_PROFILE = 'hardened';

function list(flag: string, text: string, known: readonly string[]): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError(`--${flag}: expected a comma-separated list`);
  for (const n of names) {
    if (!known.includes(n)) throw new UsageError(`--${flag}: unknown name '${n}' (known: ${known.join(', ')})`);
  }
  return [...new Set(names)];
}

/** The system named by `--system` (default: the first bundled one). */
export function systemFrom(name: string | undefined): AnySystem {
  if (name === undefined) return SYSTEMS[0]!;
  const system = SYSTEMS.find((s) => s.name === name);
  if (system === undefined) throw new UsageError(`--system: unknown system '${name}' (known: ${SYSTEMS.map((s) => s.name).join(', ')})`);
  return system;
}

/** A system's default profile: the one with every fix, when it has one (campaigns gate on it), else the first. */
export function defaultProfile(system: AnySystem): string {
  return system.profiles.find((p) => p.name === DEFAULT_PROFILE)?.name ?? system.profiles[0]!.name;
}

/**
 * The deployment `--deployment` names, validated: for a system with deployments, a named one or
 * `swarm` (the default: campaigns draw and perturb a deployment per seed, and `hasim run` reruns
 * what they ran); for one without, nothing.
 */
export function deploymentFrom(system: AnySystem, name: string | undefined): string | undefined {
  const deployments = system.deployments;
  if (deployments === undefined) {
    if (name !== undefined) throw new UsageError(`--deployment: system '${system.name}' has no deployments`);
    return undefined;
  }
  const known = [...deployments.named.map((d) => d.name), DEPLOYMENT_SWARM];
  const chosen = name ?? DEPLOYMENT_SWARM;
  if (!known.includes(chosen)) throw new UsageError(`--deployment: unknown deployment '${chosen}' (known: ${known.join(', ')})`);
  return chosen;
}

/** A case space and the system it belongs to. */
export interface SystemCaseSpace {
  system: AnySystem;
  space: CaseSpace;
}

/** Builds the case space from parsed flags; every bad name or value is a UsageError naming it. */
export function caseSpaceFrom(values: CaseSpaceValues): SystemCaseSpace {
  const system = systemFrom(values.system);
  const profile = values.profile ?? defaultProfile(system);
  const profiles = system.profiles.map((p) => p.name);
  if (!profiles.includes(profile)) throw new UsageError(`--profile: unknown profile '${profile}' (known: ${profiles.join(', ')})`);
  if (values.swarm === true && values['no-swarm'] === true) throw new UsageError('--swarm and --no-swarm contradict each other');
  const space: CaseSpace = { profile, swarm: values['no-swarm'] !== true };
  if (values.config !== undefined) {
    const data = readJsonFlag('config', values.config);
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`--config ${values.config}: expected a JSON object of sections`);
    if (Object.keys(data).length > 0) space.config = data;
  }
  if (values.fixes !== undefined) space.fixes = list('fixes', values.fixes, system.fixes.map((f) => f.name));
  const deployment = deploymentFrom(system, values.deployment);
  if (deployment !== undefined) space.deployment = deployment;
  try {
    system.resolve(profile, space.config ?? {}, space.fixes ?? []);
    // The overrides on top of each deployment they may meet (every named one, in swarm mode).
    const names = deployment === DEPLOYMENT_SWARM ? swarmDeployments(system.deployments!).map((d) => d.name) : deployment === undefined ? [] : [deployment];
    for (const name of names) resolveSeed(system, { ...space, deployment: name }, 0);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--config ${values.config ?? ''}: ${error.message}`);
    throw error;
  }
  if (values.faults !== undefined) space.kinds = list('faults', values.faults, system.faults.map((k) => k.kind as string));
  if (values['max-faults'] !== undefined) {
    const n = parseCount('max-faults', values['max-faults']);
    if (n < 1) throw new UsageError('--max-faults: must be at least 1');
    space.maxFaults = n;
  }
  if (values.invariants !== undefined) space.invariants = list('invariants', values.invariants, invariantIds(system));
  return { system, space };
}

/** The flags that select the same case space again (for printed rerun commands). */
export function caseSpaceArgs(values: CaseSpaceValues): string {
  const system = systemFrom(values.system);
  const parts = [...(values.system === undefined ? [] : [`--system ${values.system}`]), `--profile ${values.profile ?? defaultProfile(system)}`];
  // Always named for a system with deployments, so that the summary says which space it covers.
  const deployment = deploymentFrom(system, values.deployment);
  if (deployment !== undefined) parts.push(`--deployment ${deployment}`);
  if (values.fixes !== undefined) parts.push(`--fixes ${values.fixes}`);
  if (values.config !== undefined) parts.push(`--config ${values.config}`);
  if (values.faults !== undefined) parts.push(`--faults ${values.faults}`);
  if (values['no-swarm'] === true) parts.push('--no-swarm');
  if (values['max-faults'] !== undefined) parts.push(`--max-faults ${values['max-faults']}`);
  if (values.invariants !== undefined) parts.push(`--invariants ${values.invariants}`);
  return parts.join(' ');
}
