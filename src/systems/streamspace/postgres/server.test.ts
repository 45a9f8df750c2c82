import { describe, expect, test } from 'vitest';
import { MS, SECOND, Simulation } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { PostgresClient, DEFAULT_PG_REQUEST_TIMEOUT_US } from './client.ts';
import { bootPostgres, healthyPostgres, type PostgresServerOptions } from './server.ts';
import { PostgresStorage, type NewCommand } from './tables.ts';

const CMD: NewCommand = { commandId: 'cmd-1', agentId: 'agent-a', sessionId: 's1', action: 'start_session', payload: { sessionId: 's1' } };

/** PostgreSQL on node `db`, one API pod `api-0` on node `api` holding a PostgresClient. */
function setup(options: { apiOffsetUs?: number; server?: PostgresServerOptions } = {}) {
  const sim = new Simulation({ seed: 7, trace: { keepEvents: true } });
  sim.addNode('db');
  sim.addNode('api', { offsetUs: options.apiOffsetUs ?? 0 });
  const storage = new PostgresStorage();
  const faults = healthyPostgres();
  sim.addProcess({ name: 'postgres', node: 'db', boot: bootPostgres(storage, faults, options.server) });
  let client!: PostgresClient;
  sim.addProcess({ name: 'api-0', node: 'api', boot: (ctx) => ((client = new PostgresClient(ctx)), {}) });
  sim.run({ until: 0 });
  const results: Array<{ label: string; t: number; r: RpcResult<unknown> }> = [];
  const got = (label: string) => (r: RpcResult<unknown>) => results.push({ label, t: sim.now, r });
  const dbEvents = () => sim.trace.events.filter((e) => e.k.startsWith('db.')).map((e): Record<string, unknown> => ({ k: e.k, ...e.d }));
  /** Registers agent-a and inserts CMD, then runs until quiet. */
  const seed = () => {
    client.upsertAgentOnRegister('agent-a', got('register'));
    sim.run();
    client.insertCommand(CMD, got('insert'));
    sim.run();
  };
  return { sim, storage, faults, client: () => client, results, got, dbEvents, seed };
}

