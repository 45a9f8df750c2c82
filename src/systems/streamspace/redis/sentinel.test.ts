/**
 * Redis Sentinel conformance (sentinel.ts), on the real replicated servers (server.ts with
 * `replication`). Sources: redis/redis src/sentinel.c (cited by function), the Sentinel docs
 * (redis-doc docs/management/sentinel.md), spec seeds-001-004 §2 "Redis Sentinel" and
 * real-world-semantics §3.3.
 */
import { describe, expect, test } from 'vitest';
import { SECOND, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { RedisClient, RedisPubSub } from './client.ts';
import { secondsOf, sentinelCluster, type SentinelClusterOptions } from '../testing/sentinel-cluster.ts';
import type { ReplicationInfo } from './server.ts';

const DEFAULTS = { downAfterUs: 30 * SECOND, failoverTimeoutUs: 180 * SECOND };
/** Seed 004's sentinel.conf: down-after-milliseconds 5000, failover-timeout 30000 (seeds-001-004 §2). */
const SEED_004 = { downAfterUs: 5 * SECOND, failoverTimeoutUs: 30 * SECOND };
/** When the tests kill or cut the master: the replicas have long finished their first sync. */
const T0 = 30 * SECOND;

/** The leader's `+switch-master`: the end of its failover (sentinelFailoverSwitchToPromotedSlave). */
function leaderSwitch(events: (kind: string) => TraceEvent[]): TraceEvent | undefined {
  const elected = events('sentinel.elected')[0];
  return events('sentinel.switch-master').find((e) => e.p === elected?.p);
}

function info(c: ReturnType<typeof sentinelCluster>, node: string, at: Micros): ReplicationInfo | undefined {
  const client = new RedisClient(c.app(), { target: node });
  let got: ReplicationInfo | undefined;
  c.sim.at(at, () => client.command<ReplicationInfo>({ cmd: 'INFO_REPLICATION' }, (r) => {
    if (r.ok) got = r.value;
  }));
  c.sim.run({ until: at + SECOND });
  return got;
}

describe('Redis Sentinel failover timing (sentinel.c; seeds-001-004 §2: defaults ~32-35 s, seed 004 ~7-9 s)', () => {
  const cases: Array<[string, { downAfterUs: Micros; failoverTimeoutUs: Micros }]> = [['defaults (30 s)', DEFAULTS], ['seed 004 (5 s)', SEED_004]];
  for (const [name, timing] of cases) {
    test(`${name}: SDOWN no earlier than down-after, the failover over down-after + 1-5 s after the kill, one leader`, () => {
      for (let seed = 1; seed <= 8; seed++) {
        const c = sentinelCluster({ seed, sentinel: timing });
        c.sim.at(T0, () => c.sim.crash('redis-0'));
        c.sim.run({ until: T0 + timing.downAfterUs + 20 * SECOND });
        // SDOWN: no valid PING reply for down-after (sentinelCheckSubjectivelyDown), PINGs once a second.
        for (const sdown of c.events('sentinel.sdown').filter((e) => e.d!['kind'] === 'master' && e.d!['down'] === true)) {
          expect(sdown.t - T0).toBeGreaterThanOrEqual(timing.downAfterUs);
          expect(sdown.t - T0).toBeLessThanOrEqual(timing.downAfterUs + 1.2 * SECOND);
        }
        // One Sentinel starts the failover: the others voted for it, which holds their own start
        // back by 2 × failover-timeout (sentinelVoteLeader).
        const starts = c.events('sentinel.failover-start');
        expect(starts.map((e) => e.d!['epoch'])).toEqual([1]);
        const done = leaderSwitch(c.events);
        expect(done, `seed ${seed}`).toBeDefined();
        const rto = done!.t - T0;
        expect(secondsOf(rto), `seed ${seed}`).toBeGreaterThanOrEqual(secondsOf(timing.downAfterUs + SECOND)!);
        expect(secondsOf(rto), `seed ${seed}`).toBeLessThanOrEqual(secondsOf(timing.downAfterUs + 5 * SECOND)!);
        // The other Sentinels learn the new configuration from the leader's hello, before its end.
        const all = c.events('sentinel.switch-master');
        expect(new Set(all.map((e) => e.p)).size).toBe(3);
        expect(new Set(all.map((e) => e.d!['to'])).size).toBe(1);
        expect(Math.min(...all.map((e) => e.t))).toBeLessThanOrEqual(done!.t);
      }
    });
  }

  test('GET-MASTER-ADDR-BY-NAME names the promoted replica once it has reported role:master (sentinelGetCurrentMasterAddress)', () => {
    const c = sentinelCluster({ sentinel: SEED_004 });
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    const client = new RedisClient(c.app(), { target: 'sentinel-0' });
    const answers: Array<[number, unknown]> = [];
    for (let t = T0; t <= T0 + 12 * SECOND; t += 500_000) {
      c.sim.at(t, () => client.sentinel({ cmd: 'SENTINEL_GET_MASTER_ADDR', name: 'mymaster' }, (r) => answers.push([t, r.ok ? r.value : r.message])));
    }
    c.sim.at(T0, () => client.sentinel({ cmd: 'SENTINEL_GET_MASTER_ADDR', name: 'other' }, (r) => answers.push([-1, r.ok ? r.value : r.message])));
    c.sim.run({ until: T0 + 13 * SECOND });
    // sentinel-0 names the new master from its switch, or, if it led the failover, from the promotion.
    const switched = Math.min(...['sentinel.switch-master', 'sentinel.promoted'].map((k) => c.first(k, 0, (e) => e.p === 'sentinel-0') ?? Infinity));
    const promoted = c.events('sentinel.promoted')[0]!.d!['replica'];
    expect(answers.find(([t]) => t === -1)?.[1]).toBeNull();
    for (const [t, addr] of answers.filter(([t]) => t >= 0)) expect(addr, `at ${t}`).toBe(t <= switched ? 'redis-0' : promoted);
    expect(answers.filter(([t, addr]) => t >= 0 && addr === promoted).length).toBeGreaterThan(10);
  });
});

describe('Redis Sentinel agreement: quorum, majority, retry (sentinel.c; sentinel.md)', () => {
  test('a master only one Sentinel cannot reach is SDOWN there but never ODOWN with quorum 2: no failover', () => {
    const c = sentinelCluster({ sentinel: SEED_004 });
    c.sim.at(T0, () => c.sim.network.cutProcesses(['sentinel-0'], ['redis-0']));
    c.sim.run({ until: T0 + 20 * SEED_004.downAfterUs });
    expect(c.events('sentinel.sdown').filter((e) => e.d!['instance'] === 'redis-0').map((e) => [e.p, e.d!['down']])).toEqual([['sentinel-0', true]]);
    expect(c.events('sentinel.odown')).toEqual([]);
    expect(c.events('sentinel.failover-start')).toEqual([]);
    expect(c.events('sentinel.switch-master')).toEqual([]);
  });

  test('a dead master with two of three Sentinels down: the survivor alone is below quorum 2, no failover', () => {
    const c = sentinelCluster({ sentinel: SEED_004 });
    c.sim.at(T0, () => {
      c.sim.crash('sentinel-1');
      c.sim.crash('sentinel-2');
      c.sim.crash('redis-0');
    });
    c.sim.run({ until: T0 + 20 * SEED_004.downAfterUs });
    expect(c.events('sentinel.sdown', 'sentinel-0').some((e) => e.d!['instance'] === 'redis-0')).toBe(true);
    expect(c.events('sentinel.odown')).toEqual([]);
    expect(c.events('sentinel.switch-master')).toEqual([]);
  });

  test('ODOWN alone (quorum 1) without a majority to elect it: aborted after the election timeout, retried 2 × failover-timeout after the start', () => {
    const c = sentinelCluster({ sentinel: { ...SEED_004, quorum: 1 } });
    c.sim.at(T0, () => c.sim.network.cutProcesses(['sentinel-0'], ['redis-0', 'sentinel-1', 'sentinel-2']));
    c.sim.run({ until: T0 + 150 * SECOND });
    const starts = c.events('sentinel.failover-start');
    const aborts = c.events('sentinel.failover-abort');
    expect(starts.every((e) => e.p === 'sentinel-0')).toBe(true);
    expect(starts.map((e) => e.d!['epoch'])).toEqual([1, 2, 3]);
    expect(aborts.map((e) => e.d!['reason'])).toEqual(['not-elected', 'not-elected', 'not-elected']);
    // sentinelFailoverWaitStart: not elected min(10 s, failover-timeout) after the (jittered) start.
    for (let i = 0; i < 3; i++) {
      expect(aborts[i]!.t - starts[i]!.t).toBeGreaterThan(10 * SECOND);
      expect(aborts[i]!.t - starts[i]!.t).toBeLessThanOrEqual(11.2 * SECOND);
    }
    // sentinelStartFailoverIfNeeded: the next attempt 2 × failover-timeout after the last start
    // time, which carried up to SENTINEL_MAX_DESYNC (1 s) of jitter.
    for (let i = 1; i < 3; i++) {
      const gap = starts[i]!.t - starts[i - 1]!.t;
      expect(gap).toBeGreaterThanOrEqual(2 * SEED_004.failoverTimeoutUs);
      expect(gap).toBeLessThanOrEqual(2 * SEED_004.failoverTimeoutUs + 1.2 * SECOND);
    }
    expect(c.events('sentinel.switch-master')).toEqual([]);
    // The others never saw the master down and never voted.
    expect(c.events('sentinel.vote').every((e) => e.p === 'sentinel-0')).toBe(true);
  });
});

describe('Redis Sentinel replica selection (sentinel.c sentinelSelectSlave, compareSlavesForPromotion)', () => {
  /** Writes from the app to the master every 100 ms from 10 s; `lagging` loses its link to the master at 15 s. */
  function failoverWith(replicas: SentinelClusterOptions['replicas'], lagging?: string) {
    const c = sentinelCluster({ replicas, sentinel: SEED_004 });
    const writer = new RedisClient(c.app(), { target: 'redis-0', maxRetries: 0 });
    for (let t = 10 * SECOND, i = 0; t < T0; t += 100_000, i++) c.sim.at(t, () => writer.set(`k${i}`, 'v', 3600, () => {}));
    if (lagging !== undefined) c.sim.at(15 * SECOND, () => c.sim.network.cutProcesses([lagging], ['redis-0']));
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    c.sim.run({ until: T0 + 40 * SECOND });
    return c;
  }
  const promoted = (c: ReturnType<typeof sentinelCluster>) => c.events('sentinel.promoted').map((e) => e.d!['replica']);

  test('the lower replica-priority wins', () => {
    expect(promoted(failoverWith([{ priority: 100 }, { priority: 10 }]))).toEqual(['redis-2']);
    expect(promoted(failoverWith([{ priority: 10 }, { priority: 100 }]))).toEqual(['redis-1']);
  });

  test('at equal priority the larger replication offset wins: the replica cut off from the master is passed over', () => {
    expect(promoted(failoverWith([{}, {}], 'redis-1'))).toEqual(['redis-2']);
    expect(promoted(failoverWith([{}, {}], 'redis-2'))).toEqual(['redis-1']);
  });

  test('priority comes before offset: the lagging replica with the lower priority value is promoted', () => {
    expect(promoted(failoverWith([{ priority: 10 }, { priority: 100 }], 'redis-1'))).toEqual(['redis-1']);
  });

  test('replica-priority 0 is never promoted, even with the larger offset; with no other replica the failover aborts (no good slave)', () => {
    expect(promoted(failoverWith([{ priority: 0 }, { priority: 100 }], 'redis-2'))).toEqual(['redis-2']);
    const c = failoverWith([{ priority: 0 }]);
    expect(promoted(c)).toEqual([]);
    expect(c.events('sentinel.failover-abort').map((e) => e.d!['reason'])).toEqual(['no-good-slave']);
    expect(c.events('sentinel.switch-master')).toEqual([]);
  });
});

describe('Redis Sentinel reconfiguration (sentinelSendSlaveOf, sentinelResetMasterAndChangeAddress)', () => {
  test('+switch-master <name> <old-ip> <old-port> <new-ip> <new-port> reaches the Sentinels\' subscribers', () => {
    const c = sentinelCluster({ sentinel: SEED_004, replicas: [{ priority: 10 }, {}] });
    const got: string[][] = [[], [], []];
    c.sentinels.forEach((s, i) => new RedisPubSub(c.app(), '+switch-master', { onConfirm: () => {}, onMessage: (m) => got[i]!.push(m) }, { target: s }));
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    c.sim.run({ until: T0 + 20 * SECOND });
    for (const messages of got) expect(messages).toEqual(['mymaster redis-0 6379 redis-1 6379']);
  });

  test('the promoted replica gets REPLICAOF NO ONE, the other REPLICAOF the new master, each followed by CLIENT KILL normal and pubsub', () => {
    const c = sentinelCluster({ sentinel: SEED_004, replicas: [{ priority: 10 }, {}] });
    const reader = new RedisClient(c.app(), { target: 'redis-1', maxRetries: 0 });
    const replies: Array<RpcResult<unknown>> = [];
    c.sim.at(20 * SECOND, () => reader.get('k', (r) => replies.push(r)));
    new RedisPubSub(c.app(), 'ch', { onConfirm: () => {}, onMessage: () => {} }, { target: 'redis-2' });
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    c.sim.run({ until: T0 + 20 * SECOND });
    const reconf = c.events('sentinel.reconfigured');
    expect(reconf.map((e) => [e.d!['instance'], e.d!['master'], e.d!['reason']])).toEqual([['redis-1', null, 'promote'], ['redis-2', 'redis-1', 'reconf']]);
    const kills = (node: string) => c.events('redis.client-kill', node).map((e) => e.d!['type']);
    expect(kills('redis-1')).toEqual(['normal', 'pubsub']);
    expect(kills('redis-2')).toEqual(['normal', 'pubsub']);
    // The open connections were closed: the reader's by the kill on redis-1 (normal), the
    // subscriber's by the kill on redis-2 (pubsub), which then resubscribed.
    expect(replies).toHaveLength(1);
    expect(reader.peer).toBeNull();
    const disconnected = c.first('pubsub.disconnected', T0)!;
    expect(disconnected - reconf[1]!.t).toBeGreaterThanOrEqual(0);
    expect(disconnected - reconf[1]!.t).toBeLessThan(50_000);
  });

  test('the old master comes back as a master and is turned into a replica of the new one at the first INFO 8 s after (+convert-to-slave)', () => {
    const c = sentinelCluster({ sentinel: SEED_004, replicas: [{ priority: 10 }, {}] });
    c.sim.at(T0, () => c.sim.restart('redis-0', 30 * SECOND));
    c.sim.run({ until: T0 + 60 * SECOND });
    const back = T0 + 30 * SECOND;
    const convert = c.events('sentinel.reconfigured').filter((e) => e.d!['instance'] === 'redis-0');
    expect(convert.length).toBeGreaterThanOrEqual(1);
    expect(convert[0]!.d).toEqual({ instance: 'redis-0', master: 'redis-1', reason: 'convert-to-replica' });
    // sentinelRefreshInstanceInfo: the role:master it reports once its link is back (at most a
    // second after the restart) must have lasted SENTINEL_PUBLISH_PERIOD × 4 at an INFO, which a
    // replica whose master link is up gets every 10 s.
    expect(convert[0]!.t - back).toBeGreaterThan(8 * SECOND);
    expect(convert[0]!.t - back).toBeLessThanOrEqual(11.2 * SECOND);
    const now = info(c, 'redis-0', T0 + 61 * SECOND);
    expect(now).toMatchObject({ role: 'replica', master: 'redis-1', masterLinkUp: true });
  });
});

describe('Redis Sentinel process state', () => {
  test('TILT: a Sentinel paused for 5 s stops acting for 30 s (sentinelCheckTiltCondition)', () => {
    const c = sentinelCluster({ sentinel: SEED_004 });
    c.sim.at(T0, () => c.sim.pause('sentinel-0'));
    c.sim.at(T0 + 5 * SECOND, () => c.sim.resume('sentinel-0'));
    c.sim.run({ until: T0 + 40 * SECOND });
    const tilt = c.events('sentinel.tilt', 'sentinel-0');
    expect(tilt.map((e) => e.d!['on'])).toEqual([true, false]);
    expect(tilt[1]!.t - tilt[0]!.t).toBeGreaterThanOrEqual(30 * SECOND);
    expect(tilt[1]!.t - tilt[0]!.t).toBeLessThan(30.2 * SECOND);
  });

  test('a restarted Sentinel reads its config file: the new master and the epoch survive, and no second vote in a voted epoch', () => {
    const c = sentinelCluster({ sentinel: SEED_004 });
    const storage = c.sentinelStorages.get('sentinel-0')!;
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    c.sim.run({ until: T0 + 20 * SECOND });
    const to = c.events('sentinel.switch-master', 'sentinel-0')[0]!.d!['to'];
    expect(storage.config).toMatchObject({ currentEpoch: 1, master: to, configEpoch: 1, leaderEpoch: 1 });
    expect(storage.config!.knownReplicas).toContain('redis-0');
    c.sim.restart('sentinel-0', SECOND);
    c.sim.run({ until: T0 + 22 * SECOND });
    expect(c.events('sentinel.start', 'sentinel-0').at(-1)!.d).toEqual({ master: to, epoch: 1 });
    // sentinelVoteLeader: the persisted leader-epoch 1 means no vote in epoch 1; epoch 2 gets one.
    const asker = new RedisClient(c.app(), { target: 'sentinel-0' });
    const votes: unknown[] = [];
    for (const currentEpoch of [1, 2]) {
      asker.sentinel({ cmd: 'SENTINEL_IS_MASTER_DOWN', addr: to as string, currentEpoch, runId: 'sentinel-9' }, (r) => votes.push(r.ok ? r.value : r.message));
    }
    c.sim.run({ until: T0 + 23 * SECOND });
    expect(votes).toEqual([{ down: false, leader: '*', leaderEpoch: 1 }, { down: false, leader: 'sentinel-9', leaderEpoch: 2 }]);
  });
});
