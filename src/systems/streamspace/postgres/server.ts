import { serviceTimeSampler } from '../net/service-time.ts';
import { MS, type BootFn, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import { ok, serveRpc, serverError, type RpcResult } from '../net/rpc.ts';
import type { Statement } from './statements.ts';
import { PostgresError, type AgentWrite, type CommandTransition, type PostgresStorage } from './tables.ts';
import { events } from '../events.ts';

/**
 * The PostgreSQL server as a simulated process. It serves the statements of statements.ts over
 * `serveRpc` against a `PostgresStorage` that outlives the process (tables.ts).
 *
 * Each statement runs on its own backend, as the API pod's database/sql pool gives concurrent
 * goroutines separate connections: service times are drawn independently, so two statements in
 * flight at once may commit in either order. A statement takes effect, and is answered, when its
 * service time ends (commit); a crash before that rolls it back. A client that has meanwhile timed
 * out or lost its connection gets no answer although the row changed: the indeterminate outcome of
 * real-world-semantics §4 fact 6 and §4.1.
 *
 * Trace events (one per statement that matched rows, or failed), with `by`/`statement` the call
 * site of statements.ts and `client` the calling process:
 * - `db.command.insert` {command, agent, action, client}
 * - `db.command.status` {command, agent, from, to, by, client, error?} for every status write that
 *   matched its row, even when `from === to` (the row's timestamps still changed);
 * - `db.command.noop` {command, agent, by, client}: a status write that matched 0 rows (`agent` is
 *   null for the dispatcher's statements, which filter by command id only). A checker
 *   needs it to tell "the ack never reached the database" from "the ack arrived but the agent-id
 *   filter (§3) or a missing row discarded it"; the Go code ignores RowsAffected, so nothing else
 *   shows it;
 * - `db.agent.status` {agent, status, from, by, client} for every write of `agents.status` that
 *   matched (`from` null when the register created the row); heartbeats included;
 * - `db.agent.capacity` {agent, capacity, client};
 * - `db.agent.noop` {agent, by, client}: an `agents` write that matched 0 rows;
 * - `db.write-error` {statement, code, client, command?, agent?}: the statement failed (SQLSTATE
 *   `code`) and changed nothing. Reads never fail in this model.
 */

/**
 * Faults a fault injector toggles at scheduled times. `extraLatencyUs` is read when a statement
 * arrives, `writeErrors` when it would commit.
 */
export interface PostgresFaults {
  /**
   * Every INSERT and UPDATE fails with SQLSTATE 25006 ("cannot execute UPDATE in a read-only
   * transaction", what a demoted or read-only primary answers) and changes nothing; SELECTs still
   * work. Drives the "DB error on ..." rows of the error-path matrix (§11).
   */
  writeErrors: boolean;
  /** Added to every statement's service time (slow disk, lock waits, checkpoint I/O). */
  extraLatencyUs: Micros;
}

/** A fault object with no fault active. */
export function healthyPostgres(): PostgresFaults {
  return { writeErrors: false, extraLatencyUs: 0 };
}

export interface PostgresServerOptions {
  /**
   * Service time of one statement, uniform in [min, max] µs from the process's `service` stream.
   * Default 0.5–2 ms: a single-row indexed UPDATE or a small indexed SELECT on a lightly loaded
   * server, commit (WAL flush) included.
   */
  serviceTimeUs?: { min: Micros; max: Micros };
}

export const DEFAULT_SERVICE_TIME_US = { min: 500, max: 2 * MS } as const;

export function bootPostgres(storage: PostgresStorage, faults: PostgresFaults, options: PostgresServerOptions = {}): BootFn {
  const serviceTime = serviceTimeSampler(options.serviceTimeUs ?? DEFAULT_SERVICE_TIME_US);
  return (ctx) => ({
    onAccept(conn) {
      serveRpc(conn, (body, reply) => {
        const delay = serviceTime(ctx) + faults.extraLatencyUs;
        ctx.setTimer(delay, () => reply(executeStatement(ctx, storage, faults, body as Statement, conn.remote)), 'pg-statement');
      });
    },
    // The kubelet's stop signal (the postgres image's STOPSIGNAL is SIGINT, a fast shutdown:
    // sessions are ended, committed data is on disk) after failed liveness probes.
    onSignal(signal) {
      if (signal === 'SIGTERM' || signal === 'SIGINT') ctx.exit();
    },
  });
}

/**
 * What running a statement needs from its process: the database node's clock (the `NOW()` of the
 * triggers) and the trace. A standby's replay gives the primary's commit time and no trace.
 */
type StatementContext = Pick<ProcessContext, 'now' | 'record'>;

/**
 * Runs one statement at commit time and records what it changed; the answer for the client. Also
 * the statement path of a Patroni member (patroni.ts), which passes `writeErrors` while it is a
 * standby: a standby answers writes as a read-only server does.
 */
export function executeStatement(ctx: ProcessContext, storage: PostgresStorage, faults: PostgresFaults, s: Statement, client: string): RpcResult<unknown> {
  try {
    if (faults.writeErrors && isWriteStatement(s)) {
      throw new PostgresError('25006', `cannot execute ${sqlVerb(s)} in a read-only transaction`);
    }
    return apply(ctx, storage, s, client);
  } catch (e) {
    if (!(e instanceof PostgresError)) throw e; // a model bug: the kernel ends the run
    ctx.record('db.write-error', { statement: s.stmt, code: e.code, client, ...keysOf(s) });
    return serverError(e.message);
  }
}

/** The SQL command of a write statement, as a read-only server's error names it. */
function sqlVerb(s: Statement): 'INSERT' | 'UPDATE' | 'DELETE' {
  switch (s.stmt) {
    case 'producer.insert':
    case 'auth.session-insert':
      return 'INSERT';
    case 'auth.session-delete':
    case 'auth.sessions-clear':
      return 'DELETE';
    default:
      return 'UPDATE';
  }
}

/**
 * A standby's replay of a statement from the primary's WAL (replication.ts): the same storage
 * methods, with the primary's commit time as `NOW()` and nothing traced (the primary traced the
 * commit). A statement that committed on the primary commits here too, the storages being equal.
 */
export function replayStatement(storage: PostgresStorage, s: Statement, serverNow: Micros): void {
  apply({ now: () => serverNow, record: () => {} }, storage, s, '');
}

function apply(ctx: StatementContext, storage: PostgresStorage, s: Statement, client: string): RpcResult<unknown> {
  const serverNow = ctx.now();
  switch (s.stmt) {
    case 'producer.insert': {
      const row = storage.insertCommand(s.row, s.at, serverNow);
      events.record(ctx, 'db.command.insert', { command: row.commandId, agent: row.agentId, action: row.action, client, ...widOf(s) });
      return ok(row);
    }
    case 'dispatcher.sent':
      return commandWritten(ctx, s, client, storage.markSent(s.commandId, s.at, serverNow, s.guarded));
    case 'dispatcher.fail':
      return commandWritten(ctx, s, client, storage.markFailedByDispatcher(s.commandId, s.error, serverNow, s.guarded), s.error);
    case 'ws.ack':
      return commandWritten(ctx, s, client, storage.markAckFromAgent(s.commandId, s.agentId, s.at, serverNow, s.guarded));
    case 'ws.complete':
      return commandWritten(ctx, s, client, storage.markCompletedFromAgent(s.commandId, s.agentId, s.at, serverNow, s.guarded));
    case 'ws.failed':
      return commandWritten(ctx, s, client, storage.markFailedFromAgent(s.commandId, s.agentId, s.error, serverNow, s.guarded), s.error);
    case 'reconciler.scan-unfinished':
      return ok(storage.listUnfinishedCommands(serverNow - s.staleUs));
    case 'redelivery.claim': {
      // The reply is the row's status after the claim (RETURNING, or the re-read), not a row count.
      const { status, transition } = storage.claimForRedelivery(s.commandId, s.at, serverNow);
      commandWritten(ctx, s, client, transition);
      return ok(status);
    }
    case 'dispatcher.scan-pending':
      return ok(storage.listPendingCommands());
    case 'http.register':
      agentWritten(ctx, s.stmt, s.agentId, client, storage.upsertAgentOnRegister(s.agentId, s.at));
      return ok(storage.getAgent(s.agentId)); // RETURNING the row
    case 'hub.register':
      return agentWritten(ctx, s.stmt, s.agentId, client, storage.setAgentOnline(s.agentId, s.at));
    case 'hub.unregister':
      return agentWritten(ctx, s.stmt, s.agentId, client, storage.setAgentOffline(s.agentId, s.at));
    case 'hub.heartbeat':
      return agentWritten(ctx, s.stmt, s.agentId, client, storage.updateAgentHeartbeat(s.agentId, s.at));
    case 'ws.capacity': {
      if (!storage.updateAgentCapacity(s.agentId, s.capacity, s.at)) {
        ctx.record('db.agent.noop', { agent: s.agentId, by: s.stmt, client });
        return ok(0);
      }
      ctx.record('db.agent.capacity', { agent: s.agentId, capacity: s.capacity, client });
      return ok(1);
    }
    case 'ws.agent-lookup':
      return ok(storage.getAgent(s.agentId));
    case 'auth.verify-password':
    case 'auth.user-groups':
    case 'auth.get-user':
    case 'sessions.list':
      return ok(true);
    case 'auth.session-insert':
      storage.insertSession(s.jti, s.user, serverNow + s.ttlUs);
      ctx.record('db.session.insert', { jti: s.jti, client, ...widOf(s) });
      return ok(1);
    case 'auth.session-user':
      return ok(storage.sessionOfUser(s.jti, s.user, serverNow));
    case 'auth.session-delete': {
      const matched = storage.deleteSession(s.jti);
      if (matched) ctx.record('db.session.delete', { jti: s.jti, client, ...widOf(s) });
      return ok(matched ? 1 : 0);
    }
    case 'auth.sessions-clear': {
      const removed = storage.clearSessions();
      if (removed > 0) ctx.record('db.session.clear', { removed, client, ...widOf(s) });
      return ok(removed);
    }
  }
}

/** Records a command status write; the reply is the affected row count, as sql.Result.RowsAffected. */
function commandWritten(
  ctx: StatementContext,
  s: Extract<Statement, { commandId: string }>,
  client: string,
  t: CommandTransition | null,
  error?: string,
): RpcResult<number> {
  if (t === null) {
    ctx.record('db.command.noop', { command: s.commandId, agent: 'agentId' in s ? s.agentId : null, by: s.stmt, client });
    return ok(0);
  }
  // Key order is part of the trace hash: `error` comes last, and only when there is one.
  events.record(ctx, 'db.command.status', { command: t.commandId, agent: t.agentId, from: t.from, to: t.to, by: s.stmt, client, ...(error !== undefined ? { error } : {}), ...widOf(s) });
  return ok(1);
}

function agentWritten(ctx: StatementContext, by: Statement['stmt'], agentId: string, client: string, w: AgentWrite | null): RpcResult<number> {
  if (w === null) {
    ctx.record('db.agent.noop', { agent: agentId, by, client });
    return ok(0);
  }
  ctx.record('db.agent.status', { agent: w.agentId, status: w.to, from: w.from, by, client });
  return ok(1);
}

const READS: ReadonlySet<Statement['stmt']> = new Set([
  'dispatcher.scan-pending', 'reconciler.scan-unfinished', 'ws.agent-lookup', 'auth.verify-password', 'auth.user-groups', 'auth.get-user', 'sessions.list',
  'auth.session-user',
]);

/** Whether a statement writes (INSERT or UPDATE): what a read-only server refuses. */
export function isWriteStatement(s: Statement): boolean {
  return !READS.has(s.stmt);
}

/** The row keys a statement names, for `db.write-error` (and a pooled client's `sql.ack`). */
export function keysOf(s: Statement): { command?: string; agent?: string } {
  if (s.stmt === 'producer.insert') return { command: s.row.commandId, agent: s.row.agentId };
  const keys: { command?: string; agent?: string } = {};
  if ('commandId' in s) keys.command = s.commandId;
  if ('agentId' in s) keys.agent = s.agentId;
  return keys;
}

/**
 * A pooled write's id, last in its event's details (a checker takes the write back when a failover
 * loses it, cluster/lost-writes.ts); nothing for the single PostgreSQL's writes, whose events keep
 * their shape.
 */
function widOf(s: Statement): { wid?: string } {
  return s.wid === undefined ? {} : { wid: s.wid };
}