describe('PostgreSQL server and client', () => {
  test('a command\'s life is traced with who wrote what; the agent-id filter shows as a noop (§3, §5.4)', () => {
    const { sim, client, got, dbEvents, seed, results } = setup();
    seed();
    client().markAckFromAgent('cmd-1', 'agent-b', got('ack-b'));
    sim.run();
    client().markAckFromAgent('cmd-1', 'agent-a', got('ack'));
    sim.run();
    client().markSent('cmd-1', got('sent')); // the late `sent` write overwrites the ack (§5.4)
    sim.run();
    client().markFailedFromAgent('cmd-1', 'agent-a', 'AlreadyExists', got('failed'));
    sim.run();
    expect(results.map(({ label, r }) => [label, r.ok ? r.value : r.error])).toEqual([
      ['register', { agentId: 'agent-a', status: 'online', lastHeartbeat: expect.any(Number), capacity: null, updatedAt: expect.any(Number) }],
      ['insert', expect.objectContaining({ commandId: 'cmd-1', status: 'pending' })],
      ['ack-b', 0],
      ['ack', 1],
      ['sent', 1],
      ['failed', 1],
    ]);
    expect(dbEvents()).toEqual([
      { k: 'db.agent.status', agent: 'agent-a', status: 'online', from: null, by: 'http.register', client: 'api-0' },
      { k: 'db.command.insert', command: 'cmd-1', agent: 'agent-a', action: 'start_session', client: 'api-0' },
      { k: 'db.command.noop', command: 'cmd-1', agent: 'agent-b', by: 'ws.ack', client: 'api-0' },
      { k: 'db.command.status', command: 'cmd-1', agent: 'agent-a', from: 'pending', to: 'ack', by: 'ws.ack', client: 'api-0' },
      { k: 'db.command.status', command: 'cmd-1', agent: 'agent-a', from: 'ack', to: 'sent', by: 'dispatcher.sent', client: 'api-0' },
      { k: 'db.command.status', command: 'cmd-1', agent: 'agent-a', from: 'sent', to: 'failed', by: 'ws.failed', client: 'api-0', error: 'AlreadyExists' },
    ]);
  });

  test('timestamps: created_at is the API pod\'s wall clock, updated_at the database node\'s (tables.ts note)', () => {
    const { sim, storage, seed } = setup({ apiOffsetUs: 1 * SECOND });
    seed();
    const insert = sim.trace.events.find((e) => e.k === 'db.command.insert')!;
    const row = storage.getCommand('cmd-1')!;
    expect(row.updatedAt).toBe(insert.t); // the db node's clock has no offset
    expect(row.createdAt).toBeGreaterThan(SECOND); // stamped at the call on the pod, 1 s ahead
    expect(row.createdAt - SECOND).toBeLessThan(insert.t);
  });

  test('service time: uniform in the configured range, plus the extra-latency fault', () => {
    const { sim, client, faults, got, results } = setup({ server: { serviceTimeUs: { min: 5 * MS, max: 5 * MS } } });
    const fixed = { latency: { baseUs: 200, jitterUs: 0, tailChance: 0, tailUs: 0 }, dropRate: 0, duplicateRate: 0 };
    sim.network.setLink('api', 'db', fixed);
    sim.network.setLink('db', 'api', fixed);
    client().getAgent('agent-a', got('first')); // includes the dial
    sim.run();
    const t0 = sim.now;
    client().getAgent('agent-a', got('plain'));
    sim.run();
    const plain = sim.now - t0;
    faults.extraLatencyUs = 100 * MS;
    const t1 = sim.now;
    client().getAgent('agent-a', got('slow'));
    sim.run();
    expect(plain).toBe(5 * MS + 2 * 200);
    expect(sim.now - t1).toBe(plain + 100 * MS);
    expect(results.map(({ r }) => r)).toEqual([{ ok: true, value: null }, { ok: true, value: null }, { ok: true, value: null }]);
  });

  test('§11 DB write errors: every INSERT/UPDATE fails and changes nothing; reads still work', () => {
    const { sim, storage, faults, client, got, results, dbEvents, seed } = setup();
    seed();
    faults.writeErrors = true;
    const before = storage.getCommand('cmd-1');
    const c = client();
    c.markSent('cmd-1', got('sent'));
    c.markAckFromAgent('cmd-1', 'agent-a', got('ack'));
    c.updateAgentHeartbeat('agent-a', got('heartbeat'));
    c.insertCommand({ ...CMD, commandId: 'cmd-2' }, got('insert'));
    c.listPendingCommands(got('scan'));
    c.getAgent('agent-a', got('lookup'));
    sim.run();
    const byLabel = new Map(results.map(({ label, r }) => [label, r]));
    for (const label of ['sent', 'ack', 'heartbeat', 'insert']) {
      expect(byLabel.get(label)).toMatchObject({ ok: false, error: 'server', message: expect.stringMatching(/^pq: cannot execute (UPDATE|INSERT) in a read-only transaction$/) });
    }
    expect(byLabel.get('scan')).toMatchObject({ ok: true, value: [expect.objectContaining({ commandId: 'cmd-1', status: 'pending' })] });
    expect(byLabel.get('lookup')).toMatchObject({ ok: true, value: { agentId: 'agent-a', status: 'online' } });
    expect(storage.getCommand('cmd-1')).toEqual(before);
    expect(storage.getCommand('cmd-2')).toBeUndefined();
    expect(dbEvents().filter((e) => e.k === 'db.write-error')).toContainEqual(
      { k: 'db.write-error', statement: 'dispatcher.sent', code: '25006', client: 'api-0', command: 'cmd-1' },
    );
    // The fault is read per statement: clearing it lets the next write through.
    faults.writeErrors = false;
    c.markSent('cmd-1', got('sent-again'));
    sim.run();
    expect(storage.getCommand('cmd-1')?.status).toBe('sent');
  });

  test('constraint violations are server errors that change nothing (§5.1)', () => {
    const { sim, storage, client, got, results, dbEvents, seed } = setup();
    seed();
    client().insertCommand(CMD, got('duplicate'));
    client().insertCommand({ ...CMD, commandId: 'cmd-2', agentId: 'never-registered' }, got('fk'));
    sim.run();
    const byLabel = new Map(results.map(({ label, r }) => [label, r]));
    expect(byLabel.get('duplicate')).toMatchObject({ ok: false, error: 'server', message: expect.stringContaining('unique constraint') });
    expect(byLabel.get('fk')).toMatchObject({ ok: false, error: 'server', message: expect.stringContaining('foreign key') });
    expect(dbEvents().filter((e) => e.k === 'db.write-error').map((e) => e['code']).sort()).toEqual(['23503', '23505']);
    expect(storage.allCommands()).toHaveLength(1);
  });

  test('the data survives a server crash and restart; a statement in flight at the crash is rolled back', () => {
    const { sim, storage, client, got, results, seed } = setup({ server: { serviceTimeUs: { min: 50 * MS, max: 50 * MS } } });
    seed();
    client().markSent('cmd-1', got('in-flight'));
    sim.run({ until: sim.now + 10 * MS }); // arrived, not yet committed
    sim.restart('postgres', 1 * SECOND);
    sim.run();
    expect(results.at(-1)).toMatchObject({ label: 'in-flight', r: { ok: false, error: 'connection' } });
    expect(storage.getCommand('cmd-1')?.status).toBe('pending');
    client().listPendingCommands(got('after-restart'));
    client().getAgent('agent-a', got('agent-after-restart'));
    sim.run();
    expect(results.at(-2)?.r).toMatchObject({ ok: true, value: [{ commandId: 'cmd-1', status: 'pending' }] });
    expect(results.at(-1)?.r).toMatchObject({ ok: true, value: { agentId: 'agent-a', status: 'online' } });
  });

  test('over a partition a statement times out on the client; after the heal it still commits (real-world §4 fact 6)', () => {
    const { sim, storage, client, got, results, seed } = setup();
    seed();
    sim.network.isolate('db');
    const t0 = sim.now;
    client().markSent('cmd-1', got('sent'));
    sim.run({ until: t0 + 200 * SECOND });
    expect(results.at(-1)).toEqual({ label: 'sent', t: t0 + DEFAULT_PG_REQUEST_TIMEOUT_US, r: expect.objectContaining({ ok: false, error: 'timeout' }) });
    expect(storage.getCommand('cmd-1')?.status).toBe('pending');
    sim.network.rejoin('db');
    sim.run();
    expect(storage.getCommand('cmd-1')?.status).toBe('sent'); // the outcome the client saw as a timeout
  });

  test('a server unreachable at dial time fails the statement with connection after the dial timeout', () => {
    const { sim, client, got, results } = setup();
    sim.network.isolate('db');
    client().getAgent('agent-a', got('lookup'));
    sim.run();
    expect(results).toEqual([{ label: 'lookup', t: 127 * SECOND, r: expect.objectContaining({ ok: false, error: 'connection' }) }]);
  });
});
