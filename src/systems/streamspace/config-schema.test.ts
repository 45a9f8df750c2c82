import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../contract/system.ts';
import { DEFAULT_CONFIG } from './config.ts';
import type { HorizontalPodAutoscalerBehavior, HPAScalingRules } from './hpa/config.ts';
import { DESIGN_FIXES, PROFILES } from './profiles.ts';
import { streamspace } from './system.ts';

/**
 * The bounds and rules of the configuration sections for logins, CPU, load, the HPA and Redis
 * memory, checked where a configuration enters: `resolve` throws a ConfigError whose one line names
 * the bad value's path, and the CLI prints that line and exits 2.
 */

/** The message `resolve` refuses these overrides with (on the as-built profile), or null. */
function refusal(overrides: unknown): string | null {
  try {
    streamspace.resolve('streamspace-v2', overrides as never);
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
}

const rules = (over: HPAScalingRules = {}): HPAScalingRules => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }],
  ...over,
});
const behavior = (scaleUp: HPAScalingRules = {}): HorizontalPodAutoscalerBehavior => ({ scaleUp: rules(scaleUp), scaleDown: rules({ stabilizationWindowSeconds: 300 }) });
const weights = DEFAULT_CONFIG.load.taskWeights;

describe('the new sections resolve', () => {
  test('every profile resolves with the defaults', () => {
    for (const name of Object.keys(PROFILES)) expect(() => streamspace.resolve(name)).not.toThrow();
  });

  test('a seed-004 deployment: users, an HPA with a behavior block, a PDB, noeviction', () => {
    const { config } = streamspace.resolve('streamspace-v2', {
      api: { cacheEnabled: true },
      load: { mode: 'open', users: 20_000, arrivalsPerSecond: 2_500.5, spawnRatePerSecond: 12.5, thinkUs: [0, 0], runUs: 600_000_000, taskWeights: { list: 0, create: 0, delete: 0, logout: 1 } },
      hpa: { enabled: true, minReplicas: 2, maxReplicas: 20, targetCpuPercent: 1000, behavior: behavior({ selectPolicy: 'Disabled' }) },
      apiCpu: { requestMillicores: 1000, limitMillicores: 1000, idleMillicores: 0, requestCpuUs: 0 },
      kubernetes: { apiPdbMinAvailable: 0 },
      redis: { maxmemoryBytes: 1024 * 1024, evictionPolicy: 'noeviction' },
      auth: { tokenTtlSeconds: 30 * 24 * 60 * 60 },
    });
    expect(config.hpa.behavior?.scaleUp?.selectPolicy).toBe('Disabled');
    expect(config.load.runUs).toBe(600_000_000);
    expect(config.kubernetes.apiPdbMinAvailable).toBe(0);
  });

  test('a behavior block may leave out a direction or any field of a rule, as a manifest may', () => {
    expect(refusal({ hpa: { behavior: {} } })).toBeNull();
    expect(refusal({ hpa: { behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } } })).toBeNull();
    const { config } = streamspace.resolve('streamspace-v2', { hpa: { behavior: { scaleUp: { selectPolicy: 'Min' } } } });
    expect(config.hpa.behavior).toEqual({ scaleUp: { selectPolicy: 'Min' } });
  });

  test('null is a value of hpa.behavior, load.runUs and kubernetes.apiPdbMinAvailable', () => {
    expect(refusal({ hpa: { behavior: behavior() } })).toBeNull();
    expect(refusal({ hpa: { behavior: null }, load: { runUs: null }, kubernetes: { apiPdbMinAvailable: null } })).toBeNull();
  });
});

