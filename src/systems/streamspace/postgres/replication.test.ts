import { describe, expect, test } from 'vitest';
import { SECOND, Simulation, type ProcessContext } from '../../../sim-cluster/index.ts';
import type { Statement } from './statements.ts';
import { DEFAULT_WAL_RECORD_BYTES, isReplicationStart, PgData, walBeyond, WalReceiver, WalSenders } from './replication.ts';

const register: Statement = { stmt: 'http.register', agentId: 'agent-a', at: 1 };
const insert = (id: string): Extract<Statement, { stmt: 'producer.insert' }> => ({
  stmt: 'producer.insert', row: { commandId: id, agentId: 'agent-a', sessionId: null, action: 'start_session', payload: { n: 1 } }, at: 2,
});

/** A primary's commit: the statement applied to its storage, then logged (as patroni-postgres.ts does). */
function commit(data: PgData, s: Statement, at: number) {
  if (s.stmt === 'http.register') data.storage.upsertAgentOnRegister(s.agentId, s.at);
  if (s.stmt === 'producer.insert') data.storage.insertCommand(s.row, s.at, at);
  return data.append(s, at, 'api-0', 'postgres-0');
}

describe('PgData: the WAL of a member', () => {
  test('every record is recordBytes long, so LSNs are byte positions (a lag compares with maximum_lag_on_failover in bytes)', () => {
    const primary = new PgData();
    expect(commit(primary, register, 10).lsn).toBe(DEFAULT_WAL_RECORD_BYTES);
    expect(commit(primary, insert('c1'), 11).lsn).toBe(2 * DEFAULT_WAL_RECORD_BYTES);
    expect(primary.lsn).toBe(512);
    expect(primary.recordsAfter(256).map((r) => r.lsn)).toEqual([512]);
    expect(() => new PgData(undefined, 0)).toThrow(RangeError);
  });

  test('only a statement that changed a row counts as a write to log (a 0-row UPDATE has no commit record)', () => {
    const data = new PgData();
    const before = data.storage.mutations;
    expect(data.storage.markSent('no-such-command', 1, 1)).toBeNull();
    expect(data.storage.mutations).toBe(before);
    data.storage.upsertAgentOnRegister('agent-a', 1);
    data.storage.insertCommand(insert('c1').row, 2, 2);
    data.storage.markSent('c1', 3, 3);
    expect(data.storage.mutations).toBe(before + 3);
  });

  test('a standby replaying the records holds the same rows, stamped with the primary\'s commit time; a gap is a model error', () => {
    const primary = new PgData();
    const records = [commit(primary, register, 10), commit(primary, insert('c1'), 11)];
    const standby = new PgData();
    for (const r of records) standby.replay(r);
    expect(standby.storage.allCommands()).toEqual(primary.storage.allCommands());
    expect(standby.storage.getCommand('c1')?.updatedAt).toBe(11);
    expect(standby.storage.getAgent('agent-a')).toEqual(primary.storage.getAgent('agent-a'));
    const other = new PgData();
    expect(() => other.replay(records[1]!)).toThrow(/WAL gap/);
  });

  test('divergence: a standby whose last record the leader does not have at that position has diverged', () => {
    const a = new PgData();
    const shared = [commit(a, register, 10), commit(a, insert('c1'), 11)];
    const b = new PgData();
    for (const r of shared) b.replay(r);
    expect(a.lacks(b.lastRecord)).toBe(false); // b is behind a: a prefix
    expect(b.lacks(null)).toBe(false);
    commit(a, insert('c2'), 12); // a commits on alone
    expect(b.lacks(a.lastRecord)).toBe(true); // a is ahead of b
    b.promote();
    b.storage.insertCommand(insert('c3').row, 2, 13);
    b.append(insert('c3'), 13, 'api-0', 'postgres-1');
    expect(b.timeline).toBe(2);
    expect(b.lacks(a.lastRecord)).toBe(true); // same position, different record: a fork
  });

  test('rewind: the old primary becomes a copy of the new leader; its records past the fork are discarded and listed (RPO)', () => {
    const oldPrimary = new PgData();
    const shared = [commit(oldPrimary, register, 10), commit(oldPrimary, insert('c1'), 11)];
    const leader = new PgData();
    for (const r of shared) leader.replay(r);
    const unreplicated = [commit(oldPrimary, insert('c2'), 12), commit(oldPrimary, insert('c3'), 13)];
    leader.promote();
    const promotedAt = leader.lsn;
    expect(walBeyond(oldPrimary, promotedAt)).toEqual(unreplicated);
    const storage = oldPrimary.storage;
    const discarded = oldPrimary.rewindTo(leader.snapshot(), 'postgres-1');
    expect(discarded).toEqual({ rewoundFrom: 'postgres-1', forkLsn: promotedAt, records: unreplicated });
    expect(oldPrimary.discarded).toEqual([discarded]);
    expect(oldPrimary.storage).toBe(storage); // replaced in place: holders of the storage see the leader's rows
    expect(storage.getCommand('c2')).toBeUndefined();
    expect(storage.allCommands()).toEqual(leader.storage.allCommands());
    expect(storage.listPendingCommands()).toEqual(leader.storage.listPendingCommands()); // the scan index too
    expect([oldPrimary.lsn, oldPrimary.timeline]).toEqual([leader.lsn, 2]);
    expect(leader.lacks(oldPrimary.lastRecord)).toBe(false);
    // A member that had nothing of its own loses nothing.
    const behind = new PgData();
    expect(behind.rewindTo(leader.snapshot(), 'postgres-1')).toBeNull();
  });
});

