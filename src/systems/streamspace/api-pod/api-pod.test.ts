import { describe, expect, test } from 'vitest';
import { MINUTE, MS, SECOND } from '../../../sim-cluster/index.ts';
import { StreamSpaceCluster } from '../cluster/cluster.ts';
import { commandEvents, createSession, d, events, holderOf, hubKeys, requestAt, statusHistory } from '../testing/harness.ts';

/**
 * The API pod's lifecycle and its WebSocket writer as built (spec §1, §3, §4, §6, §11). Each test
 * names the spec section it checks; the flaws are asserted as they are.
 */

const AGENT = 'k8s-prod-us-east-1';
const trace = { trace: { keepEvents: true } } as const;
const noWorkload = { requestIntervalUs: 0 };
/** start_session handlers of 5-10 s, well inside the agent's 60 s read deadline (§7.5). */
const shortSessions = { startSessionUs: [5 * SECOND, 10 * SECOND] as const };

/**
 * Redis is unreachable from api-1 while it starts (a partition between its node and Redis's node
 * from 0 to 20 s); api-0 starts normally. Seven worker nodes put every pod on its own node, so the
 * partition cuts nothing else.
 */
function redisUnreachableAtApi1Startup(seed: number): StreamSpaceCluster {
  const cluster = new StreamSpaceCluster({ seed, config: { workload: noWorkload, topology: { workerNodes: 7 }, agent: shortSessions }, simulation: trace });
  const pods = ['api-0', 'api-1', 'agent-0', 'agent-1', 'agent-2', 'redis', 'postgres'];
  expect(new Set(pods.map((p) => cluster.podNode(p))).size).toBe(pods.length);
  const [api1Node, redisNode] = [cluster.podNode('api-1'), cluster.podNode('redis')];
  cluster.sim.network.partition([api1Node], [redisNode]);
  cluster.sim.at(20 * SECOND, () => cluster.sim.network.heal([api1Node], [redisNode]));
  requestAt(cluster, 45 * SECOND, 'api-0', createSession('via-api-0', AGENT));
  requestAt(cluster, 45 * SECOND, 'api-1', createSession('via-api-1', AGENT));
  requestAt(cluster, 9 * MINUTE, 'api-0', createSession('late-via-api-0', AGENT));
  requestAt(cluster, 9 * MINUTE, 'api-1', createSession('late-via-api-1', AGENT));
  cluster.sim.run({ until: 10 * MINUTE });
  return cluster;
}

/** What every run of `redisUnreachableAtApi1Startup` shows about the pods' modes. */
function expectApi1SinglePodForLife(cluster: StreamSpaceCluster): void {
  // One mode decision per pod for the whole run: api-1's PING hit its 5 s deadline at 2 + 5 s.
  expect(events(cluster, 'api.redis-mode').map((e) => [e.p, d(e, 'enabled'), e.t])).toEqual([
    ['api-0', true, expect.any(Number)],
    ['api-1', false, 7 * SECOND],
  ]);
  // Redis was reachable again from 20 s on; api-1 never dialled it again and never subscribed.
  const api1Dials = events(cluster, 'conn.dial', (e) => e.p === 'api-1' && d(e, 'to') === 'redis');
  expect(api1Dials.length).toBeGreaterThan(0);
  expect(api1Dials.every((e) => e.t < 20 * SECOND)).toBe(true);
  expect(events(cluster, 'redis.subscribe').map((e) => d(e, 'channel'))).toEqual(['pod:api-0:commands']);
}

