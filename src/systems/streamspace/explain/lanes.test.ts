import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { faultBands } from '../../../cli/explain/fault-bands.ts';
import { connectionLanes, leaseLanes, processLanes, routingLanes } from './lanes.ts';
import { messageArrows } from '../../../cli/explain/messages.ts';
import { runTimeline } from '../../../cli/explain/timeline.ts';

import { faultEnd } from '../../../faults/apply.ts';
import { registryOf } from '../../../harness/run-case.ts';
import { streamspace } from '../system.ts';
const ev = (t: number, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t: t * SECOND, p, k, d });
const states = (lane: { segments: { from: number; to: number; label: string }[] }) => lane.segments.map((s) => [s.from / SECOND, s.to / SECOND, s.label]);

describe('lanes', () => {
  test('a process lane follows the kernel states; an elected process shows leadership and its WebSocket pod', () => {
    const lanes = processLanes([
      ev(0, 'redis', 'proc.start', { incarnation: 1 }),
      ev(0, 'agent-0', 'proc.start', { incarnation: 1 }),
      ev(0, 'api-0', 'proc.start', { incarnation: 1 }),
      ev(1, 'agent-0', 'elector.acquired', { transitions: 0 }),
      ev(2, 'agent-0', 'agent.connected', { pod: 'api-0', conn: 'c1' }),
      ev(3, 'agent-0', 'proc.pause'),
      ev(4, 'agent-0', 'proc.resume'),
      ev(5, 'agent-0', 'conn.close', { c: 'c1', reason: 'reset' }),
      ev(6, 'agent-0', 'elector.stopped-leading'),
      ev(7, 'agent-0', 'proc.crash'),
      ev(7, 'agent-0', 'proc.restart-scheduled', { delay: SECOND }),
      ev(8, 'agent-0', 'proc.start', { incarnation: 2 }),
      ev(9, 'agent-0', 'proc.exit'),
    ], 10 * SECOND);
    expect(lanes.map((l) => l.name)).toEqual(['api-0', 'agent-0', 'redis']);
    expect(states(lanes[1]!)).toEqual([
      [0, 1, 'follower'], [1, 2, 'leader'], [2, 3, 'leader → api-0'], [3, 4, 'paused (leader) → api-0'], [4, 5, 'leader → api-0'],
      [5, 6, 'leader'], [6, 7, 'follower'], [7, 8, 'restarting'], [8, 9, 'follower'], [9, 10, 'exited'],
    ]);
    expect(states(lanes[0]!)).toEqual([[0, 10, 'up']]);
  });

  test('an agent lane names the command holding its reader until the read deadline fails the read', () => {
    const lanes = processLanes([
      ev(0, 'agent-0', 'proc.start', { incarnation: 1 }),
      ev(1, 'agent-0', 'agent.connected', { agent: 'a', pod: 'api-0', conn: 'c1' }),
      ev(2, 'agent-0', 'actor.state', { actor: 'agent', state: 'executing' }),
      ev(2, 'agent-0', 'agent.execute', { command: 'cmd-0', agent: 'a', action: 'start_session', session: 's', lease: null, transitions: null, electorLeads: null }),
      ev(80, 'agent-0', 'agent.executed', { command: 'cmd-0', agent: 'a', ok: true }),
      ev(80, 'agent-0', 'actor.state', { actor: 'agent', state: 'reading' }),
      ev(80, 'agent-0', 'agent.read-error', { agent: 'a', why: 'read deadline' }),
    ], 90 * SECOND);
    expect(states(lanes[0]!)).toEqual([[0, 1, 'up'], [1, 2, 'up → api-0'], [2, 80, 'up, reader held by cmd-0 → api-0'], [80, 90, 'up']]);
  });

  test('a pod whose readiness probe failed is marked NotReady on its own lane until it passes again or restarts', () => {
    const lanes = processLanes([
      ev(0, 'api-0', 'proc.start', { incarnation: 1 }),
      ev(10, 'api-0', 'proc.pause'),
      ev(31, 'kubelet', 'kubelet.not-ready', { pod: 'api-0', failures: 3 }),
      ev(40, 'api-0', 'proc.resume'),
      ev(41, 'kubelet', 'kubelet.ready', { pod: 'api-0' }),
      ev(50, 'api-0', 'proc.pause'),
      ev(71, 'kubelet', 'kubelet.not-ready', { pod: 'api-0', failures: 3 }),
      ev(80, 'api-0', 'proc.crash'),
      ev(80, 'api-0', 'proc.restart-scheduled', { delay: 10 * SECOND }),
      ev(90, 'api-0', 'proc.start', { incarnation: 2 }),
    ], 100 * SECOND);
    expect(lanes.map((l) => l.name)).toEqual(['api-0']);
    expect(states(lanes[0]!)).toEqual([
      [0, 10, 'up'], [10, 31, 'paused'], [31, 40, 'paused, NotReady'], [40, 41, 'up, NotReady'], [41, 50, 'up'],
      [50, 71, 'paused'], [71, 80, 'paused, NotReady'], [80, 90, 'restarting'], [90, 100, 'up'],
    ]);
  });

  test('holder lanes: the Lease holder, the pods holding the connection (two at once stands out), the Redis route', () => {
    const events = [
      ev(0, 'kube-api', 'lease.create', { lease: 'L', holder: 'agent-0', transitions: 0 }),
      ev(1, 'api-0', 'hub.register', { agent: 'a', conn: 'c1' }),
      ev(1, 'redis', 'redis.set', { key: 'agent:a:pod', value: 'api-0' }),
      ev(2, 'kube-api', 'lease.update', { lease: 'L', holder: 'agent-0', transitions: 0 }),
      ev(3, 'api-1', 'hub.register', { agent: 'a', conn: 'c2' }),
      ev(3, 'redis', 'redis.set', { key: 'agent:a:pod', value: 'api-1' }),
      ev(4, 'api-0', 'proc.crash'),
      ev(5, 'redis', 'proc.crash'),
      ev(6, 'redis', 'redis.start', { keys: 0, fromSnapshot: false }),
      ev(7, 'kube-api', 'lease.update', { lease: 'L', holder: '', transitions: 0 }),
      ev(8, 'api-1', 'hub.unregister', { agent: 'a', conn: 'c2' }),
    ];
    const end = 9 * SECOND;
    expect(states(leaseLanes(events, end)[0]!)).toEqual([[0, 7, 'agent-0'], [7, 9, 'none']]);
    expect(states(connectionLanes(events, end)[0]!)).toEqual([[1, 3, 'api-0'], [3, 4, 'api-0 + api-1'], [4, 8, 'api-1'], [8, 9, 'none']]);
    const routing = routingLanes(events, end)[0]!;
    expect(states(routing)).toEqual([[1, 3, 'api-0'], [3, 5, 'api-1'], [5, 6, 'Redis down'], [6, 9, 'none']]);
    expect(routing.segments.map((s) => s.tone)).toEqual(['value', 'value', 'down', 'none']);
  });

  test('fault bands name the target resolved when the fault fired and end at the heal at the latest', () => {
    const bands = faultBands([
      { kind: 'pause', at: 10 * SECOND, target: { role: 'agent-host' }, durationUs: 60 * SECOND },
      { kind: 'crash', at: 20 * SECOND, target: { role: 'api', index: 1 } },
    ], (f) => faultEnd(registryOf(streamspace), f), [
      ev(10, 'faults', 'fault.pause', { process: 'api-1', durationUs: 60 * SECOND }),
      ev(20, 'faults', 'fault.crash', { process: null }),
    ], 30 * SECOND);
    expect(bands.map((b) => [b.from / SECOND, b.to / SECOND, b.label])).toEqual([[10, 30, 'pause api-1'], [20, 20, 'crash api[1] (no live target)']]);
    expect(bands[0]!.detail).toContain('scheduled as agent-host');
  });

  test('message arrows join a delivery to the other end of its connection, capped around the focus', () => {
    const events = [
      ev(0, 'api-0', 'conn.dial', { c: 'c1', to: 'redis' }),
      ...Array.from({ length: 10 }, (_, i) => ev(i + 1, i % 2 === 0 ? 'redis' : 'api-0', 'net.recv', { c: 'c1', n: i })),
      ev(11, 'redis', 'net.datagram', { from: 'agent-0' }),
    ];
    const all = messageArrows(events, 100, 0);
    expect(all.total).toBe(11);
    expect(all.arrows.slice(0, 2).map((a) => [a.from, a.to])).toEqual([['api-0', 'redis'], ['redis', 'api-0']]);
    expect(all.arrows.at(-1)).toMatchObject({ from: 'agent-0', to: 'redis' });
    const some = messageArrows(events, 4, 6 * SECOND);
    expect(some.arrows.map((a) => a.t / SECOND)).toEqual([4, 5, 6, 7]);
    expect(messageArrows(events, 4, 60 * SECOND).arrows.map((a) => a.t / SECOND)).toEqual([8, 9, 10, 11]);
  });

  test('the timeline tells a lease change once and puts the violation after the events of its instant', () => {
    const events = [
      ev(1, 'kube-api', 'lease.create', { lease: 'L', holder: 'agent-0', transitions: 0 }),
      ev(2, 'kube-api', 'lease.update', { lease: 'L', holder: 'agent-0', transitions: 0 }),
      ev(3, 'agent-0', 'agent.execute', { command: 'cmd-1', transitions: 0, electorLeads: false }),
      ev(3, 'agent-1', 'proc.crash'),
      ev(4, 'agent-0', 'agent.execute', { command: 'cmd-2', transitions: 0, electorLeads: true }),
    ];
    const violation = { invariant: 'no-split-brain', time: 3 * SECOND, message: 'agent-0 executed cmd-1', evidence: [events[2]!] };
    expect(runTimeline(streamspace, events, { violation }).map((e) => e.what)).toEqual([
      'Lease L now held by agent-0 (transitions 0)',
      'cmd-1: agent-0 executes it (lease transitions 0, leading: no)',
      'agent-1 crashed',
      'VIOLATION no-split-brain: agent-0 executed cmd-1',
    ]);
  });
});
