import type { Micros } from '../../../sim-cluster/index.ts';

/**
 * The durable data of StreamSpace's PostgreSQL database that the HA model needs: the
 * `agent_commands` and `agents` tables (streamspace-v2-behavior §5.1). Plain synchronous data, no
 * I/O and no clock. Each write method is one SQL statement the StreamSpace code issues and is named
 * after the model's client method; its comment names the Go function and cites the spec.
 *
 * Durability: a PostgreSQL process crash or restart loses nothing that was committed, so this object
 * is built by whoever builds the topology and handed to every incarnation of the server process
 * (`bootPostgres`). A statement is applied here only when it commits (at the end of its service
 * time, see server.ts); a crash before that rolls it back, as crash recovery discards uncommitted
 * transactions.
 *
 * Replication (Patroni members, replication.ts) gives each member its own storage: a standby replays
 * the primary's committed statements through these same methods, so replicas hold the same rows,
 * and a rewound member's storage is replaced in place by a copy of its new leader's (`copyFrom`).
 * `mutations` counts the writes that changed a row, so the primary knows which statements to log.
 *
 * Timestamps (one decision, applied to every statement): every timestamp parameter in these
 * statements is Go's `time.Now()` **on the API pod** issuing them, bound as `$n` (the source of
 * command_dispatcher.go:233-246,265-277, agent_websocket.go:395-465, agent_hub.go:264-273,320-329,
 * 631-641 and the producers' INSERT ... created_at = $6), so `created_at`, `sent_at`,
 * `acknowledged_at`, `completed_at`, `last_heartbeat` and `agents.updated_at` carry the calling
 * pod's wall clock: `at` below, taken by the client from `ctx.now()`. The one server-side stamp is
 * `agent_commands.updated_at`: its BEFORE UPDATE trigger sets `NEW.updated_at = NOW()` and the
 * column defaults to `CURRENT_TIMESTAMP` on INSERT (`api/migrations/004_add_updated_at_to_agent_commands.sql`,
 * §5.1), i.e. the database node's wall clock: `serverNow` below. With skewed pod clocks the
 * `ORDER BY created_at` of the pending scan therefore follows the producers' clocks, not commit
 * order.
 */

/** `agent_commands.status` values (§5.4). */
/**
 * Design fix `guarded-status-writes` (not in StreamSpace, whose writes are blind, §5.4): each
 * status UPDATE adds `AND status IN (...)` so a row never moves backwards or out of a final state.
 */
const GUARDED_FROM = {
  sent: ['pending'],
  failedByDispatcher: ['pending'], // once a dispatch marked it sent, another dispatch's failure must not finalize it
  ack: ['pending', 'sent'],
  final: ['pending', 'sent', 'ack'],
} as const satisfies Record<string, readonly CommandStatus[]>;

export type CommandStatus = 'pending' | 'sent' | 'ack' | 'completed' | 'failed';

/** `agents.status` values written by the code in scope (§2.2, §7.3; default `offline`, §5.1). */
export type AgentStatus = 'online' | 'offline';

/** The command's `payload` (jsonb): the session spec and template manifest for `start_session` (§1). */
export type CommandPayload = Readonly<Record<string, unknown>>;

/** What a producer inserts (§5.2). `created_at` is stamped by the client. */
export interface NewCommand {
  commandId: string;
  agentId: string;
  sessionId: string | null;
  action: string;
  payload: CommandPayload | null;
}

/** One `agent_commands` row (§5.1). Times are wall-clock µs (see the timestamp note above). */
export interface CommandRow extends NewCommand {
  /**
   * Insertion sequence. Stands in for the `id` uuid primary key, which no model decision reads, and
   * breaks `created_at` ties in the pending scan (a btree index scan returns equal keys in heap
   * order, which is insertion order for a table that is only appended to).
   */
  seq: number;
  status: CommandStatus;
  errorMessage: string | null;
  createdAt: Micros;
  sentAt: Micros | null;
  acknowledgedAt: Micros | null;
  completedAt: Micros | null;
  /** Null when the column does not exist (`updatedAtMigrationApplied: false`). */
  updatedAt: Micros | null;
}

/** A `user_sessions` row of design fix `sessions-in-postgres` (never changed in place, so copies may share it). */
export interface SessionRow {
  readonly user: number;
  /** The database node's wall clock (µs) after which the session is over. */
  readonly expiresAt: Micros;
}

/** One `agents` row (§5.1; `websocket_id`, platform, region and metadata are not read by the model). */
export interface AgentRow {
  agentId: string;
  status: AgentStatus;
  lastHeartbeat: Micros | null;
  /** The heartbeat's capacity, abstracted to one number (§1: `capacity` is optional). */
  capacity: number | null;
  updatedAt: Micros;
}