/** A primary process `pg-p` (walsenders) on node p and a standby `pg-s` (walreceiver) on node s. */
function stream() {
  const sim = new Simulation({ seed: 5, trace: { keepEvents: true } });
  sim.addNode('p');
  sim.addNode('s');
  const primary = new PgData();
  const standby = new PgData();
  let senders!: WalSenders;
  let pctx!: ProcessContext;
  sim.addProcess({
    name: 'pg-p', node: 'p', boot: (ctx) => {
      pctx = ctx;
      senders = new WalSenders(ctx, primary);
      return { onAccept: (conn) => { conn.onMessage = (raw) => { if (isReplicationStart(raw)) senders.accept(conn, raw); }; } };
    },
  });
  let receiver!: WalReceiver;
  const refused: string[] = [];
  sim.addProcess({ name: 'pg-s', node: 's', boot: (ctx) => ((receiver = new WalReceiver(ctx, standby, (up) => refused.push(up))), {}) });
  sim.run({ until: 0 });
  const acked: string[] = [];
  /** Commits on the primary, streams the record, and notes when synchronous replication lets it answer. */
  const write = (s: Statement, label: string) => {
    const r = commit(primary, s, pctx.now());
    senders.broadcast(r);
    senders.waitForSync(r.lsn, () => acked.push(label));
  };
  return { sim, primary, standby, senders: () => senders, receiver: () => receiver, write, acked, refused };
}

describe('streaming replication (walsender / walreceiver)', () => {
  test('a standby catches up from its position and then receives each commit; its replies report its flush position', () => {
    const { sim, primary, standby, senders, receiver, write } = stream();
    write(register, 'r');
    write(insert('c1'), 'c1');
    receiver().follow('pg-p');
    sim.run({ until: sim.now + SECOND });
    expect(standby.lsn).toBe(primary.lsn);
    write(insert('c2'), 'c2');
    sim.run({ until: sim.now + SECOND });
    expect(standby.storage.allCommands()).toEqual(primary.storage.allCommands());
    expect(senders().streaming()).toEqual([expect.objectContaining({ standby: 'pg-s', flush: primary.lsn })]);
  });

  test('synchronous_standby_names: a commit is answered only after the named standby flushed it (syncrep.c)', () => {
    const { sim, senders, receiver, write, acked } = stream();
    receiver().follow('pg-p');
    sim.run({ until: sim.now + SECOND });
    senders().setSynchronousStandby('pg-s');
    write(register, 'r');
    expect(acked).toEqual([]); // waits for the standby's reply
    sim.run({ until: sim.now + SECOND });
    expect(acked).toEqual(['r']);
  });

  test('commits wait while the synchronous standby is away, and are all released when the setting is cleared', () => {
    const { sim, senders, receiver, write, acked } = stream();
    receiver().follow('pg-p');
    sim.run({ until: sim.now + SECOND });
    senders().setSynchronousStandby('pg-s');
    sim.crash('pg-s'); // RST: the walsender ends at once
    sim.run({ until: sim.now + SECOND });
    expect(senders().streaming()).toEqual([]);
    write(register, 'r');
    write(insert('c1'), 'c1');
    sim.run({ until: sim.now + 60 * SECOND });
    expect(acked).toEqual([]);
    senders().setSynchronousStandby(null);
    expect(acked).toEqual(['r', 'c1']);
  });

  test('wal_sender_timeout: a standby on a dead node counts as streaming for 60 s, then leaves pg_stat_replication', () => {
    const { sim, senders, receiver } = stream();
    receiver().follow('pg-p');
    sim.run({ until: 5 * SECOND });
    const failedAt = sim.now;
    sim.failNode('s');
    sim.run({ until: failedAt + 50 * SECOND });
    expect(senders().streaming().map((s) => s.standby)).toEqual(['pg-s']);
    // Its last status update came at most wal_receiver_status_interval (10 s) before the failure.
    sim.run({ until: failedAt + 60 * SECOND });
    expect(senders().streaming()).toEqual([]);
  });

  test('a standby whose WAL diverged is refused (walsender.c) and told so; it does not retry', () => {
    const { sim, primary, standby, receiver, refused, write } = stream();
    write(register, 'r');
    // The standby committed a record of its own (it was a primary once).
    standby.storage.upsertAgentOnRegister('agent-z', 1);
    standby.append({ stmt: 'http.register', agentId: 'agent-z', at: 1 }, 1, 'api-0', 'pg-s');
    receiver().follow('pg-p');
    sim.run({ until: sim.now + 30 * SECOND });
    expect(refused).toEqual(['pg-p']);
    expect(receiver().upstream).toBeNull();
    expect(standby.storage.getAgent('agent-a')).toBeNull();
    expect(primary.lacks(standby.lastRecord)).toBe(true);
  });
});
