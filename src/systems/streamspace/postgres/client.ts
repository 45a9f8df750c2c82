import { SECOND, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import { RpcClient, type DialTarget, type RpcResult } from '../net/rpc.ts';
import { SqlPool, type SqlPoolOptions } from './pool.ts';
import { isWriteStatement, keysOf } from './server.ts';
import type { Statement } from './statements.ts';
import type { AgentRow, CommandRow, CommandStatus, NewCommand } from './tables.ts';

/**
 * Rows affected by an INSERT/UPDATE (sql.Result.RowsAffected). StreamSpace ignores it; the model
 * returns it so callers and tests can see an update that matched nothing.
 */
export type RowsAffected = number;

export interface PostgresClientOptions {
  /**
   * The PostgreSQL server: a process name, or a resolver asked at each dial (a Service, `DialTarget`).
   * Default `'postgres'`.
   */
  target?: DialTarget;
  /**
   * Dial timeout. Default 127 s: lib/pq without `connect_timeout` (StreamSpace sets none,
   * `api/internal/db/database.go` NewDatabase) waits for the kernel's SYN retries
   * (tcp_syn_retries 6: 1+2+4+…+64 s).
   */
  connectTimeoutUs?: Micros;
  /**
   * How long a statement waits for its answer. StreamSpace's `DB().Exec`/`Query` carry no context
   * deadline, so a statement waits until the connection fails. lib/pq dials with Go's default
   * TCP keepalive (15 s idle, 15 s interval, 9 probes), which declares a silent peer dead after
   * 15 + 9 × 15 = 150 s: the default. (With the request itself unacknowledged, Linux would instead
   * retransmit for ~924.6 s; the kernel's connection then fails first only if this is set higher.)
   */
  requestTimeoutUs?: Micros;
  /** Design fix `guarded-status-writes`: status UPDATEs only move rows forward. Default false (as built). */
  guardedStatusWrites?: boolean;
  /** How statement timeouts are kept (net/rpc.ts `RpcClientOptions.timeouts`). Default `per-call`. */
  timeouts?: 'per-call' | 'per-connection';
  /**
   * Run every statement through database/sql's pool of lib/pq connections as StreamSpace builds it
   * (pool.ts; `{}` for its settings) instead of the single connection. The pool dials with its own
   * options: `connectTimeoutUs`, `requestTimeoutUs` and `timeouts` above then do not apply (no
   * statement has a deadline; a silent server fails a connection through TCP keepalive). Default:
   * unset, the single connection.
   */
  pool?: SqlPoolOptions;
}

export const DEFAULT_PG_CONNECT_TIMEOUT_US: Micros = 127 * SECOND;
export const DEFAULT_PG_REQUEST_TIMEOUT_US: Micros = 150 * SECOND;

/**
 * What an API pod uses to reach PostgreSQL: one method per statement the StreamSpace code issues
 * (tables.ts names the Go function behind each). Every timestamp parameter is this pod's
 * `ctx.now()` at the call, as the Go code binds `time.Now()` (tables.ts, timestamp note).
 * Results: `server` is a PostgreSQL error (nothing changed); `timeout` and `connection` leave the
 * outcome unknown (the statement may have committed).
 */
export class PostgresClient {
  /** The single connection, when no pool is configured. */
  private readonly rpc: RpcClient | null;
  /** The database/sql pool, when configured (`PostgresClientOptions.pool`); its `stats()` is DB.Stats(). */
  readonly pool: SqlPool | null;
  private readonly guarded: boolean;
  /** Writes sent through the pool so far: the `n` of their ids. */
  private writes = 0;

  constructor(
    private readonly ctx: ProcessContext,
    options: PostgresClientOptions = {},
  ) {
    const target = options.target ?? 'postgres';
    if (options.pool !== undefined) {
      this.pool = new SqlPool(ctx, target, options.pool);
      this.rpc = null;
    } else {
      this.pool = null;
      this.rpc = new RpcClient(ctx, {
        target,
        connectTimeoutUs: options.connectTimeoutUs ?? DEFAULT_PG_CONNECT_TIMEOUT_US,
        requestTimeoutUs: options.requestTimeoutUs ?? DEFAULT_PG_REQUEST_TIMEOUT_US,
        timeouts: options.timeouts ?? 'per-call',
      });
    }
    this.guarded = options.guardedStatusWrites ?? false;
  }

  /** Design fix `redeliver-unfinished`: rows pending, sent or ack and not updated for `staleUs`. */
  listUnfinishedCommands(staleUs: Micros, cb: (r: RpcResult<CommandRow[]>) => void): void {
    this.send({ stmt: 'reconciler.scan-unfinished', staleUs }, cb);
  }

  /**
   * Design fix `redelivery-claims-row`: claims a row for a redelivery (pending → sent, or a re-read
   * of a sent/ack row); the value is the row's status afterwards (null: no such row).
   */
  claimForRedelivery(commandId: string, cb: (r: RpcResult<CommandStatus | null>) => void): void {
    this.send({ stmt: 'redelivery.claim', commandId, at: this.ctx.now() }, cb);
  }

  /** Producers' INSERT ... RETURNING (§5.2); the value is the inserted row. */
  insertCommand(row: NewCommand, cb: (r: RpcResult<CommandRow>) => void): void {
    this.send({ stmt: 'producer.insert', row, at: this.ctx.now() }, cb);
  }

  /** CommandDispatcher.processCommand's `sent` UPDATE, by command id only (§5.3). */
  markSent(commandId: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'dispatcher.sent', commandId, at: this.ctx.now(), guarded: this.guarded }, cb);
  }

  /** CommandDispatcher.failCommand, by command id only (§5.3). */
  markFailedByDispatcher(commandId: string, error: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'dispatcher.fail', commandId, error, guarded: this.guarded }, cb);
  }

  /** handleAck, by command id and the connection's agent id (§3). */
  markAckFromAgent(commandId: string, agentId: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'ws.ack', commandId, agentId, at: this.ctx.now(), guarded: this.guarded }, cb);
  }

  /** handleComplete (§3). The frame's `result` is not stored by StreamSpace, so it is not sent. */
  markCompletedFromAgent(commandId: string, agentId: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'ws.complete', commandId, agentId, at: this.ctx.now(), guarded: this.guarded }, cb);
  }

  /** handleFailed (§3). */
  markFailedFromAgent(commandId: string, agentId: string, error: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'ws.failed', commandId, agentId, error, guarded: this.guarded }, cb);
  }

  /** DispatchPendingCommands' scan (§5.3): pending rows by created_at, then insertion order. */
  listPendingCommands(cb: (r: RpcResult<CommandRow[]>) => void): void {
    this.send({ stmt: 'dispatcher.scan-pending' }, cb);
  }

  /** HTTP RegisterAgent's insert-or-update (§7.3); the value is the row (RETURNING). */
  upsertAgentOnRegister(agentId: string, cb: (r: RpcResult<AgentRow>) => void): void {
    this.send({ stmt: 'http.register', agentId, at: this.ctx.now() }, cb);
  }

  /** AgentHub.handleRegister (§2.2). */
  setAgentOnline(agentId: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'hub.register', agentId, at: this.ctx.now() }, cb);
  }

  /** AgentHub.handleUnregister (§2.2). */
  setAgentOffline(agentId: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'hub.unregister', agentId, at: this.ctx.now() }, cb);
  }

  /** AgentHub.UpdateAgentHeartbeat (§2.3). */
  updateAgentHeartbeat(agentId: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'hub.heartbeat', agentId, at: this.ctx.now() }, cb);
  }

  /** handleHeartbeat's capacity UPDATE (§3). */
  updateAgentCapacity(agentId: string, capacity: number, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'ws.capacity', agentId, capacity, at: this.ctx.now() }, cb);
  }

  /** HandleAgentConnection's lookup (§3 step 2); null: no row (404). */
  getAgent(agentId: string, cb: (r: RpcResult<AgentRow | null>) => void): void {
    this.send({ stmt: 'ws.agent-lookup', agentId }, cb);
  }

  /** A user's read (seed 004's load): answers true, or the connection's or server's error. */
  userRead(stmt: 'auth.verify-password' | 'auth.user-groups' | 'auth.get-user' | 'sessions.list', user: number, cb: (r: RpcResult<unknown>) => void): void {
    this.send({ stmt, user }, cb);
  }

  /** Design fix `sessions-in-postgres`: CreateSession's INSERT (tables.ts insertSession). */
  insertSession(jti: string, user: number, ttlUs: Micros, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'auth.session-insert', jti, user, ttlUs }, cb);
  }

  /** Design fix `sessions-in-postgres`: GetUser joined with the session; true when the session is live. */
  sessionOfUser(jti: string, user: number, cb: (r: RpcResult<boolean>) => void): void {
    this.send({ stmt: 'auth.session-user', jti, user }, cb);
  }

  /** Design fix `sessions-in-postgres`: logout's DELETE of the session row. */
  deleteSession(jti: string, cb: (r: RpcResult<RowsAffected>) => void): void {
    this.send({ stmt: 'auth.session-delete', jti }, cb);
  }

  /** Design fix `sessions-in-postgres`: ClearAllSessions' DELETE of every row (as built at each start). */
  clearSessions(cb: (r: RpcResult<number>) => void): void {
    this.send({ stmt: 'auth.sessions-clear' }, cb);
  }

  private send<T>(statement: Statement, cb: (r: RpcResult<T>) => void): void {
    if (this.rpc !== null) return this.rpc.call<T>(statement, cb);
    if (!isWriteStatement(statement)) return this.pool!.exec<T>(statement, cb);
    // A pooled write gets an id, and its acknowledgement is recorded (`sql.ack`): what
    // `no-lost-acknowledged-write` matches against the writes a failover lost (`pg.lost-writes`).
    // The incarnation keeps ids unique across restarts of the pod, whose counter starts over.
    const wid = `${this.ctx.name}#${this.ctx.incarnation}/${++this.writes}`;
    // Object.assign, not a spread with a new key (a slow path in Node 20's V8); the same keys in the same order.
    this.pool!.exec<T>(Object.assign({}, statement, { wid }), (r, server) => {
      // `server`: the member that answered. A statement may commit on two members (lib/pq retries
      // a statement whose connection met a FIN, even after a commit that waited for a synchronous
      // standby when its backend was terminated), so a loss counts only on the member that acknowledged.
      if (r.ok) this.ctx.record('sql.ack', { wid, stmt: statement.stmt, command: keysOf(statement).command ?? null, server });
      cb(r);
    });
  }
}
