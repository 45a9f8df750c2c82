import { describe, expect, test } from 'vitest';
import { SECOND } from '../../../sim-cluster/index.ts';
import { apiAndRedisDeletion, formatTimeline, leaderAndApiDeletion, timeTo } from './seed-000.ts';

/** Seed report 000's two chaos scenarios as scripted fault sequences (issue: model, tests). */
describe('seed report 000 scenarios', () => {
  test('scenario 1: API pod + Redis deleted at once — the agent reconnects to the surviving pod and the mapping is recreated, with no leader change', () => {
    const run = apiAndRedisDeletion(1);
    console.log(`seed 000 scenario 1 (seed 1), relative to the deletion:\n${formatTimeline(run)}`);
    const deleted = run.timeline[0]!.what.match(/pod (api-\d+) deleted/)![1]!;
    const surviving = run.cluster.apiPods.find((p) => p !== deleted && p !== 'api-2')!;
    expect(timeTo(run, /Redis started \(0 keys\)/)).toBe(run.cluster.config.kubernetes.podReplacementUs);
    const reconnect = timeTo(run, new RegExp(`connected to ${surviving}`));
    const mapping = timeTo(run, new RegExp(`Redis: agent:[^ ]+:pod = ${surviving}`));
    expect(reconnect).not.toBeNull();
    expect(mapping).not.toBeNull();
    expect(mapping!).toBeGreaterThanOrEqual(reconnect!);
    expect(run.timeline.some((s) => /acquired the lease/.test(s.what))).toBe(false);
  });

  test('scenario 2: leader agent + API pod deleted at once — a standby takes the released lease within seconds and connects', () => {
    const run = leaderAndApiDeletion(1);
    console.log(`seed 000 scenario 2 (seed 1), relative to the deletion:\n${formatTimeline(run)}`);
    const oldLeader = run.timeline.find((s) => /pod agent-\d+ deleted/.test(s.what))!.what.match(/agent-\d+/)![0];
    expect(timeTo(run, new RegExp(`${oldLeader} released the lease`))).toBeLessThan(SECOND);
    const acquired = run.timeline.find((s) => /acquired the lease \(transitions 1\)/.test(s.what));
    expect(acquired).toBeDefined();
    expect(acquired!.what).not.toContain(oldLeader);
    // ReleaseOnCancel: a candidate takes an empty lease at its next attempt, ≤ 4.4 s + 2L (real-world §1.2).
    expect(acquired!.atUs).toBeLessThan(4.5 * SECOND);
    const newLeader = acquired!.what.split(' ')[0]!;
    expect(timeTo(run, new RegExp(`agent ${newLeader} connected`))).toBeGreaterThan(acquired!.atUs);
  });
});
