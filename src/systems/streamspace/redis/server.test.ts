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
    sim.run({ until: SECOND });
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

describe('databases, SCAN and maxmemory on the wire (the API cache on DB 0 next to the hub on DB 1)', () => {
  /** Another client of the same app process, as the API pod's cache client (cache.go: DB 0). */
  const cacheClient = (ctx: ProcessContext) => new RedisClient(ctx, { db: 0 });

  test('a command without db runs in DB 1 (storage.live); db 0 is another keyspace; only DB 0 events carry db', () => {
    const { sim, storage, client, take, results, ctx } = setup();
    const cache = cacheClient(ctx());
    // Two clients, two connections: each step waits for its reply so the order is the script's.
    const steps = [
      () => client.set('k', 'hub', 300, take),
      () => cache.set('k', 'api', 60, take),
      () => client.get('k', take),
      () => cache.get('k', take),
      () => client.command({ cmd: 'GET', key: 'k', db: 0 }, take),
    ];
    steps.forEach((send, i) => sim.at((i + 1) * 100 * MS, send));
    sim.run({ until: SECOND });
    expect(results).toEqual(['OK', 'OK', 'hub', 'api', 'api']);
    expect(storage.live!.peek(sim.node('r').clock.wall(sim.now), 'k')?.value).toBe('hub');
    expect(storage.db(0)!.keys(sim.node('r').clock.wall(sim.now))).toEqual(['k']);
    const sets = sim.trace.events.filter((e) => e.k === 'redis.set').map((e) => e.d);
    expect(sets).toEqual([{ key: 'k', value: 'hub', ex: 300 }, { key: 'k', value: 'api', ex: 60, db: 0 }]);
    client.command({ cmd: 'GET', key: 'k', db: 16 }, take);
    sim.run({ until: 2 * SECOND });
    expect(results.at(-1)).toBe('error:server');
  });

  test('EXISTS counts keys without touching them; DEL and EXISTS with no key are arity errors', () => {
    const { sim, client, take, results, ctx } = setup();
    const cache = cacheClient(ctx());
    const errors: string[] = [];
    cache.set('session:a', 's', 86_400, take);
    cache.exists(['session:a', 'session:b', 'session:a'], take);
    sim.run({ until: SECOND / 2 });
    client.exists(['session:a'], take); // DB 1
    cache.del([], (r) => errors.push(r.ok ? 'ok' : r.message));
    cache.exists([], (r) => errors.push(r.ok ? 'ok' : r.message));
    sim.run({ until: SECOND });
    expect(results).toEqual(['OK', 2, 0]);
    expect(errors).toEqual(["ERR wrong number of arguments for 'del' command", "ERR wrong number of arguments for 'exists' command"]);
  });

  test("Cache.DeletePattern('session:*'): SCAN MATCH with the default COUNT, one round trip per cursor step, then one DEL", () => {
    const { sim, storage, take, ctx } = setup();
    const cache = cacheClient(ctx());
    for (let i = 0; i < 25; i++) cache.set(`session:${i}`, 's', 86_400, take);
    for (let i = 0; i < 20; i++) cache.set(`response:${i}`, 'r', 30, take);
    sim.run({ until: SECOND });
    const found: string[] = [];
    const steps: number[] = [];
    let removed: unknown;
    const step = (cursor: number): void =>
      cache.scan(cursor, 'session:*', 0, (r) => {
        if (!r.ok) throw new Error(r.message);
        steps.push(sim.now);
        found.push(...r.value[1]);
        if (r.value[0] !== 0) return step(r.value[0]);
        cache.del(found, (d) => (removed = d.ok ? d.value : d.message));
      });
    step(0);
    sim.run({ until: 2 * SECOND });
    expect(found.sort()).toEqual(Array.from({ length: 25 }, (_, i) => `session:${i}`).sort());
    expect(removed).toBe(25);
    // 45 keys in DB 0, 10 per SCAN: 5 round trips, each after the previous reply.
    expect(steps).toHaveLength(5);
    expect(new Set(steps).size).toBe(5);
    expect(storage.db(0)!.storedKeys).toBe(20);
  });

  test('maxmemory: pressure makes the next command evict across databases by LRU (traced with db); noeviction refuses SET with the OOM text', () => {
    const { sim, storage, client, take, results, ctx } = setup({ maxmemoryBytes: 10_000 });
    const cache = cacheClient(ctx());
    sim.at(100 * MS, () => client.set('agent:1:pod', 'api-0', 300, take));
    sim.at(200 * MS, () => cache.set('session:a', 's', 86_400, take));
    sim.at(300 * MS, () => client.set('agent:2:pod', 'api-0', 300, take));
    sim.run({ until: SECOND });
    storage.pressureBytes = 10_000 - storage.databases!.usedBytes + 1;
    expect(sim.trace.events.filter((e) => e.k === 'redis.evicted')).toEqual([]); // nothing until a command
    cache.exists(['session:a'], take);
    sim.run({ until: 2 * SECOND });
    expect(results).toEqual(['OK', 'OK', 'OK', 1]);
    expect(sim.trace.events.filter((e) => e.k === 'redis.evicted').map((e) => e.d)).toEqual([{ key: 'agent:1:pod' }]);
    // EXISTS did not touch the session: it goes next, and the fault can evict at once.
    storage.pressureBytes += 10_000 - storage.databases!.usedBytes + 1;
    expect(storage.performEvictions()).toBe(true);
    expect(sim.trace.events.filter((e) => e.k === 'redis.evicted').map((e) => e.d)).toEqual([{ key: 'agent:1:pod' }, { key: 'session:a', db: 0 }]);

    const strict = setup({ maxmemoryBytes: 1_000, evictionPolicy: 'noeviction' });
    const messages: string[] = [];
    strict.storage.pressureBytes = 2_000;
    strict.client.set('agent:1:pod', 'api-0', 300, (r) => messages.push(r.ok ? String(r.value) : r.message));
    strict.client.get('agent:1:pod', (r) => messages.push(r.ok ? String(r.value) : r.message));
    strict.sim.run({ until: SECOND });
    expect(messages).toEqual(["OOM command not allowed when used memory > 'maxmemory'.", 'null']);
    expect(() => setup({ evictionPolicy: 'noeviction', keyspace: { evictionPolicy: 'allkeys-lru' } })).toThrow(RangeError);
  });

  test('the pressure outlives a restart; a save keeps every database, the single-database snapshot the hub DB alone', () => {
    const { sim, storage, client, take, results, ctx } = setup({ maxmemoryBytes: 1_000_000 });
    const cache = cacheClient(ctx());
    client.set('agent:1:pod', 'api-0', 300, take);
    cache.set('session:a', 's', 86_400, take);
    sim.run({ until: SECOND });
    storage.save();
    storage.pressureBytes = 5_000;
    sim.restart('redis', SECOND);
    sim.run({ until: 5 * SECOND });
    expect(storage.databases!.pressureBytes).toBe(5_000);
    client.get('agent:1:pod', take);
    cache.get('session:a', take);
    sim.run({ until: 6 * SECOND });
    expect(results.slice(2)).toEqual(['api-0', 's']);
    // What faults.ts does today: only the hub DB is saved.
    storage.snapshot = storage.live!.snapshot();
    sim.restart('redis', SECOND);
    sim.run({ until: 10 * SECOND });
    client.get('agent:1:pod', take);
    cache.get('session:a', take);
    sim.run({ until: 11 * SECOND });
    expect(results.slice(4)).toEqual(['api-0', null]);
  });

  test('a context deadline ends a command at the deadline and no retry starts after it (go-redis internal.Sleep(ctx))', () => {
    const { sim, client, ctx } = setup();
    client.get('k', () => {});
    sim.run({ until: SECOND });
    sim.failNode('r');
    const t0 = sim.now;
    const got: Array<{ at: number; message: string }> = [];
    client.command({ cmd: 'GET', key: 'k' }, (r) => got.push({ at: sim.now - t0, message: r.ok ? 'ok' : r.message }), { deadline: ctx().monotonic() + 10 * SECOND });
    sim.run({ until: 60 * SECOND });
    expect(got).toEqual([{ at: 10 * SECOND, message: 'context deadline exceeded' }]);
    // The read timeout (3 s) and at most one dial (5 s) fit before the deadline; nothing is sent after it.
    const dials = sim.trace.events.filter((e) => e.t > t0 && e.p === 'app' && e.k === 'conn.dial').map((e) => e.t - t0);
    expect(dials.length).toBeGreaterThan(0);
    expect(dials.every((t) => t < 10 * SECOND)).toBe(true); // without the deadline, retries dial until ~18 s
    client.command({ cmd: 'GET', key: 'k' }, (r) => got.push({ at: sim.now - t0, message: r.ok ? 'ok' : r.message }), { deadline: ctx().monotonic() });
    expect(got.at(-1)!.message).toBe('context deadline exceeded');
  });
});