/** A status write that matched its row: what a checker needs to follow the command's life. */
export interface CommandTransition {
  commandId: string;
  agentId: string;
  from: CommandStatus;
  to: CommandStatus;
}

/** An `agents` write that matched (or, for the register upsert, created) its row. */
export interface AgentWrite {
  agentId: string;
  /** Null when the statement created the row. */
  from: AgentStatus | null;
  to: AgentStatus;
}

/**
 * An error PostgreSQL reports for a statement, with its SQLSTATE and the text lib/pq's `Error()`
 * returns (`pq: <message>`). The statement changed nothing.
 */
export class PostgresError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`pq: ${message}`);
    this.name = 'PostgresError';
  }
}

export interface PostgresStorageOptions {
  /**
   * Whether `api/migrations/004_add_updated_at_to_agent_commands.sql` was applied (§5.1). The
   * embedded migrations do not create `agent_commands.updated_at`, yet every status UPDATE writes it;
   * without the hand-applied file each of them fails with SQLSTATE 42703 and changes nothing.
   * Default true: the reports say it was applied by hand.
   */
  updatedAtMigrationApplied?: boolean;
}

/**
 * A row as a result set hands it out, sharing nothing with the stored row. Every column but
 * `payload` is a primitive, so only the payload needs a deep copy (structuredClone of the whole row
 * cost ~3% of a fuzz run).
 */
function copyRow(row: CommandRow): CommandRow {
  return { ...row, payload: row.payload === null ? null : structuredClone(row.payload) };
}

/** Whether a row is one the scans below return (pending, sent or ack). */
function unfinished(status: CommandStatus): boolean {
  return status === 'pending' || status === 'sent' || status === 'ack';
}

/** The scans' order: `ORDER BY created_at`, ties in insertion order. */
function scanBefore(a: CommandRow, b: CommandRow): boolean {
  return a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.seq < b.seq);
}

export class PostgresStorage {
  private readonly commandsById = new Map<string, CommandRow>();
  /**
   * The unfinished rows in scan order, kept as rows change status (an index, as `status` and
   * `created_at` would have in SQL): the dispatcher's and the reconciler's scans read this instead
   * of copying, filtering and sorting the whole table on every scan, which grew with the run.
   */
  private readonly unfinishedRows: CommandRow[] = [];
  private readonly agentsById = new Map<string, AgentRow>();
  /** Design fix `sessions-in-postgres`: `user_sessions` rows by jti (see the section below). */
  private readonly sessionsByJti = new Map<string, SessionRow>();
  private nextSeq = 1;
  private readonly hasUpdatedAt: boolean;
  private mutationCount = 0;

  constructor(options: PostgresStorageOptions = {}) {
    this.hasUpdatedAt = options.updatedAtMigrationApplied ?? true;
  }

  /**
   * How many statements changed a row so far (an INSERT, an UPDATE or upsert that matched). A
   * statement that matched nothing or failed leaves it unchanged: it writes no commit record (one
   * that matched nothing has no transaction id, one that failed aborts), so it has nothing to
   * replicate or to wait for.
   */
  get mutations(): number {
    return this.mutationCount;
  }

  /**
   * Not a StreamSpace statement: replaces every row by a copy of `source`'s, in place (so holders of
   * this object see the new rows), as pg_rewind or a re-initialisation from the leader leaves a data
   * directory equal to the leader's. The mutation count is not copied: it counts this object's writes.
   */
  copyFrom(source: PostgresStorage): void {
    this.commandsById.clear();
    this.unfinishedRows.length = 0;
    this.agentsById.clear();
    for (const row of source.commandsById.values()) this.commandsById.set(row.commandId, copyRow(row));
    for (const row of source.unfinishedRows) this.unfinishedRows.push(this.commandsById.get(row.commandId)!);
    for (const row of source.agentsById.values()) this.agentsById.set(row.agentId, { ...row });
    this.sessionsByJti.clear();
    for (const [jti, row] of source.sessionsByJti) this.sessionsByJti.set(jti, row);
    this.nextSeq = source.nextSeq;
  }

  // ---- agent_commands ------------------------------------------------------------------------

