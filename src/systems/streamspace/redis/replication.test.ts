/**
 * Redis master/replica replication and AOF persistence (replication.ts, replication-*.ts), against
 * the behaviour of Redis 7 (redis/redis replication.c, server.c, networking.c, pubsub.c, read at
 * 4f8cdc2) and the facts of spec/real-world-semantics.md §3 and spec/seeds-001-004.md §2 "Redis
 * Sentinel". The last block runs the byte counts and error replies against a real redis-server
 * master and replica when one is installed, as conformance.test.ts does for the keyspace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MS, SECOND, Simulation, type Micros, type NetworkOptions, type NodeClockOptions, type ProcessContext } from '../../../sim-cluster/index.ts';
import { RpcClient, type RpcResult } from '../net/rpc.ts';
import { freePort, ping, REDIS_BIN, waitFor } from '../testing/real-redis.ts';
import { redisReplicaSet, type RedisNode } from '../testing/redis-replica-set.ts';
import { ERR_NOREPLICAS, ERR_READONLY, type ReplicationInfo } from './replication.ts';
import { redisServer, RedisStorage, type RedisCommand, type RedisPush, type RedisServerOptions } from './server.ts';

/** A link whose one-way latency is exactly 2 ms, for tests about when a write arrives. */
const FIXED_2MS: Partial<NetworkOptions> = {
  link: { latency: { baseUs: 2 * MS, jitterUs: 0, tailChance: 0, tailUs: 0 }, dropRate: 0, duplicateRate: 0 },
};

interface Reply<T = unknown> {
  r?: RpcResult<T>;
  at?: Micros;
}

/** A client connection from a client process to one Redis process, keeping replies and pushes. */
class Conn {
  readonly rpc: RpcClient;
  readonly pushes: string[] = [];
  disconnects = 0;

  constructor(private readonly sim: Simulation, ctx: ProcessContext, target: string) {
    this.rpc = new RpcClient(ctx, {
      target,
      requestTimeoutUs: 60 * SECOND,
      onPush: (body) => this.pushes.push((body as RedisPush).message),
      onDisconnect: () => this.disconnects++,
    });
  }

  send<T = unknown>(command: RedisCommand): Reply<T> {
    const reply: Reply<T> = {};
    this.rpc.call<T>(command, (r) => {
      reply.r = r;
      reply.at = this.sim.now;
    });
    return reply;
  }
}

/**
 * Redis processes `names` (the first the master, redisReplicaSet) on nodes n0, n1, ..., a client
 * process `app-i` beside each (node n-i) and one more, `app`, on its own node `a`.
 */
function setup(o: {
  names?: string[];
  server?: RedisServerOptions;
  network?: Partial<NetworkOptions>;
  clocks?: Record<string, NodeClockOptions>;
  seed?: number;
} = {}) {
  const sim = new Simulation({ seed: o.seed ?? 11, trace: { keepEvents: true }, network: o.network });
  const nodes: RedisNode[] = redisReplicaSet(o.names ?? ['redis-0', 'redis-1', 'redis-2'], o.server ?? {});
  const ctxs = new Map<string, ProcessContext>();
  const client = (name: string, node: string) => sim.addProcess({ name, node, boot: (c) => (ctxs.set(name, c), {}) });
  nodes.forEach((n, i) => {
    sim.addNode(`n${i}`, o.clocks?.[`n${i}`] ?? {});
    sim.addProcess({ name: n.name, node: `n${i}`, boot: n.boot });
    client(`app-${i}`, `n${i}`);
  });
  sim.addNode('a');
  client('app', 'a');
  sim.run({ until: 0 });
  const conn = (from: string, target: string) => new Conn(sim, ctxs.get(from)!, target);
  const events = (kind: string, process?: string) => sim.trace.events.filter((e) => e.k === kind && (process === undefined || e.p === process));
  /** The stored keys of `db` on node i, read on its own wall clock without side effects. */
  const keysOn = (i: number, db = 1) => nodes[i]!.storage.db(db)!.keys(ctxs.get(`app-${i}`)!.now());
  return { sim, nodes, conn, events, keysOn, ctx: (name: string) => ctxs.get(name)! };
}

function value<T>(reply: Reply<T>): T {
  if (reply.r === undefined) throw new Error('no reply yet');
  if (!reply.r.ok) throw new Error(`error reply: ${reply.r.message}`);
  return reply.r.value;
}

function errorOf(reply: Reply): string {
  if (reply.r === undefined || reply.r.ok) throw new Error(`expected an error reply, got ${JSON.stringify(reply.r)}`);
  return reply.r.message;
}

/** RESP of a command, to count the bytes an offset moves by (replication.c counts stream bytes). */
function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
}

