import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { caseOfExpectation } from '../../harness/replay.ts';
import { runCase, type Case } from '../../harness/run-case.ts';
import { readTraceFile } from '../../harness/trace-file.ts';
import type { TraceEvent } from '../../sim-cluster/index.ts';
import { resolveConfig, type ConfigOverrides, type FixesConfig, type StreamSpaceConfig } from './config.ts';
import { DESIGN_FIXES } from './profiles.ts';
import { streamspace } from './system.ts';

/**
 * The three design fixes the deployment swarm called for, each on the counterexample saved for it
 * in traces/: the case is run with the configuration the file recorded for `hardened`, with the fix
 * and with only that fix switched off, so the test does not depend on what the profile holds today.
 */
function cases(trace: string, fix: string): { withFix: Case<StreamSpaceConfig>; without: Case<StreamSpaceConfig> } {
  const file = fileURLToPath(new URL(`../../../traces/${trace}.json`, import.meta.url));
  const recorded = readTraceFile(file, [streamspace]);
  const hardened = recorded.expectations.find((e) => e.profile === 'hardened')!;
  const withFix = caseOfExpectation(streamspace, recorded, hardened) as Case<StreamSpaceConfig>;
  const field = DESIGN_FIXES.find((f) => f.name === fix)!.field;
  expect(withFix.config.fixes[field]).toBe(true);
  // Resolved again from the case's own overrides, since a fix may decide other settings when the
  // configuration is resolved (hub-for-replicas turns the hub on).
  const fixes: FixesConfig = { ...withFix.config.fixes, [field]: false };
  const without: Case<StreamSpaceConfig> = {
    ...withFix,
    fixes: withFix.fixes.filter((f) => f !== fix),
    config: resolveConfig({ ...(recorded.config as ConfigOverrides), fixes }),
  };
  return { withFix, without };
}

const kinds = (events: readonly TraceEvent[], kind: string): TraceEvent[] => events.filter((e) => e.k === kind);

describe('design fix hub-for-replicas', () => {
  test('resolving: the hub is turned on for more than one API pod, and left as configured for one', () => {
    const fixes = { hubForReplicas: true };
    expect(resolveConfig({ fixes, topology: { apiReplicas: 2 }, api: { redisEnabled: false } }).api.redisEnabled).toBe(true);
    expect(resolveConfig({ fixes, topology: { apiReplicas: 1 }, api: { redisEnabled: false } }).api.redisEnabled).toBe(false);
    expect(resolveConfig({ topology: { apiReplicas: 2 }, api: { redisEnabled: false } }).api.redisEnabled).toBe(false);
  });

  const { withFix, without } = cases('hub-off-with-replicas-unroutable', 'hub-for-replicas');

  test('without it, the chart\'s default (2 API pods, no Redis), fault-free, never routes a probe through the pod without the agent', () => {
    expect(without.config.api.redisEnabled).toBe(false);
    const verdict = runCase(streamspace, without, {});
    expect(verdict.outcome).toBe('bounded-recovery');
    expect(verdict.violation!.message).toMatch(/probes not delivered/);
  });

  test('with it, the same deployment runs the Redis hub and recovers', () => {
    expect(withFix.config.api.redisEnabled).toBe(true);
    expect(runCase(streamspace, withFix, {}).outcome).toBe('pass');
  });
});

describe('design fix nonblocking-stale-sweep', () => {
  const { withFix, without } = cases('stale-sweep-deadlocks-hub', 'nonblocking-stale-sweep');

  test('without it, one sweep finding more than 10 stale agents blocks the Run goroutine for good, and a command accepted on that pod is never sent', () => {
    const verdict = runCase(streamspace, without, { keepEvents: true });
    expect(verdict.outcome).toBe('no-lost-commands');
    const deadlock = kinds(verdict.events!, 'hub.deadlock');
    expect(deadlock.map((e) => e.p)).toEqual(['api-0']);
    const staleInThatSweep = kinds(verdict.events!, 'hub.stale').filter((e) => e.p === 'api-0' && e.t === deadlock[0]!.t);
    expect(staleInThatSweep.length).toBeGreaterThan(withFix.config.api.hub.unregisterBuffer);
    expect(verdict.violation!.message).toMatch(/on api-0\) is still sent/);
  });

  test('with it, the same sweep hands every stale id over and the hub keeps running', () => {
    const verdict = runCase(streamspace, withFix, { keepEvents: true });
    expect(verdict.outcome).toBe('pass');
    expect(kinds(verdict.events!, 'hub.deadlock')).toEqual([]);
    expect(kinds(verdict.events!, 'hub.stale').filter((e) => e.p === 'api-0').length).toBeGreaterThan(withFix.config.api.hub.unregisterBuffer);
  });
});

describe('design fix fixed-agent-id', () => {
  const { withFix, without } = cases('replaced-agent-pod-strands-commands', 'fixed-agent-id');
  const executions = (events: readonly TraceEvent[], command: string) =>
    kinds(events, 'agent.execute').filter((e) => e.d?.['command'] === command).map((e) => ({ pod: e.p, agent: e.d?.['agent'] }));

  test('without it, the deleted leader\'s replacement is another agent id, and the command its predecessor acknowledged stays ack', () => {
    const verdict = runCase(streamspace, without, { keepEvents: true });
    expect(verdict.outcome).toBe('no-lost-commands');
    expect(verdict.violation!.message).toMatch(/^cmd-25 .* is still ack/);
    expect(executions(verdict.events!, 'cmd-25')).toEqual([{ pod: 'agent-2', agent: 'k8s-prod-us-east-1-agent-2' }]);
  });

  test('with it, the replacement pod runs as the same agent and redelivery brings it the command', () => {
    const verdict = runCase(streamspace, withFix, { keepEvents: true });
    expect(verdict.outcome).toBe('pass');
    expect(executions(verdict.events!, 'cmd-25')).toEqual([
      { pod: 'agent-2', agent: 'k8s-prod-us-east-1-agent-2' },
      { pod: 'agent-3', agent: 'k8s-prod-us-east-1-agent-2' },
    ]);
  });
});
