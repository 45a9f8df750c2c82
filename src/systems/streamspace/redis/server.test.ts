import { describe, expect, test } from 'vitest';
import { MS, SECOND, Simulation, type ProcessContext } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { RedisClient, RedisPubSub } from './client.ts';
import { redisServer, RedisStorage, type RedisServerOptions } from './server.ts';

/** Redis on node r; a client process `app` on node a whose context tests drive. */
function setup(options: RedisServerOptions = {}, redisClock = {}) {
  const sim = new Simulation({ seed: 3, trace: { keepEvents: true } });
  sim.addNode('r', redisClock);
  sim.addNode('a');
  const storage = new RedisStorage();
  sim.addProcess({ name: 'redis', node: 'r', boot: redisServer(storage, options) });
  let ctx!: ProcessContext;
  sim.addProcess({ name: 'app', node: 'a', boot: (c) => ((ctx = c), {}) });
  sim.run({ until: 0 });
  const client = new RedisClient(ctx);
  const results: unknown[] = [];
  const take = (r: RpcResult<unknown>) => results.push(r.ok ? r.value : `error:${r.error}`);
  return { sim, storage, client, results, take, ctx: () => ctx };
}

describe('Redis server process (real-world §3)', () => {
  test('SET EX expires on the Redis node clock, actively: the key is gone without being read (§3.2)', () => {
    const { sim, client, take, results } = setup({}, { offsetUs: 3600 * SECOND });
    client.set('agent:a:pod', 'api-0', 300, take);
    sim.run({ until: 299 * SECOND });
    client.get('agent:a:pod', take);
    sim.run({ until: 302 * SECOND });
    expect(results).toEqual(['OK', 'api-0']);
    expect(sim.trace.events.some((e) => e.k === 'redis.expired' && e.d!['key'] === 'agent:a:pod')).toBe(true);
  });

  test('EXPIRE never re-creates a missing key (streamspace §2.3 UpdateAgentHeartbeat)', () => {
    const { sim, client, take, results } = setup();
    client.expire('agent:a:pod', 300, take);
    client.get('agent:a:pod', take);
    sim.run();
    expect(results).toEqual([0, null]);
  });

  test('PUBLISH counts live subscribers: 0 with none, 1 with one, 0 again after it disconnects (§3.1)', () => {
    const { sim, client, take, results, ctx } = setup();
    client.publish('pod:api-0:commands', 'x', take);
    sim.run({ until: SECOND });
    const got: string[] = [];
    const sub = new RedisPubSub(ctx(), 'pod:api-0:commands', { onConfirm: take, onMessage: (m) => got.push(m) });
    sim.run({ until: 2 * SECOND });
    client.publish('pod:api-0:commands', 'y', take);
    sim.run({ until: 3 * SECOND });
    sub.close();
    sim.run({ until: 4 * SECOND });
    client.publish('pod:api-0:commands', 'z', take);
    sim.run({ until: 5 * SECOND });
    expect(results).toEqual([0, 1, 1, 0]);
    expect(got).toEqual(['y']);
  });

  test('a restart without persistence loses every key and subscription; the subscriber resubscribes by itself and misses what was published meanwhile', () => {
    const { sim, client, take, results, ctx } = setup();
    const got: string[] = [];
    new RedisPubSub(ctx(), 'ch', { onConfirm: () => {}, onMessage: (m) => got.push(m) });
    client.set('k', 'v', 300, take);
    sim.run({ until: SECOND });
    sim.restart('redis', 2 * SECOND);
    sim.at(2 * SECOND, () => client.publish('ch', 'during', take));
    sim.run({ until: 10 * SECOND });
    client.get('k', take);
    client.publish('ch', 'after', take);
    sim.run({ until: 11 * SECOND });
    expect(results).toEqual(['OK', 'error:connection', null, 1]);
    expect(got).toEqual(['after']);
  });

  test('a restart with persistence restores the last snapshot, which may be stale', () => {
    const { sim, client, take, results } = setup({ snapshotEveryUs: 60 * SECOND });
    client.set('k', 'old', 300, take);
    sim.run({ until: 61 * SECOND });
    client.set('k', 'new', 300, take);
    sim.run({ until: 62 * SECOND });
    sim.restart('redis', SECOND);
    sim.run({ until: 70 * SECOND });
    client.get('k', take);
    sim.run({ until: 71 * SECOND });
    expect(results).toEqual(['OK', 'OK', 'old']);
  });

  test('the first subscription dials twice before it gives up: Client.Subscribe\'s failed dial is ignored and the first Receive dials again (go-redis redis.go Subscribe, pubsub.go conn)', () => {
    const confirm = (recoverAt: number) => {
      const { sim, ctx } = setup();
      sim.failNode('r');
      const confirmations: Array<{ ok: boolean; at: number }> = [];
      // As listenRedisCommands does (agent_hub.go:702-710): a failed first Receive ends the listener.
      const sub: RedisPubSub = new RedisPubSub(ctx(), 'ch', {
        onConfirm: (r) => {
          confirmations.push({ ok: r.ok, at: sim.now });
          if (!r.ok) sub.close();
        },
        onMessage: () => {},
      });
      sim.at(recoverAt, () => sim.recoverNode('r', true), 'recover');
      sim.run({ until: 30 * SECOND });
      return confirmations;
    };
    // Redis's node is back at 5.5 s: the first dial has timed out (5 s), the Receive's dial made at
    // once gets through when its SYN is retransmitted, and the subscription is confirmed.
    const back = confirm(5_500 * MS);
    expect(back.map((c) => c.ok)).toEqual([true]);
    expect(back[0]!.at).toBeGreaterThan(5_500 * MS);
    expect(back[0]!.at).toBeLessThan(10 * SECOND);
    // Down for both dials: one failure, reported when the second dial times out.
    const down = confirm(20 * SECOND);
    expect(down.map((c) => c.ok)).toEqual([false]);
    expect(down[0]!.at).toBe(10 * SECOND);
  });

  test('go-redis retries a command on a fresh connection; against a dead node it fails after MaxRetries', () => {
    const { sim, client, take, results } = setup();
    client.get('k', take);
    sim.run({ until: SECOND });
    sim.failNode('r');
    const t0 = sim.now;
    let failedAt = 0;
    client.get('k', (r) => {
      take(r);
      failedAt = sim.now;
    });
    sim.run({ until: 60 * SECOND });
    expect(results).toEqual([null, 'error:connection']);
    // 1 read timeout (3 s) on the half-open connection, then 3 dials of 5 s each, plus backoffs.
    expect(failedAt - t0).toBeGreaterThanOrEqual(18 * SECOND);
    expect(failedAt - t0).toBeLessThan(20 * SECOND);
  });

  test('the health check outlives a connection: a resubscription left unanswered and half-open is noticed by the next PING once it reaches a host that answers RST (go-redis pubsub.go initHealthCheck)', () => {
    const { sim, client, take, results, ctx } = setup();
    const got: string[] = [];
    new RedisPubSub(ctx(), 'ch', { onConfirm: () => {}, onMessage: (m) => got.push(m) });
    sim.run({ until: SECOND });
    // Redis restarts and is frozen at once: the subscriber reconnects (the kernel accepts) and its
    // SUBSCRIBE waits unanswered in the frozen process.
    sim.crash('redis');
    sim.start('redis');
    sim.pause('redis');
    sim.run({ until: 2 * SECOND });
    expect(sim.trace.events.filter((e) => e.k === 'pubsub.disconnected')).toHaveLength(1);
    // Cut off, Redis dies again: its RST never reaches the subscriber, whose connection is half-open.
    sim.network.partition(['a'], ['r']);
    sim.crash('redis');
    sim.start('redis');
    sim.run({ until: 60 * SECOND });
    sim.network.heal(['a'], ['r']);
    sim.run({ until: 70 * SECOND });
    const after = sim.trace.events.filter((e) => e.t >= 60 * SECOND);
    const lost = after.find((e) => e.k === 'pubsub.disconnected');
    expect(lost?.t).toBeLessThan(63 * SECOND + 10 * MS);
    expect(after.some((e) => e.k === 'pubsub.resubscribed')).toBe(true);
    client.publish('ch', 'after', take);
    sim.run({ until: 80 * SECOND });
    expect(results.at(-1)).toBe(1);
    expect(got).toEqual(['after']);
  });

  test('a half-open subscriber (Redis node gone) is not noticed until the held health-check PING fails the TCP user timeout', () => {
    const { sim, ctx } = setup();
    new RedisPubSub(ctx(), 'ch', { onConfirm: () => {}, onMessage: () => {} });
    sim.run({ until: SECOND });
    sim.failNode('r');
    sim.run({ until: 900 * SECOND });
    expect(sim.trace.events.filter((e) => e.k === 'pubsub.disconnected')).toEqual([]);
    sim.run({ until: 1000 * SECOND });
    const lost = sim.trace.events.find((e) => e.k === 'pubsub.disconnected');
    expect(lost?.t).toBeGreaterThan(924 * SECOND);
    expect(lost?.t).toBeLessThan(930 * SECOND + 10 * MS);
  });
});