  /**
   * Producers' `INSERT INTO agent_commands (...) VALUES (..., 'pending', $6) RETURNING ...`
   * (§5.2: create session `handlers.go:887-940`, admin `agents.go:580-642`, reconciler, batch).
   * Fails on a duplicate `command_id` (unique) and on an unknown `agent_id` (foreign key to agents).
   */
  insertCommand(row: NewCommand, at: Micros, serverNow: Micros): CommandRow {
    if (this.commandsById.has(row.commandId)) {
      throw new PostgresError('23505', 'duplicate key value violates unique constraint "agent_commands_command_id_key"');
    }
    if (!this.agentsById.has(row.agentId)) {
      throw new PostgresError('23503', 'insert or update on table "agent_commands" violates foreign key constraint "agent_commands_agent_id_fkey"');
    }
    const stored: CommandRow = {
      commandId: row.commandId,
      agentId: row.agentId,
      sessionId: row.sessionId,
      action: row.action,
      // Copied: the simulated network passes objects by reference, the database must not alias them.
      payload: row.payload === null ? null : structuredClone(row.payload),
      seq: this.nextSeq++,
      status: 'pending',
      errorMessage: null,
      createdAt: at,
      sentAt: null,
      acknowledgedAt: null,
      completedAt: null,
      updatedAt: this.hasUpdatedAt ? serverNow : null,
    };
    this.commandsById.set(stored.commandId, stored);
    this.unfinishedRows.splice(this.scanPosition(stored), 0, stored);
    this.mutationCount++;
    return copyRow(stored);
  }

  /**
   * CommandDispatcher.processCommand: `UPDATE agent_commands SET status='sent', sent_at=$1,
   * updated_at=$1 WHERE command_id=$2` (§5.3 step 3, command_dispatcher.go:233-246). Filtered only by
   * command id and blind: it overwrites `ack`, `completed` or `failed` (§5.4). Null: 0 rows.
   */
  markSent(commandId: string, at: Micros, serverNow: Micros, guarded = false): CommandTransition | null {
    return this.updateCommand(commandId, null, serverNow, 'sent', (row) => {
      row.sentAt = at;
    }, guarded ? GUARDED_FROM.sent : null);
  }

  /**
   * CommandDispatcher.failCommand: `UPDATE agent_commands SET status='failed', error_message=$1,
   * updated_at=$2 WHERE command_id=$3` (§5.3, command_dispatcher.go:265-277). Command id only, blind.
   */
  markFailedByDispatcher(commandId: string, error: string, serverNow: Micros, guarded = false): CommandTransition | null {
    return this.updateCommand(commandId, null, serverNow, 'failed', (row) => {
      row.errorMessage = error;
    }, guarded ? GUARDED_FROM.failedByDispatcher : null);
  }

  /**
   * handleAck: `UPDATE agent_commands SET status='ack', acknowledged_at=$1, updated_at=$1 WHERE
   * command_id=$2 AND agent_id=$3` (§3, agent_websocket.go:395-415). The agent id is the
   * connection's; a row of another agent is left alone (0 rows). Blind otherwise (§5.4).
   */
  markAckFromAgent(commandId: string, agentId: string, at: Micros, serverNow: Micros, guarded = false): CommandTransition | null {
    return this.updateCommand(commandId, agentId, serverNow, 'ack', (row) => {
      row.acknowledgedAt = at;
    }, guarded ? GUARDED_FROM.ack : null);
  }

  /**
   * handleComplete: `UPDATE agent_commands SET status='completed', completed_at=$1, updated_at=$1
   * WHERE command_id=$2 AND agent_id=$3` (§3, agent_websocket.go:420-440). The frame's `result` is
   * not stored: the statement does not write it and the table has no column for it (§5.1).
   */
  markCompletedFromAgent(commandId: string, agentId: string, at: Micros, serverNow: Micros, guarded = false): CommandTransition | null {
    return this.updateCommand(commandId, agentId, serverNow, 'completed', (row) => {
      row.completedAt = at;
    }, guarded ? GUARDED_FROM.final : null);
  }

  /**
   * handleFailed: `UPDATE agent_commands SET status='failed', error_message=$1, updated_at=$2 WHERE
   * command_id=$3 AND agent_id=$4` (§3, agent_websocket.go:445-465).
   */
  markFailedFromAgent(commandId: string, agentId: string, error: string, serverNow: Micros, guarded = false): CommandTransition | null {
    return this.updateCommand(commandId, agentId, serverNow, 'failed', (row) => {
      row.errorMessage = error;
    }, guarded ? GUARDED_FROM.final : null);
  }

