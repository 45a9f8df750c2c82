import { describe, expect, test } from 'vitest';
import { MINUTE, MS, SECOND, Simulation, type Micros } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { PostgresClient } from './client.ts';
import { SqlPool, type SqlPoolOptions } from './pool.ts';
import { bootPostgres, healthyPostgres, type PostgresFaults } from './server.ts';
import { PostgresStorage, type NewCommand } from './tables.ts';

/**
 * database/sql's pool over lib/pq (pool.ts, pool-conn.ts) against the PostgreSQL server model, with
 * StreamSpace's settings (api/internal/db/database.go:187-190 at 15f3690) unless a test says
 * otherwise. Go sources: src/database/sql/sql.go (`conn`, `putConn`, `putConnDBLocked`, `retry`,
 * `connectionCleaner`); lib/pq v1.10.9 conn.go and error.go.
 */

const CMD: NewCommand = { commandId: 'cmd-1', agentId: 'agent-a', sessionId: 's1', action: 'start_session', payload: { sessionId: 's1' } };
/** 200 µs each way, no jitter: exact timings. */
const FIXED = { latency: { baseUs: 200, jitterUs: 0, tailChance: 0, tailUs: 0 }, dropRate: 0, duplicateRate: 0 };

interface Setup {
  /** Server process names, each on its own node `db-<name>`. Default `['postgres']`. */
  servers?: string[];
  /** Fixed service time of every statement. Default 1 ms. */
  serviceUs?: Micros;
  pool?: SqlPoolOptions;
  /** The client's target. Default the first server. */
  target?: () => string;
}

/** PostgreSQL server(s) knowing agent-a and cmd-1, and API pod `api-0` whose PostgresClient uses the pool. */
function setup(options: Setup = {}) {
  const sim = new Simulation({ seed: 7, trace: { keepEvents: true } });
  const names = options.servers ?? ['postgres'];
  sim.addNode('api');
  const storage = new Map<string, PostgresStorage>();
  const faults = new Map<string, PostgresFaults>();
  for (const name of names) {
    const node = `db-${name}`;
    sim.addNode(node);
    sim.network.setLink('api', node, FIXED);
    sim.network.setLink(node, 'api', FIXED);
    const rows = new PostgresStorage();
    rows.upsertAgentOnRegister('agent-a', 0);
    rows.insertCommand(CMD, 0, 0);
    const f = healthyPostgres();
    storage.set(name, rows);
    faults.set(name, f);
    const service = options.serviceUs ?? 1 * MS;
    sim.addProcess({ name, node, boot: bootPostgres(rows, f, { serviceTimeUs: { min: service, max: service } }) });
  }
  let client!: PostgresClient;
  const target = options.target ?? names[0]!;
  sim.addProcess({ name: 'api-0', node: 'api', boot: (ctx) => ((client = new PostgresClient(ctx, { target, pool: options.pool ?? {} })), {}) });
  sim.run({ until: 0 });
  const results: Array<{ label: string; t: Micros; r: RpcResult<unknown> }> = [];
  return {
    sim,
    storage: (name = names[0]!) => storage.get(name)!,
    faults: (name = names[0]!) => faults.get(name)!,
    client: () => client,
    stats: () => client.pool!.stats(),
    results,
    got: (label: string) => (r: RpcResult<unknown>) => results.push({ label, t: sim.now, r }),
    runTo(t: Micros) {
      expect(sim.run({ until: t }).failure).toBeUndefined();
    },
    /** The pool's trace events, flattened. */
    sqlEvents: () => sim.trace.events.filter((e) => e.k.startsWith('sql.conn-')).map((e): Record<string, unknown> & { t: Micros; k: string } => ({ t: e.t, k: e.k, ...e.d })),
    /** The API pod's dials (kernel events): one per connection attempted. */
    dials: () => sim.trace.events.filter((e) => e.k === 'conn.dial' && e.p === 'api-0'),
  };
}

const isOk = (r: RpcResult<unknown>) => r.ok;
const READ_ONLY = /^pq: cannot execute UPDATE in a read-only transaction$/;

