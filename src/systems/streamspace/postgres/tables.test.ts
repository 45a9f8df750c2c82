import { describe, expect, test } from 'vitest';
import { PostgresError, PostgresStorage, type NewCommand } from './tables.ts';

function command(commandId: string, agentId = 'agent-a'): NewCommand {
  return { commandId, agentId, sessionId: 's1', action: 'start_session', payload: { sessionId: 's1' } };
}

/** A storage with agent-a and agent-b registered and cmd-1 (for agent-a) inserted at t=100. */
function setup(): PostgresStorage {
  const db = new PostgresStorage();
  db.upsertAgentOnRegister('agent-a', 1);
  db.upsertAgentOnRegister('agent-b', 1);
  db.insertCommand(command('cmd-1'), 100, 105);
  return db;
}

describe('agent_commands (streamspace-v2-behavior §5)', () => {
  test('insert: status pending; created_at is the caller\'s stamp, updated_at the server\'s (§5.1, §5.2)', () => {
    const db = setup();
    expect(db.getCommand('cmd-1')).toMatchObject({
      status: 'pending', createdAt: 100, updatedAt: 105, sentAt: null, acknowledgedAt: null, completedAt: null, errorMessage: null,
    });
  });

  test('§5.4: a late `sent` overwrites `ack`, and then `completed` (no terminal-state protection)', () => {
    const db = setup();
    expect(db.markAckFromAgent('cmd-1', 'agent-a', 200, 201)).toEqual({ commandId: 'cmd-1', agentId: 'agent-a', from: 'pending', to: 'ack' });
    expect(db.markSent('cmd-1', 150, 202)).toEqual({ commandId: 'cmd-1', agentId: 'agent-a', from: 'ack', to: 'sent' });
    expect(db.getCommand('cmd-1')).toMatchObject({ status: 'sent', sentAt: 150, acknowledgedAt: 200, updatedAt: 202 });
    db.markCompletedFromAgent('cmd-1', 'agent-a', 300, 301);
    expect(db.markSent('cmd-1', 310, 311)).toMatchObject({ from: 'completed', to: 'sent' });
    expect(db.getCommand('cmd-1')).toMatchObject({ status: 'sent', completedAt: 300 });
  });

  test('§5.4: the dispatcher\'s failCommand overwrites any status, filtered by command id only', () => {
    const db = setup();
    db.markCompletedFromAgent('cmd-1', 'agent-a', 200, 201);
    expect(db.markFailedByDispatcher('cmd-1', 'agent is not connected', 300)).toMatchObject({ from: 'completed', to: 'failed' });
    expect(db.getCommand('cmd-1')).toMatchObject({ status: 'failed', errorMessage: 'agent is not connected', completedAt: 200 });
    // A row that does not exist: 0 rows.
    expect(db.markSent('cmd-missing', 1, 1)).toBeNull();
    expect(db.markFailedByDispatcher('cmd-missing', 'x', 1)).toBeNull();
  });

  test('§3: ack/complete/failed from another agent id match 0 rows and change nothing', () => {
    const db = setup();
    const before = db.getCommand('cmd-1');
    expect(db.markAckFromAgent('cmd-1', 'agent-b', 200, 201)).toBeNull();
    expect(db.markCompletedFromAgent('cmd-1', 'agent-b', 200, 201)).toBeNull();
    expect(db.markFailedFromAgent('cmd-1', 'agent-b', 'boom', 201)).toBeNull();
    expect(db.getCommand('cmd-1')).toEqual(before);
    expect(db.markFailedFromAgent('cmd-1', 'agent-a', 'boom', 202)).toMatchObject({ from: 'pending', to: 'failed' });
    expect(db.getCommand('cmd-1')).toMatchObject({ status: 'failed', errorMessage: 'boom' });
  });

  test('§5.3: the pending scan orders by created_at, then insertion order, and skips other statuses', () => {
    const db = setup(); // cmd-1 at 100
    db.insertCommand(command('cmd-2'), 50, 106);
    db.insertCommand(command('cmd-3'), 100, 107);
    db.insertCommand(command('cmd-4', 'agent-b'), 100, 108);
    db.insertCommand(command('cmd-5'), 10, 109);
    db.markSent('cmd-5', 120, 121);
    expect(db.listPendingCommands().map((r) => r.commandId)).toEqual(['cmd-2', 'cmd-1', 'cmd-3', 'cmd-4']);
  });

  test('§5.1: command_id is unique and agent_id must name an agents row; a failed insert changes nothing', () => {
    const db = setup();
    expect(() => db.insertCommand(command('cmd-1'), 1, 1)).toThrow(PostgresError);
    expect(() => db.insertCommand(command('cmd-x', 'agent-unknown'), 1, 1)).toThrow(/foreign key/);
    expect(db.allCommands().map((r) => r.commandId)).toEqual(['cmd-1']);
  });

  test('§5.1: without the hand-applied updated_at migration every status UPDATE fails (42703)', () => {
    const db = new PostgresStorage({ updatedAtMigrationApplied: false });
    db.upsertAgentOnRegister('agent-a', 1);
    expect(db.insertCommand(command('cmd-1'), 100, 105).updatedAt).toBeNull();
    expect(() => db.markSent('cmd-1', 1, 1)).toThrow(expect.objectContaining({ code: '42703' }));
    expect(() => db.markAckFromAgent('cmd-1', 'agent-a', 1, 1)).toThrow(PostgresError);
    expect(db.getCommand('cmd-1')?.status).toBe('pending');
  });

  test('rows handed out are copies: mutating them does not change the table', () => {
    const db = setup();
    const [row] = db.listPendingCommands();
    row!.status = 'completed';
    (row!.payload as Record<string, unknown>)['sessionId'] = 'changed';
    expect(db.getCommand('cmd-1')).toMatchObject({ status: 'pending', payload: { sessionId: 's1' } });
  });
});