  /**
   * DispatchPendingCommands: `SELECT ... FROM agent_commands WHERE status='pending' ORDER BY
   * created_at ASC` (§5.3, command_dispatcher.go:315-362); ties in insertion order (see `seq`).
   */
  /**
   * Design fix `redeliver-unfinished` (not in StreamSpace): rows still pending, sent or ack whose
   * last update is older than `olderThan` (database clock), oldest first, for a reconciler.
   */
  listUnfinishedCommands(olderThan: Micros): CommandRow[] {
    const rows: CommandRow[] = [];
    for (const r of this.unfinishedRows) if ((r.updatedAt ?? r.createdAt) < olderThan) rows.push(copyRow(r));
    return rows;
  }

  /**
   * Design fix `redelivery-claims-row` (not in StreamSpace): a redelivery claims its row just before
   * it sends. `UPDATE agent_commands SET status='sent', sent_at=$1, updated_at=$1 WHERE
   * command_id=$2 AND status='pending'` and, when that matched nothing, `SELECT status` of the row.
   * Modelled as one statement (a CTE makes it one in SQL too): as two, only a forward move could
   * come between them, and the status read afterwards reports it the same way. The transition is
   * null when the row was not pending; `status` is the row's status afterwards, null without a row.
   */
  claimForRedelivery(commandId: string, at: Micros, serverNow: Micros): { status: CommandStatus | null; transition: CommandTransition | null } {
    const transition = this.updateCommand(commandId, null, serverNow, 'sent', (row) => {
      row.sentAt = at;
    }, ['pending']);
    return { status: this.commandsById.get(commandId)?.status ?? null, transition };
  }

  listPendingCommands(): CommandRow[] {
    const pending: CommandRow[] = [];
    for (const r of this.unfinishedRows) if (r.status === 'pending') pending.push(copyRow(r));
    return pending;
  }

  /** Not a StreamSpace statement: the row as committed, for checkers and tests. */
  getCommand(commandId: string): CommandRow | undefined {
    const row = this.commandsById.get(commandId);
    return row === undefined ? undefined : copyRow(row);
  }

  /** Not a StreamSpace statement: every row in insertion order, for checkers and tests. */
  allCommands(): CommandRow[] {
    return [...this.commandsById.values()].map(copyRow);
  }

  // ---- agents --------------------------------------------------------------------------------

  /**
   * RegisterAgent (HTTP `POST /api/v1/agents/register`, agents.go:188-216, §7.3): INSERT with
   * status online, or on re-registration UPDATE status online, last_heartbeat, updated_at. The Go
   * code runs a SELECT and then one of the two; the model makes it one atomic upsert (two concurrent
   * first registrations of one id would make the real second INSERT fail on the unique key).
   */
  upsertAgentOnRegister(agentId: string, at: Micros): AgentWrite {
    const row = this.agentsById.get(agentId);
    this.mutationCount++;
    if (row === undefined) {
      this.agentsById.set(agentId, { agentId, status: 'online', lastHeartbeat: at, capacity: null, updatedAt: at });
      return { agentId, from: null, to: 'online' };
    }
    const from = row.status;
    row.status = 'online';
    row.lastHeartbeat = at;
    row.updatedAt = at;
    return { agentId, from, to: 'online' };
  }

  /**
   * AgentHub.handleRegister: `UPDATE agents SET status='online', last_heartbeat=$1, updated_at=$1
   * WHERE agent_id=$2` (§2.2 step 3, agent_hub.go:264-273).
   */
  setAgentOnline(agentId: string, at: Micros): AgentWrite | null {
    return this.updateAgent(agentId, 'online', at, at);
  }

  /**
   * AgentHub.handleUnregister: `UPDATE agents SET status='offline', updated_at=$1 WHERE agent_id=$2`
   * (§2.2 step 3, agent_hub.go:320-329). Leaves last_heartbeat as it was.
   */
  setAgentOffline(agentId: string, at: Micros): AgentWrite | null {
    return this.updateAgent(agentId, 'offline', null, at);
  }

  /**
   * AgentHub.UpdateAgentHeartbeat: the same SQL as handleRegister, from another call site
   * (§2.3, agent_hub.go:631-641).
   */
  updateAgentHeartbeat(agentId: string, at: Micros): AgentWrite | null {
    return this.updateAgent(agentId, 'online', at, at);
  }

  /**
   * handleHeartbeat's second statement when the heartbeat carries a capacity (the k8s-agent always
   * does, §1): `UPDATE agents SET capacity=$1, updated_at=$2 WHERE agent_id=$3`
   * (§3, agent_websocket.go:364-390). False: 0 rows.
   */
  updateAgentCapacity(agentId: string, capacity: number, at: Micros): boolean {
    const row = this.agentsById.get(agentId);
    if (row === undefined) return false;
    row.capacity = capacity;
    row.updatedAt = at;
    this.mutationCount++;
    return true;
  }

