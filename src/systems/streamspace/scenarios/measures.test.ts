import { describe, expect, test } from 'vitest';
import type { TraceEvent } from '../../../sim-cluster/index.ts';
import { hubsHoldingAgent, newMappingRemovals, registrationsOfClosedConnections } from './measures.ts';
import type { Observation } from './define.ts';

const AGENT = 'a1';
const KEY = `agent:${AGENT}:pod`;

/** An observation of hand-written trace events (only what these measures read). */
function observe(events: TraceEvent[], faultAt: number, endAt: number): Observation {
  return { events, faultAt, endAt, cluster: { agentIds: () => [AGENT] } } as unknown as Observation;
}

const ev = (t: number, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t, p, k, d });
const started = [ev(0, 'api-0', 'proc.start'), ev(0, 'api-1', 'proc.start'), ev(0, 'agent-0', 'proc.start')];

describe('max-hubs-holding-agent (hubsHoldingAgent)', () => {
  test('a paused pod\'s entry is not counted while it is paused, and counts again if it still holds it after resuming', () => {
    const o = observe([
      ...started,
      ev(10, 'api-0', 'hub.register', { agent: AGENT, conn: 'c1' }),
      ev(100, 'api-0', 'proc.pause'),
      ev(150, 'api-1', 'hub.register', { agent: AGENT, conn: 'c2' }),
      ev(300, 'api-0', 'proc.resume'),
      ev(340, 'api-0', 'hub.unregister', { agent: AGENT, conn: 'c1' }),
    ], 100, 1000);
    expect(hubsHoldingAgent(o)).toEqual({ max: 2, overlaps: [{ from: 300, to: 340, pods: ['api-0', 'api-1'] }] });
  });

  test('an entry dropped at the instant the pod resumes is no duplicate; an entry of a few µs on a running pod is one', () => {
    const resumedClean = observe([
      ...started,
      ev(10, 'api-0', 'hub.register', { agent: AGENT, conn: 'c1' }),
      ev(100, 'api-0', 'proc.pause'),
      ev(150, 'api-1', 'hub.register', { agent: AGENT, conn: 'c2' }),
      ev(300, 'api-0', 'proc.resume'),
      ev(300, 'api-0', 'hub.unregister', { agent: AGENT, conn: 'c1' }),
    ], 100, 1000);
    expect(hubsHoldingAgent(resumedClean)).toEqual({ max: 1, overlaps: [] });
    const brief = observe([
      ...started,
      ev(150, 'api-1', 'hub.register', { agent: AGENT, conn: 'c2' }),
      ev(400, 'api-0', 'hub.register', { agent: AGENT, conn: 'c3' }),
      ev(403, 'api-0', 'hub.unregister', { agent: AGENT, conn: 'c3' }),
    ], 100, 1000);
    expect(hubsHoldingAgent(brief).overlaps).toEqual([{ from: 400, to: 403, pods: ['api-1', 'api-0'] }]);
  });

  test('entries before the fault, of other agents, or of crashed pods do not count', () => {
    const o = observe([
      ...started,
      ev(10, 'api-0', 'hub.register', { agent: AGENT, conn: 'c1' }),
      ev(20, 'api-1', 'hub.register', { agent: AGENT, conn: 'c2' }),
      ev(50, 'api-0', 'proc.crash'),
      ev(200, 'api-0', 'proc.start'),
      ev(210, 'api-0', 'hub.register', { agent: 'other', conn: 'c9' }),
    ], 100, 1000);
    expect(hubsHoldingAgent(o).max).toBe(1);
  });
});

describe('new-mapping-removed (newMappingRemovals)', () => {
  /** The agent on api-0 before the fault at 100, moved to api-1 at 200 (whose SET names it). */
  const moved = [
    ...started,
    ev(10, 'api-0', 'hub.register', { agent: AGENT, conn: 'c1' }),
    ev(11, 'agent-0', 'agent.connected', { pod: 'api-0', conn: 'c1' }),
    ev(12, 'redis', 'redis.set', { key: KEY, value: 'api-0' }),
    ev(150, 'agent-0', 'agent.read-error', { why: 'read deadline' }),
    ev(200, 'api-1', 'hub.register', { agent: AGENT, conn: 'c2' }),
    ev(201, 'agent-0', 'agent.connected', { pod: 'api-1', conn: 'c2' }),
    ev(205, 'redis', 'redis.set', { key: KEY, value: 'api-1' }),
  ];

  test('an old pod\'s SET over the live mapping, then a DEL of its own value: one removal (the overwrite)', () => {
    const o = observe([
      ...moved,
      ev(300, 'api-0', 'hub.register', { agent: AGENT, conn: 'c3' }),
      ev(303, 'redis', 'redis.set', { key: KEY, value: 'api-0' }),
      ev(304, 'api-0', 'hub.unregister', { agent: AGENT, conn: 'c3' }),
      ev(306, 'redis', 'redis.del', { keys: [KEY, `agent:${AGENT}:connected`], removed: 2 }),
      ev(400, 'redis', 'redis.set', { key: KEY, value: 'api-1' }),
    ], 100, 1000);
    expect(newMappingRemovals(o)).toEqual([{ t: 303, how: 'overwritten', named: 'api-1', by: 'api-0' }]);
  });

  test('an unconditional DEL by the old pod\'s unregister while the key names the new pod counts, with the unregistering pod', () => {
    const o = observe([
      ...moved,
      ev(300, 'api-0', 'hub.unregister', { agent: AGENT, conn: 'c1' }),
      ev(305, 'redis', 'redis.del', { keys: [KEY], removed: 1 }),
    ], 100, 1000);
    expect(newMappingRemovals(o)).toEqual([{ t: 305, how: 'deleted', named: 'api-1', by: 'api-0' }]);
  });

  test('heartbeat SETs of the same value, the new pod dropping its own mapping after the agent left, and a run without a move count nothing', () => {
    const o = observe([
      ...moved,
      ev(235, 'redis', 'redis.set', { key: KEY, value: 'api-1' }),
      ev(300, 'agent-0', 'agent.read-error', { why: 'read deadline' }),
      ev(360, 'api-1', 'hub.unregister', { agent: AGENT, conn: 'c2' }),
      ev(365, 'redis', 'redis.del', { keys: [KEY], removed: 1 }),
    ], 100, 1000);
    expect(newMappingRemovals(o)).toEqual([]);
    const stayed = observe([...moved.slice(0, 6), ev(300, 'redis', 'redis.del', { keys: [KEY], removed: 1 })], 100, 1000);
    expect(newMappingRemovals(stayed)).toEqual([]);
  });
});

test('closed-connections-registered: a registration of a connection whose peer had closed it before the pod read it', () => {
  const o = observe([
    ...started,
    ev(150, 'api-0', 'conn.peer-closed', { c: 'c7' }),
    ev(152, 'api-0', 'hub.register', { agent: AGENT, conn: 'c7' }),
    ev(160, 'api-1', 'hub.register', { agent: AGENT, conn: 'c8' }),
    ev(170, 'api-1', 'conn.peer-closed', { c: 'c8' }),
  ], 100, 1000);
  expect(registrationsOfClosedConnections(o).map((e) => e.d!['conn'])).toEqual(['c7']);
});
