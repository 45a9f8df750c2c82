import { describe, expect, test } from 'vitest';
import { MINUTE, MS, SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { CONTROL_PLANE_NODE, StreamSpaceCluster } from '../cluster/cluster.ts';
import { commandEvents, createSession, d, events, holderOf, requestAt, statusHistory } from '../testing/harness.ts';

/**
 * The k8s-agent and its replica process as built (spec §7, §8, §11). Each test names the spec
 * section it checks; the flaws are asserted as they are.
 */

const AGENT = 'k8s-prod-us-east-1';
const trace = { trace: { keepEvents: true } } as const;
const noWorkload = { requestIntervalUs: 0 };
/** One replica without leader election: the agent runs at once. */
const singleAgent = { agentHa: false, agentReplicas: 1 };

describe('Reconnect (§7.2, §7.5)', () => {
  test('§7.2/§7.5: with every API pod down the agent sleeps 2, 4, 8, 16, 32 s before its attempts, then the same again, without end', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload, topology: singleAgent }, simulation: trace });
    cluster.sim.run({ until: 40 * SECOND });
    expect(events(cluster, 'agent.connected')).toHaveLength(1);
    // Both API containers die and are not restarted (a crash loop); the Service still lists them,
    // so every attempt's registration POST is refused.
    for (const pod of cluster.apiPods) cluster.sim.crash(pod);
    cluster.sim.run({ until: 5 * MINUTE });

    const readError = events(cluster, 'agent.read-error', (e) => e.t >= 40 * SECOND);
    expect(readError.map((e) => d(e, 'why'))).toEqual(['connection closed']);
    const dials = events(cluster, 'conn.dial', (e) => e.p === 'agent-0' && e.t >= 40 * SECOND);
    const failures = events(cluster, 'agent.register', (e) => e.p === 'agent-0' && e.t >= 40 * SECOND);
    expect(failures.every((e) => d(e, 'status') === 0)).toBe(true);
    expect(dials).toHaveLength(failures.length);
    // The sleep before each attempt, from the failure that preceded it.
    const sleeps = dials.map((dial, i) => dial.t - (i === 0 ? readError[0]!.t : failures[i - 1]!.t));
    const cycle = [2, 4, 8, 16, 32].map((s) => s * SECOND);
    expect(sleeps).toHaveLength(22); // 4 full cycles of 62 s plus two attempts in 260 s
    expect(sleeps).toEqual(Array.from({ length: sleeps.length }, (_, i) => cycle[i % 5]));

    // The pods come back; the agent connects at its next scheduled attempt, not before.
    for (const pod of ['api-0', 'api-1']) cluster.sim.start(pod);
    cluster.sim.run({ until: 7 * MINUTE });
    // (Its writer died on a heartbeat during the backoff, §7.6, so more connections follow: see below.)
    const connected = events(cluster, 'agent.connected', (e) => e.t >= 40 * SECOND);
    expect(connected.length).toBeGreaterThanOrEqual(1);
    const lastFailure = events(cluster, 'agent.register', (e) => e.p === 'agent-0' && d(e, 'status') === 0).at(-1)!;
    const attempt = events(cluster, 'conn.dial', (e) => e.p === 'agent-0' && e.t > lastFailure.t)[0]!;
    expect(attempt.t - lastFailure.t).toBe(cycle[failures.length % 5]); // the 23rd sleep: 8 s
    expect(connected[0]!.t - attempt.t).toBeLessThan(20 * MS);
  });
});

