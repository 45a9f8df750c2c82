import { SECOND, type System } from '../../index.ts';
import { HakgalCluster } from './cluster.ts';
import { HAKGAL_DEPLOYMENTS } from './deployments.ts';
import type { HakgalConfig } from './config.ts';
import { HAKGAL_FAULT_KINDS, HAKGAL_PLATFORM, HAKGAL_ROLES } from './faults.ts';
import { rateLimitSafety } from './invariants/rate-limit.ts';
import { noLostSession, noLostUpdate, tenantIsolation, ttlSemantics } from './invariants/serve.ts';
import { FIXES, PROFILES, reresolveHakgal, resolveHakgal } from './profiles.ts';
import { HAKGAL_RECOVERY } from './recovery.ts';
import { HAKGAL_SCENARIOS } from './scenarios/index.ts';
import { HAKGAL_REPORT } from './scenarios/report.ts';
import { HakgalView } from './view.ts';

/**
 * Seed 001: HAK_GAL v2.3.3's RedisSessionManager (repo sookoothaii/llm-security-firewall d0a6b48)
 * as a hasim System: pods with a never-invalidated session cache and a per-process HMAC secret, one
 * Redis, FinancialToolGuard, users of several tenants in a closed loop. Profiles `as-built` and
 * `hardened`; see docs/hakgal.md.
 */
export const hakgal: System<HakgalConfig, HakgalCluster, HakgalView> = {
  name: 'hakgal',
  description: 'HAK_GAL RedisSessionManager (seed 001): pod-local session caches over one Redis, FinancialToolGuard, per-tenant keys',
  profiles: PROFILES,
  fixes: FIXES.map((f) => ({ name: f.name, change: f.change, removes: f.removes })),
  resolve: resolveHakgal,
  reresolve: reresolveHakgal,
  build: ({ seed, config, simulation }) => new HakgalCluster(config, seed, simulation),
  createView: () => new HakgalView(),
  // Pods and Redis start at 0; the users' first requests leave between 1 and 2 s.
  settleUs: 3 * SECOND,
  roles: HAKGAL_ROLES,
  platform: HAKGAL_PLATFORM,
  faults: HAKGAL_FAULT_KINDS,
  invariants: (config) => [noLostSession, noLostUpdate, rateLimitSafety(config.session.microLimit), ttlSemantics, tenantIsolation],
  recovery: HAKGAL_RECOVERY,
  deployments: HAKGAL_DEPLOYMENTS,
  scenarios: HAKGAL_SCENARIOS,
  scenarioReport: HAKGAL_REPORT,
};
