import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { runTimeline } from '../../../cli/explain/timeline.ts';
import { runCase } from '../../../harness/run-case.ts';
import { caseOfExpectation } from '../../../harness/replay.ts';
import { readTraceFile } from '../../../harness/trace-file.ts';
import { SYSTEMS } from '../../index.ts';
import { streamspace } from '../system.ts';
import { narrateRun } from './narrate.ts';

/** The timeline of a saved counterexample's run under one of its profiles, as `--timeline` prints it. */
function timelineOf(name: string, profile = 'streamspace-v2'): string[] {
  const trace = readTraceFile(fileURLToPath(new URL(`../../../../traces/${name}.json`, import.meta.url)), SYSTEMS);
  const expectation = trace.expectations.find((x) => x.profile === profile)!;
  const verdict = runCase(streamspace, caseOfExpectation(streamspace, trace, expectation), { keepEvents: true });
  // The saved run itself, not a run the model has drifted into.
  expect(verdict.hash).toBe(expectation.hash);
  return runTimeline(streamspace, verdict.events!, verdict).map((e) => e.what);
}

const ev = (t: number, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t: t * SECOND, p, k, d });
const hub = (t: number, p: string, state: string): TraceEvent => ev(t, p, 'actor.state', { actor: 'hub', state });

describe('the timeline names the cause', () => {
  test('of a read deadline: the command that held the agent\'s reader, and the commands it left unread', () => {
    const lines = timelineOf('lost-command-during-long-execution');
    expect(lines).toContain('agent-1 runs cmd-0 (start_session) inside its reader: nothing is read on c10, pongs included, until it returns at 136.315s (76.312s later)');
    const lost = lines.find((l) => l.startsWith('agent-1 lost its WebSocket (read deadline)'));
    expect(lost).toMatch(/^agent-1 lost its WebSocket \(read deadline\): cmd-0 \(start_session, started at 60\.003s\) held its reader for 76\.312s, no pong was read meanwhile and the read deadline passed; the commands written to c10 meanwhile stay unread in it: cmd-1 \(written at 60\.905s\), /);
  });

  test('of nothing, when handlers run beside the reader (agent-async-handlers)', () => {
    expect(timelineOf('lost-command-during-long-execution', 'hardened').filter((l) => /inside its reader|held its reader/.test(l))).toEqual([]);
  });

  test('of a DEL of the mapping: the pod that sent it, the connection it unregistered, and whom the key named', () => {
    const lines = timelineOf('stale-unregister-deletes-live-mapping');
    expect(lines).toContain('api-0 hub found c10 stale (last ping 51.989s ago): agent-0 left it at 98.080s (read deadline) without closing it');
    expect(lines).toContain("Redis DEL agent:k8s-prod-us-east-1:pod, sent by api-0 unregistering c10; the key named api-1, not api-0, whose hub holds the agent's connection c14: the live mapping is gone");
    expect(lines.at(-2)).toBe("api-1 holds k8s-prod-us-east-1's connection c14, but agent:k8s-prod-us-east-1:pod missing since api-0's DEL at 142.002s");
  });

  test('of a routing failure: why the key was missing (Redis restarted empty)', () => {
    const lines = timelineOf('redis-restart-loses-routing');
    expect(lines).toContain('api-1 cannot route cmd-2 to k8s-prod-us-east-1: agent:k8s-prod-us-east-1:connected missing since Redis restarted empty at 121.000s');
    expect(lines.at(-2)).toBe("api-0 holds k8s-prod-us-east-1's connection c10, but agent:k8s-prod-us-east-1:pod missing since Redis restarted empty at 121.000s");
  });

  test('of a failed register SET: said at that instant, with what Redis holds after it', () => {
    expect(timelineOf('subscription-not-restored')).toContain(
      "api-0 failed to write agent:k8s-prod-us-east-1:pod at the register of c211 (timeout): Redis has no agent:k8s-prod-us-east-1:pod, so no other pod can route k8s-prod-us-east-1's commands until a register writes it again",
    );
  });

  test('a failed register SET is the cause of the routing failures after it, told once with their count', () => {
    const events = [
      hub(1, 'api-0', 'handling'),
      ev(1, 'api-0', 'hub.register', { agent: 'a', conn: 'c1' }),
      ev(2, 'redis', 'redis.set', { key: 'agent:a:pod', value: 'api-0', ex: 60 }),
      ev(3, 'api-0', 'hub.redis-error', { op: 'set', key: 'agent:a:connected', error: 'timeout' }),
      hub(3, 'api-0', 'idle'),
      ev(4, 'postgres', 'db.command.insert', { command: 'cmd-1', agent: 'a', action: 'start_session', client: 'api-1' }),
      ev(4, 'postgres', 'db.command.insert', { command: 'cmd-2', agent: 'a', action: 'start_session', client: 'api-1' }),
      ev(4, 'api-1', 'dispatcher.queued', { command: 'cmd-1', depth: 1 }),
      ev(4, 'api-1', 'dispatcher.queued', { command: 'cmd-2', depth: 2 }),
      ev(5, 'api-1', 'dispatcher.failed', { command: 'cmd-1', error: 'agent is not connected', recorded: true }),
      ev(5, 'api-1', 'dispatcher.failed', { command: 'cmd-2', error: 'agent is not connected', recorded: true }),
    ];
    expect(narrateRun(events).map((e) => e.what).slice(-2)).toEqual([
      'api-0 failed to write agent:a:connected at the register of c1 (timeout): Redis has no agent:a:connected, so every other pod takes a for not connected until a register writes it again',
      'api-1 cannot route cmd-1 to a: no agent:a:connected since api-0\'s SET at the register of c1 failed at 3.000s (timeout; before that: never written) (the first of 2 routing failures for want of agent:a:connected)',
    ]);
  });

  test('a register while Redis is down: the failed SET, not the restart, is why the mapping is missing afterwards', () => {
    const events = [
      ev(1, 'redis', 'redis.set', { key: 'agent:a:pod', value: 'api-1', ex: 60 }),
      ev(2, 'redis', 'proc.crash'),
      hub(3, 'api-0', 'handling'),
      ev(3, 'api-0', 'hub.register', { agent: 'a', conn: 'c1' }),
      ev(4, 'api-0', 'hub.redis-error', { op: 'set', key: 'agent:a:pod', error: 'connection' }),
      hub(4, 'api-0', 'idle'),
      ev(5, 'redis', 'proc.start', { incarnation: 2 }),
      ev(5, 'redis', 'redis.start', { keys: 0, fromSnapshot: false }),
      ev(6, 'postgres', 'db.command.insert', { command: 'cmd-1', agent: 'a', action: 'start_session', client: 'api-1' }),
      ev(6, 'api-1', 'dispatcher.queued', { command: 'cmd-1', depth: 1 }),
      ev(7, 'api-1', 'hub.send', { command: 'cmd-1', agent: 'a', path: 'redis-lookup', ok: false }),
    ];
    const told = narrateRun(events).map((e) => e.what);
    expect(told).toContain('api-0 failed to write agent:a:pod at the register of c1 (connection): Redis has been down since 2.000s');
    expect(told.at(-1)).toBe("api-1 cannot route cmd-1 to a: no agent:a:pod since api-0's SET at the register of c1 failed at 4.000s (connection; before that: Redis restarted empty at 5.000s)");
  });

  test('a key written again between the queueing and the failure is no cause', () => {
    const events = [
      ev(1, 'postgres', 'db.command.insert', { command: 'cmd-1', agent: 'a', action: 'start_session', client: 'api-1' }),
      ev(1, 'api-1', 'dispatcher.queued', { command: 'cmd-1', depth: 1 }),
      ev(2, 'redis', 'redis.set', { key: 'agent:a:connected', value: 'true', ex: 60 }),
      ev(3, 'redis', 'redis.expired', { key: 'agent:a:connected' }),
      ev(4, 'api-1', 'dispatcher.failed', { command: 'cmd-1', error: 'agent is not connected', recorded: true }),
    ];
    expect(narrateRun(events).map((e) => e.what)).toEqual(['Redis agent:a:connected expired']);
  });

  test('a DEL while two hubs unregister the agent names both; one while none does says so', () => {
    const events = [
      ev(1, 'redis', 'redis.set', { key: 'agent:a:pod', value: 'api-1', ex: 60 }),
      hub(2, 'api-0', 'handling'),
      ev(2, 'api-0', 'hub.unregister', { agent: 'a', conn: 'c1' }),
      hub(2, 'api-1', 'handling'),
      ev(2, 'api-1', 'hub.unregister', { agent: 'a', conn: 'c2' }),
      ev(3, 'redis', 'redis.del', { keys: ['agent:a:pod'], removed: 1 }),
      hub(4, 'api-0', 'idle'),
      hub(4, 'api-1', 'idle'),
      ev(5, 'redis', 'redis.del', { keys: ['agent:a:connected'], removed: 1 }),
    ];
    expect(narrateRun(events).map((e) => e.what).filter((w) => w.startsWith('Redis DEL'))).toEqual([
      'Redis DEL agent:a:pod, sent by api-0 unregistering c1, or by api-1 unregistering c2; the key named api-1, one of them',
      'Redis DEL agent:a:connected, no hub was unregistering the agent then',
    ]);
  });

  test('a DEL that arrives after its hub gave up on it is told as that unregister\'s', () => {
    const events = [
      ev(1, 'redis', 'redis.set', { key: 'agent:a:pod', value: 'api-0', ex: 60 }),
      hub(2, 'api-0', 'handling'),
      ev(2, 'api-0', 'hub.unregister', { agent: 'a', conn: 'c1' }),
      ev(5, 'api-0', 'hub.redis-error', { op: 'del-if-value', key: 'agent:a:pod', error: 'timeout' }),
      hub(5, 'api-0', 'idle'),
      ev(9, 'redis', 'redis.del', { keys: ['agent:a:pod', 'agent:a:connected'], removed: 1 }),
    ];
    expect(narrateRun(events).map((e) => e.what).slice(-2)).toEqual([
      'api-0 failed to delete agent:a:pod at the unregister of c1 (timeout): the key stays (it names api-0)',
      'Redis DEL agent:a:pod agent:a:connected, sent by api-0 unregistering c1, applied after api-0 had given up on it at 5.000s (timeout); the key named api-0 itself',
    ]);
  });

  test('a read deadline that passes while the reader waits (not at the end of a handler) blames no command', () => {
    const events = [
      ev(1, 'agent-0', 'agent.connected', { agent: 'a', pod: 'api-0', conn: 'c1' }),
      ev(2, 'agent-0', 'actor.state', { actor: 'agent', state: 'executing' }),
      ev(2, 'agent-0', 'agent.execute', { command: 'cmd-1', agent: 'a', action: 'stop_session', session: 's', lease: null, transitions: null, electorLeads: null }),
      ev(3, 'agent-0', 'agent.executed', { command: 'cmd-1', agent: 'a', ok: true }),
      ev(3, 'agent-0', 'actor.state', { actor: 'agent', state: 'reading' }),
      ev(70, 'agent-0', 'agent.read-error', { agent: 'a', why: 'read deadline' }),
    ];
    expect(narrateRun(events).map((e) => e.what)).toEqual(['agent-0 connected to api-0 (c1)', 'agent-0 lost its WebSocket (read deadline)']);
  });
});