describe('readPump executes commands (§7.5)', () => {
  test('§7.5: `ack` goes out before the handler runs, and the handler runs inside the reader: a second command waits, unread, until the first finishes', () => {
    const cluster = new StreamSpaceCluster({
      seed: 1,
      config: { workload: noWorkload, topology: singleAgent, agent: { startSessionUs: [10 * SECOND, 10 * SECOND] } },
      simulation: trace,
    });
    cluster.sim.run({ until: 40 * SECOND });
    const pod = holderOf(cluster, AGENT)!;
    requestAt(cluster, 45 * SECOND, pod, createSession('first', AGENT));
    requestAt(cluster, 46 * SECOND, pod, createSession('second', AGENT));
    cluster.sim.run({ until: 2 * MINUTE });

    const at = (kind: string, id: string, where: (e: TraceEvent) => boolean = () => true): number => {
      const found = commandEvents(cluster, kind, id).filter(where);
      expect(found, `${kind} ${id}`).toHaveLength(1);
      return found[0]!.t;
    };
    const ackSent = (id: string): number => at('agent.sent', id, (e) => d(e, 'type') === 'ack');
    const ackCommitted = (id: string): number => at('db.command.status', id, (e) => d(e, 'to') === 'ack');

    // First: ack written in the instant the handler starts, committed within milliseconds, 10 s
    // before the handler ends.
    const firstStart = at('agent.execute', 'first');
    const firstEnd = at('agent.executed', 'first');
    expect(ackSent('first')).toBe(firstStart);
    expect(ackCommitted('first') - firstStart).toBeLessThan(5 * MS);
    expect(firstEnd - firstStart).toBe(10 * SECOND);

    // Second: the API wrote its frame at 46 s, while the first handler ran. The reader took it only
    // when the first handler returned: its ack and execution start 9 s after the frame arrived.
    const secondFrame = at('ws.frame-out', 'second');
    expect(secondFrame).toBeGreaterThan(firstStart);
    expect(secondFrame).toBeLessThan(firstEnd);
    expect(at('agent.execute', 'second')).toBe(firstEnd);
    expect(ackSent('second')).toBe(firstEnd);
    expect(ackSent('second') - secondFrame).toBeGreaterThan(8.9 * SECOND);
    // Meanwhile the API saw the second command as `sent` only.
    expect(events(cluster, 'db.command.status', (e) => d(e, 'command') === 'second' && e.t < firstEnd).map((e) => d(e, 'to'))).toEqual(['sent']);
    for (const id of ['first', 'second']) expect(cluster.postgres.getCommand(id)?.status).toBe('completed');
  });

  test('§7.5: no de-duplication by command id — a start_session delivered a second time fails with AlreadyExists', () => {
    const cluster = new StreamSpaceCluster({ seed: 2, config: { workload: noWorkload, topology: singleAgent, agent: { startSessionUs: [5 * SECOND, 10 * SECOND] } }, simulation: trace });
    // The second delivery comes from the start-up scan of `pending` rows (§5.3): the database
    // refuses writes from the command's INSERT until the agent's `complete`, so the row stays `pending`.
    cluster.sim.trace.subscribe((e: TraceEvent) => {
      if (e.k === 'db.command.insert' && d(e, 'command') === 'dup') cluster.postgresFaults.writeErrors = true;
      if (e.k === 'db.write-error' && d(e, 'statement') === 'ws.complete' && d(e, 'command') === 'dup') cluster.postgresFaults.writeErrors = false;
    });
    cluster.sim.run({ until: 40 * SECOND });
    const pod = holderOf(cluster, AGENT)!;
    requestAt(cluster, 45 * SECOND, pod, createSession('dup', AGENT, 'session-dup'));
    cluster.sim.run({ until: 2 * MINUTE });
    expect(cluster.postgres.getCommand('dup')?.status).toBe('pending');
    // The other API container crashes and restarts in place; at its start it re-queues the row.
    cluster.crashContainer(cluster.apiPods.find((p) => p !== pod)!);
    cluster.sim.run({ until: 4 * MINUTE });

    const executions = commandEvents(cluster, 'agent.execute', 'dup');
    expect(executions.map((e) => [e.p, d(e, 'session')])).toEqual([['agent-0', 'session-dup'], ['agent-0', 'session-dup']]);
    expect(executions[1]!.t - executions[0]!.t).toBeGreaterThan(1 * MINUTE);
    // Both deliveries were acked, both ran; the second Create met the existing Deployment.
    expect(commandEvents(cluster, 'agent.sent', 'dup').map((e) => d(e, 'type'))).toEqual(['ack', 'complete', 'ack', 'failed']);
    expect(commandEvents(cluster, 'agent.executed', 'dup').map((e) => d(e, 'ok'))).toEqual([true, false]);
    expect(cluster.platform.has('session-dup')).toBe(true);
    expect(cluster.postgres.getCommand('dup')).toMatchObject({ status: 'failed', errorMessage: 'session session-dup already exists' });
  });
});