describe('design fix redelivery-claims-row: the redelivery claim', () => {
  test('a pending row becomes sent; a sent or ack row is only read; a finished or missing row is reported, not changed', () => {
    const db = setup();
    expect(db.claimForRedelivery('cmd-1', 200, 201)).toEqual({ status: 'sent', transition: { commandId: 'cmd-1', agentId: 'agent-a', from: 'pending', to: 'sent' } });
    expect(db.getCommand('cmd-1')).toMatchObject({ status: 'sent', sentAt: 200, updatedAt: 201 });
    // A stale dispatcher `failed` (guarded: pending rows only) no longer applies to the claimed row.
    expect(db.markFailedByDispatcher('cmd-1', 'agent is not connected', 202, true)).toBeNull();
    expect(db.claimForRedelivery('cmd-1', 300, 301)).toEqual({ status: 'sent', transition: null });
    db.markAckFromAgent('cmd-1', 'agent-a', 310, 311);
    expect(db.claimForRedelivery('cmd-1', 320, 321)).toEqual({ status: 'ack', transition: null });
    expect(db.getCommand('cmd-1')).toMatchObject({ sentAt: 200, updatedAt: 311 });
    db.insertCommand(command('cmd-2'), 400, 401);
    db.markFailedByDispatcher('cmd-2', 'agent is not connected', 402, true);
    expect(db.claimForRedelivery('cmd-2', 410, 411)).toEqual({ status: 'failed', transition: null });
    expect(db.getCommand('cmd-2')).toMatchObject({ status: 'failed', sentAt: null, updatedAt: 402 });
    expect(db.claimForRedelivery('cmd-missing', 1, 1)).toEqual({ status: null, transition: null });
  });
});