describe('bad values: a ConfigError naming the path', () => {
  const cases: Array<[what: string, overrides: unknown, message: string]> = [
    ['users above 20000', { load: { users: 50_000 } }, 'config.load.users: must be ≤ 20000 (each is a simulated client'],
    ['users 0', { load: { users: 0 } }, 'config.load.users: must be ≥ 1'],
    ['spawn rate 0.5', { load: { spawnRatePerSecond: 0.5 } }, 'config.load.spawnRatePerSecond: must be ≥ 1'],
    ['arrivals 20001', { load: { arrivalsPerSecond: 20_001 } }, 'config.load.arrivalsPerSecond: must be ≤ 20000'],
    ['unknown mode', { load: { mode: 'burst' } }, 'config.load.mode: must be one of off, closed, open, got "burst"'],
    ['think time reversed', { load: { thinkUs: [3_000_000, 1_000_000] } }, 'config.load.thinkUs: must be [min, max] with min ≤ max'],
    ['runUs 0', { load: { runUs: 0 } }, 'config.load.runUs: must be ≥ 1'],
    ['requestTimeoutUs 0', { load: { requestTimeoutUs: 0 } }, 'config.load.requestTimeoutUs: must be ≥ 1 (zero would expire at once)'],
    ['every weight 0', { load: { taskWeights: { list: 0, create: 0, delete: 0, logout: 0 } } }, 'config.load.taskWeights: must have at least one weight above 0'],
    ['a weight of 1.5', { load: { taskWeights: { ...weights, list: 1.5 } } }, 'config.load.taskWeights.list: must be an integer from 0 to 1000'],
    ['task weights given in part', { load: { taskWeights: { list: 1 } } }, 'config.load.taskWeights.create: missing (an override replaces load.taskWeights whole'],
    ['an unknown task', { load: { taskWeights: { ...weights, browse: 1 } } }, 'config.load.taskWeights.browse: unknown field (known in load.taskWeights: list, create, delete, logout)'],
    ['minReplicas above maxReplicas', { hpa: { minReplicas: 15 } }, 'config.hpa.maxReplicas: must be ≥ minReplicas (15 here), got 10'],
    ['maxReplicas 21', { hpa: { maxReplicas: 21 } }, 'config.hpa.maxReplicas: must be ≤ 20'],
    ['a Patroni ttl of 30.5 s', { postgres: { ttlUs: 30_500_000 } }, 'config.postgres.ttlUs: must be whole seconds (Patroni takes ttl in seconds), got 30500000 µs'],
    ['loop_wait + 2 × retry_timeout over ttl', { postgres: { retryTimeoutUs: 15_000_000 } }, 'config.postgres.retryTimeoutUs: must be at most (ttlUs - loopWaitUs) / 2'],
    ['minReplicas 0', { hpa: { minReplicas: 0 } }, 'config.hpa.minReplicas: must be ≥ 1 (Kubernetes: minReplicas must be greater than 0)'],
    ['targetCpuPercent 0', { hpa: { targetCpuPercent: 0 } }, 'config.hpa.targetCpuPercent: must be ≥ 1'],
    ['a stabilization window over an hour', { hpa: { behavior: behavior({ stabilizationWindowSeconds: 3601 }) } }, 'config.hpa.behavior.scaleUp.stabilizationWindowSeconds: must be ≤ 3600'],
    ['selectPolicy "Sometimes"', { hpa: { behavior: behavior({ selectPolicy: 'Sometimes' as never }) } }, 'config.hpa.behavior.scaleUp.selectPolicy: must be one of Max, Min, Disabled'],
    ['no policies', { hpa: { behavior: behavior({ policies: [] }) } }, 'config.hpa.behavior.scaleUp.policies: must have at least one policy'],
    ['11 policies', { hpa: { behavior: behavior({ policies: Array(11).fill({ type: 'Pods', value: 1, periodSeconds: 60 }) }) } }, 'config.hpa.behavior.scaleUp.policies: must have at most 10 policies'],
    ['a policy period of 1801 s', { hpa: { behavior: behavior({ policies: [{ type: 'Pods', value: 4, periodSeconds: 1801 }] }) } },
      'config.hpa.behavior.scaleUp.policies[0].periodSeconds: must be ≤ 1800 (Kubernetes: MaxPeriodSeconds is 1800)'],
    ['a policy value of 0', { hpa: { behavior: behavior({ policies: [{ type: 'Percent', value: 0, periodSeconds: 15 }] }) } }, 'config.hpa.behavior.scaleUp.policies[0].value: must be ≥ 1'],
    ['a policy of type "Cores"', { hpa: { behavior: behavior({ policies: [{ type: 'Cores' as never, value: 1, periodSeconds: 15 }] }) } }, 'config.hpa.behavior.scaleUp.policies[0].type: must be one of Pods, Percent'],
    ['a policy without its period', { hpa: { behavior: { scaleUp: { policies: [{ type: 'Pods', value: 4 }] } } } }, 'config.hpa.behavior.scaleUp.policies[0].periodSeconds: missing'],
    ['an unknown field of a rule', { hpa: { behavior: { scaleDown: { tolerance: 0.1 } } } }, 'config.hpa.behavior.scaleDown.tolerance: unknown field (known in hpa.behavior.scaleDown: stabilizationWindowSeconds, selectPolicy, policies)'],
    ['an unknown direction', { hpa: { behavior: { scaleSideways: {} } } }, 'config.hpa.behavior.scaleSideways: unknown field (known in hpa.behavior: scaleUp, scaleDown)'],
    ['CPU request above the limit', { apiCpu: { requestMillicores: 1500 } }, 'config.apiCpu.requestMillicores: must be ≤ limitMillicores (1000 here), got 1500: Kubernetes requires'],
    ['background usage at the limit', { apiCpu: { idleMillicores: 1000 } }, 'config.apiCpu.idleMillicores: must be less than limitMillicores (1000 here), got 1000'],
    ['limit 0', { apiCpu: { limitMillicores: 0 } }, 'config.apiCpu.limitMillicores: must be ≥ 1'],
    ['a negative request CPU cost', { apiCpu: { requestCpuUs: -1 } }, 'config.apiCpu.requestCpuUs: must be ≥ 0'],
    ['maxmemory 0', { redis: { maxmemoryBytes: 0 } }, 'config.redis.maxmemoryBytes: must be ≥ 1048576'],
    ['eviction policy allkeys-lfu', { redis: { evictionPolicy: 'allkeys-lfu' } }, 'config.redis.evictionPolicy: must be one of allkeys-lru, volatile-lru, noeviction'],
    ['token TTL 0', { auth: { tokenTtlSeconds: 0 } }, 'config.auth.tokenTtlSeconds: must be ≥ 1 (Redis EX takes a positive number of seconds)'],
    ['response cache TTL over a day', { auth: { responseCacheTtlSeconds: 86_401 } }, 'config.auth.responseCacheTtlSeconds: must be ≤ 86400'],
    ['cache retry every 1 ms', { auth: { cacheRetryEveryUs: 1_000 } }, 'config.auth.cacheRetryEveryUs: must be ≥ 100000 µs'],
    ['a PDB of 21', { kubernetes: { apiPdbMinAvailable: 21 } }, 'config.kubernetes.apiPdbMinAvailable: must be ≤ 20'],
    ['cacheEnabled "yes"', { api: { cacheEnabled: 'yes' } }, 'config.api.cacheEnabled: must be true or false, got "yes"'],
    ['a fix switch of 1', { fixes: { sessionsNoEviction: 1 } }, 'config.fixes.sessionsNoEviction: must be true or false, got 1'],
  ];

  test.each(cases)('%s', (_what, overrides, message) => {
    const problem = refusal(overrides);
    expect(problem).not.toBeNull();
    expect(problem!.startsWith(message), problem!).toBe(true);
    expect(problem).not.toContain('\n');
  });
});

