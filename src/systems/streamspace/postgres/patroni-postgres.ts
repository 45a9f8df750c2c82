import { assertTime, MS, SECOND, type ConnectionEnd, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { serviceTimeSampler, type ServiceTimeRange } from '../net/service-time.ts';
import { DEFAULT_SERVICE_TIME_US, executeStatement, type PostgresFaults } from './server.ts';
import type { Statement } from './statements.ts';
import { WalReceiver, WalSenders, type PgData, type ReplicationMessage, type ReplicationTimings } from './replication.ts';

/**
 * The PostgreSQL server inside a Patroni member (Spilo runs Patroni and PostgreSQL in one
 * container, so the model runs both in one process): its life (stopped, starting, running,
 * stopping) and role (primary, or standby in recovery), the statements it serves, its walsenders
 * or walreceiver. Patroni (patroni.ts) drives it as Patroni drives pg_ctl.
 *
 * Statements (statements.ts) are served as the single server serves them (server.ts: one backend
 * per statement, a service time, applied at commit), with:
 * - as primary: a statement that changed a row is appended to the WAL, streamed to the standbys,
 *   and answered once synchronous replication allows (replication.ts `WalSenders`);
 * - as standby: reads from the replayed rows; writes answered with SQLSTATE 25006 ("cannot execute
 *   UPDATE in a read-only transaction"), as PostgreSQL answers any write in recovery;
 * - not running: the statement's connection is closed unanswered. A dial is accepted because the
 *   member's one simulated process also serves Patroni's REST API; PostgreSQL itself would refuse
 *   the dial, or end the startup with FATAL 57P03 ("the database system is starting up"). Either
 *   way the client's connection fails before any answer.
 * Stopping (fast or immediate) terminates every session (FATAL 57P01, "terminating connection due
 * to administrator command"): their connections close, statements in service and commits waiting
 * for the synchronous standby are never answered. A statement waiting for the standby had already
 * committed locally: its outcome is unknown to the client (real-world-semantics §4 fact 4).
 *
 * Simplification: a commit is visible to other sessions from its local commit, while PostgreSQL
 * makes it visible only after the synchronous standby's acknowledgement (the commit's
 * ProcArrayEndTransaction follows SyncRepWaitForLSN). It decides nothing the RPO checkers look at:
 * acknowledgements are released in LSN order, so every record before an acknowledged one was
 * acknowledged too, and a checker judges acknowledged writes.
 */

export type PgState = 'stopped' | 'starting' | 'running' | 'stopping';
export type PgRole = 'primary' | 'standby';

export interface MemberPostgresOptions {
  /** Service time of one statement (server.ts). Default 0.5-2 ms. */
  serviceTimeUs?: ServiceTimeRange;
  /** pg_ctl start until connections are accepted (startup and a short recovery). Default 2 s. */
  startUs?: Micros;
  /** pg_ctl stop -m fast: sessions terminated, shutdown checkpoint. Default 1 s. */
  stopFastUs?: Micros;
  /** pg_ctl stop -m immediate: no checkpoint. Default 100 ms. */
  stopImmediateUs?: Micros;
  /**
   * pg_ctl promote until the server is out of recovery and takes writes (replay of the last
   * records, end-of-recovery record, new timeline). Default 1 s: pigsty's failure model puts lock
   * contest plus promote at 0-2 s (pigsty.io/docs/concept/ha/failure/passive).
   */
  promoteUs?: Micros;
  /** pg_rewind (or a re-initialisation) once the leader's data is at hand. Default 5 s. */
  rewindUs?: Micros;
  /** wal_sender_timeout, wal_receiver_status_interval, wal_retrieve_retry_interval (replication.ts). */
  replication?: ReplicationTimings;
}

export const DEFAULT_MEMBER_POSTGRES = {
  startUs: 2 * SECOND,
  stopFastUs: 1 * SECOND,
  stopImmediateUs: 100 * MS,
  promoteUs: 1 * SECOND,
  rewindUs: 5 * SECOND,
} as const;

/** A standby answers every write with 25006 (server.ts's read-only path). */
const READ_ONLY: PostgresFaults = { writeErrors: true, extraLatencyUs: 0 };

export class MemberPostgres {
  private stateValue: PgState = 'stopped';
  private roleValue: PgRole = 'standby';
  /** Increases at every start: statements in service belong to the run they arrived in. */
  private run = 0;
  private senders: WalSenders | null = null;
  readonly receiver: WalReceiver;
  private readonly sessions = new Set<ConnectionEnd>();
  /** synchronous_standby_names, as Patroni last set it (kept across a promote, as postgresql.conf is). */
  private synchronousStandby: string | null = null;
  private readonly serviceTime: (ctx: ProcessContext) => Micros;
  readonly timings: Required<Omit<MemberPostgresOptions, 'serviceTimeUs' | 'replication'>>;

  constructor(
    private readonly ctx: ProcessContext,
    readonly data: PgData,
    private readonly faults: PostgresFaults,
    private readonly options: MemberPostgresOptions,
    /** The upstream refused to stream: this member's WAL diverged from it. */
    onRefused: (upstream: string) => void,
  ) {
    this.serviceTime = serviceTimeSampler(options.serviceTimeUs ?? DEFAULT_SERVICE_TIME_US);
    this.timings = memberPostgresTimings(options);
    this.receiver = new WalReceiver(ctx, data, onRefused, options.replication);
  }

  get state(): PgState {
    return this.stateValue;
  }

  /** Running and out of recovery: takes writes. */
  get isPrimary(): boolean {
    return this.stateValue === 'running' && this.roleValue === 'primary';
  }

  /** The walsenders of a running primary (pg_stat_replication), else null. */
  get walSenders(): WalSenders | null {
    return this.senders;
  }

  get synchronousStandbyNames(): string | null {
    return this.synchronousStandby;
  }

  /** Sets synchronous_standby_names (a reload); effective at once on a primary. */
  setSynchronousStandbyNames(name: string | null): void {
    this.synchronousStandby = name;
    this.senders?.setSynchronousStandby(name);
  }

  /** pg_ctl start: in recovery following `upstream` (null: none), or (`primary`) as a primary (bootstrap). */
  start(role: PgRole, upstream: string | null, done: () => void): void {
    if (this.stateValue !== 'stopped') throw new Error(`postgres start while ${this.stateValue}`);
    this.stateValue = 'starting';
    this.roleValue = role;
    const run = ++this.run;
    this.ctx.setTimer(this.timings.startUs, () => {
      if (this.run !== run) return;
      this.stateValue = 'running';
      if (role === 'primary') this.becomePrimary();
      else this.receiver.follow(upstream);
      done();
    }, 'pg.start');
  }

  /** pg_ctl stop: sessions and replication end at once; `done` once the server is down. */
  stop(mode: 'fast' | 'immediate', done: () => void): void {
    if (this.stateValue === 'stopped') {
      done();
      return;
    }
    this.stateValue = 'stopping';
    const run = ++this.run;
    for (const conn of [...this.sessions]) conn.close();
    this.sessions.clear();
    this.senders?.closeAll();
    this.senders = null;
    this.receiver.stop();
    this.ctx.setTimer(mode === 'fast' ? this.timings.stopFastUs : this.timings.stopImmediateUs, () => {
      if (this.run !== run) return;
      this.stateValue = 'stopped';
      this.roleValue = 'standby';
      done();
    }, 'pg.stop');
  }

  /** pg_ctl promote: out of recovery after `promoteUs`, on a new timeline. Sessions stay. */
  promote(done: (ok: boolean) => void): void {
    const run = this.run;
    this.ctx.setTimer(this.timings.promoteUs, () => {
      if (this.run !== run || this.stateValue !== 'running' || this.roleValue !== 'standby') {
        done(false);
        return;
      }
      this.receiver.stop();
      this.data.promote();
      this.roleValue = 'primary';
      this.becomePrimary();
      done(true);
    }, 'pg.promote');
  }

  /** Points a standby's walreceiver at `upstream` (primary_conninfo changed and reloaded). */
  follow(upstream: string | null): void {
    if (this.stateValue === 'running' && this.roleValue === 'standby') this.receiver.follow(upstream);
  }

  /** A statement arrived on `conn` (an SQL session). */
  serveStatement(conn: ConnectionEnd, s: Statement, reply: (r: RpcResult<unknown>) => void): void {
    if (this.stateValue !== 'running') {
      conn.close();
      return;
    }
    if (!this.sessions.has(conn)) {
      this.sessions.add(conn);
      // The REST/SQL server's handling of the end (closing at the client's FIN, `serveRpc`) goes on.
      const served = conn.onClose;
      conn.onClose = (reason) => {
        this.sessions.delete(conn);
        served?.(reason);
      };
    }
    const run = this.run;
    this.ctx.setTimer(this.serviceTime(this.ctx) + this.faults.extraLatencyUs, () => {
      // A stop ended the session: the statement was rolled back, nothing answers.
      if (this.run !== run || this.stateValue !== 'running') return;
      if (this.roleValue === 'standby') {
        reply(executeStatement(this.ctx, this.data.storage, READ_ONLY, s, conn.remote));
        return;
      }
      const before = this.data.storage.mutations;
      const result = executeStatement(this.ctx, this.data.storage, this.faults, s, conn.remote);
      if (this.data.storage.mutations === before) {
        reply(result);
        return;
      }
      const record = this.data.append(s, this.ctx.now(), conn.remote, this.ctx.name);
      const senders = this.senders!;
      senders.broadcast(record);
      senders.waitForSync(record.lsn, () => {
        record.acked = conn.isOpen; // the answer leaves only on a session still open
        reply(result);
      });
    }, 'pg-statement');
  }

  /** A standby asked to stream from this server. */
  acceptReplication(conn: ConnectionEnd, start: Extract<ReplicationMessage, { kind: 'repl.start' }>): void {
    if (this.senders === null) {
      // Only a running primary streams here (cascading replication from a standby is not modelled:
      // Patroni points every standby at the leader).
      conn.send({ kind: 'repl.refused', reason: 'not-primary' } satisfies ReplicationMessage);
      conn.close();
      return;
    }
    this.senders.accept(conn, start);
  }

  private becomePrimary(): void {
    this.senders = new WalSenders(this.ctx, this.data, this.options.replication);
    this.senders.setSynchronousStandby(this.synchronousStandby);
  }
}

/** The timings with their defaults; every option is checked (RangeError: not a non-negative integer of µs). */
export function memberPostgresTimings(o: MemberPostgresOptions): MemberPostgres['timings'] {
  if (o.serviceTimeUs !== undefined) serviceTimeSampler(o.serviceTimeUs);
  const out = { ...DEFAULT_MEMBER_POSTGRES } as Record<keyof MemberPostgres['timings'], Micros>;
  for (const k of Object.keys(DEFAULT_MEMBER_POSTGRES) as Array<keyof MemberPostgres['timings']>) {
    const v = o[k];
    if (v !== undefined) {
      assertTime(v, `postgres.${k}`);
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(o.replication ?? {})) if (v !== undefined) assertTime(v, `postgres.replication.${k}`);
  return out;
}
