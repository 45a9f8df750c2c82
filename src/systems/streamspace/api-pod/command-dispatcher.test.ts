import { describe, expect, test } from 'vitest';
import { MINUTE, SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { StreamSpaceCluster } from '../cluster/cluster.ts';
import { commandEvents, createSession, d, deleteSession, events, holderOf, hubKeys, requestAt, statusHistory } from '../testing/harness.ts';

/**
 * CommandDispatcher and the `agent_commands` statuses as built (spec §5.3, §5.4, §11). Each test
 * names the spec section it checks; the flaws are asserted as they are.
 */

const AGENT = 'k8s-prod-us-east-1';
const trace = { trace: { keepEvents: true } } as const;
const noWorkload = { requestIntervalUs: 0 };
const singleAgent = { agentHa: false, agentReplicas: 1 };
/** start_session handlers of 5-10 s, well inside the agent's 60 s read deadline (§7.5). */
const shortSessions = { startSessionUs: [5 * SECOND, 10 * SECOND] as const };

describe('CommandDispatcher (§5.3)', () => {
  test('§5.3 step 1: a command for an agent that is connected nowhere becomes `failed`, and is not redelivered when the agent comes back', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload, topology: singleAgent }, simulation: trace });
    cluster.sim.run({ until: 40 * SECOND });
    expect(holderOf(cluster, AGENT)).not.toBeNull();
    // The agent container crashes: the API pod gets RST, unregisters it and DELs the keys. The
    // kubelet restarts the container 10 s later.
    cluster.crashContainer('agent-0');
    requestAt(cluster, 45 * SECOND, 'api-0', createSession('to-api-0', AGENT));
    requestAt(cluster, 45 * SECOND, 'api-1', createSession('to-api-1', AGENT));
    cluster.sim.run({ until: 5 * MINUTE });

    expect(events(cluster, 'hub.unregister').length).toBe(1);
    for (const id of ['to-api-0', 'to-api-1']) {
      // IsAgentConnected was false: no send was attempted at all.
      expect(commandEvents(cluster, 'hub.send', id)).toHaveLength(0);
      expect(commandEvents(cluster, 'dispatcher.failed', id).map((e) => d(e, 'error'))).toEqual(['agent is not connected']);
      expect(cluster.postgres.getCommand(id)).toMatchObject({ status: 'failed', errorMessage: 'agent is not connected' });
      expect(commandEvents(cluster, 'agent.execute', id)).toHaveLength(0);
    }
    // The agent is back and connected from 50 s on; nothing redelivers (§5.3: no retry, no redelivery on reconnect).
    const reconnected = events(cluster, 'agent.connected', (e) => e.t > 45 * SECOND);
    expect(reconnected).toHaveLength(1);
    expect(reconnected[0]!.t).toBeLessThan(51 * SECOND);
    expect(events(cluster, 'dispatcher.queued')).toHaveLength(2);
  });

  test('§11 "PUBLISH reaches 0 subscribers": after a graceful restart of the agent\'s pod, a command routed to it is `sent`, never delivered, never retried', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload }, simulation: trace });
    cluster.sim.run({ until: 61 * SECOND });
    const target = holderOf(cluster, AGENT)!;
    const origin = cluster.apiPods.find((p) => p !== target)!;
    // SIGTERM: the pod exits, its subscription dies with its Redis connection, its keys stay (§6).
    cluster.deletePod(target);
    requestAt(cluster, 61_500_000, origin, createSession('lost', AGENT));
    cluster.sim.run({ until: 62 * SECOND });
    expect(hubKeys(cluster, AGENT).pod?.value).toBe(target);
    cluster.sim.run({ until: 12 * MINUTE });

    // The origin looked the agent up, found the dead pod's name, and PUBLISHed to nobody.
    const publish = events(cluster, 'redis.publish', (e) => d(e, 'channel') === `pod:${target}:commands`);
    expect(publish.map((e) => d(e, 'receivers'))).toEqual([0]);
    expect(commandEvents(cluster, 'hub.send', 'lost').map((e) => [e.p, d(e, 'path'), d(e, 'pod'), d(e, 'ok'), d(e, 'receivers')])).toEqual([[origin, 'publish', target, true, 0]]);
    // The receiver count is ignored: the row is `sent`...
    expect(statusHistory(cluster, 'lost')).toEqual(['pending->sent']);
    // ...although the agent reconnected to the origin 2 s later and the replacement pod started
    // (its start-up scan reads only `pending` rows): 11 minutes on, still `sent`, never executed.
    expect(holderOf(cluster, AGENT)).toBe(origin);
    expect(events(cluster, 'dispatcher.pending-scan', (e) => e.t > 61 * SECOND).map((e) => d(e, 'rows'))).toEqual([0]);
    expect(commandEvents(cluster, 'dispatcher.queued', 'lost')).toHaveLength(1);
    expect(commandEvents(cluster, 'agent.execute', 'lost')).toHaveLength(0);
    expect(cluster.postgres.getCommand('lost')?.status).toBe('sent');
  });

  test('§5.3 DispatchPendingCommands/§11: a row left `pending` by a failed `sent` write is re-queued only when some API pod next starts, and executed again', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload, agent: shortSessions }, simulation: trace });
    // The database turns read-only right after the command's INSERT commits (so the dispatcher's
    // `sent` UPDATE fails), and recovers once the agent's `complete` has also failed.
    cluster.sim.trace.subscribe((e: TraceEvent) => {
      if (e.k === 'db.command.insert' && d(e, 'command') === 'x') cluster.postgresFaults.writeErrors = true;
      if (e.k === 'db.write-error' && d(e, 'statement') === 'ws.complete' && d(e, 'command') === 'x') cluster.postgresFaults.writeErrors = false;
    });
    cluster.sim.run({ until: 40 * SECOND });
    const holder = holderOf(cluster, AGENT)!;
    requestAt(cluster, 45 * SECOND, holder, createSession('x', AGENT, 'session-x'));
    cluster.sim.run({ until: 6 * MINUTE });

    // Delivered and executed once; every status write failed: the row is still `pending`.
    expect(commandEvents(cluster, 'db.write-error', 'x').map((e) => d(e, 'statement')).sort()).toEqual(['dispatcher.sent', 'ws.ack', 'ws.complete']);
    expect(commandEvents(cluster, 'dispatcher.sent', 'x').map((e) => d(e, 'recorded'))).toEqual([false]);
    expect(commandEvents(cluster, 'agent.executed', 'x').map((e) => d(e, 'ok'))).toEqual([true]);
    expect(cluster.platform.has('session-x')).toBe(true);
    expect(cluster.postgres.getCommand('x')?.status).toBe('pending');
    // Five minutes with a healthy database: no periodic re-scan, no retry.
    expect(cluster.postgresFaults.writeErrors).toBe(false);
    expect(commandEvents(cluster, 'dispatcher.queued', 'x')).toHaveLength(1);
    expect(events(cluster, 'dispatcher.pending-scan')).toHaveLength(2); // the two pods' start-ups, before the row existed

    // Some API pod starts (the other pod is deleted and replaced): its start-up scan re-queues the row.
    const other = cluster.apiPods.find((p) => p !== holder)!;
    cluster.deletePod(other);
    cluster.sim.run({ until: 10 * MINUTE });
    const replacement = cluster.apiPods.find((p) => p !== holder)!;
    const scan = events(cluster, 'dispatcher.pending-scan', (e) => e.p === replacement);
    expect(scan.map((e) => d(e, 'rows'))).toEqual([1]);
    expect(scan[0]!.t - 6 * MINUTE).toBeLessThan(8 * SECOND); // 5 s replacement + 2 s start-up
    expect(commandEvents(cluster, 'dispatcher.queued', 'x').map((e) => e.p)).toEqual([holder, replacement]);
    // The agent has no de-duplication (§7.5): the second run fails with AlreadyExists and the row ends
    // `failed` although the session exists.
    expect(commandEvents(cluster, 'agent.executed', 'x').map((e) => d(e, 'ok'))).toEqual([true, false]);
    expect(cluster.postgres.getCommand('x')).toMatchObject({ status: 'failed', errorMessage: 'session session-x already exists' });
    expect(cluster.platform.has('session-x')).toBe(true);
  });
});

