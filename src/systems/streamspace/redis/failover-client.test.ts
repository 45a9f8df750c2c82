/**
 * The fix `sentinel-aware-client` (failover-client.ts with client.ts), as go-redis v9.16.0's
 * NewFailoverClient behaves (sentinel.go: MasterAddr before every dial, the `+switch-master`
 * subscription, onFailover closing pool connections not to the new master, no periodic re-check:
 * go-redis#1446), on the real replicated servers and Sentinels.
 */
import { describe, expect, test } from 'vitest';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { RedisClient, RedisPubSub, type MasterResolver } from './client.ts';
import { SentinelFailover } from './failover-client.ts';
import { sentinelCluster } from '../testing/sentinel-cluster.ts';

const SEED_004 = { downAfterUs: 5 * SECOND, failoverTimeoutUs: 30 * SECOND };
const T0 = 30 * SECOND;

interface Outcome {
  t: Micros;
  ok: boolean;
  peer: string | null;
}

function setup(seed = 1) {
  const c = sentinelCluster({ seed, sentinel: SEED_004, replicas: [{ priority: 10 }, {}] });
  const failover = new SentinelFailover(c.app(), { sentinels: c.sentinels });
  return { c, failover };
}

/** SET every 500 ms from 20 s to 60 s, no retries: each outcome and where the client was connected after it. */
function writeLoop(c: ReturnType<typeof sentinelCluster>, client: RedisClient): Outcome[] {
  const outcomes: Outcome[] = [];
  for (let t = 20 * SECOND, i = 0; t < 60 * SECOND; t += 500_000, i++) {
    c.sim.at(t, () => client.set(`k${i}`, 'v', 3600, (r) => outcomes.push({ t, ok: r.ok, peer: client.peer })));
  }
  return outcomes;
}

/** When `sentinel` first named the new master: its switch, or its promotion if it led the failover. */
function namedNewMaster(c: ReturnType<typeof sentinelCluster>, sentinel: string): Micros {
  return Math.min(...['sentinel.switch-master', 'sentinel.promoted'].map((k) => c.first(k, 0, (e) => e.p === sentinel) ?? Infinity));
}

