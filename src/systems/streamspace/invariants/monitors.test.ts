import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { ClusterView } from './cluster-view.ts';
import { boundedRecovery, serviceEndpoints } from './bounded-recovery.ts';
import { StreamSpaceCluster } from '../cluster/cluster.ts';
import type { Monitor } from '../../../invariants/monitor.ts';
import { noDuplicateExecution } from './no-duplicate-execution.ts';
import { noLostCommands } from './no-lost-commands.ts';
import { noSplitBrain } from './no-split-brain.ts';

const LEASE = 'streamspace-agent-a';
const ev = (t: number, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t, p, k, d });

/** Feeds events to a view and one monitor; returns the first online violation message. */
function online(monitor: Monitor<ClusterView>, events: TraceEvent[]): string | null {
  const view = new ClusterView();
  for (const e of events) {
    view.apply(e);
    const v = monitor.onEvent?.(e, view);
    if (v) return v.message;
  }
  return null;
}

const execute = (t: number, replica: string, command: string) =>
  ev(t, replica, 'agent.execute', { command, agent: 'a', action: 'start_session', session: 's', lease: LEASE, transitions: 0, electorLeads: true });
const accepted = (t: number, command: string) => ev(t, 'postgres', 'db.command.insert', { command, agent: 'a', action: 'start_session', client: 'api-0' });
const lease = (t: number, holder: string, transitions: number) => ev(t, 'kube-api', 'lease.update', { lease: LEASE, holder, transitions, rv: t });

describe('no-split-brain', () => {
  test('an execution by the lease holder is fine', () => {
    expect(online(noSplitBrain, [lease(1, 'r1', 0), accepted(2, 'c1'), execute(3, 'r1', 'c1')])).toBeNull();
  });
  test('an execution after another replica acquired the lease is split brain', () => {
    expect(online(noSplitBrain, [lease(1, 'r1', 0), lease(2, 'r2', 1), accepted(3, 'c1'), execute(4, 'r1', 'c1')])).toMatch(/r1 started c1 .* but r2 holds the lease \(transitions 1\)/);
  });
  test('an execution after the lease was released is split brain', () => {
    expect(online(noSplitBrain, [lease(1, 'r1', 0), lease(2, '', 0), execute(3, 'r1', 'c1')])).toMatch(/the lease was released/);
  });
  test('completing a command after another replica took the lease is split brain (the platform changes then)', () => {
    expect(online(noSplitBrain, [lease(1, 'r1', 0), accepted(2, 'c1'), execute(3, 'r1', 'c1'), lease(4, 'r2', 1), ev(5, 'r1', 'agent.executed', { command: 'c1', agent: 'a', ok: true })]))
      .toMatch(/r1 completed c1 .* but r2 holds the lease/);
  });
});

describe('no-duplicate-execution', () => {
  const done = (t: number, replica: string) => ev(t, replica, 'agent.executed', { command: 'c1', agent: 'a', ok: true });
  test('starting again after a completed execution, or two completions, is a duplicate', () => {
    expect(online(noDuplicateExecution, [accepted(1, 'c1'), execute(2, 'r1', 'c1'), done(3, 'r1')])).toBeNull();
    expect(online(noDuplicateExecution, [accepted(1, 'c1'), execute(2, 'r1', 'c1'), done(3, 'r1'), execute(5, 'r2', 'c1')])).toMatch(/c1 started again by r2 although r1's execution .* had completed/);
    expect(online(noDuplicateExecution, [accepted(1, 'c1'), execute(2, 'r1', 'c1'), execute(3, 'r2', 'c1'), done(4, 'r2'), done(5, 'r1')])).toMatch(/c1 completed twice/);
  });
  test('re-running an attempt whose process died, or whose effect was fenced off, is a retry', () => {
    expect(online(noDuplicateExecution, [accepted(1, 'c1'), execute(2, 'r1', 'c1'), ev(3, 'r1', 'proc.crash'), execute(5, 'r1', 'c1'), done(6, 'r1')])).toBeNull();
    expect(online(noDuplicateExecution, [accepted(1, 'c1'), execute(2, 'r1', 'c1'), execute(3, 'r2', 'c1'), done(4, 'r2'), ev(5, 'r1', 'agent.fenced', { command: 'c1', stage: 'complete' })])).toBeNull();
  });
});

describe('no-lost-commands', () => {
  const monitor = noLostCommands(10 * SECOND);
  const judge = (events: TraceEvent[], endAt: number) => {
    const view = new ClusterView();
    for (const e of events) view.apply(e);
    return monitor.atEnd!(view, { healAt: 0, boundUs: 100 * SECOND, endAt })?.message ?? null;
  };
  const status = (t: number, to: string, by: string) => ev(t, 'postgres', 'db.command.status', { command: 'c1', agent: 'a', from: 'x', to, by });
  test('a command still sent after its deadline is lost; before the deadline it is not judged', () => {
    expect(judge([accepted(1, 'c1'), status(2, 'sent', 'dispatcher.sent')], 200 * SECOND)).toMatch(/c1 .* is still sent/);
    expect(judge([accepted(1, 'c1'), status(2, 'sent', 'dispatcher.sent')], 50 * SECOND)).toBeNull();
  });
  test('completed without a successful execution, or failed after one, is a false record', () => {
    expect(judge([accepted(1, 'c1'), status(2, 'completed', 'ws.complete')], 200 * SECOND)).toMatch(/recorded completed but was never executed/);
    expect(judge([accepted(1, 'c1'), execute(2, 'r1', 'c1'), ev(3, 'r1', 'agent.executed', { command: 'c1', ok: true }), status(4, 'failed', 'dispatcher.fail')], 200 * SECOND)).toMatch(/executed successfully but is recorded failed/);
  });
});

describe('bounded-recovery', () => {
  test('healthy within the bound passes; later or never is a violation', () => {
    const at = (t: number | null) => {
      const view = new ClusterView();
      if (t !== null) view.apply(ev(t, 'checker', 'recovery.healthy', { afterUs: t }));
      return boundedRecovery.atEnd!(view, { healAt: 0, boundUs: 100, endAt: 500 })?.message ?? null;
    };
    expect(at(50)).toBeNull();
    expect(at(150)).toMatch(/healthy only/);
    expect(at(null)).toMatch(/not healthy/);
  });
});

describe('the recovery probe reaches what the API Service routes to', () => {
  test('a pod the Deployment no longer has is never probed, even if the endpoint set still names it; its replacement is, once it serves (real-world §5.1-§5.2)', () => {
    const cluster = new StreamSpaceCluster({ seed: 5, config: { workload: { requestIntervalUs: 0 } } });
    const { sim } = cluster;
    sim.run({ until: 60 * SECOND });
    expect(serviceEndpoints(cluster)).toEqual(['api-0', 'api-1']);
    cluster.deletePod('api-1');
    sim.run({ until: 80 * SECOND });
    expect(serviceEndpoints(cluster)).toEqual(['api-0', 'api-2']);
    // A stale entry, as the endpoint set kept for the pod evicted in
    // traces/probe-dials-evicted-pod.json: it is not a pod a client can reach.
    cluster.endpoints.setReady('api-1', true);
    expect(cluster.endpoints.endpoints).toContain('api-1');
    expect(serviceEndpoints(cluster)).toEqual(['api-0', 'api-2']);
  });
});