describe('agents (streamspace-v2-behavior §2.2, §2.3, §7.3)', () => {
  test('register creates the row online; hub writes online/offline; heartbeat stamps last_heartbeat', () => {
    const db = new PostgresStorage();
    expect(db.getAgent('agent-a')).toBeNull();
    expect(db.upsertAgentOnRegister('agent-a', 10)).toEqual({ agentId: 'agent-a', from: null, to: 'online' });
    expect(db.setAgentOffline('agent-a', 20)).toEqual({ agentId: 'agent-a', from: 'online', to: 'offline' });
    expect(db.getAgent('agent-a')).toEqual({ agentId: 'agent-a', status: 'offline', lastHeartbeat: 10, capacity: null, updatedAt: 20 });
    expect(db.upsertAgentOnRegister('agent-a', 30)).toMatchObject({ from: 'offline', to: 'online' });
    db.setAgentOnline('agent-a', 40);
    db.updateAgentHeartbeat('agent-a', 50);
    expect(db.updateAgentCapacity('agent-a', 8, 51)).toBe(true);
    expect(db.getAgent('agent-a')).toEqual({ agentId: 'agent-a', status: 'online', lastHeartbeat: 50, capacity: 8, updatedAt: 51 });
  });

  test('hub writes for an agent without a row match 0 rows', () => {
    const db = new PostgresStorage();
    expect(db.setAgentOnline('ghost', 1)).toBeNull();
    expect(db.setAgentOffline('ghost', 1)).toBeNull();
    expect(db.updateAgentHeartbeat('ghost', 1)).toBeNull();
    expect(db.updateAgentCapacity('ghost', 1, 1)).toBe(false);
    expect(db.getAgent('ghost')).toBeNull();
  });
});

describe('user_sessions (design fix sessions-in-postgres)', () => {
  test('a session is live for its user until its expiry on the database clock, or its delete', () => {
    const db = new PostgresStorage();
    db.insertSession('j1', 7, 1_000);
    expect(db.sessionOfUser('j1', 7, 999)).toBe(true);
    expect(db.sessionOfUser('j1', 7, 1_000)).toBe(false); // expires_at > NOW()
    expect(db.sessionOfUser('j1', 8, 999)).toBe(false); // another user's token
    expect(db.sessionOfUser('j2', 7, 0)).toBe(false);
    expect(db.deleteSession('j1')).toBe(true);
    expect(db.deleteSession('j1')).toBe(false);
    expect(db.sessionOfUser('j1', 7, 0)).toBe(false);
  });

  test('a second INSERT of a jti fails with the unique violation (a statement retried after its commit)', () => {
    const db = new PostgresStorage();
    db.insertSession('j1', 7, 1_000);
    expect(() => db.insertSession('j1', 7, 2_000)).toThrow(PostgresError);
    expect(db.sessionOfUser('j1', 7, 1_500)).toBe(false); // the first row, unchanged
  });

  test('writes that changed rows count as mutations (what a Patroni primary logs); a delete that matched nothing does not', () => {
    const db = new PostgresStorage();
    db.insertSession('j1', 7, 1_000);
    db.insertSession('j2', 8, 1_000);
    const after = db.mutations;
    expect(db.deleteSession('nope')).toBe(false);
    expect(db.mutations).toBe(after);
    expect(db.clearSessions()).toBe(2);
    expect(db.mutations).toBe(after + 1);
    expect(db.clearSessions()).toBe(0);
    expect(db.mutations).toBe(after + 1);
  });

  test('copyFrom (pg_rewind) copies the sessions too, and later writes stay apart', () => {
    const leader = new PostgresStorage();
    leader.insertSession('j1', 7, 1_000);
    const member = new PostgresStorage();
    member.insertSession('lost', 9, 1_000);
    member.copyFrom(leader);
    expect(member.sessionOfUser('j1', 7, 0)).toBe(true);
    expect(member.sessionOfUser('lost', 9, 0)).toBe(false);
    member.deleteSession('j1');
    expect(leader.sessionOfUser('j1', 7, 0)).toBe(true);
  });
});