describe('sentinel-aware-client (go-redis NewFailoverClient)', () => {
  test('a killed master: writes fail until the Sentinel in use names the new master, then go there', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { c, failover } = setup(seed);
      const client = new RedisClient(c.app(), { target: failover, maxRetries: 0 });
      const outcomes = writeLoop(c, client);
      c.sim.at(T0, () => c.sim.crash('redis-0'));
      c.sim.run({ until: 61 * SECOND });
      const inUse = failover.sentinelInUse!;
      const named = namedNewMaster(c, inUse);
      expect(outcomes.filter((o) => o.t < T0).every((o) => o.ok && o.peer === 'redis-0')).toBe(true);
      const back = outcomes.find((o) => o.t >= T0 && o.ok)!;
      expect(outcomes.filter((o) => o.t >= T0 && o.t < named).every((o) => !o.ok)).toBe(true);
      expect(back.t).toBeGreaterThan(named);
      expect(back.t - named).toBeLessThanOrEqual(500_000);
      expect(outcomes.filter((o) => o.t >= back.t).every((o) => o.ok && o.peer === 'redis-1')).toBe(true);
      expect(c.events('failover-client.switch').map((e) => e.d)).toEqual([
        { name: 'mymaster', from: null, to: 'redis-0' },
        { name: 'mymaster', from: 'redis-0', to: 'redis-1' },
      ]);
    }
  });

  test('every failed dial asks the Sentinels again (masterReplicaDialer → MasterAddr)', () => {
    const { c, failover } = setup();
    let lookups = 0;
    const counting: MasterResolver = {
      masterAddr: (cb) => {
        lookups++;
        failover.masterAddr(cb);
      },
      onFailover: (listener) => failover.onFailover(listener),
    };
    const client = new RedisClient(c.app(), { target: counting, maxRetries: 0 });
    const outcomes = writeLoop(c, client);
    const atKill: number[] = [];
    c.sim.at(T0, () => {
      atKill.push(lookups);
      c.sim.crash('redis-0');
    });
    c.sim.run({ until: 61 * SECOND });
    // One lookup for the first dial and none while that connection lives. The write sent just
    // before the kill fails on it; every later write dials, so asks, and fails until the lookup
    // names the new master; one more lookup for the dial that succeeds.
    expect(atKill).toEqual([1]);
    expect(outcomes.filter((o) => !o.ok && o.t <= T0).length).toBe(1);
    const failedDials = outcomes.filter((o) => !o.ok && o.t > T0).length;
    expect(failedDials).toBeGreaterThanOrEqual(10);
    expect(lookups).toBe(1 + failedDials + 1);
  });

  test('an isolated old master: +switch-master closes the connection to it and the next write goes to the new master', () => {
    const { c, failover } = setup();
    const client = new RedisClient(c.app(), { target: failover, maxRetries: 0 });
    const outcomes = writeLoop(c, client);
    c.sim.at(T0, () => c.sim.network.cutProcesses(['redis-0'], [...c.sentinels, 'redis-1', 'redis-2']));
    c.sim.run({ until: 61 * SECOND });
    const inUse = failover.sentinelInUse!;
    const announced = c.first('sentinel.switch-master', 0, (e) => e.p === inUse)!;
    const switched = c.first('failover-client.switch', T0)!;
    // The message travels one hop from the Sentinel in use.
    expect(switched - announced).toBeGreaterThanOrEqual(0);
    expect(switched - announced).toBeLessThan(50_000);
    // Until then the old master acknowledged every write (they are lost when it rejoins); after, none.
    expect(outcomes.filter((o) => o.t < switched).every((o) => o.ok && o.peer === 'redis-0')).toBe(true);
    const after = outcomes.filter((o) => o.t > switched);
    expect(after.length).toBeGreaterThan(10);
    expect(after.every((o) => o.ok && o.peer === 'redis-1')).toBe(true);
  });

  test('no periodic re-check (go-redis#1446): cut off from the Sentinel it listens to, the client stays on an isolated old master', () => {
    const { c, failover } = setup();
    const client = new RedisClient(c.app(), { target: failover, maxRetries: 0 });
    const outcomes = writeLoop(c, client);
    c.sim.at(T0, () => {
      c.sim.network.cutProcesses(['redis-0'], [...c.sentinels, 'redis-1', 'redis-2']);
      c.sim.network.cutProcesses(['app'], [failover.sentinelInUse!]);
    });
    c.sim.run({ until: 61 * SECOND });
    expect(c.events('sentinel.switch-master').length).toBeGreaterThanOrEqual(2);
    expect(c.events('failover-client.switch').length).toBe(1);
    expect(outcomes.every((o) => o.ok && o.peer === 'redis-0')).toBe(true);
  });

  test('the Sentinel in use is gone: a lookup asks it twice, then every Sentinel, and the first to answer is used', () => {
    const { c, failover } = setup();
    const client = new RedisClient(c.app(), { target: failover, maxRetries: 0 });
    const outcomes = writeLoop(c, client);
    let dead = '';
    c.sim.at(T0 - 5 * SECOND, () => {
      dead = failover.sentinelInUse!;
      c.sim.crash(dead);
    });
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    c.sim.run({ until: 61 * SECOND });
    expect(failover.sentinelInUse).not.toBe(dead);
    const leaderDone = c.events('sentinel.switch-master').at(-1)!.t;
    expect(outcomes.filter((o) => o.t > leaderDone + SECOND).every((o) => o.ok && o.peer === 'redis-1')).toBe(true);
  });

  test('a PubSub through the fix resubscribes on the new master once its connection to the old one breaks', () => {
    const { c, failover } = setup();
    const got: string[] = [];
    new RedisPubSub(c.app(), 'ch', { onConfirm: () => {}, onMessage: (m) => got.push(m) }, { target: failover });
    const publisher = new RedisClient(c.app(), { target: failover });
    const published: Array<RpcResult<number>> = [];
    c.sim.at(20 * SECOND, () => publisher.publish('ch', 'before', (r) => published.push(r)));
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    c.sim.at(T0 + 15 * SECOND, () => publisher.publish('ch', 'after', (r) => published.push(r)));
    c.sim.run({ until: T0 + 16 * SECOND });
    expect(published.map((r) => (r.ok ? r.value : r.message))).toEqual([1, 1]);
    expect(got).toEqual(['before', 'after']);
    expect(c.events('pubsub.resubscribed', 'app').length).toBe(1);
  });
});