describe('`sent` is written after the send (§5.4 blind overwrites)', () => {
  test('§5.4: with default latencies the `sent` UPDATE sometimes commits after the agent\'s `ack` and overwrites it (seed 1, 10 min of the default workload)', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: { requestIntervalUs: 5 * SECOND } }, simulation: trace });
    cluster.sim.run({ until: 10 * MINUTE });
    const overwritten = events(cluster, 'db.command.status', (e) => d(e, 'by') === 'dispatcher.sent' && d(e, 'from') === 'ack');
    // Measured: cmd-0, cmd-35, cmd-58 (3 of the 84 commands that reached the agent).
    expect(overwritten.map((e) => d(e, 'command'))).toEqual(['cmd-0', 'cmd-35', 'cmd-58']);
    for (const sent of overwritten) {
      const id = d<string>(sent, 'command');
      // The condition: the `sent` UPDATE was issued (right after hub.send returned) before the ack
      // reached the API, but the two statements run on separate backends with independent service
      // times (0.5-2 ms), and the ack's committed first.
      const send = commandEvents(cluster, 'hub.send', id)[0]!;
      const ackIn = events(cluster, 'ws.in', (e) => d(e, 'command') === id && d(e, 'type') === 'ack')[0]!;
      const ackCommit = events(cluster, 'db.command.status', (e) => d(e, 'command') === id && d(e, 'to') === 'ack')[0]!;
      expect(send.t).toBeLessThan(ackIn.t);
      expect(ackCommit.t).toBeLessThan(sent.t);
      expect(sent.t - send.t).toBeLessThan(5_000);
      expect(statusHistory(cluster, id)).toEqual(['pending->ack', 'ack->sent', 'sent->completed']);
    }
  });

  test('§5.4: a `sent` UPDATE delayed on the origin pod\'s database path overwrites `ack`, and `completed` for a short handler', () => {
    // Widening: the link from the origin pod's node to the database node gets 3 s of latency (what
    // four TCP retransmission timeouts, 0.2 + 0.4 + 0.8 + 1.6 s, cost a connection). The command is
    // routed through Redis to the pod holding the agent, which writes `ack` and `completed` over
    // its own, healthy path. Five worker nodes put every pod on its own node, so only the origin's
    // statements are slow. With default latencies the window is a few hundred µs (test above),
    // shorter than any stop_session handler (0.2-2 s).
    const cluster = new StreamSpaceCluster({
      seed: 1,
      config: { workload: noWorkload, topology: { ...singleAgent, workerNodes: 5 }, agent: { startSessionUs: [10 * SECOND, 10 * SECOND] } },
      simulation: trace,
    });
    expect(new Set(['api-0', 'api-1', 'agent-0', 'redis', 'postgres'].map((p) => cluster.podNode(p))).size).toBe(5);
    cluster.sim.run({ until: 40 * SECOND });
    const holder = holderOf(cluster, AGENT)!;
    const origin = cluster.apiPods.find((p) => p !== holder)!;
    cluster.sim.network.setLink(cluster.podNode(origin), cluster.podNode('postgres'), {
      latency: { baseUs: 3 * SECOND, jitterUs: 0, tailChance: 0, tailUs: 0 }, dropRate: 0, duplicateRate: 0,
    });
    requestAt(cluster, 45 * SECOND, origin, createSession('start', AGENT, 's1'));
    requestAt(cluster, 90 * SECOND, origin, deleteSession('stop', AGENT, 's1'));
    cluster.sim.run({ until: 4 * MINUTE });

    for (const id of ['start', 'stop']) expect(commandEvents(cluster, 'hub.send', id).map((e) => [e.p, d(e, 'path'), d(e, 'pod')])).toEqual([[origin, 'publish', holder]]);
    // start_session runs 10 s: the late `sent` lands on `ack`, and `completed` comes after it.
    expect(statusHistory(cluster, 'start')).toEqual(['pending->ack', 'ack->sent', 'sent->completed']);
    // stop_session runs 0.2-2 s: the late `sent` lands on `completed`; the finished command reads `sent` for good.
    expect(statusHistory(cluster, 'stop')).toEqual(['pending->ack', 'ack->completed', 'completed->sent']);
    const stop = cluster.postgres.getCommand('stop')!;
    expect(stop.status).toBe('sent');
    expect(stop.completedAt).not.toBeNull();
    expect(stop.sentAt!).toBeLessThan(stop.completedAt!); // sent_at is stamped when issued, before completion
  });
});