describe('API pod start-up without Redis (§4, §6, §11 "Redis down at API boot")', () => {
  test('§4/§6/§11: the pod runs single-pod mode for life, and commands it creates for an agent connected to the other pod fail (seed 1)', () => {
    const cluster = redisUnreachableAtApi1Startup(1);
    expectApi1SinglePodForLife(cluster);
    // The agent is connected to api-0, which wrote the keys; Redis is healthy.
    expect(holderOf(cluster, AGENT)).toBe('api-0');
    expect(hubKeys(cluster, AGENT).connected?.value).toBe('true');
    // api-1 has no Redis client: IsAgentConnected is false without asking anyone.
    for (const id of ['via-api-1', 'late-via-api-1']) {
      expect(commandEvents(cluster, 'hub.send', id)).toHaveLength(0);
      expect(cluster.postgres.getCommand(id)).toMatchObject({ status: 'failed', errorMessage: 'agent is not connected' });
    }
    for (const id of ['via-api-0', 'late-via-api-0']) expect(cluster.postgres.getCommand(id)?.status).toBe('completed');
  });

  test('§4/§11: an agent registered on the single-pod-mode pod has no Redis keys, so the Redis-mode pod cannot reach it either (seed 2)', () => {
    const cluster = redisUnreachableAtApi1Startup(2);
    expectApi1SinglePodForLife(cluster);
    expect(holderOf(cluster, AGENT)).toBe('api-1');
    expect(events(cluster, 'redis.set')).toHaveLength(0);
    expect(hubKeys(cluster, AGENT)).toEqual({ pod: undefined, connected: undefined });
    for (const id of ['via-api-0', 'late-via-api-0']) {
      expect(cluster.postgres.getCommand(id)).toMatchObject({ status: 'failed', errorMessage: 'agent is not connected' });
    }
    for (const id of ['via-api-1', 'late-via-api-1']) expect(cluster.postgres.getCommand(id)?.status).toBe('completed');
  });
});

describe('API pod graceful shutdown (§6, §11 "API pod graceful restart")', () => {
  test('§6: SIGTERM closes the agent\'s socket at once but leaves the pod\'s Redis keys until the agent re-registers elsewhere', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload }, simulation: trace });
    cluster.sim.run({ until: 61 * SECOND });
    const pod = holderOf(cluster, AGENT)!;
    const other = cluster.apiPods.find((p) => p !== pod)!;
    const before = hubKeys(cluster, AGENT);
    expect(before.pod?.value).toBe(pod);
    const agentProcess = events(cluster, 'agent.connected').at(-1)!.p;
    const agentConn = d<string>(events(cluster, 'agent.connected').at(-1)!, 'conn');

    cluster.deletePod(pod);
    cluster.sim.run({ until: 62_900 * MS });
    expect(events(cluster, 'api.shutdown').map((e) => [e.p, e.t])).toEqual([[pod, 61 * SECOND]]);
    // The agent sees a FIN on its WebSocket within a network latency and goes to its 2 s backoff.
    const closed = events(cluster, 'conn.peer-closed', (e) => e.p === agentProcess && d(e, 'c') === agentConn);
    expect(closed).toHaveLength(1);
    expect(closed[0]!.t - 61 * SECOND).toBeLessThan(1 * MS);
    expect(events(cluster, 'agent.read-error', (e) => e.t >= 61 * SECOND).map((e) => d(e, 'why'))).toEqual(['connection closed']);
    // Neither the hub nor anything else cleaned up: no unregister, no DEL, the keys still name the
    // dead pod with their old deadlines.
    expect(events(cluster, 'hub.unregister')).toHaveLength(0);
    expect(events(cluster, 'redis.del')).toHaveLength(0);
    expect(hubKeys(cluster, AGENT)).toEqual(before);

    // The agent re-registers on the surviving pod, whose SETs overwrite the keys.
    cluster.sim.run({ until: 64 * SECOND });
    const reconnect = events(cluster, 'agent.connected', (e) => e.t > 61 * SECOND);
    expect(reconnect.map((e) => d(e, 'pod'))).toEqual([other]);
    expect(reconnect[0]!.t - 61 * SECOND).toBeGreaterThanOrEqual(2 * SECOND);
    expect(hubKeys(cluster, AGENT).pod?.value).toBe(other);
  });
});

