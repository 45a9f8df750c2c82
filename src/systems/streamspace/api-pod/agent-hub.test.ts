import { describe, expect, test } from 'vitest';
import { MINUTE, MS, SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { StreamSpaceCluster } from '../cluster/cluster.ts';
import { createSession, d, events, holderOf, hubKeys, requestAt, statusHistory } from '../testing/harness.ts';
import { podKey } from './agent-hub.ts';

/**
 * AgentHub as built (spec §2, §10, §11). Each test names the spec section it checks; the flaws the
 * spec documents are asserted as they are, not fixed.
 */

const AGENT = 'k8s-prod-us-east-1';
const trace = { trace: { keepEvents: true } } as const;
const noWorkload = { requestIntervalUs: 0 };
/** One k8s-agent replica without leader election: the agent runs at once and nothing else takes its id. */
const singleAgent = { agentHa: false, agentReplicas: 1 };
/**
 * start_session handlers of 5-10 s. A longer handler blocks the agent's readPump past its 60 s read
 * deadline (§7.5), which makes the agent reconnect and re-register: a different story.
 */
const shortSessions = { startSessionUs: [5 * SECOND, 10 * SECOND] as const };

describe('AgentHub stale sweep (§2.2 checkStaleConnections, §2.4, §10)', () => {
  test('§2.2/§10: a connection whose heartbeats stop is unregistered 45-55 s after the last heartbeat (8 seeds, sweep phase varied)', () => {
    // Heartbeats stop because the agent process is paused (a stop-the-world pause, §12). The pause
    // starts 57 s after the server-side connection was created: after the server's first ping
    // (54 s) was answered with a pong and before the second heartbeat (60 s). The server's read
    // deadline is therefore ~114 s after creation, later than the stale sweep's 75-85 s, so the
    // sweep is what unregisters the connection. agentStartUs moves the heartbeat's phase against
    // the hub's 10 s ticker from seed to seed.
    const delays: number[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const agentStartUs = 30 * SECOND + seed * 1_250 * MS;
      const cluster = new StreamSpaceCluster({ seed, config: { workload: noWorkload, topology: { ...singleAgent, agentStartUs } }, simulation: trace });
      cluster.sim.run({ until: agentStartUs + 1 * SECOND });
      const upgraded = events(cluster, 'ws.upgraded')[0]!;
      const pausedAt = upgraded.t + 57 * SECOND;
      cluster.sim.at(pausedAt, () => cluster.sim.pause('agent-0'));
      cluster.sim.run({ until: upgraded.t + 2 * MINUTE });

      const heartbeats = events(cluster, 'hub.heartbeat', (e) => e.t < pausedAt);
      expect(heartbeats.map((e) => d(e, 'conn'))).toEqual([d(upgraded, 'conn')]);
      const lastHeartbeat = heartbeats.at(-1)!;
      const stale = events(cluster, 'hub.stale');
      const unregister = events(cluster, 'hub.unregister');
      expect(stale).toHaveLength(1);
      expect(unregister).toHaveLength(1);
      expect(d(unregister[0]!, 'conn')).toBe(d(upgraded, 'conn'));
      // The sweep (not the read deadline) closed it: the reader exits because the hub closed the socket.
      expect(events(cluster, 'ws.reader-exit').map((e) => d(e, 'why'))).toEqual(['socket closed locally']);
      // LastPing (set when the heartbeat was read) is more than 45 s old, and at most 55 s.
      const age = d<number>(stale[0]!, 'ageUs');
      expect(age).toBeGreaterThan(45 * SECOND);
      expect(age).toBeLessThanOrEqual(55 * SECOND);
      const delay = unregister[0]!.t - lastHeartbeat.t;
      expect(delay).toBeGreaterThanOrEqual(45 * SECOND);
      expect(delay).toBeLessThanOrEqual(55 * SECOND + 50 * MS);
      delays.push(delay);
    }
    // The seeds cover the window: measured 45.74 s to 54.49 s.
    expect(Math.min(...delays)).toBeLessThan(46.5 * SECOND);
    expect(Math.max(...delays)).toBeGreaterThan(54 * SECOND);
  });

  test('§2.2/§10: with no heartbeat at all (heartbeatIntervalUs 1 h) LastPing is the connection creation: every connection is unregistered 45-55 s after it', () => {
    // Each unregistration closes the socket; the agent reconnects after its 2 s backoff and the
    // next connection meets the same fate, so one run gives a cycle of samples.
    const all: number[] = [];
    for (let seed = 1; seed <= 5; seed++) {
      const agentStartUs = 30 * SECOND + seed * 1_900 * MS;
      const cluster = new StreamSpaceCluster({
        seed,
        config: { workload: noWorkload, topology: { ...singleAgent, agentStartUs }, agent: { heartbeatIntervalUs: 3_600 * SECOND } },
        simulation: trace,
      });
      cluster.sim.run({ until: 10 * MINUTE });
      expect(events(cluster, 'hub.heartbeat')).toHaveLength(0);
      const created = new Map(events(cluster, 'ws.upgraded').map((e) => [d<string>(e, 'conn'), e.t]));
      const unregisters = events(cluster, 'hub.unregister');
      expect(unregisters.length).toBeGreaterThanOrEqual(10);
      const staleConns = new Set(events(cluster, 'hub.stale').map((e) => d<string>(e, 'conn')));
      for (const u of unregisters) {
        const conn = d<string>(u, 'conn');
        expect(staleConns.has(conn)).toBe(true);
        const delay = u.t - created.get(conn)!;
        expect(delay).toBeGreaterThan(45 * SECOND);
        expect(delay).toBeLessThanOrEqual(55 * SECOND);
        all.push(delay);
      }
    }
    // Measured over the 55 connections: 46.30 s to 54.39 s.
    expect(all).toHaveLength(55);
    expect(Math.min(...all)).toBeLessThan(47 * SECOND);
    expect(Math.max(...all)).toBeGreaterThan(54 * SECOND);
  });
});

/**
 * The leader k8s-agent's node fails (no RST: the API pod's connection stays half-open) and a standby
 * takes the lease and connects. Six worker nodes so that the leader is alone on its node.
 */
function leaderNodeFailure(seed: number): { cluster: StreamSpaceCluster; failedAt: number; oldPod: string; oldConn: string; newLeader: string } {
  const cluster = new StreamSpaceCluster({ seed, config: { workload: noWorkload, topology: { workerNodes: 6 }, agent: shortSessions }, simulation: trace });
  cluster.sim.run({ until: 2 * MINUTE });
  const leader = events(cluster, 'elector.acquired').at(-1)!.p;
  const oldPod = holderOf(cluster, AGENT)!;
  const oldConn = d<string>(events(cluster, 'hub.register', (e) => e.p === oldPod).at(-1)!, 'conn');
  expect(cluster.sim.node(cluster.podNode(leader)).processes.map((p) => p.name)).toEqual([leader]);
  const failedAt = cluster.sim.now;
  cluster.failNode(cluster.podNode(leader));
  // Run until a standby has taken the lease and connected (15-20 s), and stop there.
  while (events(cluster, 'agent.connected', (e) => e.t > failedAt).length === 0) cluster.sim.run({ until: cluster.sim.now + 100 * MS });
  const newLeader = events(cluster, 'elector.acquired').at(-1)!.p;
  expect(newLeader).not.toBe(leader);
  return { cluster, failedAt, oldPod, oldConn, newLeader };
}

describe('AgentHub unregister by agent id (§2.1, §2.2 handleUnregister)', () => {
  test('§2.2 step 4: handleUnregister DELs both keys although they name another pod; the agent, still connected there, is unroutable from then on', () => {
    // Seed 3: the new leader connects to the other API pod; the old pod's stale sweep then
    // unregisters the half-open connection by agent id and deletes the keys the new registration wrote.
    const { cluster, failedAt, oldPod, oldConn, newLeader } = leaderNodeFailure(3);
    const newConnected = events(cluster, 'agent.connected', (e) => e.p === newLeader)[0]!;
    const newPod = d<string>(newConnected, 'pod');
    expect(newPod).not.toBe(oldPod);
    expect(hubKeys(cluster, AGENT).pod?.value).toBe(newPod);

    // Watch Redis at the instant the old pod unregisters.
    let keysAtUnregister: ReturnType<typeof hubKeys> | undefined;
    cluster.sim.trace.subscribe((e: TraceEvent) => {
      if (e.k === 'hub.unregister' && e.p === oldPod) keysAtUnregister = hubKeys(cluster, AGENT);
    });
    requestAt(cluster, failedAt + 3 * MINUTE, oldPod, createSession('from-old-pod', AGENT));
    requestAt(cluster, failedAt + 3 * MINUTE, newPod, createSession('from-new-pod', AGENT));
    cluster.sim.run({ until: failedAt + 4 * MINUTE });

    const unregister = events(cluster, 'hub.unregister', (e) => e.p === oldPod);
    expect(unregister.map((e) => d(e, 'conn'))).toEqual([oldConn]);
    // The sweep found the half-open connection stale (measured: 51.99 s after its last heartbeat,
    // 6 s after the new leader had registered on the other pod).
    const stale = events(cluster, 'hub.stale', (e) => e.p === oldPod)[0]!;
    expect(d(stale, 'conn')).toBe(oldConn);
    expect(d<number>(stale, 'ageUs')).toBeGreaterThan(45 * SECOND);
    expect(d<number>(stale, 'ageUs')).toBeLessThanOrEqual(55 * SECOND);
    expect(stale.t).toBe(unregister[0]!.t);
    expect(stale.t).toBeGreaterThan(newConnected.t);
    // The keys named the new pod, and the old pod deleted them anyway.
    expect(keysAtUnregister?.pod?.value).toBe(newPod);
    expect(keysAtUnregister?.connected?.value).toBe('true');
    const dels = events(cluster, 'redis.del', (e) => e.t >= unregister[0]!.t).flatMap((e) => d<string[]>(e, 'keys'));
    expect(dels).toEqual([`agent:${AGENT}:pod`, `agent:${AGENT}:connected`]);
    // The agent is still connected to the new pod (heartbeats handled there), yet the keys stay gone:
    // heartbeats only EXPIRE (§2.3), they never re-create.
    expect(holderOf(cluster, AGENT)).toBe(newPod);
    expect(events(cluster, 'hub.heartbeat', (e) => e.p === newPod && e.t > unregister[0]!.t).length).toBeGreaterThanOrEqual(4);
    expect(hubKeys(cluster, AGENT)).toEqual({ pod: undefined, connected: undefined });
    // So a command created on the old pod fails (IsAgentConnected reads `:connected`), while the
    // same request on the pod that holds the connection completes.
    expect(cluster.postgres.getCommand('from-old-pod')).toMatchObject({ status: 'failed', errorMessage: 'agent is not connected' });
    expect(statusHistory(cluster, 'from-new-pod').at(-1)).toBe('ack->completed');
  });

  test('§2.1: an unregister carries only the agent id, so the old connection\'s reader removes the newer connection that replaced it', () => {
    // Seed 1: the new leader connects to the same pod that still holds the old half-open connection.
    const { cluster, oldPod, oldConn, newLeader } = leaderNodeFailure(1);
    cluster.sim.run({ until: cluster.sim.now + 5 * SECOND });
    const connected = events(cluster, 'agent.connected', (e) => e.p === newLeader);
    const newConn = d<string>(connected[0]!, 'conn');
    expect(d(connected[0]!, 'pod')).toBe(oldPod);

    // handleRegister closes the old entry and stores the new one (§2.2 handleRegister step 1-2)...
    const replace = events(cluster, 'hub.replace', (e) => e.p === oldPod);
    expect(replace.map((e) => [d(e, 'old'), d(e, 'conn')])).toEqual([[oldConn, newConn]]);
    // ...the old connection's readPump fails and calls UnregisterAgent(agentId) (§3)...
    const oldReaderExit = events(cluster, 'ws.reader-exit', (e) => d(e, 'conn') === oldConn)[0]!;
    expect(oldReaderExit.t).toBe(replace[0]!.t);
    // ...and handleUnregister, resolving by id, closes and deletes the NEW connection.
    const unregister = events(cluster, 'hub.unregister', (e) => e.p === oldPod && e.t >= replace[0]!.t)[0]!;
    expect(d(unregister, 'conn')).toBe(newConn);
    expect(unregister.t - replace[0]!.t).toBeLessThan(10 * MS);
    // The new leader sees its fresh socket closed and has to reconnect after the 2 s backoff.
    const readError = events(cluster, 'agent.read-error', (e) => e.p === newLeader)[0]!;
    expect(readError.t - connected[0]!.t).toBeLessThan(10 * MS);
    expect(connected[1]).toBeDefined();
    expect(connected[1]!.t - readError.t).toBeGreaterThanOrEqual(2 * SECOND);
    expect(connected[1]!.t - readError.t).toBeLessThan(2 * SECOND + 20 * MS);
  });
});

describe('AgentHub heartbeat refresh of the Redis keys (§2.3 UpdateAgentHeartbeat, §4, §11)', () => {
  test('§2.3/§11: with DB write errors a heartbeat still updates LastPing but returns before EXPIRE: the keys expire 300 s after registration while the connection lives', () => {
    const run = (fault: boolean) => {
      const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload }, simulation: trace });
      cluster.sim.run({ until: 40 * SECOND });
      const registered = hubKeys(cluster, AGENT);
      if (fault) cluster.postgresFaults.writeErrors = true;
      cluster.sim.run({ until: 329 * SECOND });
      const before = hubKeys(cluster, AGENT);
      cluster.sim.run({ until: 331 * SECOND });
      return { cluster, registered, before, after: hubKeys(cluster, AGENT) };
    };

    // Without the fault every heartbeat pushes the deadline to heartbeat + 300 s.
    const healthy = run(false);
    expect(healthy.before.pod!.expiresAtMs!).toBeGreaterThan(healthy.registered.pod!.expiresAtMs! + 250_000);
    expect(healthy.after.pod?.value).toBe('api-0');

    const { cluster, registered, before, after } = run(true);
    expect(registered.pod?.value).toBe('api-0');
    const setAt = events(cluster, 'redis.set', (e) => d(e, 'key') === podKey(AGENT))[0]!.t;
    expect(registered.pod!.expiresAtMs).toBe(Math.floor(setAt / MS) + 300_000);
    // Nine heartbeats (60 s ... 300 s) failed their DB write; none refreshed the TTL.
    const heartbeats = events(cluster, 'hub.heartbeat', (e) => e.t > 40 * SECOND && e.t < 329 * SECOND);
    expect(heartbeats.map((e) => d(e, 'db'))).toEqual(Array(9).fill(false));
    expect(events(cluster, 'redis.expire', (e) => e.t > 40 * SECOND)).toHaveLength(0);
    expect(before.pod!.expiresAtMs).toBe(registered.pod!.expiresAtMs);
    expect(before.connected!.expiresAtMs).toBe(registered.connected!.expiresAtMs);
    // Both keys expired at registration + 300 s...
    expect(after).toEqual({ pod: undefined, connected: undefined });
    expect(events(cluster, 'redis.expired').map((e) => d(e, 'key'))).toEqual([podKey(AGENT), `agent:${AGENT}:connected`]);
    // ...while the hub kept the connection: LastPing was updated before the DB write.
    expect(events(cluster, 'hub.stale')).toHaveLength(0);
    expect(events(cluster, 'hub.unregister')).toHaveLength(0);
    expect(holderOf(cluster, AGENT)).toBe('api-0');

    // Once the database is healthy again, heartbeats EXPIRE keys that no longer exist: nothing comes back.
    cluster.postgresFaults.writeErrors = false;
    cluster.sim.run({ until: 6 * MINUTE + 10 * SECOND });
    expect(events(cluster, 'hub.heartbeat', (e) => e.t > 331 * SECOND).map((e) => d(e, 'db'))).toEqual([true]);
    expect(hubKeys(cluster, AGENT)).toEqual({ pod: undefined, connected: undefined });
  });

  test('§2.3/§4/§11: EXPIRE never re-creates an evicted `agent:<id>:pod`: commands from the other pod fail until the agent re-registers', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: { workload: noWorkload, agent: shortSessions }, simulation: trace });
    cluster.sim.run({ until: 45 * SECOND });
    const holder = holderOf(cluster, AGENT)!;
    const other = cluster.apiPods.find((p) => p !== holder)!;
    expect(cluster.redis.live!.evictKey(podKey(AGENT))).toBe(true);

    requestAt(cluster, 100 * SECOND, other, createSession('cross-1', AGENT));
    requestAt(cluster, 100 * SECOND, holder, createSession('local-1', AGENT));
    requestAt(cluster, 290 * SECOND, other, createSession('cross-2', AGENT));
    cluster.sim.run({ until: 300 * SECOND });

    // Eight heartbeats (60 s ... 270 s) refreshed `:connected`; `:pod` stayed missing for 4 min 15 s.
    expect(events(cluster, 'hub.heartbeat', (e) => e.t > 45 * SECOND).length).toBe(8);
    expect(events(cluster, 'redis.expire', (e) => e.t > 45 * SECOND).map((e) => d(e, 'key'))).toEqual(Array(8).fill(`agent:${AGENT}:connected`));
    expect(hubKeys(cluster, AGENT).pod).toBeUndefined();
    expect(hubKeys(cluster, AGENT).connected?.value).toBe('true');
    // IsAgentConnected says yes (`:connected`), SendCommandToAgent finds no `:pod`: the command fails.
    for (const id of ['cross-1', 'cross-2']) {
      expect(events(cluster, 'hub.send', (e) => d(e, 'command') === id).map((e) => [e.p, d(e, 'path'), d(e, 'ok')])).toEqual([[other, 'redis-lookup', false]]);
      expect(cluster.postgres.getCommand(id)).toMatchObject({ status: 'failed', errorMessage: `agent ${AGENT} is not connected (not found in Redis)` });
    }
    expect(cluster.postgres.getCommand('local-1')?.status).toBe('completed');

    // Re-registration: the pod holding the agent is deleted; the agent reconnects to the surviving
    // pod 2 s later and handleRegister SETs both keys again. Cross-pod routing works from then on.
    // (At 305 s the agent's 2 s backoff holds no heartbeat (every 30 s from 30.007 s) and no ping
    // (every 54 s): its writer survives, see the k8s-agent writer test for the other case.)
    cluster.sim.run({ until: 305 * SECOND });
    cluster.deletePod(holder);
    cluster.sim.run({ until: 310 * SECOND });
    expect(events(cluster, 'agent.writer-exit')).toHaveLength(0);
    expect(holderOf(cluster, AGENT)).toBe(other);
    expect(hubKeys(cluster, AGENT).pod?.value).toBe(other);
    const replacement = cluster.apiPods.find((p) => p !== other)!;
    requestAt(cluster, 330 * SECOND, replacement, createSession('cross-3', AGENT));
    cluster.sim.run({ until: 8 * MINUTE });
    expect(events(cluster, 'hub.send', (e) => d(e, 'command') === 'cross-3').map((e) => [e.p, d(e, 'path'), d(e, 'pod')])).toEqual([[replacement, 'publish', other]]);
    expect(cluster.postgres.getCommand('cross-3')?.status).toBe('completed');
  });
});