describe('writePump (§7.6, §11 "Agent WS write error")', () => {
  test('§7.6/§11: the writer exits for good on its first write error; heartbeats stop and the hub\'s stale sweep drops every new connection 45-55 s after it opens', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload, topology: singleAgent, agent: { startSessionUs: [5 * SECOND, 10 * SECOND] } }, simulation: trace });
    cluster.sim.run({ until: 40 * SECOND });
    const connectedAt = events(cluster, 'agent.connected')[0]!.t;
    const pod = holderOf(cluster, AGENT)!;
    // The API container holding the agent crashes 0.5 s before Connect + 270 s, when both the
    // agent's ping (every 54 s) and its heartbeat (every 30 s) fall due, during the 2 s reconnect
    // backoff. A crash on a live host answers with RST, so those writes fail (a graceful delete
    // would only send FIN, and the first writes after a FIN still leave, as on Linux). writePump returns.
    cluster.sim.at(connectedAt + 269_500 * MS, () => cluster.crashContainer(pod));
    // A command sent to the agent on a later connection.
    let commandPod = '';
    requestAt(cluster, 8 * MINUTE, () => (commandPod = holderOf(cluster, AGENT)!), createSession('late', AGENT));
    cluster.sim.run({ until: 15 * MINUTE });

    const writerExit = events(cluster, 'agent.writer-exit');
    expect(writerExit.map((e) => [d(e, 'lost'), e.t])).toEqual([['ping', connectedAt + 270 * SECOND]]);
    // Heartbeats were handled until then.
    expect(events(cluster, 'hub.heartbeat').map((e) => d(e, 'db'))).toEqual(Array(8).fill(true));
    const firstError = events(cluster, 'agent.read-error')[0]!;
    const connections = events(cluster, 'agent.connected').slice(1);
    expect(firstError.t).toBeLessThan(writerExit[0]!.t);
    expect(connections[0]!.t).toBeGreaterThan(writerExit[0]!.t);
    // No heartbeat reached any pod after that, on any connection.
    expect(events(cluster, 'ws.in', (e) => d(e, 'type') === 'heartbeat' && e.t > writerExit[0]!.t)).toHaveLength(0);

    // The cycle: every later connection is found stale by the hub that holds it 45-55 s after it
    // opened (LastPing is its creation), the hub closes it, the agent reconnects 2 s later.
    // The agent's own 60 s read deadline never fires first.
    const created = new Map(events(cluster, 'ws.upgraded').map((e) => [d<string>(e, 'conn'), e.t]));
    const stale = events(cluster, 'hub.stale');
    expect(stale.length).toBeGreaterThanOrEqual(10);
    expect(stale.map((e) => d(e, 'conn'))).toEqual(connections.slice(0, stale.length).map((e) => d(e, 'conn')));
    for (const s of stale) {
      const age = s.t - created.get(d<string>(s, 'conn'))!;
      expect(age).toBeGreaterThan(45 * SECOND);
      expect(age).toBeLessThanOrEqual(55 * SECOND);
    }
    const readErrors = events(cluster, 'agent.read-error', (e) => e.t > writerExit[0]!.t);
    expect(new Set(readErrors.map((e) => d(e, 'why')))).toEqual(new Set(['connection closed']));
    for (let i = 0; i < stale.length && i + 1 < connections.length; i++) {
      expect(connections[i + 1]!.t - stale[i]!.t).toBeGreaterThanOrEqual(2 * SECOND);
      expect(connections[i + 1]!.t - stale[i]!.t).toBeLessThan(2 * SECOND + 20 * MS);
    }
    // Commands still arrive and run, but ack and complete sit in writeChan: the row stays `sent`.
    expect(commandPod).not.toBe('');
    expect(commandEvents(cluster, 'agent.executed', 'late').map((e) => d(e, 'ok'))).toEqual([true]);
    expect(events(cluster, 'agent.sent', (e) => e.t > writerExit[0]!.t)).toHaveLength(0);
    expect(statusHistory(cluster, 'late')).toEqual(['pending->sent']);
  });
});

