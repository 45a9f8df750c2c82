import { assertTime, MINUTE, SECOND, type KeepAliveOptions, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import type { DialTarget, RpcResult } from '../net/rpc.ts';
import { dialPq, type PqConn, type PqDialOptions } from './pool-conn.ts';

/**
 * database/sql's connection pool (`*sql.DB`, Go's src/database/sql/sql.go) over lib/pq connections
 * (pool-conn.ts), as StreamSpace's API pods reach PostgreSQL: `sql.Open("postgres", ...)` with one
 * host and no `connect_timeout`, then SetMaxOpenConns(25), SetMaxIdleConns(5),
 * SetConnMaxLifetime(5 min), SetConnMaxIdleTime(1 min) (api/internal/db/database.go:177-190 at
 * 15f3690). Every statement is `DB().Exec`/`Query`/`QueryRow` with context.Background(): no
 * deadline anywhere. StreamSpace builds with Go 1.25 (api/Dockerfile); the functions named below
 * are those of sql.go in current Go.
 *
 * - A statement asks `conn()`: the most recently returned idle connection (`freeConn[last]`:
 *   "reuse the lowest idle time connection"), closed instead if its lifetime has passed (then
 *   ErrBadConn); else a new connection if fewer than MaxOpen are open (counting dials in progress,
 *   `numOpen++ // optimistically`); else it waits in `connRequests` with no timeout.
 * - Waiters are served in random order, not FIFO: `putConnDBLocked` hands a released or newly
 *   opened connection to `connRequests.TakeRandom()` (`rand.IntN`), as golang/go#31708 ("was FIFO,
 *   is now random") reports. A waiter that gets an expired connection closes it (ErrBadConn).
 * - `retry`: a statement that meets `driver.ErrBadConn` runs again, twice on `cachedOrNewConn`,
 *   then once on `alwaysNewConn` (`maxBadConnRetries = 2`); any other error is returned.
 * - A dial error goes back to the statement that dialled, not retried (lib/pq never reports it as
 *   ErrBadConn: pool-conn.ts). When the connection opener dials for waiters
 *   (`maybeOpenNewConnections`, `openNewConnection`) its error goes to a random waiter.
 * - `putConn` on release: a connection lib/pq marked bad (`validateConnection`/`IsValid`) is closed;
 *   one past its lifetime is closed; otherwise it goes to a waiter, else to the idle list if fewer
 *   than MaxIdle are idle, else it is closed (`maxIdleClosed`). A server error (SQLSTATE 25006 from a
 *   demoted primary) leaves it good: it is reused and keeps failing until its lifetime ends
 *   (gpustack/gpustack#6105: writes refused for days through connections pinned to the demoted
 *   primary; lib/pq#1026).
 * - `connectionCleaner` (started by `startCleanerLocked` when a connection becomes idle, stopped
 *   when a run finds none open) looks at idle connections only, so a statement is never cut short:
 *   it closes those idle for MaxIdleTime or older than MaxLifetime and sleeps until the next one is
 *   due, at least 1 s (`minInterval`), at most min(MaxIdleTime, MaxLifetime).
 * - Connection liveness comes from TCP only: a silent peer fails the connection through Go's
 *   default keepalive (15 s + 9 × 15 s), a dead process through its RST. (The network model probes
 *   even while a request is unacknowledged, where Linux would retransmit for ~924.6 s instead:
 *   real-world-semantics §6 facts 4-5. `PostgresClient`'s single connection makes the same 150 s
 *   choice.)
 *
 * Not modelled, deciding nothing here: `SessionResetter` (lib/pq's `ResetSession` fails only on a
 * connection it marked bad, conn.go:2103-2108, and such a connection never reaches the idle list),
 * context cancellation (StreamSpace passes none), changing the settings after start, and `DB.Close`.
 *
 * Trace events (`conn` is the network connection's id, as in the kernel's `conn.*` events):
 * - `sql.conn-open` {conn, to}: a connection was established to process `to`;
 * - `sql.conn-close` {conn, why}: the pool closed it: `lifetime` (MaxLifetime passed), `idle`
 *   (MaxIdleTime passed), `max-idle` (released with MaxIdle already idle), `bad` (lib/pq marked it
 *   bad: its socket failed).
 */

export interface SqlPoolOptions {
  /** SetMaxOpenConns: connections open or being dialled at most. Default 25 (database.go:187). */
  maxOpenConns?: number;
  /** SetMaxIdleConns, capped at `maxOpenConns` as SetMaxIdleConns does; 0: none kept. Default 5 (database.go:188). */
  maxIdleConns?: number;
  /** SetConnMaxLifetime; 0: no limit. Default 5 min (database.go:189). */
  connMaxLifetimeUs?: Micros;
  /** SetConnMaxIdleTime; 0: no limit. Default 1 min (database.go:190). */
  connMaxIdleTimeUs?: Micros;
  /**
   * Dial timeout. Default 127 s: the DSN has no `connect_timeout` (database.go:177-178), so lib/pq
   * dials without a deadline (conn.go:400-431) and the kernel's SYN retries decide
   * (tcp_syn_retries 6: 1 + 2 + … + 64 s).
   */
  connectTimeoutUs?: Micros;
  /** TCP keepalive of every connection. Default Go's net.Dialer: 15 s idle, 15 s interval, 9 probes. */
  keepAlive?: KeepAliveOptions;
  /**
   * Design fix `readonly-conn-is-bad`: a driver wrapper turns SQLSTATE 25006 (a read-only
   * transaction: the connection reached a demoted primary or a standby) into `driver.ErrBadConn`,
   * so database/sql closes that connection and retries the statement on another (`retry`), which a
   * new dial sends through the master Service. Safe to retry: the server refused the statement and
   * changed nothing. Default false: as built, the error is returned and the connection kept
   * (lib/pq#1026, gpustack#6105).
   */
  readOnlyIsBadConn?: boolean;
}

export const DEFAULT_SQL_POOL_OPTIONS: Readonly<Required<SqlPoolOptions>> = {
  maxOpenConns: 25,
  maxIdleConns: 5,
  connMaxLifetimeUs: 5 * MINUTE,
  connMaxIdleTimeUs: 1 * MINUTE,
  connectTimeoutUs: 127 * SECOND,
  keepAlive: { idleUs: 15 * SECOND, intervalUs: 15 * SECOND, probes: 9 },
  readOnlyIsBadConn: false,
};

/** `DB.Stats()` (sql.go `DBStats`), plus `waiting`. */
export interface SqlPoolStats {
  maxOpen: number;
  /** Connections established or being dialled (`OpenConnections`). */
  open: number;
  /** `open - idle` (`InUse`). */
  inUse: number;
  idle: number;
  /** Statements that had to wait for a connection, ever (`WaitCount`). */
  waitCount: number;
  /** Statements waiting now (`connRequests.Len()`; not in DBStats). */
  waiting: number;
  maxIdleClosed: number;
  maxIdleTimeClosed: number;
  maxLifetimeClosed: number;
}

/** Why the pool closed a connection (`sql.conn-close`). */
export type SqlConnCloseWhy = 'lifetime' | 'idle' | 'max-idle' | 'bad';

/** database/sql's `driverConn`: a lib/pq connection and the pool's bookkeeping of it. */
interface DriverConn {
  readonly pq: PqConn;
  /** Local monotonic µs (Go's time.Now readings compare by their monotonic part). */
  readonly createdAt: Micros;
  returnedAt: Micros;
}

/** `connReuseStrategy`. */
type Strategy = 'cached-or-new' | 'always-new';

type Got = { kind: 'conn'; conn: DriverConn } | { kind: 'bad-conn' } | { kind: 'error'; message: string };

/** A waiter in `connRequests`: gets a connection, or a dial error. */
type ConnRequest = (conn: DriverConn | null, error: string) => void;

const MAX_BAD_CONN_RETRIES = 2;
const CLEANER_MIN_INTERVAL_US = 1 * SECOND;
const BAD_CONN: Got = { kind: 'bad-conn' };
/** `driver.ErrBadConn`'s text, what a statement gets when its last attempt met a bad connection too. */
const ERR_BAD_CONN = 'driver: bad connection';
/** The text of SQLSTATE 25006 as lib/pq returns it (`pq: cannot execute UPDATE in a read-only transaction`; server.ts). */
const READ_ONLY_TRANSACTION = 'in a read-only transaction';

export class SqlPool {
  private readonly maxOpen: number;
  private readonly maxIdle: number;
  private readonly maxLifetime: Micros;
  private readonly maxIdleTime: Micros;
  private readonly dialOptions: PqDialOptions;
  private readonly readOnlyIsBadConn: boolean;
  private numOpen = 0;
  /** `freeConn`: idle connections, oldest returned first. */
  private free: DriverConn[] = [];
  /** `connRequests`: waiting statements, an unordered set taken from at random. */
  private readonly requests: ConnRequest[] = [];
  /** `cleanerCh != nil`: the connection cleaner's timer is armed. */
  private cleaning = false;
  private waitCount = 0;
  private maxIdleClosed = 0;
  private maxIdleTimeClosed = 0;
  private maxLifetimeClosed = 0;

  constructor(
    private readonly ctx: ProcessContext,
    /** Where connections go, asked at each dial (one host: no fallback list). */
    private readonly target: DialTarget,
    options: SqlPoolOptions = {},
  ) {
    const o = { ...DEFAULT_SQL_POOL_OPTIONS, ...options };
    if (!Number.isSafeInteger(o.maxOpenConns) || o.maxOpenConns < 1) throw new RangeError(`maxOpenConns must be a positive integer, got ${o.maxOpenConns}`);
    if (!Number.isSafeInteger(o.maxIdleConns) || o.maxIdleConns < 0) throw new RangeError(`maxIdleConns must be a non-negative integer, got ${o.maxIdleConns}`);
    assertTime(o.connMaxLifetimeUs, 'connMaxLifetimeUs');
    assertTime(o.connMaxIdleTimeUs, 'connMaxIdleTimeUs');
    assertTime(o.connectTimeoutUs, 'connectTimeoutUs');
    this.maxOpen = o.maxOpenConns;
    this.maxIdle = Math.min(o.maxIdleConns, o.maxOpenConns);
    this.maxLifetime = o.connMaxLifetimeUs;
    this.maxIdleTime = o.connMaxIdleTimeUs;
    this.dialOptions = { connectTimeoutUs: o.connectTimeoutUs, keepAlive: o.keepAlive };
    this.readOnlyIsBadConn = o.readOnlyIsBadConn;
  }

  /**
   * Runs one statement (`DB.ExecContext`/`QueryContext`). Errors: `server` is the server's answer
   * (nothing changed); `connection` is a dial error or a final ErrBadConn (nothing ran), or a
   * connection that broke under the statement (outcome unknown). `server` is the process whose
   * connection gave the outcome (null when none was reached): after a retry, not the first one
   * tried, so an acknowledgement names the server that committed what it acknowledges.
   */
  exec<T>(body: unknown, onResult: (r: RpcResult<T>, server: string | null) => void): void {
    this.attempt(body, onResult as (r: RpcResult<unknown>, server: string | null) => void, 0);
  }

  stats(): SqlPoolStats {
    return {
      maxOpen: this.maxOpen,
      open: this.numOpen,
      inUse: this.numOpen - this.free.length,
      idle: this.free.length,
      waitCount: this.waitCount,
      waiting: this.requests.length,
      maxIdleClosed: this.maxIdleClosed,
      maxIdleTimeClosed: this.maxIdleTimeClosed,
      maxLifetimeClosed: this.maxLifetimeClosed,
    };
  }

  /** One try of `retry`: `tries` ErrBadConns so far. */
  private attempt(body: unknown, onResult: (r: RpcResult<unknown>, server: string | null) => void, tries: number): void {
    const badConn = (): void => {
      if (tries < MAX_BAD_CONN_RETRIES) this.attempt(body, onResult, tries + 1);
      else onResult({ ok: false, error: 'connection', message: ERR_BAD_CONN }, null);
    };
    this.conn(tries < MAX_BAD_CONN_RETRIES ? 'cached-or-new' : 'always-new', (got) => {
      if (got.kind === 'bad-conn') return badConn();
      if (got.kind === 'error') return onResult({ ok: false, error: 'connection', message: got.message }, null);
      const dc = got.conn;
      dc.pq.exec(body, (outcome) => {
        const readOnly = this.readOnlyIsBadConn && outcome.kind === 'answer' && !outcome.result.ok && outcome.result.message.includes(READ_ONLY_TRANSACTION);
        if (readOnly) dc.pq.bad = true;
        this.putConn(dc); // execDC's deferred release, before the statement returns
        if (readOnly) badConn();
        else if (outcome.kind === 'answer') onResult(outcome.result, dc.pq.to);
        else if (outcome.kind === 'bad-conn') badConn();
        else onResult({ ok: false, error: 'connection', message: outcome.message }, dc.pq.to);
      });
    });
  }

  /** `conn()`. */
  private conn(strategy: Strategy, cb: (got: Got) => void): void {
    if (strategy === 'cached-or-new' && this.free.length > 0) {
      const dc = this.free.pop()!;
      if (this.expired(dc)) {
        this.maxLifetimeClosed++;
        this.close(dc, 'lifetime');
        return cb(BAD_CONN);
      }
      return cb({ kind: 'conn', conn: dc });
    }
    if (this.numOpen >= this.maxOpen) {
      this.waitCount++;
      this.requests.push((dc, error) => {
        if (dc === null) return cb({ kind: 'error', message: error });
        // Only `cachedOrNewConn` checks the handed connection's age.
        if (strategy === 'cached-or-new' && this.expired(dc)) {
          this.maxLifetimeClosed++;
          this.close(dc, 'lifetime');
          return cb(BAD_CONN);
        }
        cb({ kind: 'conn', conn: dc });
      });
      return;
    }
    this.numOpen++;
    this.dial(
      (pq) => cb({ kind: 'conn', conn: this.opened(pq) }),
      (message) => {
        this.numOpen--;
        this.maybeOpenNewConnections();
        cb({ kind: 'error', message });
      },
    );
  }

  /** `putConn`: the statement is done with `dc`. */
  private putConn(dc: DriverConn): void {
    if (dc.pq.bad) return this.close(dc, 'bad');
    if (this.expired(dc)) {
      this.maxLifetimeClosed++;
      return this.close(dc, 'lifetime');
    }
    dc.returnedAt = this.ctx.monotonic();
    if (!this.putConnDBLocked(dc)) this.close(dc, 'max-idle');
  }

  /** `putConnDBLocked` with a connection: to a random waiter, else idle if there is room; false if neither. */
  private putConnDBLocked(dc: DriverConn): boolean {
    if (this.requests.length > 0) {
      this.takeRandomRequest()(dc, '');
      return true;
    }
    if (this.free.length < this.maxIdle) {
      this.free.push(dc);
      this.startCleaner();
      return true;
    }
    this.maxIdleClosed++;
    return false;
  }

  /** `maybeOpenNewConnections`: the connection opener dials for waiters while there is room. */
  private maybeOpenNewConnections(): void {
    for (let n = Math.min(this.requests.length, this.maxOpen - this.numOpen); n > 0; n--) {
      this.numOpen++;
      // `openNewConnection`.
      this.dial(
        (pq) => {
          const dc = this.opened(pq);
          if (!this.putConnDBLocked(dc)) this.close(dc, 'max-idle');
        },
        (message) => {
          this.numOpen--;
          if (this.requests.length > 0) this.takeRandomRequest()(null, message);
          this.maybeOpenNewConnections();
        },
      );
    }
  }

  /** `connRequestSet.TakeRandom`: removes a uniformly chosen waiter, the last one moving into its place. */
  private takeRandomRequest(): ConnRequest {
    const last = this.requests.length - 1;
    const pick = this.ctx.random('sql-pool').int(0, last);
    const req = this.requests[pick]!;
    this.requests[pick] = this.requests[last]!;
    this.requests.pop();
    return req;
  }

  private dial(onOpen: (pq: PqConn) => void, onFail: (message: string) => void): void {
    const to = typeof this.target === 'string' ? this.target : this.target();
    dialPq(this.ctx, to, this.dialOptions, onOpen, onFail);
  }

  private opened(pq: PqConn): DriverConn {
    const now = this.ctx.monotonic();
    this.ctx.record('sql.conn-open', { conn: pq.id, to: pq.to });
    return { pq, createdAt: now, returnedAt: now };
  }

  /** `driverConn.Close` and `finalClose`: the slot is free again, and the opener may use it for waiters. */
  private close(dc: DriverConn, why: SqlConnCloseWhy): void {
    dc.pq.close();
    this.numOpen--;
    this.ctx.record('sql.conn-close', { conn: dc.pq.id, why });
    this.maybeOpenNewConnections();
  }

  /**
   * `driverConn.expired`: createdAt + MaxLifetime is past. At the model's µs resolution a deadline
   * reached counts as passed, here and in the cleaner: Go compares nanosecond readings taken when a
   * timer has already fired late, never equal in practice, while a simulated timer fires exactly on
   * its deadline and would otherwise leave the connection for one more cleaner interval.
   */
  private expired(dc: DriverConn): boolean {
    return this.maxLifetime > 0 && dc.createdAt + this.maxLifetime <= this.ctx.monotonic();
  }

  /** Shortest of MaxIdleTime and MaxLifetime that is set (`shortestIdleTimeLocked`); 0: neither. */
  private shortestIdleTime(): Micros {
    if (this.maxIdleTime <= 0) return this.maxLifetime;
    if (this.maxLifetime <= 0) return this.maxIdleTime;
    return Math.min(this.maxIdleTime, this.maxLifetime);
  }

  /** `startCleanerLocked`. */
  private startCleaner(): void {
    const d = this.shortestIdleTime();
    if (this.cleaning || d <= 0 || this.numOpen === 0) return;
    this.cleaning = true;
    this.armCleaner(d);
  }

  private armCleaner(d: Micros): void {
    this.ctx.setTimer(Math.max(d, CLEANER_MIN_INTERVAL_US), () => this.runCleaner(), 'sql-cleaner');
  }

  /** One round of `connectionCleaner` (`connectionCleanerRunLocked`). */
  private runCleaner(): void {
    let d = this.shortestIdleTime();
    if (this.numOpen === 0 || d <= 0) {
      this.cleaning = false;
      return;
    }
    const now = this.ctx.monotonic();
    const closing: Array<{ dc: DriverConn; why: SqlConnCloseWhy }> = [];
    if (this.maxIdleTime > 0) {
      // `free` is ordered by returnedAt: everything up to the newest one idle too long goes.
      const idleSince = now - this.maxIdleTime;
      let i = this.free.length - 1;
      while (i >= 0 && this.free[i]!.returnedAt > idleSince) i--;
      for (const dc of this.free.splice(0, i + 1)) closing.push({ dc, why: 'idle' });
      this.maxIdleTimeClosed += i + 1;
      if (this.free.length > 0) d = Math.min(d, this.free[0]!.returnedAt - idleSince);
    }
    if (this.maxLifetime > 0) {
      const expiredSince = now - this.maxLifetime;
      this.free = this.free.filter((dc) => {
        if (dc.createdAt > expiredSince) {
          d = Math.min(d, dc.createdAt - expiredSince);
          return true;
        }
        closing.push({ dc, why: 'lifetime' });
        this.maxLifetimeClosed++;
        return false;
      });
    }
    for (const { dc, why } of closing) this.close(dc, why);
    this.armCleaner(d);
  }
}
