import { describe, expect, test } from 'vitest';
import { MS, SECOND, Simulation, withDeterminismGuard, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import { RpcClient, type RpcResult } from '../net/rpc.ts';
import { healthyKubeApi } from '../kube/api-server.ts';
import { KubeObjectStore, kubeApiServerWithWatch, PatroniMasterService, type KubeObject } from './patroni-dcs.ts';
import { DEFAULT_MEMBER_POSTGRES } from './patroni-postgres.ts';
import { failoverKeyName, requestSwitchover } from './patroni-switchover.ts';
import { bootPatroniMember, DEFAULT_PATRONI, patroniTimeouts, type PatroniOptions } from './patroni.ts';
import { PgData, walBeyond } from './replication.ts';
import type { ReplicationMode } from './patroni-sync.ts';
import type { Statement } from './statements.ts';

/**
 * Conformance of the Patroni model with the sources it cites (patroni.ts): seeds-001-004 §2
 * "PostgreSQL failover", real-world-semantics §4, Patroni's docs (replication_modes.rst,
 * dynamic_configuration.rst) and pigsty's failure model (pigsty.io/docs/concept/ha/failure).
 */

const MEMBERS = ['postgres-0', 'postgres-1', 'postgres-2'];
const TTL = DEFAULT_PATRONI.ttl * SECOND;
const LOOP_WAIT = DEFAULT_PATRONI.loopWait * SECOND;
const RETRY_TIMEOUT = DEFAULT_PATRONI.retryTimeout * SECOND;

interface Write {
  id: string;
  sentAt: Micros;
  answeredAt: Micros;
  result: RpcResult<unknown>;
}

/**
 * Three members on nodes db-0..2, the API server on `control-plane`, and a writer `api-0` on `app`
 * that dials the master Service. `startWrites` inserts a command every `everyUs`; a write that
 * times out closes the writer's connection (so the next one dials the Service again).
 */
function cluster(options: Partial<PatroniOptions> = {}, seed = 1) {
  const sim = new Simulation({ seed, trace: { keepEvents: true } });
  sim.addNode('control-plane');
  MEMBERS.forEach((_, i) => sim.addNode(`db-${i}`));
  sim.addNode('app');
  const store = new KubeObjectStore();
  const kubeFaults = healthyKubeApi();
  sim.addProcess({ name: 'kube-api', node: 'control-plane', boot: kubeApiServerWithWatch(store, kubeFaults) });
  const data = new Map(MEMBERS.map((m) => [m, new PgData()]));
  MEMBERS.forEach((m, i) => sim.addProcess({ name: m, node: `db-${i}`, boot: bootPatroniMember(data.get(m)!, { members: MEMBERS, ...options }) }));
  const service = new PatroniMasterService(store, DEFAULT_PATRONI.scope);
  let writer!: RpcClient;
  sim.addProcess({ name: 'api-0', node: 'app', boot: (ctx) => ((writer = new RpcClient(ctx, { target: service.resolve, requestTimeoutUs: 3 * SECOND })), {}) });
  const writes: Write[] = [];
  const send = (s: Statement, id: string): void => {
    const sentAt = sim.now;
    writer.call(s, (result) => {
      writes.push({ id, sentAt, answeredAt: sim.now, result });
      if (!result.ok && result.error === 'timeout') writer.close();
    });
  };
  let n = 0;
  const startWrites = (from: Micros, until: Micros, everyUs: Micros = 500 * MS): void => {
    sim.at(from, () => send({ stmt: 'http.register', agentId: 'agent-a', at: sim.now }, 'register'));
    for (let t = from + everyUs; t < until; t += everyUs) {
      sim.at(t, () => {
        const id = `cmd-${n++}`;
        send({ stmt: 'producer.insert', row: { commandId: id, agentId: 'agent-a', sessionId: null, action: 'start_session', payload: null }, at: sim.now }, id);
      });
    }
  };
  const events = (kind: string): TraceEvent[] => sim.trace.events.filter((e) => e.k === kind);
  const first = (kind: string, after = 0): TraceEvent | undefined => sim.trace.events.find((e) => e.k === kind && e.t >= after);
  /** The leader key's renewals and takeovers (the API server's committed writes of the leader object). */
  const leaderWrites = (): TraceEvent[] => events('lease.update').concat(events('lease.create')).filter((e) => e.d!['lease'] === DEFAULT_PATRONI.scope).sort((a, b) => a.t - b.t);
  const acked = (): Write[] => writes.filter((w) => w.result.ok && w.id !== 'register');
  return { sim, store, kubeFaults, data, service, startWrites, writes, acked, events, first, leaderWrites };
}

type Cluster = ReturnType<typeof cluster>;

/** Runs the cluster to a settled state: postgres-0 bootstrapped, both standbys streaming, one of them synchronous. */
function settle(c: Cluster): void {
  c.sim.run({ until: 20 * SECOND });
}

describe('bootstrap, replication and the master Service', () => {
  test('the first member bootstraps and takes the key; the others stream from it; the Service points at the leader', () => {
    const c = cluster();
    c.startWrites(6 * SECOND, 30 * SECOND);
    c.sim.run({ until: 40 * SECOND });
    expect(c.first('patroni.bootstrap')?.d).toEqual({ member: 'postgres-0' });
    expect(c.first('patroni.leader')?.d).toEqual({ member: 'postgres-0', transitions: 0 });
    expect(c.events('patroni.follow').map((e) => e.d)).toEqual([
      { member: 'postgres-1', leader: 'postgres-0' },
      { member: 'postgres-2', leader: 'postgres-0' },
    ]);
    expect(c.service.resolve()).toBe('postgres-0');
    // Synchronous mode (the default): the primary names one streaming standby in /sync.
    expect(c.events('pg.sync-standby').at(-1)?.d).toEqual({ leader: 'postgres-0', standby: 'postgres-1' });
    expect(c.acked().length).toBe(47);
    const rows = c.data.get('postgres-0')!.storage.allCommands();
    expect(rows).toHaveLength(47);
    for (const m of ['postgres-1', 'postgres-2']) expect(c.data.get(m)!.storage.allCommands()).toEqual(rows);
    // The leader renews every loop_wait (10 s), once the bootstrap's wake-ups are over.
    const renewals = c.leaderWrites().map((e) => e.t).filter((t) => t > 5 * SECOND);
    expect(renewals.length).toBe(3); // 12, 22 and 32 s
    for (let i = 1; i < renewals.length; i++) expect(Math.abs(renewals[i]! - renewals[i - 1]! - LOOP_WAIT)).toBeLessThan(10 * MS);
  });

  test('a standby answers writes with SQLSTATE 25006 and serves reads from its replayed rows', () => {
    const c = cluster();
    c.startWrites(6 * SECOND, 8 * SECOND);
    settle(c);
    const answers: Array<RpcResult<unknown>> = [];
    c.sim.addProcess({
      name: 'psql', node: 'app', boot: (ctx) => {
        const direct = new RpcClient(ctx, { target: 'postgres-2' });
        direct.call({ stmt: 'hub.heartbeat', agentId: 'agent-a', at: 1 }, (r) => answers.push(r));
        direct.call({ stmt: 'ws.agent-lookup', agentId: 'agent-a' }, (r) => answers.push(r));
        return {};
      },
    });
    c.sim.run({ until: c.sim.now + SECOND });
    expect(answers[0]).toEqual({ ok: false, error: 'server', message: 'pq: cannot execute UPDATE in a read-only transaction' });
    expect(answers[1]).toMatchObject({ ok: true, value: { agentId: 'agent-a', status: 'online' } });
    expect(c.events('db.write-error').map((e) => [e.p, e.d])).toEqual([['postgres-2', { statement: 'hub.heartbeat', code: '25006', client: 'psql', agent: 'agent-a' }]]);
  });
});

describe('failover timing', () => {
  test.each([0, 1, 2, 3, 4, 5, 6, 7])(
    'node loss of the primary (failure at +%is): a standby is promoted ttl..ttl+loop_wait after the last renewal (pigsty passive failure model)',
    (offset) => {
      const c = cluster({}, 10 + offset);
      c.startWrites(6 * SECOND, 120 * SECOND);
      const failedAt = 40 * SECOND + offset * 1_300 * MS;
      c.sim.at(failedAt, () => c.sim.failNode('db-0'));
      c.sim.run({ until: 120 * SECOND });
      const lastRenewal = c.leaderWrites().filter((e) => e.t <= failedAt).at(-1)!.t;
      const promote = c.first('patroni.promote')!;
      expect(promote.p).not.toBe('postgres-0');
      // The key expires ttl after the standbys last saw it change; they notice at their next cycle
      // (loop_wait + 0.5 s apart), ask the members (the dead one times out after 2 s) and promote.
      expect(promote.t - lastRenewal).toBeGreaterThanOrEqual(TTL);
      expect(promote.t - lastRenewal).toBeLessThanOrEqual(TTL + LOOP_WAIT);
      // Pigsty: from the failure, ttl - loop_wait (best) to ttl + loop_wait + 2 s (worst).
      expect(promote.t - failedAt).toBeGreaterThanOrEqual(TTL - LOOP_WAIT);
      expect(promote.t - failedAt).toBeLessThanOrEqual(TTL + LOOP_WAIT + 2 * SECOND);
      // Synchronous mode: the promoted member is the one /sync named.
      const sync = c.events('pg.sync-standby').filter((e) => e.t < failedAt).at(-1)!.d!['standby'];
      expect(promote.p).toBe(sync);
      // The Service follows the new leader once it took the key; writes succeed again.
      expect(c.service.resolve()).toBe(promote.p);
      expect(c.acked().some((w) => w.sentAt > promote.t)).toBe(true);
    },
  );

  test('graceful delete (SIGTERM): the leader releases the key and empties the Endpoints; a standby takes over in well under loop_wait', () => {
    const c = cluster();
    c.startWrites(6 * SECOND, 80 * SECOND);
    settle(c);
    const signalAt = 40 * SECOND;
    const resolved: Array<[Micros, string]> = [];
    for (let t = signalAt; t < signalAt + 6 * SECOND; t += 100 * MS) c.sim.at(t, () => resolved.push([c.sim.now, c.service.resolve()]));
    c.sim.at(signalAt, () => c.sim.signal('postgres-0', 'SIGTERM'));
    c.sim.run({ until: 80 * SECOND });
    const release = c.first('patroni.release')!;
    const leader = c.first('patroni.leader', signalAt)!;
    const promote = c.first('patroni.promote')!;
    expect(release.d).toEqual({ member: 'postgres-0' });
    // Fast stop (1 s), 1 s for the standbys to catch up, then delete_leader (ha.py `shutdown`).
    expect(release.t - signalAt).toBeGreaterThanOrEqual(2 * SECOND);
    expect(release.t - signalAt).toBeLessThan(2 * SECOND + 100 * MS);
    // The release wakes the standbys through their watch: the race starts at once (no ttl wait).
    expect(leader.t - release.t).toBeLessThan(100 * MS);
    expect(promote.t - signalAt).toBeLessThan(LOOP_WAIT);
    // Between the release and the new leader's write the Service has no endpoint: dials are refused.
    expect(resolved.filter(([t]) => t > release.t && t < leader.t).every(([, r]) => r === 'postgres')).toBe(true);
    expect(resolved.at(-1)![1]).toBe(leader.p);
    // Nothing acknowledged is lost: the standbys had everything before the key was released.
    const rows = c.data.get(promote.p)!.storage;
    expect(c.acked().filter((w) => rows.getCommand(w.id) === undefined)).toEqual([]);
  });

  test('timeouts follow Patroni\'s rule loop_wait + 2 × retry_timeout <= ttl (config.py adjusts them); bad options are refused', () => {
    expect(patroniTimeouts({ ttl: 30, loopWait: 10, retryTimeout: 10 })).toEqual({ ttl: 30, loopWait: 10, retryTimeout: 10 });
    expect(patroniTimeouts({ ttl: 30, loopWait: 15, retryTimeout: 10 })).toEqual({ ttl: 30, loopWait: 10, retryTimeout: 10 });
    expect(patroniTimeouts({ ttl: 10, loopWait: 10, retryTimeout: 10 })).toEqual({ ttl: 20, loopWait: 1, retryTimeout: 9 });
    expect(() => patroniTimeouts({ ttl: 30.5, loopWait: 10, retryTimeout: 10 })).toThrow(RangeError);
    expect(() => bootPatroniMember(new PgData(), { members: ['a', 'a'] })).toThrow(RangeError);
    expect(() => bootPatroniMember(new PgData(), { members: ['a'], replication: 'quorum' as 'sync' })).toThrow(RangeError);
    expect(() => bootPatroniMember(new PgData(), { members: ['a'], maximumLagOnFailover: -1 })).toThrow(RangeError);
    expect(() => bootPatroniMember(new PgData(), { members: ['a'], postgres: { promoteUs: 1.5 } })).toThrow(RangeError);
    expect(() => bootPatroniMember(new PgData(), { members: ['a'], postgres: { serviceTimeUs: { min: 5, max: 1 } } })).toThrow(RangeError);
  });
});

/** The primary cut off from the API server and the standbys (the app still reaches it). */
function cutPrimary(c: Cluster, at: Micros, healAt: Micros): void {
  c.sim.at(at, () => c.sim.network.partition(['db-0'], ['control-plane', 'db-1', 'db-2']));
  c.sim.at(healAt, () => c.sim.network.healAll());
}

describe('primary cut off from the DCS', () => {
  test('async: it demotes after retry_timeout; the commits it acknowledged after the cut are lost (rewound away)', () => {
    const c = cluster({ replication: 'async' });
    c.startWrites(6 * SECOND, 140 * SECOND);
    const cutAt = 40 * SECOND;
    cutPrimary(c, cutAt, 100 * SECOND);
    c.sim.run({ until: 150 * SECOND });
    const demote = c.first('patroni.demote')!;
    expect(demote.d).toEqual({ member: 'postgres-0', why: 'offline' });
    // Its next cycle (within loop_wait) spends retry_timeout on the renewal, then demotes.
    expect(demote.t - cutAt).toBeGreaterThanOrEqual(RETRY_TIMEOUT);
    expect(demote.t - cutAt).toBeLessThanOrEqual(LOOP_WAIT + RETRY_TIMEOUT + 100 * MS);
    const promote = c.first('patroni.promote')!;
    expect(promote.t).toBeGreaterThan(demote.t); // loop_wait + 2 × retry_timeout <= ttl: no overlap
    // Acknowledged after the cut, before the demotion: on postgres-0 only.
    const lostAcks = c.acked().filter((w) => w.answeredAt > cutAt && w.answeredAt < demote.t);
    expect(lostAcks.length).toBeGreaterThan(15);
    const leaderRows = c.data.get(promote.p)!.storage;
    expect(c.acked().filter((w) => leaderRows.getCommand(w.id) === undefined)).toEqual(lostAcks);
    // After the heal the old primary is rewound; the discarded records are exactly those commits.
    const rewind = c.first('patroni.rewind')!;
    expect(rewind.d).toMatchObject({ member: 'postgres-0', leader: promote.p, forkLsn: promote.d!['lsn'], lost: lostAcks.length });
    const discarded = c.data.get('postgres-0')!.discarded[0]!;
    expect(discarded.records.map((r) => (r.statement as Extract<Statement, { stmt: 'producer.insert' }>).row.commandId)).toEqual(lostAcks.map((w) => w.id));
    expect(discarded.records.every((r) => r.acked && r.primary === 'postgres-0')).toBe(true);
    expect(c.data.get('postgres-0')!.storage.allCommands()).toEqual(leaderRows.allCommands());
  });

  test('async: walBeyond lists, at promotion, what the old primary has beyond the new timeline\'s start', () => {
    const c = cluster({ replication: 'async' });
    c.startWrites(6 * SECOND, 90 * SECOND);
    cutPrimary(c, 40 * SECOND, 200 * SECOND);
    let beyond: string[] = [];
    c.sim.run({ until: 90 * SECOND });
    const promote = c.first('patroni.promote')!;
    beyond = walBeyond(c.data.get('postgres-0')!, promote.d!['lsn'] as number).map((r) => (r.statement as Extract<Statement, { stmt: 'producer.insert' }>).row.commandId);
    const leaderRows = c.data.get(promote.p)!.storage;
    expect(beyond.length).toBeGreaterThan(0);
    expect(c.acked().filter((w) => leaderRows.getCommand(w.id) === undefined).map((w) => w.id)).toEqual(beyond);
  });

  test('the demoted primary serves reads and answers writes with 25006; the Service keeps pointing at it until a new leader writes the Endpoints', () => {
    const c = cluster({ replication: 'async' });
    c.startWrites(6 * SECOND, 90 * SECOND);
    const cutAt = 40 * SECOND;
    cutPrimary(c, cutAt, 200 * SECOND);
    c.sim.run({ until: 90 * SECOND });
    const demote = c.first('patroni.demote')!;
    const leader = c.first('patroni.leader', cutAt)!;
    const between = c.writes.filter((w) => w.sentAt > demote.t + 3 * SECOND && w.sentAt < leader.t);
    expect(between.length).toBeGreaterThan(5);
    for (const w of between) expect(w.result).toEqual({ ok: false, error: 'server', message: 'pq: cannot execute INSERT in a read-only transaction' });
  });

  test('sync (not strict): no acknowledged commit is lost; commits after the cut wait for the unreachable standby', () => {
    const c = cluster({ replication: 'sync' });
    c.startWrites(6 * SECOND, 140 * SECOND);
    const cutAt = 40 * SECOND;
    cutPrimary(c, cutAt, 100 * SECOND);
    c.sim.run({ until: 150 * SECOND });
    const demote = c.first('patroni.demote')!;
    expect(demote.t - cutAt).toBeLessThanOrEqual(LOOP_WAIT + RETRY_TIMEOUT + 100 * MS);
    expect(c.acked().filter((w) => w.answeredAt > cutAt && w.answeredAt < demote.t)).toEqual([]);
    const promote = c.first('patroni.promote')!;
    const leaderRows = c.data.get(promote.p)!.storage;
    expect(c.acked().filter((w) => w.sentAt > promote.t).length).toBeGreaterThan(20);
    expect(c.acked().filter((w) => leaderRows.getCommand(w.id) === undefined)).toEqual([]);
    // The old primary did commit them locally (unacknowledged): the rewind discards them.
    const rewind = c.first('patroni.rewind')!;
    expect(rewind.d!['lost']).toBeGreaterThan(0);
    expect(c.data.get('postgres-0')!.discarded[0]!.records.every((r) => !r.acked)).toBe(true);
  });
});

describe('synchronous replication modes (replication_modes.rst)', () => {
  test('sync: no acknowledged commit is lost on node loss of the primary while a sync standby exists', () => {
    for (const seed of [21, 22, 23]) {
      const c = cluster({ replication: 'sync' }, seed);
      c.startWrites(6 * SECOND, 120 * SECOND, 100 * MS);
      c.sim.at(40 * SECOND + seed * 100 * MS, () => c.sim.failNode('db-0'));
      c.sim.run({ until: 120 * SECOND });
      const promote = c.first('patroni.promote')!;
      const rows = c.data.get(promote.p)!.storage;
      expect(c.acked().length).toBeGreaterThan(500);
      expect(c.acked().filter((w) => rows.getCommand(w.id) === undefined)).toEqual([]);
    }
  });

  test('sync: with the standbys gone, commits wait until the primary drops them from /sync, then go on locally', () => {
    const c = cluster({ replication: 'sync' });
    c.startWrites(6 * SECOND, 100 * SECOND);
    settle(c);
    const killedAt = 40 * SECOND;
    c.sim.at(killedAt, () => {
      c.sim.crash('postgres-1');
      c.sim.crash('postgres-2');
    });
    c.sim.run({ until: 100 * SECOND });
    const dropped = c.first('pg.sync-standby', killedAt)!;
    expect(dropped.d).toEqual({ leader: 'postgres-0', standby: null });
    expect(dropped.t - killedAt).toBeLessThanOrEqual(LOOP_WAIT + 100 * MS);
    // Commits sent meanwhile were answered only once /sync and synchronous_standby_names were cleared.
    const held = c.acked().filter((w) => w.sentAt > killedAt && w.sentAt < dropped.t - 100 * MS);
    expect(held.length).toBeGreaterThan(0);
    for (const w of held) expect(w.answeredAt).toBeGreaterThanOrEqual(dropped.t);
    expect(c.acked().filter((w) => w.sentAt > dropped.t + 100 * MS).length).toBeGreaterThan(50);
  });

  test('sync-strict: commits wait while no standby is synchronous, and go on once one streams again', () => {
    const c = cluster({ replication: 'sync-strict' });
    c.startWrites(6 * SECOND, 150 * SECOND);
    settle(c);
    const killedAt = 40 * SECOND;
    c.sim.at(killedAt, () => {
      c.sim.crash('postgres-1');
      c.sim.crash('postgres-2');
    });
    c.sim.at(100 * SECOND, () => c.sim.start('postgres-2'));
    c.sim.run({ until: 150 * SECOND });
    expect(c.acked().filter((w) => w.sentAt > killedAt && w.answeredAt < 100 * SECOND)).toEqual([]);
    // The dead standby stayed in /sync (and in synchronous_standby_names) all along.
    expect(c.events('pg.sync-standby').filter((e) => e.t > killedAt && e.t < 100 * SECOND)).toEqual([]);
    // Then /sync drops the old standby, synchronous_standby_names names the new one, and 2 s later
    // (once it caught up) /sync names it (`_process_multisync_replication`).
    const changes = c.events('pg.sync-standby').filter((e) => e.t > 100 * SECOND);
    expect(changes.map((e) => e.d)).toEqual([{ leader: 'postgres-0', standby: null }, { leader: 'postgres-0', standby: 'postgres-2' }]);
    const firstAck = c.acked().find((w) => w.answeredAt > 100 * SECOND)!;
    expect(firstAck.answeredAt).toBeGreaterThan(changes[0]!.t);
    expect(c.acked().filter((w) => w.sentAt > changes[1]!.t).length).toBeGreaterThan(50);
  });

  test('sync: only the /sync standby may be promoted; with it gone too, the other standby never takes over', () => {
    const c = cluster({ replication: 'sync' });
    c.startWrites(6 * SECOND, 40 * SECOND);
    settle(c);
    const sync = c.events('pg.sync-standby').at(-1)!.d!['standby'] as string;
    const other = MEMBERS.find((m) => m !== 'postgres-0' && m !== sync)!;
    c.sim.at(40 * SECOND, () => {
      c.sim.failNode('db-0');
      c.sim.crash(sync);
    });
    c.sim.run({ until: 200 * SECOND });
    expect(c.events('patroni.promote')).toEqual([]);
    expect(c.events('patroni.leader').filter((e) => e.p === other)).toEqual([]);
    // The same failure in async mode: the other standby takes over.
    const a = cluster({ replication: 'async' });
    a.startWrites(6 * SECOND, 40 * SECOND);
    a.sim.at(40 * SECOND, () => {
      a.sim.failNode('db-0');
      a.sim.crash('postgres-1');
    });
    a.sim.run({ until: 200 * SECOND });
    expect(a.first('patroni.promote')?.p).toBe('postgres-2');
  });
});

describe('maximum_lag_on_failover', () => {
  /** Async; postgres-2 loses replication from postgres-0 at 20 s while writes go on; at 60 s postgres-0's node and postgres-1 die. */
  function lagging(maximumLagOnFailover: number) {
    const c = cluster({ replication: 'async', maximumLagOnFailover });
    c.startWrites(6 * SECOND, 60 * SECOND, 100 * MS);
    c.sim.at(20 * SECOND, () => c.sim.network.cutProcesses(['postgres-2'], ['postgres-0']));
    c.sim.at(60 * SECOND, () => {
      c.sim.failNode('db-0');
      c.sim.crash('postgres-1');
    });
    c.sim.run({ until: 200 * SECOND });
    return c;
  }

  test('a standby lagging the leader\'s last optime by more than the limit does not race (ha.py is_lagging)', () => {
    const c = lagging(64 * 1024); // 256 records; postgres-2 misses ~400 (40 s at 10/s)
    const lag = c.data.get('postgres-0')!.lsn - c.data.get('postgres-2')!.lsn;
    expect(lag).toBeGreaterThan(64 * 1024);
    expect(c.events('patroni.promote')).toEqual([]);
    expect(c.service.resolve()).toBe('postgres-0'); // the dead leader's Endpoints stay: nobody rewrote them
  });

  test('within the limit (default 32 MiB) the same standby is promoted, and the commits it missed are lost', () => {
    const c = lagging(DEFAULT_PATRONI.maximumLagOnFailover);
    const promote = c.first('patroni.promote')!;
    expect(promote.p).toBe('postgres-2');
    const rows = c.data.get('postgres-2')!.storage;
    expect(c.acked().filter((w) => rows.getCommand(w.id) === undefined).length).toBeGreaterThan(300);
  });
});

describe('the old primary rejoins', () => {
  test('after node loss and recovery it follows the new leader (rewound if it had commits of its own)', () => {
    const c = cluster({ replication: 'sync' });
    c.startWrites(6 * SECOND, 150 * SECOND);
    c.sim.at(40 * SECOND, () => c.sim.failNode('db-0'));
    c.sim.at(100 * SECOND, () => c.sim.recoverNode('db-0', true));
    c.sim.run({ until: 150 * SECOND });
    const promote = c.first('patroni.promote')!;
    const follow = c.events('patroni.follow').filter((e) => e.p === 'postgres-0' && e.t > 100 * SECOND);
    expect(follow.map((e) => e.d)).toEqual([{ member: 'postgres-0', leader: promote.p }]);
    expect(c.data.get('postgres-0')!.storage.allCommands()).toEqual(c.data.get(promote.p)!.storage.allCommands());
    expect(c.data.get('postgres-0')!.timeline).toBe(c.data.get(promote.p)!.timeline);
  });
});

describe('restarts and DCS outages', () => {
  test('a primary killed and restarted under the same name within ttl keeps the key: no failover (seeds §2)', () => {
    const c = cluster();
    c.startWrites(6 * SECOND, 90 * SECOND);
    c.sim.at(40 * SECOND, () => c.sim.restart('postgres-0', 5 * SECOND));
    c.sim.run({ until: 90 * SECOND });
    // "starting as readonly because i had the session lock", then promoted on its next cycle.
    expect(c.events('patroni.leader').map((e) => e.p)).toEqual(['postgres-0']);
    expect(c.events('patroni.promote').map((e) => e.d)).toEqual([{ member: 'postgres-0', lsn: expect.any(Number), timeline: 2 }]);
    expect(c.service.resolve()).toBe('postgres-0');
    const rows = c.data.get('postgres-0')!.storage;
    expect(c.acked().filter((w) => rows.getCommand(w.id) === undefined)).toEqual([]);
    expect(c.acked().some((w) => w.sentAt > 50 * SECOND)).toBe(true);
  });

  test('an API server outage longer than retry_timeout demotes the primary (docs/dcs_failsafe_mode.rst, "The problem")', () => {
    const c = cluster();
    c.startWrites(6 * SECOND, 90 * SECOND);
    const downAt = 40 * SECOND;
    c.sim.at(downAt, () => c.sim.restart('kube-api', 20 * SECOND));
    c.sim.run({ until: 90 * SECOND });
    const demote = c.first('patroni.demote')!;
    expect(demote.d).toEqual({ member: 'postgres-0', why: 'offline' });
    expect(demote.t - downAt).toBeLessThanOrEqual(LOOP_WAIT + RETRY_TIMEOUT + 100 * MS);
    // Meanwhile the demoted primary answers writes with 25006.
    expect(c.writes.some((w) => w.sentAt > demote.t && !w.result.ok && w.result.error === 'server' && w.result.message.includes('read-only'))).toBe(true);
    // A shorter outage (within retry_timeout) changes nothing.
    const d = cluster();
    d.startWrites(6 * SECOND, 90 * SECOND);
    d.sim.at(downAt, () => d.sim.restart('kube-api', 3 * SECOND));
    d.sim.run({ until: 90 * SECOND });
    expect(d.events('patroni.demote')).toEqual([]);
    // An API server answering 503 for 20 s: the renewal is retried until retry_timeout, then the demotion.
    const e = cluster();
    e.startWrites(6 * SECOND, 90 * SECOND);
    e.sim.at(downAt, () => (e.kubeFaults.mode = 'error'));
    e.sim.at(downAt + 20 * SECOND, () => (e.kubeFaults.mode = 'ok'));
    e.sim.run({ until: 90 * SECOND });
    const demoted = e.first('patroni.demote')!;
    expect(demoted.t - downAt).toBeGreaterThanOrEqual(RETRY_TIMEOUT - SECOND);
    expect(demoted.t - downAt).toBeLessThanOrEqual(LOOP_WAIT + RETRY_TIMEOUT + 100 * MS);
    expect(e.first('patroni.promote', downAt)).toBeDefined(); // a member takes over once the API answers again
  });

  test('sync mode with no standby: the primary goes on alone; when it fails nobody is promoted; back, it is promoted again (replication_modes.rst)', () => {
    const c = cluster({ replication: 'sync' });
    c.startWrites(6 * SECOND, 200 * SECOND);
    settle(c);
    c.sim.at(30 * SECOND, () => {
      c.sim.crash('postgres-1');
      c.sim.crash('postgres-2');
    });
    c.sim.at(50 * SECOND, () => c.sim.failNode('db-0'));
    c.sim.at(90 * SECOND, () => {
      c.sim.start('postgres-1');
      c.sim.start('postgres-2');
    });
    c.sim.at(130 * SECOND, () => c.sim.recoverNode('db-0', true));
    c.sim.run({ until: 200 * SECOND });
    expect(c.events('pg.sync-standby').filter((e) => e.t > 30 * SECOND && e.t < 50 * SECOND).map((e) => e.d)).toEqual([{ leader: 'postgres-0', standby: null }]);
    expect(c.acked().filter((w) => w.sentAt > 42 * SECOND && w.sentAt < 50 * SECOND).length).toBeGreaterThan(10); // alone
    // The standbys are back at 90 s but not in /sync: neither may be promoted.
    expect(c.events('patroni.leader').filter((e) => e.t > 50 * SECOND && e.t < 130 * SECOND)).toEqual([]);
    const back = c.first('patroni.promote', 130 * SECOND)!;
    expect(back.p).toBe('postgres-0');
    const rows = c.data.get('postgres-0')!.storage;
    expect(c.acked().filter((w) => rows.getCommand(w.id) === undefined)).toEqual([]);
    for (const m of ['postgres-1', 'postgres-2']) expect(c.data.get(m)!.storage.allCommands()).toEqual(rows.allCommands());
  });

  test('a run is a function of its seed: the same failover twice gives the same trace hash', () => {
    const hashes = [1, 2].map(() => withDeterminismGuard(() => {
      const c = cluster({ replication: 'async' }, 77);
      c.startWrites(6 * SECOND, 100 * SECOND, 200 * MS);
      cutPrimary(c, 40 * SECOND, 80 * SECOND);
      c.sim.run({ until: 100 * SECOND });
      return c.sim.trace.hash();
    }));
    expect(hashes[0]).toBe(hashes[1]);
  });
});

describe('planned switchover (patroni-switchover.ts; ha.py process_manual_failover_from_leader, manual_failover_process_no_leader, demote)', () => {
  const SCOPE = DEFAULT_PATRONI.scope;
  const STOP = DEFAULT_MEMBER_POSTGRES.stopFastUs;
  const PROMOTE = DEFAULT_MEMBER_POSTGRES.promoteUs;
  const START = DEFAULT_MEMBER_POSTGRES.startUs;
  const REQUEST_AT = 43 * SECOND;

  /** patronictl switchover --leader postgres-0 [--candidate <candidate>] --force at 43 s, writes every 100 ms until `writesUntil`. */
  function switchover(options: Partial<PatroniOptions>, candidate: string | null, writesUntil = 90 * SECOND, before?: (c: Cluster) => void) {
    const c = cluster(options);
    c.startWrites(6 * SECOND, writesUntil, 100 * MS);
    before?.(c);
    c.sim.at(REQUEST_AT, () => requestSwitchover(c.store, SCOPE, 'postgres-0', candidate, c.sim.now));
    c.sim.run({ until: 90 * SECOND });
    const request = (): Partial<KubeObject> | undefined => c.store.get(failoverKeyName(SCOPE)) as Partial<KubeObject> | undefined;
    return { ...c, request };
  }

  /** The acknowledged writes the member `promoted` lacks. */
  const lostOn = (c: Cluster, promoted: string): Write[] => c.acked().filter((w) => c.data.get(promoted)!.storage.getCommand(w.id) === undefined);

  test('sync: to the /sync standby, done within loop_wait of the request plus the fast stop, 1 s, and the promotion; the old leader follows the new one', () => {
    const c = switchover({ replication: 'sync' }, 'postgres-1');
    expect(c.events('pg.sync-standby').filter((e) => e.t < REQUEST_AT).at(-1)!.d).toEqual({ leader: 'postgres-0', standby: 'postgres-1' });
    // The leader finds the request at its next cycle, after its renewal (no wake-up: the failover
    // object wakes no HA loop), checks the candidate over its REST API and demotes.
    const verdict = c.first('patroni.switchover')!;
    expect(verdict.p).toBe('postgres-0');
    expect(verdict.d).toEqual({ leader: 'postgres-0', candidate: 'postgres-1', outcome: 'accepted' });
    expect(verdict.t - REQUEST_AT).toBeLessThan(LOOP_WAIT + 100 * MS);
    expect(c.first('patroni.demote')).toMatchObject({ t: verdict.t, p: 'postgres-0', d: { member: 'postgres-0', why: 'switchover' } });
    // demote('graceful'): fast stop, `on_shutdown`'s 1 s, then the key is released.
    const release = c.first('patroni.release')!;
    expect(release.p).toBe('postgres-0');
    expect(release.t - verdict.t).toBeGreaterThanOrEqual(STOP + SECOND);
    expect(release.t - verdict.t).toBeLessThan(STOP + SECOND + 100 * MS);
    // The release wakes the candidate, which takes the key at once and promotes; nobody else races.
    expect(c.events('patroni.leader').filter((e) => e.t > REQUEST_AT).map((e) => [e.p, e.t - release.t < 100 * MS])).toEqual([['postgres-1', true]]);
    const promote = c.first('patroni.promote', REQUEST_AT)!;
    expect(promote.p).toBe('postgres-1');
    expect(promote.t - REQUEST_AT).toBeGreaterThanOrEqual(STOP + SECOND + PROMOTE);
    expect(promote.t - REQUEST_AT).toBeLessThanOrEqual(LOOP_WAIT + STOP + SECOND + PROMOTE + 200 * MS);
    // The other standby stands aside 2 s and follows the new leader; the old leader, after its own
    // 2 s and a start, follows it too: no rewind (its WAL is a prefix of the new timeline's).
    expect(c.events('patroni.follow').filter((e) => e.t > REQUEST_AT).map((e) => e.d)).toEqual([
      { member: 'postgres-2', leader: 'postgres-1' },
      { member: 'postgres-0', leader: 'postgres-1' },
    ]);
    const oldFollows = c.events('patroni.follow').find((e) => e.p === 'postgres-0' && e.t > REQUEST_AT)!;
    expect(oldFollows.t - release.t).toBeGreaterThanOrEqual(2 * SECOND + START);
    expect(oldFollows.t - release.t).toBeLessThan(2 * SECOND + START + 100 * MS);
    expect(c.events('patroni.rewind')).toEqual([]);
    // The new holder removed the request; the Service follows it; writes go on there.
    expect(c.request()?.annotations).toEqual({});
    expect(c.service.resolve()).toBe('postgres-1');
    expect(c.acked().filter((w) => w.sentAt > promote.t + SECOND).length).toBeGreaterThan(300);
    expect(lostOn(c, 'postgres-1')).toEqual([]);
    for (const m of ['postgres-0', 'postgres-2']) expect(c.data.get(m)!.storage.allCommands()).toEqual(c.data.get('postgres-1')!.storage.allCommands());
  });

  test('sync, no candidate named: only the /sync standby may take over (get_failover_candidates, is_healthiest_node)', () => {
    const c = switchover({ replication: 'sync' }, null);
    expect(c.first('patroni.switchover')!.d).toEqual({ leader: 'postgres-0', candidate: null, outcome: 'accepted' });
    expect(c.events('patroni.leader').filter((e) => e.t > REQUEST_AT).map((e) => e.p)).toEqual(['postgres-1']);
    expect(lostOn(c, 'postgres-1')).toEqual([]);
  });

  test.each([['postgres-1'], ['postgres-2'], [null]])(
    'async (candidate %s): no acknowledged write is lost: the fast stop ends the walsenders after the WAL already written, the key goes after it (walsender.c WalSndDone; ha.py demote on_shutdown)',
    (candidate) => {
      const c = switchover({ replication: 'async' }, candidate);
      const verdict = c.first('patroni.switchover')!;
      expect(verdict.d).toMatchObject({ outcome: 'accepted' });
      const promote = c.first('patroni.promote', REQUEST_AT)!;
      if (candidate !== null) {
        expect(promote.p).toBe(candidate);
        // The other standby stands aside while the candidate answers: 2 s, then it follows the new leader.
        const other = MEMBERS.find((m) => m !== 'postgres-0' && m !== candidate)!;
        const release = c.first('patroni.release')!;
        const follows = c.events('patroni.follow').find((e) => e.p === other && e.t > REQUEST_AT)!;
        expect(follows.d).toEqual({ member: other, leader: candidate });
        expect(follows.t - release.t).toBeGreaterThanOrEqual(2 * SECOND);
      }
      // Writes were acknowledged up to the stop...
      expect(c.acked().filter((w) => w.answeredAt > verdict.t - SECOND && w.answeredAt <= verdict.t).length).toBeGreaterThan(5);
      // ...and the new timeline starts past the old primary's last commit: nothing of it is lost.
      const lastOwn = c.data.get('postgres-0')!.wal.filter((r) => r.primary === 'postgres-0').at(-1)!;
      expect(lastOwn.lsn).toBeLessThanOrEqual(promote.d!['lsn'] as number);
      expect(lostOn(c, promote.p)).toEqual([]);
      expect(c.events('patroni.rewind')).toEqual([]);
      expect(c.events('patroni.leader').filter((e) => e.t > REQUEST_AT).map((e) => e.p)).toEqual([promote.p]);
    },
  );

  test('a candidate that does not answer is refused: the request is removed at the leader\'s next cycle and nothing else changes', () => {
    const c = switchover({ replication: 'async' }, 'postgres-2', 90 * SECOND, (x) => x.sim.at(40 * SECOND, () => x.sim.crash('postgres-2')));
    const verdict = c.first('patroni.switchover')!;
    expect(verdict.d).toEqual({ leader: 'postgres-0', candidate: 'postgres-2', outcome: 'refused' });
    expect(verdict.t - REQUEST_AT).toBeLessThan(LOOP_WAIT + 100 * MS);
    expect(c.request()?.annotations).toEqual({});
    expect(c.first('patroni.demote')).toBeUndefined();
    expect(c.first('patroni.release')).toBeUndefined();
    expect(c.events('patroni.leader').filter((e) => e.t > REQUEST_AT)).toEqual([]);
    expect(c.service.resolve()).toBe('postgres-0');
    // Writes were answered all along, one every 100 ms.
    const answered = c.acked().filter((w) => w.sentAt > REQUEST_AT).map((w) => w.answeredAt);
    expect(answered.length).toBeGreaterThan(400);
    for (let i = 1; i < answered.length; i++) expect(answered[i]! - answered[i - 1]!).toBeLessThan(200 * MS);
  });

  test('sync: naming the asynchronous standby is refused (a switchover goes only to the /sync standby); a request for another leader is removed as stale', () => {
    const c = switchover({ replication: 'sync' }, 'postgres-2');
    expect(c.first('patroni.switchover')!.d).toEqual({ leader: 'postgres-0', candidate: 'postgres-2', outcome: 'refused' });
    expect(c.events('patroni.leader').filter((e) => e.t > REQUEST_AT)).toEqual([]);
    expect(c.first('patroni.demote')).toBeUndefined();
    const s = cluster({ replication: 'sync' });
    s.startWrites(6 * SECOND, 60 * SECOND);
    s.sim.at(REQUEST_AT, () => requestSwitchover(s.store, SCOPE, 'postgres-1', 'postgres-2', s.sim.now));
    s.sim.run({ until: 60 * SECOND });
    expect(s.first('patroni.switchover')!.d).toEqual({ leader: 'postgres-1', candidate: 'postgres-2', outcome: 'stale' });
    expect(s.events('patroni.leader').filter((e) => e.t > REQUEST_AT)).toEqual([]);
    expect((s.store.get(failoverKeyName(SCOPE)) as KubeObject).annotations).toEqual({});
  });

  test('a candidate gone after the leader demoted: the other standby races and takes over (manual_failover_process_no_leader: "we should consider all members as a candidates")', () => {
    let crashedAt = 0;
    const c = switchover({ replication: 'async' }, 'postgres-1', 90 * SECOND, (x) => {
      x.sim.trace.subscribe((e) => {
        if (e.k === 'patroni.switchover' && crashedAt === 0) {
          crashedAt = e.t + SECOND;
          x.sim.at(crashedAt, () => x.sim.crash('postgres-1'));
        }
      });
    });
    const release = c.first('patroni.release')!;
    expect(release.t).toBeGreaterThan(crashedAt);
    const promote = c.first('patroni.promote', REQUEST_AT)!;
    expect(promote.p).toBe('postgres-2');
    // It asked the candidate (refused at once: its process is gone) and raced among the others.
    expect(promote.t - release.t).toBeLessThan(PROMOTE + 200 * MS);
    expect(c.request()?.annotations).toEqual({});
    expect(lostOn(c, 'postgres-2')).toEqual([]);
  });

  /**
   * Two switchover requests in quick succession: the first (no candidate) accepted by the leader,
   * the second written while it demotes, naming postgres-2. Under synchronous mode the leader's
   * REST API refuses the second (api.py `is_failover_possible`: "candidate name does not match
   * with sync_standby"), so the request the leader demotes for stays and the /sync standby takes
   * over. Written past that check, it would name a healthy member no one may promote: the /sync
   * standby and the old leader stand aside for it (`manual_failover_process_no_leader`), and it is
   * barred from the race ("only synchronous nodes and former leader are allowed to race").
   */
  function twoRequests(replication: ReplicationMode) {
    let second: KubeObject | null | undefined;
    const c = switchover({ replication }, null, 90 * SECOND, (x) => {
      x.sim.trace.subscribe((e) => {
        if (e.k === 'patroni.demote' && second === undefined) x.sim.at(e.t + MS, () => (second = requestSwitchover(x.store, SCOPE, 'postgres-0', 'postgres-2', x.sim.now)));
      });
    });
    return { ...c, second: () => second };
  }

  test.each([['sync'], ['sync-strict']] as const)(
    '%s: a second request naming the asynchronous standby while the leader demotes for the first is refused; the /sync standby is promoted within loop_wait + about 3 s',
    (replication) => {
      const c = twoRequests(replication);
      expect(c.first('patroni.switchover')!.d).toEqual({ leader: 'postgres-0', candidate: null, outcome: 'accepted' });
      expect(c.second()).toBeNull();
      const promote = c.first('patroni.promote', REQUEST_AT)!;
      expect(promote.p).toBe('postgres-1');
      expect(promote.t - REQUEST_AT).toBeLessThanOrEqual(LOOP_WAIT + STOP + SECOND + PROMOTE + 200 * MS);
      expect(c.events('patroni.leader').filter((e) => e.t > REQUEST_AT).map((e) => e.p)).toEqual(['postgres-1']);
      expect(c.request()?.annotations).toEqual({});
      expect(c.service.resolve()).toBe('postgres-1');
      // Writes go on there; in strict mode only once a standby streams and the new primary names
      // it (its next cycles: the placeholder holds commits until then, patroni-sync.ts).
      const resumed = c.acked().find((w) => w.sentAt > promote.t)!;
      expect(resumed.answeredAt - promote.t).toBeLessThanOrEqual(replication === 'sync' ? SECOND : 2 * LOOP_WAIT);
      const later = c.writes.filter((w) => w.sentAt > promote.t + 2 * LOOP_WAIT);
      expect(later.length).toBeGreaterThan(100);
      expect(later.filter((w) => !w.result.ok)).toEqual([]);
      expect(lostOn(c, 'postgres-1')).toEqual([]);
    },
  );

  test('async: the second request, naming postgres-2, is taken (any standby may be named) and postgres-2 takes over when the key is released', () => {
    const c = twoRequests('async');
    expect(c.second()?.annotations).toEqual({ leader: 'postgres-0', member: 'postgres-2' });
    const promote = c.first('patroni.promote', REQUEST_AT)!;
    expect(promote.p).toBe('postgres-2');
    expect(promote.t - REQUEST_AT).toBeLessThanOrEqual(LOOP_WAIT + STOP + SECOND + PROMOTE + 200 * MS);
    expect(c.request()?.annotations).toEqual({});
    expect(lostOn(c, 'postgres-2')).toEqual([]);
  });
});