describe('Leader election (§8)', () => {
  test('§8 "Run is not re-entered": a replica that lost its lease never campaigns again, even when no other replica is left', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload }, simulation: trace });
    cluster.sim.run({ until: 60 * SECOND });
    const leader = events(cluster, 'elector.acquired')[0]!.p;
    expect(leader).toBe('agent-1');
    // The leader's node loses the control plane for 30 s: renewals fail for RenewDeadline (10 s),
    // the release times out (10 s), OnStoppedLeading stops the agent. A standby takes the lease.
    const node = cluster.podNode(leader);
    cluster.sim.network.partition([node], [CONTROL_PLANE_NODE]);
    cluster.sim.at(90 * SECOND, () => cluster.sim.network.heal([node], [CONTROL_PLANE_NODE]));
    cluster.sim.run({ until: 3 * MINUTE });

    const own = (kind: string) => events(cluster, kind, (e) => e.p === leader && e.t > 60 * SECOND);
    expect(own('elector.renew-failed').map((e) => d(e, 'why'))).toEqual(['deadline']);
    const stopped = own('elector.stopped-leading');
    expect(stopped).toHaveLength(1);
    expect(stopped[0]!.t - 60 * SECOND).toBeLessThan(21 * SECOND);
    expect(own('agent.stop').map((e) => e.t)).toEqual([stopped[0]!.t]);
    const successor = events(cluster, 'elector.acquired', (e) => e.t > 60 * SECOND);
    expect(successor.map((e) => d(e, 'transitions'))).toEqual([1]);
    expect(successor[0]!.p).not.toBe(leader);

    // Every other replica dies for good; the lease lapses. The old leader is up, could take it, and never tries.
    for (const p of cluster.agentPods.filter((p) => p !== leader)) cluster.sim.crash(p);
    requestAt(cluster, 9 * MINUTE, 'api-0', createSession('nobody-home', AGENT));
    cluster.sim.run({ until: 10 * MINUTE });

    expect(cluster.sim.process(leader).status).toBe('up');
    // Its elector is final: no state change, no Lease request after the one held by the partition
    // (sent at 60 s, refused with Conflict when it arrived at the heal).
    expect(events(cluster, 'actor.state', (e) => e.p === leader && e.t > stopped[0]!.t)).toHaveLength(0);
    const writes = events(cluster, 'lease.create').concat(events(cluster, 'lease.update'), events(cluster, 'lease.conflict')).filter((e) => d(e, 'by') === leader && e.t > stopped[0]!.t);
    expect(writes.map((e) => [e.k, d(e, 'reason')])).toEqual([['lease.conflict', 'Conflict']]);
    expect(writes[0]!.t - 90 * SECOND).toBeLessThan(10 * MS);
    const lease = cluster.leases.get(`streamspace-agent-${AGENT}`)!;
    expect(lease.holderIdentity).toBe(successor[0]!.p);
    expect(cluster.sim.now - lease.renewTime!).toBeGreaterThan(7 * MINUTE);
    // No agent is connected anywhere; commands fail.
    expect(events(cluster, 'agent.connected', (e) => e.t > 3 * MINUTE)).toHaveLength(0);
    expect(cluster.postgres.getCommand('nobody-home')).toMatchObject({ status: 'failed', errorMessage: 'agent is not connected' });
  });
});
