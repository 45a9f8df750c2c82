import { fc, MS, SECOND, type Deployment, type Deployments } from '../../index.ts';
import { DEFAULT_CONFIG, type HakgalConfig } from './config.ts';
import type { HakgalOverrides } from './profiles.ts';

interface HakgalDeployment extends Deployment {
  overrides: HakgalOverrides;
}

/** Three tenants without ':' in any id, each user with two tabs. */
const DISTINCT_USERS = [
  { tenant: 'acme', user: 'alice', tabs: 2 },
  { tenant: 'acme', user: 'dave', tabs: 2 },
  { tenant: 'globex', user: 'carol', tabs: 2 },
];

export const NAMED_DEPLOYMENTS: readonly HakgalDeployment[] = [
  {
    name: 'seed-001',
    description: 'the model\'s defaults: 2 pods, a key per process (CryptoUtils() without one), 4 users of 3 tenants (acme/eu:bob and acme:eu/bob hash alike), globex/carol with 2 tabs',
    // Every value here is a default, so naming this deployment changes no case.
    overrides: { topology: { pods: 2 }, pod: { secret: 'per-process' }, workload: { identities: DEFAULT_CONFIG.workload.identities, tabStaggerUs: 0 } },
  },
  {
    name: 'shared-crypto',
    description: 'the seed test\'s setup as a deployment: every pod computes ids with one key (the test\'s single CryptoUtils instance), 3 users of 2 tenants with plain ids, 2 tabs each',
    overrides: { topology: { pods: 2 }, pod: { secret: 'configured' }, workload: { identities: DISTINCT_USERS, tabStaggerUs: 0 } },
  },
  {
    name: 'busy-session',
    description: 'one key for every pod, one user making micro-transfers from 3 tabs opened 20 s apart on 3 pods: the guard\'s check-then-act under concurrency',
    overrides: {
      topology: { pods: 3 },
      pod: { secret: 'configured' },
      workload: { identities: [{ tenant: 'globex', user: 'carol', tabs: 3 }], tabStaggerUs: 20 * SECOND, microPercent: 90, transferPercent: 0, thinkUs: 500 * MS },
    },
  },
];

/** Overrides `top` over `base`, section by section, as `resolve` merges them (lists are replaced). */
function overlay(base: unknown, top: unknown): unknown {
  const out: Record<string, Record<string, unknown>> = {};
  for (const src of [base, top] as Array<Record<string, Record<string, unknown>>>) {
    for (const [section, fields] of Object.entries(src)) out[section] = { ...out[section], ...fields };
  }
  return out;
}

/**
 * What swarm mode varies around a named deployment: the number of pods, the users' pace and the
 * write mode of the guard's update. The users and the key stay the deployment's.
 */
export const HAKGAL_DEPLOYMENTS: Deployments<HakgalConfig> = {
  named: NAMED_DEPLOYMENTS,
  // The deployment's own overrides with the perturbation on top: a swarm seed runs this whole.
  perturb: (d) => fc.record({
    topology: fc.record({ pods: fc.integer({ min: 1, max: 4 }) }),
    pod: fc.record({ writes: fc.constantFrom('create-task' as const, 'await' as const) }),
    workload: fc.record({ thinkUs: fc.constantFrom(1 * SECOND, 200 * MS, 500 * MS, 2 * SECOND) }),
  }).map((p) => overlay(d.overrides, p)),
  ranges: [
    { what: 'topology.pods', range: '1-4', why: 'one pod hides every cross-pod effect; the seed\'s two; HPA-like growth to four' },
    { what: 'pod.writes', range: 'create-task, await', why: 'the sync (task) and async (awaited) update paths of RedisSessionManager (spec §1)' },
    { what: 'workload.thinkUs', range: '0.2-2 s', why: 'how often requests for one session overlap' },
  ],
  overlay,
  describe: (c) => `${c.topology.pods} pods, ${c.pod.secret} key, ${c.pod.writes} writes, ${c.workload.identities.length} users (${c.workload.identities.reduce((n, i) => n + i.tabs, 0)} tabs), think ${c.workload.thinkUs / SECOND} s`,
};