describe('the design fixes of the seed-004 sections', () => {
  const added = ['keep-sessions-on-start', 'namespaced-cache-keys', 'retry-cache-enable', 'detached-invalidate-context', 'sessions-noeviction'];

  test('are named design fixes, off as built and on in hardened', () => {
    const names = DESIGN_FIXES.map((f) => f.name);
    for (const name of added) expect(names).toContain(name);
    expect(streamspace.resolve('streamspace-v2').fixes.filter((f) => added.includes(f))).toEqual([]);
    expect(streamspace.resolve('hardened').fixes).toEqual(names);
  });

  test('every fix switches a boolean of the fixes section, under a kebab-case name of its own', () => {
    for (const f of DESIGN_FIXES) {
      expect(f.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(typeof DEFAULT_CONFIG.fixes[f.field]).toBe('boolean');
    }
    expect(new Set(DESIGN_FIXES.map((f) => f.name)).size).toBe(DESIGN_FIXES.length);
    expect(new Set(DESIGN_FIXES.map((f) => f.field)).size).toBe(DESIGN_FIXES.length);
  });
});

describe('hasim run --config with a bad value of a new section', () => {
  test('exits 2 with one line naming the path, without starting a run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hasim-config-schema-'));
    const entry = join(dir, 'cli.mts');
    writeFileSync(entry, `import { main } from ${JSON.stringify(new URL('../../cli/main.ts', import.meta.url).href)};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ load: { mode: 'closed', users: 50_000 } }));
    // tsx is resolved from the package root, as `node --import tsx` does from the working directory.
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', entry, 'run', '--seed', '0', '--config', bad], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`--config ${bad}: config.load.users: must be ≤ 20000`);
    expect(r.stderr).toContain('got 50000');
  }, 40_000);
});