describe('API writePump framing (§1 framing quirk, §3 writePump)', () => {
  test('§1/§3: two commands queued on one Send within the writer wake-up time leave as one frame, and the agent drops the whole frame (default 50 µs, seed 4)', () => {
    const cluster = new StreamSpaceCluster({ seed: 4, config: { workload: noWorkload }, simulation: trace });
    cluster.sim.run({ until: 40 * SECOND });
    const pod = holderOf(cluster, AGENT)!;
    requestAt(cluster, 45 * SECOND, pod, createSession('a', AGENT));
    requestAt(cluster, 45 * SECOND, pod, createSession('b', AGENT));
    cluster.sim.run({ until: 10 * MINUTE });

    // The condition: both INSERT replies reached the pod in the same instant (the first one had a
    // slow segment and the second, behind it on the same connection, could not overtake it), so
    // both commands went onto the same connection's Send 0 µs apart, within writerWakeUs = 50 µs.
    const sends = events(cluster, 'hub.send');
    expect(sends.map((e) => [d(e, 'path'), d(e, 'conn')])).toEqual([['local', sends[0]!.d!['conn']], ['local', sends[0]!.d!['conn']]]);
    expect(sends[1]!.t - sends[0]!.t).toBeLessThan(cluster.config.api.ws.writerWakeUs);
    expect(events(cluster, 'ws.frame-out').map((e) => [d(e, 'messages'), d(e, 'commands')])).toEqual([[2, ['a', 'b']]]);
    expect(events(cluster, 'agent.frame-dropped').map((e) => d(e, 'commands'))).toEqual([['a', 'b']]);
    // Neither command ran; both rows say `sent` for good.
    expect(events(cluster, 'agent.execute')).toHaveLength(0);
    for (const id of ['a', 'b']) expect(statusHistory(cluster, id)).toEqual(['pending->sent']);
  });

  test('§1/§3: with api.ws.writerWakeUs widened to 5 ms, a frame carries both commands exactly when their puts on Send were less than 5 ms apart (10 seeds)', () => {
    const writerWakeUs = 5 * MS;
    let coalesced = 0;
    let separate = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const cluster = new StreamSpaceCluster({
        seed,
        config: { workload: noWorkload, agent: shortSessions, api: { ws: { pongWaitUs: 60 * SECOND, pingPeriodUs: 54 * SECOND, writerWakeUs } } },
        simulation: trace,
      });
      cluster.sim.run({ until: 40 * SECOND });
      const pod = holderOf(cluster, AGENT)!;
      requestAt(cluster, 45 * SECOND, pod, createSession('a', AGENT));
      requestAt(cluster, 45 * SECOND, pod, createSession('b', AGENT));
      cluster.sim.run({ until: 2 * MINUTE });

      const sends = events(cluster, 'hub.send');
      expect(sends.map((e) => d(e, 'path'))).toEqual(['local', 'local']);
      const gap = sends[1]!.t - sends[0]!.t;
      const frames = events(cluster, 'ws.frame-out').map((e) => d<number>(e, 'messages'));
      if (gap < writerWakeUs) {
        coalesced++;
        expect(frames).toEqual([2]);
        expect(events(cluster, 'agent.frame-dropped')).toHaveLength(1);
        expect(events(cluster, 'agent.execute')).toHaveLength(0);
        expect([cluster.postgres.getCommand('a')?.status, cluster.postgres.getCommand('b')?.status]).toEqual(['sent', 'sent']);
      } else {
        separate++;
        expect(frames).toEqual([1, 1]);
        expect(events(cluster, 'agent.frame-dropped')).toHaveLength(0);
        expect([cluster.postgres.getCommand('a')?.status, cluster.postgres.getCommand('b')?.status]).toEqual(['completed', 'completed']);
      }
    }
    // Measured: gaps 0-0.6 ms in nine seeds (one frame, dropped), 5.2 ms in seed 6 (two frames).
    expect([coalesced, separate]).toEqual([9, 1]);
  });
});