  /**
   * HandleAgentConnection's lookup, `SELECT ... FROM agents WHERE agent_id=$1` (§3 step 2,
   * agent_websocket.go:148-176): null means 404 "must register first".
   */
  getAgent(agentId: string): AgentRow | null {
    const row = this.agentsById.get(agentId);
    return row === undefined ? null : { ...row };
  }

  // ---- user_sessions (design fix sessions-in-postgres) -----------------------------------------
  //
  // Not in StreamSpace, whose auth sessions are `session:{jti}` keys in Redis (session_store.go).
  // The fix keeps them as rows: `user_sessions (jti PRIMARY KEY, user_id, expires_at)`, the same
  // 24 h lifetime as the key's TTL, judged by the database's clock as Redis judges a TTL by its own.

  /**
   * CreateSession: `INSERT INTO user_sessions (jti, user_id, expires_at) VALUES ($1, $2, NOW() + ttl)`.
   * A plain INSERT, so a statement retried after it committed (lib/pq's retry after a FIN) fails
   * with the unique violation, as it would in PostgreSQL.
   */
  insertSession(jti: string, user: number, expiresAt: Micros): void {
    if (this.sessionsByJti.has(jti)) throw new PostgresError('23505', 'duplicate key value violates unique constraint "user_sessions_pkey"');
    this.sessionsByJti.set(jti, { user, expiresAt });
    this.mutationCount++;
  }

  /**
   * AuthMiddleware's GetUser with the session check in one query: `SELECT u.* FROM users u JOIN
   * user_sessions s ON s.user_id = u.id WHERE u.id = $1 AND s.jti = $2 AND s.expires_at > NOW()`;
   * whether it returns the row. Every user of the model exists (statements.ts).
   */
  sessionOfUser(jti: string, user: number, serverNow: Micros): boolean {
    const row = this.sessionsByJti.get(jti);
    return row !== undefined && row.user === user && row.expiresAt > serverNow;
  }

  /** InvalidateSession at logout: `DELETE FROM user_sessions WHERE jti = $1`; whether it matched. */
  deleteSession(jti: string): boolean {
    if (!this.sessionsByJti.delete(jti)) return false;
    this.mutationCount++;
    return true;
  }

  /** ClearAllSessions at an API pod's start: `DELETE FROM user_sessions`; the rows it removed. */
  clearSessions(): number {
    const removed = this.sessionsByJti.size;
    if (removed === 0) return 0;
    this.sessionsByJti.clear();
    this.mutationCount++;
    return removed;
  }

  // ---- shared --------------------------------------------------------------------------------

  /** One blind status overwrite (§5.4), optionally also filtered by agent id (§3). */
  private updateCommand(
    commandId: string,
    agentId: string | null,
    serverNow: Micros,
    to: CommandStatus,
    setColumns: (row: CommandRow) => void,
    allowedFrom: readonly CommandStatus[] | null = null,
  ): CommandTransition | null {
    if (!this.hasUpdatedAt) {
      throw new PostgresError('42703', 'column "updated_at" of relation "agent_commands" does not exist');
    }
    const row = this.commandsById.get(commandId);
    if (row === undefined || (agentId !== null && row.agentId !== agentId)) return null;
    if (allowedFrom !== null && !allowedFrom.includes(row.status)) return null;
    const from = row.status;
    row.status = to;
    setColumns(row);
    row.updatedAt = serverNow; // the BEFORE UPDATE trigger's NOW()
    this.mutationCount++;
    // Blind writes can move a row out of a final state as well as into one.
    if (unfinished(from) !== unfinished(to)) {
      const at = this.scanPosition(row);
      if (unfinished(to)) this.unfinishedRows.splice(at, 0, row);
      else this.unfinishedRows.splice(at, 1);
    }
    return { commandId, agentId: row.agentId, from, to };
  }

  /** Where `row` is, or would go, in `unfinishedRows` (binary search; created_at and seq never change). */
  private scanPosition(row: CommandRow): number {
    const rows = this.unfinishedRows;
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (scanBefore(rows[mid]!, row)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private updateAgent(agentId: string, to: AgentStatus, lastHeartbeat: Micros | null, at: Micros): AgentWrite | null {
    const row = this.agentsById.get(agentId);
    if (row === undefined) return null;
    const from = row.status;
    row.status = to;
    if (lastHeartbeat !== null) row.lastHeartbeat = lastHeartbeat;
    row.updatedAt = at;
    this.mutationCount++;
    return { agentId, from, to };
  }
}