describe('database/sql pool over lib/pq, as StreamSpace configures it', () => {
  test('at most 25 statements run at once; the 26th waits for a released connection; after the burst 5 stay idle (SetMaxOpenConns 25, SetMaxIdleConns 5)', () => {
    const s = setup({ serviceUs: 50 * MS });
    const t0 = s.sim.now;
    for (let i = 0; i < 30; i++) s.client().getAgent('agent-a', s.got(`read-${i}`));
    s.runTo(t0 + 10 * MS);
    // sql.go conn(): past MaxOpen a statement joins connRequests (WaitCount) instead of dialling.
    expect(s.stats()).toMatchObject({ maxOpen: 25, open: 25, inUse: 25, idle: 0, waiting: 5, waitCount: 5 });
    expect(s.dials()).toHaveLength(25);
    s.runTo(t0 + 1 * SECOND);
    expect(s.results.map((x) => x.r)).toEqual(Array(30).fill({ ok: true, value: expect.objectContaining({ agentId: 'agent-a' }) }));
    const took = s.results.map((x) => x.t - t0).sort((a, b) => a - b);
    // Dial (one round trip) + request + 50 ms + answer for the first 25; one more statement's time for the rest.
    expect(took.slice(0, 25).every((t) => t === 400 + 400 + 50 * MS)).toBe(true);
    expect(took.slice(25).every((t) => t === 400 + 400 + 50 * MS + 400 + 50 * MS)).toBe(true);
    // putConnDBLocked handed released connections to the waiters: nothing was dialled for them.
    expect(s.dials()).toHaveLength(25);
    // Of the 25 released with nobody waiting, 5 went idle and 20 were closed (maxIdleClosed).
    expect(s.stats()).toMatchObject({ open: 5, inUse: 0, idle: 5, waiting: 0, maxIdleClosed: 20 });
    expect(s.sqlEvents().filter((e) => e.k === 'sql.conn-close').map((e) => e['why'])).toEqual(Array(20).fill('max-idle'));
    expect(s.sqlEvents().filter((e) => e.k === 'sql.conn-open').map((e) => e['to'])).toEqual(Array(25).fill('postgres'));
  });

  test('waiters get released connections in random order, not first come first served (connRequestSet.TakeRandom; golang/go#31708)', () => {
    const s = setup({ pool: { maxOpenConns: 1 } });
    const rounds = 200;
    let laterServedFirst = 0;
    for (let i = 0; i < rounds; i++) {
      const order: string[] = [];
      for (const label of ['a', 'b', 'c']) s.client().getAgent('agent-a', () => order.push(label));
      s.runTo(s.sim.now + 1 * SECOND);
      expect(order[0]).toBe('a'); // the one that found the connection (or dialled it)
      expect([...order.slice(1)].sort()).toEqual(['b', 'c']);
      if (order[1] === 'c') laterServedFirst++;
    }
    // FIFO would give 0; a uniform pick about half. Binomial(200, 1/2) is outside [70, 130] with
    // probability below 1e-4 (and the run is deterministic for the seed).
    expect(laterServedFirst).toBeGreaterThanOrEqual(70);
    expect(laterServedFirst).toBeLessThanOrEqual(130);
    expect(s.stats()).toMatchObject({ waitCount: 2 * rounds, open: 1 });
    expect(s.dials()).toHaveLength(1);
  });

  test('connections idle for ConnMaxIdleTime (1 min) are closed by the connection cleaner, which then stops', () => {
    const s = setup({ serviceUs: 50 * MS });
    const t0 = s.sim.now;
    for (let i = 0; i < 10; i++) s.client().getAgent('agent-a', s.got(`read-${i}`));
    s.runTo(t0 + 1 * SECOND);
    const released = s.results.map((x) => x.t);
    const first = Math.min(...released);
    const last = Math.max(...released);
    expect(s.stats()).toMatchObject({ open: 5, idle: 5, maxIdleClosed: 5 });
    s.runTo(first + 1 * MINUTE - 1);
    expect(s.stats()).toMatchObject({ open: 5, idle: 5 });
    // Runs until nothing is scheduled: the cleaner ends its loop once no connection is open.
    expect(s.sim.run().status).toBe('quiescent');
    const idleCloses = s.sqlEvents().filter((e) => e.k === 'sql.conn-close' && e['why'] === 'idle');
    expect(idleCloses).toHaveLength(5);
    // Each closes once idle 1 min, at most one cleaner interval (minInterval 1 s) late.
    for (const e of idleCloses) {
      expect(e.t).toBeGreaterThanOrEqual(first + 1 * MINUTE);
      expect(e.t).toBeLessThanOrEqual(last + 1 * MINUTE + 1 * SECOND);
    }
    expect(s.stats()).toMatchObject({ open: 0, idle: 0, maxIdleTimeClosed: 5 });
  });

  test('a connection in steady use is closed ConnMaxLifetime (5 min) after it opened, and the next statement opens a new one', () => {
    const s = setup();
    for (let k = 0; k < 36; k++) s.sim.at(5 * SECOND + k * 10 * SECOND, () => s.client().updateAgentHeartbeat('agent-a', s.got(`hb-${k}`)));
    s.runTo(6 * MINUTE);
    expect(s.results.map((x) => x.r)).toEqual(Array(36).fill({ ok: true, value: 1 }));
    const opens = s.sqlEvents().filter((e) => e.k === 'sql.conn-open');
    const closes = s.sqlEvents().filter((e) => e.k === 'sql.conn-close');
    expect(opens).toHaveLength(2);
    expect(closes).toEqual([{ t: expect.any(Number), k: 'sql.conn-close', conn: opens[0]!['conn'], why: 'lifetime' }]);
    // Used every 10 s, it never idles 1 min; idle between statements, the cleaner closes it when due.
    expect(closes[0]!.t - opens[0]!.t).toBeGreaterThanOrEqual(5 * MINUTE);
    expect(closes[0]!.t - opens[0]!.t).toBeLessThanOrEqual(5 * MINUTE + 1 * SECOND);
    expect(opens[1]!.t).toBeGreaterThan(closes[0]!.t);
    expect(s.stats()).toMatchObject({ open: 1, maxLifetimeClosed: 1 });
  });

  test('a connection whose lifetime ends under a statement is closed when the statement releases it, not before (putConn expiry check)', () => {
    const s = setup();
    for (let k = 0; k < 28; k++) s.sim.at(5 * SECOND + k * 10 * SECOND, () => s.client().updateAgentHeartbeat('agent-a', s.got(`hb-${k}`)));
    // 285 s: a statement that holds its connection 30 s, across the 5-minute mark.
    s.sim.at(285 * SECOND, () => {
      s.faults().extraLatencyUs = 30 * SECOND;
      s.client().updateAgentHeartbeat('agent-a', s.got('long'));
    });
    s.sim.at(290 * SECOND, () => (s.faults().extraLatencyUs = 0)); // read when the statement arrives
    s.sim.at(325 * SECOND, () => s.client().updateAgentHeartbeat('agent-a', s.got('after')));
    s.runTo(330 * SECOND);
    expect(s.results.every((x) => isOk(x.r))).toBe(true);
    const long = s.results.find((x) => x.label === 'long')!;
    const opens = s.sqlEvents().filter((e) => e.k === 'sql.conn-open');
    const closes = s.sqlEvents().filter((e) => e.k === 'sql.conn-close');
    expect(long.t - opens[0]!.t).toBeGreaterThan(5 * MINUTE);
    expect(closes).toEqual([{ t: long.t, k: 'sql.conn-close', conn: opens[0]!['conn'], why: 'lifetime' }]);
    expect(opens).toHaveLength(2);
  });

  test('a connection opened to a primary that is then demoted keeps getting SQLSTATE 25006 until its lifetime ends, though the Service now points to the new primary (gpustack#6105, lib/pq#1026)', () => {
    // Stand-in for a demoted Patroni member: pg-0 with the `writeErrors` fault answers every write
    // with 25006 and every read normally, as a hot standby does.
    let master = 'pg-0';
    const s = setup({ servers: ['pg-0', 'pg-1'], target: () => master });
    for (let k = 0; k < 42; k++) s.sim.at(5 * SECOND + k * 10 * SECOND, () => s.client().updateAgentHeartbeat('agent-a', s.got(`hb-${k}`)));
    s.sim.at(60 * SECOND, () => {
      s.faults('pg-0').writeErrors = true;
      master = 'pg-1';
    });
    s.runTo(7 * MINUTE);
    const opens = s.sqlEvents().filter((e) => e.k === 'sql.conn-open');
    const closes = s.sqlEvents().filter((e) => e.k === 'sql.conn-close');
    expect(opens.map((e) => e['to'])).toEqual(['pg-0', 'pg-1']);
    // A server error leaves the connection in the pool (not `bad`); only its lifetime ends it.
    expect(closes).toEqual([{ t: expect.any(Number), k: 'sql.conn-close', conn: opens[0]!['conn'], why: 'lifetime' }]);
    const pinnedUntil = closes[0]!.t;
    expect(pinnedUntil - opens[0]!.t).toBeLessThanOrEqual(5 * MINUTE + 1 * SECOND);
    for (const { t, r } of s.results) {
      if (t < 60 * SECOND || t > pinnedUntil) expect(r).toEqual({ ok: true, value: 1 });
      else expect(r).toMatchObject({ ok: false, error: 'server', message: expect.stringMatching(READ_ONLY) });
    }
    const refused = s.results.filter((x) => !x.r.ok).length;
    expect(refused).toBe(25); // 65 s, 75 s, …, 305 s (the connection opened at 5.0004 s): four minutes of refused writes
    const writeErrors = s.sim.trace.events.filter((e) => e.k === 'db.write-error' && e.p === 'pg-0');
    expect(writeErrors.map((e) => e.d!['code'])).toEqual(Array(refused).fill('25006'));
  });

  test('with the fix readonly-conn-is-bad, 25006 closes the connection and the statement runs again on a new one, which the Service sends to the new primary', () => {
    let master = 'pg-0';
    const s = setup({ servers: ['pg-0', 'pg-1'], target: () => master, pool: { readOnlyIsBadConn: true } });
    for (let k = 0; k < 42; k++) s.sim.at(5 * SECOND + k * 10 * SECOND, () => s.client().updateAgentHeartbeat('agent-a', s.got(`hb-${k}`)));
    s.sim.at(60 * SECOND, () => {
      s.faults('pg-0').writeErrors = true;
      master = 'pg-1';
    });
    s.runTo(7 * MINUTE);
    // Every write succeeds: the one that met 25006 was refused by the standby and retried.
    expect(s.results.map((x) => x.r)).toEqual(Array(42).fill({ ok: true, value: 1 }));
    const events = s.sqlEvents().map((e) => [e.k, e['why'] ?? e['to']]);
    expect(events.slice(0, 3)).toEqual([['sql.conn-open', 'pg-0'], ['sql.conn-close', 'bad'], ['sql.conn-open', 'pg-1']]);
    expect(s.sim.trace.events.filter((e) => e.k === 'db.write-error' && e.p === 'pg-0')).toHaveLength(1);
  });

  test('while a connection is pinned to the demoted primary, connections opened meanwhile follow the Service', () => {
    let master = 'pg-0';
    const s = setup({ servers: ['pg-0', 'pg-1'], target: () => master });
    s.client().updateAgentHeartbeat('agent-a', s.got('before'));
    s.runTo(10 * SECOND);
    s.faults('pg-0').writeErrors = true;
    master = 'pg-1';
    for (let i = 0; i < 6; i++) s.client().updateAgentHeartbeat('agent-a', s.got(`burst-${i}`));
    s.runTo(20 * SECOND);
    const burst = s.results.filter((x) => x.label.startsWith('burst-'));
    // The idle connection (to pg-0) takes one statement; the other five dial through the resolver.
    expect(burst.filter((x) => !x.r.ok).map((x) => x.r)).toEqual([{ ok: false, error: 'server', message: expect.stringMatching(READ_ONLY) }]);
    expect(burst.filter((x) => x.r.ok)).toHaveLength(5);
    expect(s.sqlEvents().filter((e) => e.k === 'sql.conn-open').map((e) => e['to'])).toEqual(['pg-0', 'pg-1', 'pg-1', 'pg-1', 'pg-1', 'pg-1']);
  });

  test('a statement whose connection is reset in flight fails and is not retried (lib/pq error.go:500-502)', () => {
    const s = setup({ serviceUs: 50 * MS });
    s.client().markSent('cmd-1', s.got('sent'));
    s.runTo(10 * MS); // the statement is on the server, not yet committed
    s.sim.restart('postgres', 1 * SECOND);
    s.runTo(5 * SECOND);
    expect(s.results).toEqual([{ label: 'sent', t: 10 * MS + 200, r: { ok: false, error: 'connection', message: expect.stringContaining('connection reset by peer') } }]);
    expect(s.storage().getCommand('cmd-1')?.status).toBe('pending'); // rolled back by the crash
    expect(s.dials()).toHaveLength(1); // a retry would have dialled again
    expect(s.sqlEvents().map((e) => [e.k, e['why'] ?? e['to']])).toEqual([['sql.conn-open', 'postgres'], ['sql.conn-close', 'bad']]);
  });

  test('a statement that committed while its connection was cut fails the same way: the outcome is unknown to the caller (real-world §4 fact 6)', () => {
    const s = setup({ serviceUs: 50 * MS });
    s.client().markSent('cmd-1', s.got('sent'));
    s.runTo(10 * MS);
    s.sim.network.isolate('db-postgres'); // the answer, sent at commit, never arrives
    s.runTo(200 * SECOND);
    expect(s.storage().getCommand('cmd-1')?.status).toBe('sent');
    expect(s.results).toHaveLength(1);
    const { t, r } = s.results[0]!;
    expect(r).toEqual({ ok: false, error: 'connection', message: expect.stringContaining('connection timed out') });
    // Go's default keepalive (15 s, then 9 probes 15 s apart) declares the server dead.
    expect(t - 10 * MS).toBeGreaterThanOrEqual(120 * SECOND);
    expect(t - 10 * MS).toBeLessThanOrEqual(150 * SECOND);
    expect(s.dials()).toHaveLength(1);
    s.sim.network.rejoin('db-postgres');
    s.client().markAckFromAgent('cmd-1', 'agent-a', s.got('ack'));
    s.runTo(201 * SECOND);
    expect(s.results.at(-1)?.r).toEqual({ ok: true, value: 1 });
    expect(s.sqlEvents().map((e) => [e.k, e['why'] ?? e['to']])).toEqual([['sql.conn-open', 'postgres'], ['sql.conn-close', 'bad'], ['sql.conn-open', 'postgres']]);
  });

  test('a statement that meets connections broken while idle runs again, twice on idle ones, then on a new one (retry, maxBadConnRetries 2; lib/pq safeRetryError)', () => {
    const s = setup({ serviceUs: 50 * MS });
    for (let i = 0; i < 3; i++) s.client().getAgent('agent-a', s.got(`read-${i}`));
    s.runTo(1 * SECOND);
    s.sim.restart('postgres', 1 * SECOND); // RST to the three idle connections
    s.runTo(3 * SECOND);
    expect(s.stats()).toMatchObject({ open: 3, idle: 3 }); // database/sql never reads an idle connection
    const before = s.sqlEvents().length;
    s.client().markSent('cmd-1', s.got('sent'));
    s.runTo(4 * SECOND);
    expect(s.results.at(-1)?.r).toEqual({ ok: true, value: 1 });
    expect(s.storage().getCommand('cmd-1')?.status).toBe('sent');
    // Two idle connections tried (cachedOrNewConn), then alwaysNewConn dials although one is still idle.
    expect(s.sqlEvents().slice(before).map((e) => [e.k, e['why'] ?? e['to']])).toEqual([
      ['sql.conn-close', 'bad'], ['sql.conn-close', 'bad'], ['sql.conn-open', 'postgres'],
    ]);
    expect(s.stats()).toMatchObject({ open: 2, idle: 2 });
    // The next statement takes the connection returned last (`freeConn[last]`), not the broken one
    // idle since before the restart.
    const after = s.sqlEvents().length;
    s.client().getAgent('agent-a', s.got('next'));
    s.runTo(5 * SECOND);
    expect(s.results.at(-1)?.r).toMatchObject({ ok: true });
    expect(s.sqlEvents().slice(after)).toEqual([]);
  });

  test('a FIN under a statement is io.EOF, which lib/pq reports as ErrBadConn: the statement runs again, here on the new primary (error.go:506-508)', () => {
    let master = 'pg-0';
    const s = setup({ servers: ['pg-0', 'pg-1'], serviceUs: 50 * MS, target: () => master });
    s.client().markSent('cmd-1', s.got('sent'));
    s.runTo(10 * MS);
    s.sim.exit('pg-0'); // graceful: in-flight statements roll back, connections close with FIN
    master = 'pg-1';
    s.runTo(1 * SECOND);
    expect(s.results).toEqual([{ label: 'sent', t: expect.any(Number), r: { ok: true, value: 1 } }]);
    expect(s.storage('pg-0').getCommand('cmd-1')?.status).toBe('pending');
    expect(s.storage('pg-1').getCommand('cmd-1')?.status).toBe('sent');
    expect(s.sqlEvents().map((e) => [e.k, e['why'] ?? e['to']])).toEqual([['sql.conn-open', 'pg-0'], ['sql.conn-close', 'bad'], ['sql.conn-open', 'pg-1']]);
  });

  test('a dial error fails the statement without a retry (lib/pq conn.go:343-348); with no connect_timeout a silent host takes the kernel\'s 127 s', () => {
    const s = setup();
    s.sim.crash('postgres');
    s.client().getAgent('agent-a', s.got('refused'));
    s.runTo(1 * SECOND);
    expect(s.results).toEqual([{ label: 'refused', t: expect.any(Number), r: { ok: false, error: 'connection', message: expect.stringContaining('connection refused') } }]);
    expect(s.dials()).toHaveLength(1);
    expect(s.stats()).toMatchObject({ open: 0 });
    s.sim.network.isolate('db-postgres');
    const t0 = s.sim.now;
    s.client().getAgent('agent-a', s.got('silent'));
    s.runTo(t0 + 200 * SECOND);
    expect(s.results.at(-1)).toEqual({ label: 'silent', t: t0 + 127 * SECOND, r: { ok: false, error: 'connection', message: expect.stringContaining('connection timed out') } });
    expect(s.dials()).toHaveLength(2);
    expect(s.sqlEvents()).toEqual([]);
  });

  test('without the pool option the client keeps its single connection and records no sql.* events', () => {
    const sim = new Simulation({ seed: 7, trace: { keepEvents: true } });
    sim.addNode('db');
    sim.addNode('api');
    sim.addProcess({ name: 'postgres', node: 'db', boot: bootPostgres(new PostgresStorage(), healthyPostgres()) });
    let client!: PostgresClient;
    sim.addProcess({ name: 'api-0', node: 'api', boot: (ctx) => ((client = new PostgresClient(ctx)), {}) });
    sim.run({ until: 0 });
    for (let i = 0; i < 5; i++) client.getAgent('agent-a', () => undefined);
    sim.run({ until: 1 * SECOND });
    expect(client.pool).toBeNull();
    expect(sim.trace.events.filter((e) => e.k === 'conn.dial')).toHaveLength(1);
    expect(sim.trace.events.filter((e) => e.k.startsWith('sql.'))).toEqual([]);
  });

  test('bad settings are refused with a RangeError', () => {
    const sim = new Simulation({ seed: 7 });
    sim.addNode('api');
    const bad: SqlPoolOptions[] = [{ maxOpenConns: 0 }, { maxOpenConns: 2.5 }, { maxIdleConns: -1 }, { connMaxLifetimeUs: -1 }, { connMaxIdleTimeUs: 0.5 }, { connectTimeoutUs: Number.NaN }];
    const errors: unknown[] = [];
    sim.addProcess({
      name: 'api-0',
      node: 'api',
      boot: (ctx) => {
        for (const options of bad) {
          try {
            new SqlPool(ctx, 'postgres', options);
          } catch (e) {
            errors.push(e);
          }
        }
        return {};
      },
    });
    sim.run({ until: 0 });
    expect(errors).toHaveLength(bad.length);
    expect(errors.every((e) => e instanceof RangeError)).toBe(true);
  });
});