describe('Redis replication (replication.c, real-world §3.3, seeds §2 Redis Sentinel)', () => {
  test('replicas full-sync after repl-diskless-sync-delay (5 s, checked by the 1 Hz replicationCron), then get each write one network hop after the master applies it', () => {
    const { sim, conn, events, keysOn } = setup({ network: FIXED_2MS });
    sim.run({ until: 8 * SECOND });
    for (const replica of ['redis-1', 'redis-2']) {
      const syncs = events('redis.sync', replica);
      expect(syncs.map((e) => e.d)).toEqual([{ from: 'redis-0', full: true, keys: 0, offset: 0 }]);
      expect(syncs[0]!.t).toBeGreaterThanOrEqual(5 * SECOND);
      expect(syncs[0]!.t).toBeLessThan(7 * SECOND);
    }
    const app = conn('app', 'redis-0');
    app.send({ cmd: 'PING' });
    sim.run({ until: 10 * SECOND });
    // app → master is one 2 ms hop; master → replica another.
    app.send({ cmd: 'SET', key: 'k', value: 'v' });
    sim.run({ until: 10 * SECOND + 3_900 });
    expect(events('redis.set', 'redis-0').map((e) => e.t)).toEqual([10 * SECOND + 2 * MS]);
    expect(keysOn(1)).toEqual([]);
    expect(keysOn(2)).toEqual([]);
    sim.run({ until: 10 * SECOND + 4_100 });
    expect(keysOn(1)).toEqual(['k']);
    expect(keysOn(2)).toEqual(['k']);
  });

  test('a replica refuses writes with READONLY and serves reads of its copy (replica-read-only yes: server.c processCommand, shared.roslaveerr)', () => {
    const { sim, conn, events } = setup();
    sim.run({ until: 8 * SECOND });
    conn('app', 'redis-0').send({ cmd: 'SET', key: 'k', value: 'v' });
    sim.run({ until: 9 * SECOND });
    const replica = conn('app', 'redis-1');
    const set = replica.send({ cmd: 'SET', key: 'x', value: '1' });
    const del = replica.send({ cmd: 'DEL', keys: ['k'] });
    const expire = replica.send({ cmd: 'EXPIRE', key: 'k', seconds: 10 });
    const get = replica.send({ cmd: 'GET', key: 'k' });
    const exists = replica.send({ cmd: 'EXISTS', keys: ['k', 'x'] });
    // The compare-and-delete script is refused at its DEL (script.c scriptVerifyWriteCommandAllow):
    // when the value differs it only read, and passes.
    const cadMiss = replica.send({ cmd: 'DEL_IF_VALUE', key: 'k', value: 'other', alsoKeys: [] });
    const cadHit = replica.send({ cmd: 'DEL_IF_VALUE', key: 'k', value: 'v', alsoKeys: [] });
    sim.run({ until: 10 * SECOND });
    expect(ERR_READONLY).toBe("READONLY You can't write against a read only replica.");
    expect([set, del, expire, cadHit].map(errorOf)).toEqual([ERR_READONLY, ERR_READONLY, ERR_READONLY, ERR_READONLY]);
    expect([value(get), value(exists), value(cadMiss)]).toEqual(['v', 1, 0]);
    expect(events('redis.readonly', 'redis-1').map((e) => e.d)).toEqual(
      ['SET', 'DEL', 'EXPIRE', 'DEL_IF_VALUE'].map((cmd) => ({ cmd, client: 'app' })),
    );
    expect(events('redis.readonly', 'redis-0')).toEqual([]);
  });

  test('offsets count the RESP bytes of the stream (a SELECT when the database changes, a 14-byte PING every repl-ping-replica-period); replicas ACK every second and the master records each ACK', () => {
    const { sim, conn } = setup();
    sim.run({ until: 8 * SECOND });
    const app = conn('app', 'redis-0');
    app.send({ cmd: 'SET', key: 'k', value: 'v' });
    sim.run({ until: 8500 * MS });
    const afterSet = resp('SELECT', '1').length + resp('SET', 'k', 'v').length;
    expect(afterSet).toBe(50);
    const probe = conn('app', 'redis-0');
    const samples: Array<Reply<ReplicationInfo>> = [];
    for (let t = 8500 * MS; t <= 21_500 * MS; t += 100 * MS) sim.at(t, () => samples.push(probe.send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' })), 'probe');
    sim.run({ until: 22 * SECOND });
    const infos = samples.map(value);
    // Every replica's last ACK is at most one cron period (plus a hop) old at every sample.
    const ackAges = infos.flatMap((i) => i.connectedReplicas.map((r) => r.lastAckAgoUs));
    expect(ackAges.length).toBe(2 * infos.length);
    expect(Math.max(...ackAges)).toBeLessThanOrEqual(SECOND + 10 * MS);
    // The master PINGs at cron loops 10 and 20 (10 s, 20 s); nothing else was written.
    const at = (t: Micros) => infos[Math.round((t - 8500 * MS) / (100 * MS))]!;
    expect(at(9500 * MS).offset).toBe(afterSet);
    expect(at(9500 * MS).connectedReplicas.map((r) => r.offset)).toEqual([afterSet, afterSet]);
    expect(at(21_500 * MS).offset).toBe(afterSet + 2 * resp('PING').length);
    expect(resp('PING').length).toBe(14);
    expect(at(21_500 * MS).connectedReplicas.map((r) => [r.name, r.offset]).sort()).toEqual([['redis-1', 78], ['redis-2', 78]]);
    // A replica's own offset is the master's.
    const replicaInfo = conn('app', 'redis-1').send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' });
    sim.run({ until: 22_500 * MS });
    expect(value(replicaInfo)).toMatchObject({ role: 'replica', offset: 78, master: 'redis-0', masterLinkUp: true, masterLinkDownForUs: null, replicaPriority: 100 });
  });

  test('a replica cut off from its master declares the link down after repl-timeout (60 s) without data, then continues partially from the same master once the network heals', () => {
    const { sim, conn, events, keysOn } = setup();
    sim.run({ until: 25 * SECOND });
    // The master's last PING before the cut left at 20.001 s (cron loop 20).
    sim.network.partition(['n0'], ['n1']);
    sim.run({ until: 50 * SECOND });
    conn('app-0', 'redis-0').send({ cmd: 'SET', key: 'during', value: 'cut' });
    sim.run({ until: 85 * SECOND });
    const down = events('redis.link-down', 'redis-1');
    expect(down.map((e) => e.d)).toEqual([{ master: 'redis-0', reason: 'repl-timeout' }]);
    // More than 60 whole seconds after the last data (replicationCron compares unixtime seconds).
    expect(down[0]!.t).toBeGreaterThan(80 * SECOND);
    expect(down[0]!.t).toBeLessThanOrEqual(82 * SECOND);
    const replicaSide = conn('app-1', 'redis-1').send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' });
    sim.run({ until: 88 * SECOND });
    // Asked at 85 s, the link down since ~81 s.
    const info = value(replicaSide);
    expect(info.masterLinkUp).toBe(false);
    expect(info.masterLinkDownForUs!).toBeGreaterThan(85 * SECOND - down[0]!.t);
    expect(info.masterLinkDownForUs!).toBeLessThan(85 * SECOND - down[0]!.t + 10 * MS);
    // The master dropped the silent replica too (its last ACK came at ~25 s; > 60 s later).
    const admin = conn('app-0', 'redis-0');
    const masterSide = admin.send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' });
    // The dropped link is no client any more: the only other normal client is the writer.
    const killed = admin.send({ cmd: 'CLIENT_KILL', type: 'normal' });
    sim.run({ until: 89 * SECOND });
    expect(value(masterSide).connectedReplicas.map((r) => r.name)).toEqual(['redis-2']);
    expect(value(killed)).toBe(1);
    expect(keysOn(1)).toEqual([]);
    sim.network.heal(['n0'], ['n1']);
    sim.run({ until: 130 * SECOND });
    // The redial's SYN, retransmitted with Linux's backoff, gets through after the heal.
    const syncs = events('redis.sync', 'redis-1');
    expect(syncs.map((e) => e.d!['full'])).toEqual([true, false]);
    expect(syncs[1]!.t).toBeGreaterThan(89 * SECOND);
    expect(keysOn(1)).toEqual(['during']);
  });

  test('a master restarted without persistence empties its replicas: the crash resets their links at once, and the new incarnation (new replication id) full-syncs them (replication.md "Safety of replication when master has persistence turned off"; real-world §3.2.7)', () => {
    const { sim, conn, events, keysOn } = setup();
    sim.run({ until: 8 * SECOND });
    conn('app', 'redis-0').send({ cmd: 'SET', key: 'k', value: 'v' });
    sim.run({ until: 10 * SECOND });
    expect(keysOn(1)).toEqual(['k']);
    sim.restart('redis-0', 2 * SECOND);
    sim.run({ until: 11 * SECOND });
    const down = events('redis.link-down', 'redis-1');
    expect(down.map((e) => e.d)).toEqual([{ master: 'redis-0', reason: 'reset' }]);
    expect(down[0]!.t).toBeLessThan(10 * SECOND + 10 * MS);
    // Until the master's new incarnation serves it, the replica keeps serving its stale copy.
    expect(keysOn(1)).toEqual(['k']);
    sim.run({ until: 25 * SECOND });
    const syncs = events('redis.sync', 'redis-1');
    expect(syncs.map((e) => e.d)).toEqual([
      { from: 'redis-0', full: true, keys: 0, offset: 0 },
      { from: 'redis-0', full: true, keys: 0, offset: 0 },
    ]);
    // Restart at 12 s, PSYNC in the next second, RDB child 5 s later.
    expect(syncs[1]!.t).toBeGreaterThan(17 * SECOND);
    expect(syncs[1]!.t).toBeLessThan(20 * SECOND);
    expect(keysOn(1)).toEqual([]);
    expect(keysOn(2)).toEqual([]);
  });

  test('an isolated master keeps acknowledging writes, which are lost when it becomes a replica of the promoted node; the other replica continues from the promoted one partially (PSYNC2: sentinel.md "last failover wins", Jepsen 2013)', () => {
    const { sim, conn, events, keysOn } = setup();
    sim.run({ until: 8 * SECOND });
    const old = conn('app-0', 'redis-0');
    old.send({ cmd: 'SET', key: 'before', value: '1' });
    sim.run({ until: 9 * SECOND });
    sim.network.partition(['n0'], ['n1', 'n2', 'a']);
    const acked: Array<Reply> = [];
    for (let i = 0; i < 5; i++) sim.at(10 * SECOND + i * SECOND, () => acked.push(old.send({ cmd: 'SET', key: `lost-${i}`, value: 'x' })));
    sim.run({ until: 15 * SECOND });
    // What Sentinel does on the majority side: promote redis-1, point redis-2 at it.
    const sentinel1 = conn('app-1', 'redis-1');
    const sentinel2 = conn('app-1', 'redis-2');
    const promoted = sentinel1.send({ cmd: 'REPLICAOF', master: null });
    sim.run({ until: 15_500 * MS });
    const moved = sentinel2.send({ cmd: 'REPLICAOF', master: 'redis-1' });
    sim.run({ until: 20 * SECOND });
    // More stream on redis-1 than redis-0 made alone, so redis-0's offset is within redis-1's
    // backlog: only the replication ids tell the two histories apart.
    conn('app-1', 'redis-1').send({ cmd: 'SET', key: 'after', value: 'x'.repeat(1000) });
    sim.run({ until: 25 * SECOND });
    expect([value(promoted), value(moved)]).toEqual(['OK', 'OK']);
    expect(acked.map(value)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
    expect(keysOn(0).sort()).toEqual(['before', 'lost-0', 'lost-1', 'lost-2', 'lost-3', 'lost-4']);
    // redis-2 asked redis-1 to continue redis-0's history: redis-1 knows it as replid2.
    expect(events('redis.sync', 'redis-2').map((e) => e.d)).toMatchObject([{ from: 'redis-0', full: true }, { from: 'redis-1', full: false }]);
    expect(keysOn(2).sort()).toEqual(['after', 'before']);
    sim.network.heal(['n0'], ['n1', 'n2', 'a']);
    const demoted = conn('app-1', 'redis-0').send({ cmd: 'REPLICAOF', master: 'redis-1' });
    sim.run({ until: 40 * SECOND });
    expect(value(demoted)).toBe('OK');
    // Its offset is past where its history ends on redis-1: a full resync, its own writes discarded.
    const sync = events('redis.sync', 'redis-0');
    expect(sync.map((e) => e.d)).toMatchObject([{ from: 'redis-1', full: true, keys: 2 }]);
    expect(keysOn(0).sort()).toEqual(['after', 'before']);
    expect(events('redis.role').map((e) => [e.p, e.d!['role'], e.d!['master']])).toEqual([
      ['redis-0', 'master', null], ['redis-1', 'replica', 'redis-0'], ['redis-2', 'replica', 'redis-0'],
      ['redis-1', 'master', null], ['redis-2', 'replica', 'redis-1'], ['redis-0', 'replica', 'redis-1'],
    ]);
  });

  test('min-replicas-to-write 1: a master refuses writes with NOREPLICAS until a replica synced, and once isolated, after min-replicas-max-lag (10 whole seconds, refreshed each second): at most ~10 s of acknowledged-then-lost writes (server.c processCommand, replication.c refreshGoodSlavesCount)', () => {
    const { sim, conn, events } = setup({ server: { replication: { minReplicasToWrite: 1 } } });
    const app = conn('app-0', 'redis-0');
    const writes: Array<{ sentAt: Micros; reply: Reply }> = [];
    for (let t = 250 * MS; t <= 45 * SECOND; t += 250 * MS) {
      sim.at(t, () => writes.push({ sentAt: t, reply: app.send({ cmd: 'SET', key: 'k', value: String(t) }) }));
    }
    sim.at(20 * SECOND, () => sim.network.partition(['n0'], ['n1', 'n2']));
    sim.run({ until: 46 * SECOND });
    const ok = writes.filter((w) => w.reply.r?.ok === true);
    const refused = writes.filter((w) => w.reply.r?.ok === false);
    expect(ok.length + refused.length).toBe(writes.length);
    expect(new Set(refused.map((w) => errorOf(w.reply)))).toEqual(new Set([ERR_NOREPLICAS]));
    expect(ERR_NOREPLICAS).toBe('NOREPLICAS Not enough good replicas to write.');
    // Refused until the first full sync (~5 s), accepted from then on until the isolation...
    const firstSync = events('redis.sync')[0]!.t;
    expect(firstSync).toBeGreaterThan(5 * SECOND);
    expect(writes.filter((w) => w.sentAt < 5 * SECOND).every((w) => w.reply.r?.ok === false)).toBe(true);
    expect(writes.filter((w) => w.sentAt > firstSync && w.sentAt < 20 * SECOND).every((w) => w.reply.r?.ok === true)).toBe(true);
    // ...and for about min-replicas-max-lag after it: the last ACK came at ~19 s; at most 10 whole
    // seconds of lag count as good, and the count is refreshed once a second.
    const okAfterCut = ok.filter((w) => w.sentAt >= 20 * SECOND);
    const lastOk = okAfterCut[okAfterCut.length - 1]!.sentAt;
    expect(lastOk).toBeGreaterThanOrEqual(28 * SECOND);
    expect(lastOk).toBeLessThan(31 * SECOND);
    expect(writes.filter((w) => w.sentAt > lastOk).every((w) => w.reply.r?.ok === false)).toBe(true);
    expect(events('redis.noreplicas', 'redis-0').length).toBe(refused.length);
  });

  test('PUBLISH on the master reaches a replica\'s subscribers through the stream; PUBLISH on a replica reaches only its own (pubsub.c publishCommand: forceCommandPropagation; replicas propagate only their master\'s stream)', () => {
    const { sim, conn } = setup();
    const onMaster = conn('app', 'redis-0');
    const onR1 = conn('app', 'redis-1');
    const onR2 = conn('app', 'redis-2');
    for (const c of [onMaster, onR1, onR2]) c.send({ cmd: 'SUBSCRIBE', channel: 'pod:api-0:commands' });
    sim.run({ until: 8 * SECOND });
    const fromMaster = conn('app-0', 'redis-0').send({ cmd: 'PUBLISH', channel: 'pod:api-0:commands', message: 'm1' });
    sim.run({ until: 9 * SECOND });
    const fromReplica = conn('app-1', 'redis-1').send({ cmd: 'PUBLISH', channel: 'pod:api-0:commands', message: 'r1' });
    sim.run({ until: 10 * SECOND });
    // PUBLISH counts the publishing server's own subscribers only.
    expect([value(fromMaster), value(fromReplica)]).toEqual([1, 1]);
    expect(onMaster.pushes).toEqual(['m1']);
    expect(onR1.pushes).toEqual(['m1', 'r1']);
    expect(onR2.pushes).toEqual(['m1']);
  });

  test('CLIENT KILL TYPE normal and TYPE pubsub close the matching clients and reply how many, never the caller\'s connection nor replication links (networking.c clientKillCommand, getClientType)', () => {
    const { sim, conn, events } = setup();
    const normal = conn('app', 'redis-0');
    const subscriber = conn('app', 'redis-0');
    const caller = conn('app-1', 'redis-0');
    normal.send({ cmd: 'GET', key: 'k' });
    subscriber.send({ cmd: 'SUBSCRIBE', channel: 'ch' });
    caller.send({ cmd: 'PING' });
    sim.run({ until: 8 * SECOND });
    const killNormal = caller.send({ cmd: 'CLIENT_KILL', type: 'normal' });
    sim.run({ until: 8500 * MS });
    const killPubsub = caller.send({ cmd: 'CLIENT_KILL', type: 'pubsub' });
    sim.run({ until: 9 * SECOND });
    const published = caller.send({ cmd: 'PUBLISH', channel: 'ch', message: 'x' });
    const info = caller.send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' });
    sim.run({ until: 10 * SECOND });
    expect([value(killNormal), value(killPubsub)]).toEqual([1, 1]);
    expect([normal.disconnects, subscriber.disconnects, caller.disconnects]).toEqual([1, 1, 0]);
    expect(value(published)).toBe(0);
    expect(value(info).connectedReplicas.map((r) => r.name).sort()).toEqual(['redis-1', 'redis-2']);
    expect(events('redis.link-down')).toEqual([]);
    expect(events('redis.client-kill', 'redis-0').map((e) => e.d)).toEqual([{ type: 'normal', killed: 1 }, { type: 'pubsub', killed: 1 }]);
    // A killed client reconnects on its next command, as go-redis's pool does.
    const again = normal.send({ cmd: 'GET', key: 'k' });
    sim.run({ until: 11 * SECOND });
    expect(value(again)).toBe(null);
  });

  test('a replica never expires keys itself: past the deadline by its own clock it answers nil but keeps the key until the master\'s DEL (real-world §3.2.3; db.c expireIfNeeded)', () => {
    // redis-1's wall clock runs 30 s ahead of the master's.
    const { sim, conn, nodes, ctx } = setup({ clocks: { n1: { offsetUs: 30 * SECOND } } });
    sim.run({ until: 8 * SECOND });
    conn('app', 'redis-0').send({ cmd: 'SET', key: 'k', value: 'v', ex: 20 });
    sim.run({ until: 9 * SECOND });
    const replica = conn('app', 'redis-1');
    const get = replica.send({ cmd: 'GET', key: 'k' });
    const exists = replica.send({ cmd: 'EXISTS', keys: ['k'] });
    sim.run({ until: 10 * SECOND });
    expect([value(get), value(exists)]).toEqual([null, 0]);
    const stored = () => nodes[1]!.storage.db(1)!.storedKeys;
    expect(stored()).toBe(1);
    expect(nodes[1]!.storage.db(1)!.stats.expiredKeys).toBe(0);
    // The master expires it at 28 s by its clock and propagates a DEL.
    sim.run({ until: 28 * SECOND });
    expect(stored()).toBe(1);
    sim.run({ until: 28_100 * MS });
    expect(stored()).toBe(0);
    expect(ctx('app-1').now() - ctx('app-0').now()).toBe(30 * SECOND);
  });

  test('REPLICAOF NO ONE promotes a replica: it keeps its data and run id, accepts writes and expires keys, under a new replication id (replication.c replicationUnsetMaster, shiftReplicationId)', () => {
    const { sim, conn, keysOn, nodes } = setup();
    sim.run({ until: 8 * SECOND });
    conn('app', 'redis-0').send({ cmd: 'SET', key: 'k', value: 'v' });
    conn('app', 'redis-0').send({ cmd: 'SET', key: 'short', value: 'v', ex: 15 });
    sim.run({ until: 9 * SECOND });
    const r1 = conn('app', 'redis-1');
    const before = r1.send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' });
    sim.run({ until: 10 * SECOND });
    const historyBefore = nodes[1]!.storage.replication!.replid;
    const offsetBefore = value(before).offset;
    expect(historyBefore).toBe(nodes[0]!.storage.replication!.replid);
    sim.crash('redis-0');
    r1.send({ cmd: 'REPLICAOF', master: null });
    const after = r1.send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' });
    const write = r1.send({ cmd: 'SET', key: 'new', value: '1' });
    const read = r1.send({ cmd: 'GET', key: 'k' });
    sim.run({ until: 11 * SECOND });
    expect(value(after)).toMatchObject({ role: 'master', master: null, masterLinkUp: false, masterLinkDownForUs: null, runId: value(before).runId });
    expect([value(write), value(read)]).toEqual(['OK', 'v']);
    // Its history goes on under a new id; the old one stays valid up to the promotion's offset.
    const state = nodes[1]!.storage.replication!;
    expect(state.role).toBe('master');
    expect([state.replid2, state.secondReplidOffset]).toEqual([historyBefore, offsetBefore + 1]);
    expect(state.replid).not.toBe(historyBefore);
    // A promoted replica starts expiring keys itself (real-world §3.2.3).
    sim.run({ until: 25 * SECOND });
    expect(keysOn(1).sort()).toEqual(['k', 'new']);
    expect(sim.trace.events.some((e) => e.p === 'redis-1' && e.k === 'redis.expired' && e.d!['key'] === 'short')).toBe(true);
  });

  test('REPLICAOF demotes a master: a full synchronization replaces every database by the new master\'s, discarding its own writes (replication.c replicationSetMaster, readSyncBulkPayload emptyData)', () => {
    const sim = new Simulation({ seed: 5, trace: { keepEvents: true } });
    const storages = [new RedisStorage(), new RedisStorage()];
    ['a', 'b'].forEach((name, i) => {
      sim.addNode(name);
      sim.addProcess({ name: `redis-${name}`, node: name, boot: redisServer(storages[i]!, { replication: {} }) });
    });
    let ctx!: ProcessContext;
    sim.addProcess({ name: 'app', node: 'a', boot: (c) => ((ctx = c), {}) });
    sim.run({ until: 0 });
    const a = new Conn(sim, ctx, 'redis-a');
    const b = new Conn(sim, ctx, 'redis-b');
    a.send({ cmd: 'SET', key: 'a-cache', value: '1', db: 0 });
    a.send({ cmd: 'SET', key: 'a-hub', value: '1' });
    b.send({ cmd: 'SET', key: 'b-cache', value: '2', db: 0 });
    b.send({ cmd: 'SET', key: 'b-hub', value: '2' });
    b.send({ cmd: 'SET', key: 'b-other', value: '2', db: 5 });
    sim.run({ until: SECOND });
    const demote = b.send({ cmd: 'REPLICAOF', master: 'redis-a' });
    sim.run({ until: 8 * SECOND });
    expect(value(demote)).toBe('OK');
    const now = ctx.now();
    expect([0, 1, 5].map((db) => storages[1]!.db(db)!.keys(now))).toEqual([['a-cache'], ['a-hub'], []]);
    // The RDB comes with redis-a's offset: its two SETs, each after a SELECT.
    const offset = resp('SELECT', '0').length + resp('SET', 'a-cache', '1').length + resp('SELECT', '1').length + resp('SET', 'a-hub', '1').length;
    expect(sim.trace.events.filter((e) => e.k === 'redis.sync').map((e) => [e.p, e.d])).toEqual([
      ['redis-b', { from: 'redis-a', full: true, keys: 2, offset }],
    ]);
  });

  test('a replica serves a replica of its own (chained replication): it continues it under the same history and proxies its master\'s stream unchanged (replicationFeedStreamFromMasterStream)', () => {
    const { sim, conn, events, keysOn } = setup();
    sim.run({ until: 8 * SECOND });
    const moved = conn('app', 'redis-2').send({ cmd: 'REPLICAOF', master: 'redis-1' });
    sim.run({ until: 9 * SECOND });
    conn('app', 'redis-0').send({ cmd: 'SET', key: 'k', value: 'v', ex: 300 });
    sim.run({ until: 10_500 * MS });
    expect(value(moved)).toBe('OK');
    expect(events('redis.sync', 'redis-2').map((e) => e.d)).toMatchObject([{ from: 'redis-0', full: true }, { from: 'redis-1', full: false }]);
    expect(keysOn(2)).toEqual(['k']);
    // The master's SET and its PING at 10 s, through redis-1 to redis-2.
    const offsets = ['redis-0', 'redis-1', 'redis-2'].map((r) => conn('app', r).send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' }));
    sim.run({ until: 11 * SECOND });
    const infos = offsets.map(value);
    expect(new Set(infos.map((i) => i.offset)).size).toBe(1);
    expect(infos.map((i) => i.connectedReplicas.map((r) => r.name))).toEqual([['redis-1'], ['redis-2'], []]);
  });

  test('without `replication` a server records no replication event and answers INFO_REPLICATION and REPLICAOF with an error', () => {
    const sim = new Simulation({ seed: 3, trace: { keepEvents: true } });
    sim.addNode('r');
    sim.addProcess({ name: 'redis', node: 'r', boot: redisServer(new RedisStorage()) });
    let ctx!: ProcessContext;
    sim.addProcess({ name: 'app', node: 'r', boot: (c) => ((ctx = c), {}) });
    sim.run({ until: 0 });
    const c = new Conn(sim, ctx, 'redis');
    const info = c.send({ cmd: 'INFO_REPLICATION' });
    const replicaOf = c.send({ cmd: 'REPLICAOF', master: 'x' });
    sim.run({ until: SECOND });
    expect(errorOf(info)).toMatch(/^ERR replication is not configured/);
    expect(errorOf(replicaOf)).toMatch(/^ERR replication is not configured/);
    expect(sim.trace.events.filter((e) => e.k === 'redis.role' || e.k === 'redis.sync')).toEqual([]);
  });
});

describe('AOF, appendonly yes + appendfsync everysec (redis.io persistence; real-world §3.2.5)', () => {
  /** One Redis with `options`, a client writing k0, k1, ... every 100 ms from 100 ms on. */
  function writer(options: RedisServerOptions) {
    const sim = new Simulation({ seed: 9, trace: { keepEvents: true } });
    sim.addNode('r');
    sim.addNode('a');
    const storage = new RedisStorage();
    sim.addProcess({ name: 'redis', node: 'r', boot: redisServer(storage, options) });
    let ctx!: ProcessContext;
    sim.addProcess({ name: 'app', node: 'a', boot: (c) => ((ctx = c), {}) });
    sim.run({ until: 0 });
    const c = new Conn(sim, ctx, 'redis');
    let i = 0;
    const write = () => {
      c.send({ cmd: 'SET', key: `k${String(i).padStart(3, '0')}`, value: 'v' });
      i++;
      sim.after(100 * MS, write, 'write');
    };
    sim.at(100 * MS, write, 'write');
    const appliedBefore = (t: Micros) => sim.trace.events.filter((e) => e.k === 'redis.set' && e.t < t).map((e) => e.d!['key'] as string);
    return { sim, storage, keys: () => storage.db(1)!.keys(ctx.now()).sort(), appliedBefore };
  }

  test('a crash loses the writes since the last fsync: under a second of them, and nothing before', () => {
    const { sim, keys, appliedBefore } = writer({ aof: { fsyncEveryUs: SECOND } });
    // The AOF is fsynced at 1 s, 2 s, ... after the start; the crash comes just before the 6th.
    sim.run({ until: 5_950 * MS });
    const durable = appliedBefore(5 * SECOND);
    const all = appliedBefore(5_950 * MS);
    sim.restart('redis', 500 * MS);
    sim.run({ until: 6_460 * MS });
    const lost = all.filter((k) => !durable.includes(k));
    expect(keys()).toEqual(durable);
    expect(lost.length).toBeGreaterThanOrEqual(9);
    expect(lost.length).toBeLessThanOrEqual(10);
    expect(sim.trace.events.filter((e) => e.k === 'redis.start').map((e) => e.d)).toEqual([
      { keys: 0, fromSnapshot: false }, { keys: durable.length, fromSnapshot: true },
    ]);
  });

  test('a graceful SIGTERM fsyncs before exiting: nothing acknowledged is lost (server.c prepareForShutdown)', () => {
    const { sim, keys, appliedBefore } = writer({ aof: { fsyncEveryUs: SECOND } });
    sim.run({ until: 5_950 * MS });
    const all = appliedBefore(5_950 * MS);
    sim.signal('redis', 'SIGTERM');
    sim.run({ until: 6 * SECOND });
    expect(all.length).toBeGreaterThan(50);
    sim.start('redis');
    sim.run({ until: 6_200 * MS });
    // Every write it ever applied, the last second's included (and those after the restart).
    expect(keys()).toEqual(appliedBefore(sim.now + 1));
    expect(keys().slice(0, all.length)).toEqual(all);
  });

  test('the AOF is preferred to the RDB, and without either a restart is empty as before', () => {
    const both = writer({ aof: {}, snapshotEveryUs: 2 * SECOND });
    both.sim.run({ until: 3_500 * MS });
    const durable = both.appliedBefore(3 * SECOND);
    // Back at 3.63 s, between two writes (every 100 ms).
    both.sim.restart('redis', 130 * MS);
    both.sim.run({ until: 3_650 * MS });
    // The RDB of 2 s holds fewer keys than the AOF fsynced at 3 s.
    expect(both.storage.saved!.entries.length).toBeLessThan(durable.length);
    expect(both.keys()).toEqual(durable);
    const none = writer({});
    none.sim.run({ until: 3_500 * MS });
    none.sim.restart('redis', 130 * MS);
    none.sim.run({ until: 3_650 * MS });
    expect(none.keys()).toEqual([]);
  });
});

// ------------------------------------------------------------------ real redis-server

/**
 * The byte counts and replies recorded from a real redis-server 7.0.15 master with a replica
 * (`repl-diskless-sync-delay 0`, `repl-ping-replica-period 3600` so no PING lands between steps),
 * a client in database 1: the step's command, and how far `master_repl_offset` moved. The model
 * must move its offset by the same amounts; a real server, when installed, must still answer so.
 * Timestamps (PXAT, PEXPIREAT) have 13 digits on both.
 */
const OFFSET_STEPS: ReadonlyArray<{ label: string; model: RedisCommand; real: Array<string | number>; delta: number }> = [
  { label: 'SET EX, the first write after the sync (SELECT 1 + SET k v PXAT ms)', model: { cmd: 'SET', key: 'k', value: 'v', ex: 100 }, real: ['set', 'k', 'v', 'ex', 100], delta: 80 },
  { label: 'SET', model: { cmd: 'SET', key: 'k', value: 'v' }, real: ['set', 'k', 'v'], delta: 27 },
  { label: 'EXPIRE (as PEXPIREAT)', model: { cmd: 'EXPIRE', key: 'k', seconds: 50 }, real: ['expire', 'k', 50], delta: 46 },
  { label: 'DEL', model: { cmd: 'DEL', keys: ['k'] }, real: ['del', 'k'], delta: 20 },
  { label: 'DEL of nothing: not propagated', model: { cmd: 'DEL', keys: ['k'] }, real: ['del', 'k'], delta: 0 },
  { label: 'PUBLISH', model: { cmd: 'PUBLISH', channel: 'ch', message: 'hello' }, real: ['publish', 'ch', 'hello'], delta: 36 },
  { label: 'SET NX of a new key (as sent: SET p q NX)', model: { cmd: 'SET', key: 'p', value: 'q', nx: true }, real: ['set', 'p', 'q', 'nx'], delta: 35 },
  { label: 'SET NX refused: not propagated', model: { cmd: 'SET', key: 'p', value: 'q', nx: true }, real: ['set', 'p', 'q', 'nx'], delta: 0 },
  { label: 'compare-and-delete that only read', model: { cmd: 'DEL_IF_VALUE', key: 'p', value: 'other', alsoKeys: ['z'] }, real: ['eval', CAD_SCRIPT(), 2, 'p', 'z', 'other'], delta: 0 },
  { label: 'compare-and-delete that deleted (its effect, DEL p z)', model: { cmd: 'DEL_IF_VALUE', key: 'p', value: 'q', alsoKeys: ['z'] }, real: ['eval', CAD_SCRIPT(), 2, 'p', 'z', 'q'], delta: 27 },
];

function CAD_SCRIPT(): string {
  return "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) else return 0 end";
}

/** The model's offset after each step of OFFSET_STEPS (the master's wall clock near today, for 13-digit timestamps). */
function modelOffsets(): number[] {
  const { sim, conn } = setup({
    server: { replication: { pingReplicaPeriodUs: 3600 * SECOND } },
    clocks: { n0: { offsetUs: 1_733_000_000 * SECOND } },
    names: ['redis-0', 'redis-1'],
  });
  sim.run({ until: 8 * SECOND });
  const app = conn('app', 'redis-0');
  const offsets: number[] = [];
  let t = 8 * SECOND;
  for (const step of OFFSET_STEPS) {
    app.send(step.model);
    const info = app.send<ReplicationInfo>({ cmd: 'INFO_REPLICATION' });
    t += 100 * MS;
    sim.run({ until: t });
    offsets.push(value(info).offset);
  }
  return offsets;
}

function deltas(offsets: number[]): number[] {
  return offsets.map((o, i) => o - (i === 0 ? 0 : offsets[i - 1]!));
}

describe('stream bytes and replies as recorded from real Redis 7.0', () => {
  test('the model moves master_repl_offset by the recorded amount at every step', () => {
    expect(deltas(modelOffsets())).toEqual(OFFSET_STEPS.map((s) => s.delta));
  });
});

const binOk = spawnSync(REDIS_BIN, ['--version']).status === 0;
if (!binOk) console.warn(`Redis replication conformance: real redis-server tests SKIPPED: cannot run ${REDIS_BIN}; set HASIM_REDIS_SERVER or install redis-server`);

describe.skipIf(!binOk)('a real redis-server master and replica answer as recorded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-redis-repl-'));
  const children: ChildProcess[] = [];
  const clients: Redis[] = [];
  let master!: Redis;
  let replica!: Redis;
  let masterPort = 0;

  const start = async (name: string, extra: string[]): Promise<Redis> => {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `${name}.rdb`];
    args.push('--daemonize', 'no', '--loglevel', 'warning', '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '3600', ...extra);
    children.push(spawn(REDIS_BIN, args, { stdio: 'ignore' }));
    await waitFor(() => ping(port), 5000, 20);
    const c = new Redis({ port, host: '127.0.0.1', db: 1 });
    clients.push(c);
    if (name === 'master') masterPort = port;
    return c;
  };

  beforeAll(async () => {
    master = await start('master', []);
    replica = await start('replica', ['--replicaof', '127.0.0.1', String(masterPort)]);
    await waitFor(async () => /master_link_status:up/.test(await replica.info('replication')), 10_000, 20);
  }, 30_000);

  afterAll(() => {
    for (const c of clients) c.disconnect();
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const offset = async (): Promise<number> => Number(/master_repl_offset:(\d+)/.exec(await master.info('replication'))![1]);

  test('master_repl_offset moves by the recorded amount at every step', async () => {
    const found: number[] = [];
    let last = await offset();
    for (const step of OFFSET_STEPS) {
      await master.call(...(step.real.map(String) as [string, ...string[]]));
      const now = await offset();
      found.push(now - last);
      last = now;
    }
    expect(found).toEqual(OFFSET_STEPS.map((s) => s.delta));
  });

  test('READONLY on the replica, NOREPLICAS on a master short of replicas, PUBLISH on the replica local only', async () => {
    await expect(replica.set('x', '1')).rejects.toThrow(ERR_READONLY);
    await master.config('SET', 'min-replicas-to-write', '2');
    await expect(master.set('x', '1')).rejects.toThrow(ERR_NOREPLICAS);
    await master.config('SET', 'min-replicas-to-write', '0');
    // A replica may get the stream that followed its RDB only at its next ACK, up to a second later
    // (`repl_start_cmd_stream_on_ack`): let it catch up, so the first test's PUBLISH is behind us.
    await waitFor(async () => /slave_repl_offset:(\d+)/.exec(await replica.info('replication'))![1] === String(await offset()), 5000, 20);
    const sub = new Redis({ port: Number(replica.options.port), host: '127.0.0.1', retryStrategy: () => null });
    clients.push(sub);
    const got: string[] = [];
    sub.on('message', (_ch: string, m: string) => got.push(m));
    await sub.subscribe('ch');
    expect(await master.publish('ch', 'from-master')).toBe(0);
    await waitFor(async () => got.length === 1, 5000, 20);
    expect(await replica.publish('ch', 'from-replica')).toBe(1);
    await waitFor(async () => got.length === 2, 5000, 20);
    expect(got).toEqual(['from-master', 'from-replica']);
    // CLIENT KILL TYPE pubsub on the replica closes the subscriber; TYPE normal spares the caller.
    expect(await replica.client('KILL', 'TYPE', 'pubsub')).toBe(1);
    expect(await replica.client('KILL', 'TYPE', 'normal')).toBe(0);
  });
});



