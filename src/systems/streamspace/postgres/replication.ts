import { SECOND, type ConnectionEnd, type Micros, type ProcessContext, type TimerHandle } from '../../../sim-cluster/index.ts';
import { replayStatement } from './server.ts';
import type { Statement } from './statements.ts';
import { PostgresStorage } from './tables.ts';

/**
 * PostgreSQL streaming replication between Patroni members (seeds-001-004 §2 "PostgreSQL
 * failover"; real-world-semantics §4): each member's durable data (`PgData`: its tables, its WAL
 * and its timeline), the primary's WAL senders with synchronous-commit waits (`WalSenders`), and
 * a standby's WAL receiver (`WalReceiver`).
 *
 * The WAL. The primary applies a statement at commit (postgres/server.ts) and, when it changed a
 * row, appends one `WalRecord` holding the statement, the primary's commit time (the `NOW()` a
 * replay uses) and the client. Every record is `recordBytes` long (default 256 B: a heap UPDATE
 * or INSERT record of one narrow row with its index entries and commit record is 150-400 bytes;
 * the model's writes are all single-row), so LSNs are byte positions and lags compare with
 * `maximum_lag_on_failover` in bytes, as Patroni does (ha.py `is_lagging`). A statement that
 * matched nothing or failed writes no record: it has no commit record (xact.c
 * RecordTransactionCommit: no transaction id, nothing to flush; a failed one aborts), so nothing to
 * replicate or wait for.
 *
 * Standbys replay records in LSN order through the same storage methods (server.ts
 * `replayStatement`), so a standby holds the rows of the primary's WAL up to its position; a
 * standby flushes and replays a record when it arrives (PostgreSQL's replay lag behind the flush
 * is normally well under a millisecond, and no checker reads it). Bandwidth is not modelled: a
 * standby catching up gets its whole backlog in one message, so a standby lags only while it is cut
 * off (or by the network's latency). The WAL is kept whole (no segment recycling; Patroni keeps a
 * replication slot per member anyway), so any member's history stays readable by the checkers.
 *
 * Divergence. Records are shared objects (the simulated network passes them by reference), so a
 * member's WAL is a prefix of another's exactly when its last record sits at the same position in
 * the other's WAL. That is what pg_rewind establishes from the timeline history files (the fork
 * point, src/bin/pg_rewind/pg_rewind.c findCommonAncestorTimeline) and what the walsender checks
 * when a standby asks to start (walsender.c StartReplication); the model decides it exactly, which
 * also covers two members that promoted to the same timeline id (possible without a WAL archive).
 * A member whose WAL diverged is rewound (`rewindTo`): its storage becomes a copy of the leader's and
 * its records past the fork point are discarded, kept in `discarded` for the RPO checkers: the
 * commits an old primary acknowledged that its successor never had.
 */

/** A WAL position: bytes since the cluster was initialised (PostgreSQL's LSN). */
export type Lsn = number;

/** Bytes of one WAL record (see above). */
export const DEFAULT_WAL_RECORD_BYTES = 256;

export interface WalRecord {
  /** Where the record ends: pg_current_wal_lsn() on the primary right after its commit. */
  readonly lsn: Lsn;
  /** The primary's timeline when it wrote the record. */
  readonly timeline: number;
  readonly statement: Statement;
  /** The primary's wall clock at commit: every replay uses it as `NOW()`. */
  readonly serverNow: Micros;
  /** The process whose statement it was. */
  readonly client: string;
  /** The member that committed it as primary. */
  readonly primary: string;
  /**
   * Whether that primary sent the client its answer: at once (async, or no synchronous standby
   * named), or once the synchronous standby confirmed the flush; false while waiting, and for good if
   * the session ended first (the client's outcome is then unknown). Set by the primary only.
   */
  acked: boolean;
}

/** Records a rewind threw away: committed on this member (or received), never on the leader it rewound from. */
export interface DiscardedWal {
  /** The leader whose copy replaced this member's data. */
  readonly rewoundFrom: string;
  /** The last position both WALs shared. */
  readonly forkLsn: Lsn;
  readonly records: readonly WalRecord[];
}

/** What a rewind copies from its source (pg_rewind, or a re-initialisation by base backup). */
export interface PgSnapshot {
  readonly storage: PostgresStorage;
  readonly records: readonly WalRecord[];
  readonly timeline: number;
}

/**
 * A member's data directory: tables, WAL and timeline. It outlives the member's process (the
 * StatefulSet pod's PersistentVolumeClaim), so it is built by whoever builds the topology and
 * handed to every incarnation of the member.
 */
export class PgData {
  private readonly records: WalRecord[] = [];
  private end: Lsn = 0;
  private currentTimeline = 1;
  /** Every rewind that discarded records, in order. */
  readonly discarded: DiscardedWal[] = [];

  constructor(
    /** The member's tables; replaced in place by a rewind, so references to it stay valid. */
    readonly storage: PostgresStorage = new PostgresStorage(),
    readonly recordBytes: number = DEFAULT_WAL_RECORD_BYTES,
  ) {
    if (!Number.isSafeInteger(recordBytes) || recordBytes <= 0) throw new RangeError(`recordBytes must be a positive integer, got ${recordBytes}`);
  }

  /** The end of the WAL (the flush position: on a standby, received, flushed and replayed). */
  get lsn(): Lsn {
    return this.end;
  }

  get timeline(): number {
    return this.currentTimeline;
  }

  /** The WAL in LSN order. */
  get wal(): readonly WalRecord[] {
    return this.records;
  }

  get lastRecord(): WalRecord | null {
    return this.records.at(-1) ?? null;
  }

  /** The primary's commit of a statement that changed rows (already applied to `storage`). */
  append(statement: Statement, serverNow: Micros, client: string, primary: string): WalRecord {
    const record: WalRecord = { lsn: this.end + this.recordBytes, timeline: this.currentTimeline, statement, serverNow, client, primary, acked: false };
    this.records.push(record);
    this.end = record.lsn;
    return record;
  }

  /** A standby's replay of the primary's record (the next one: the stream is in order and gapless). */
  replay(record: WalRecord): void {
    if (record.lsn !== this.end + this.recordBytes) throw new Error(`WAL gap: at ${this.end}, got a record ending at ${record.lsn}`);
    replayStatement(this.storage, record.statement, record.serverNow);
    this.records.push(record);
    this.end = record.lsn;
  }

  /** The records after `lsn`, in order: what a walsender sends a standby that is at `lsn`. */
  recordsAfter(lsn: Lsn): WalRecord[] {
    return this.records.slice(this.indexAfter(lsn));
  }

  /**
   * A standby learns its upstream's timeline (the walsender sends the timeline history when the
   * standby follows a timeline switch; recovery_target_timeline 'latest').
   */
  followTimeline(timeline: number): void {
    if (timeline > this.currentTimeline) this.currentTimeline = timeline;
  }

  /** pg_ctl promote: the standby ends recovery and starts a new timeline at its current position. */
  promote(): void {
    this.currentTimeline++;
  }

  /**
   * Whether a member whose last record is `last` has WAL this member lacks (see the divergence note):
   * true unless `last` is null or sits at its position in this WAL.
   */
  lacks(last: WalRecord | null): boolean {
    if (last === null) return false;
    const i = this.indexAfter(last.lsn) - 1;
    return i < 0 || this.records[i] !== last;
  }

  /** A copy of this data for a rewinding member (the source side of pg_rewind). */
  snapshot(): PgSnapshot {
    const storage = new PostgresStorage();
    storage.copyFrom(this.storage);
    return { storage, records: this.records.slice(), timeline: this.currentTimeline };
  }

  /**
   * pg_rewind from `source` (of member `from`): this data becomes a copy of the source's, and the
   * records past the last one both share are discarded (kept in `discarded`, returned; null if none).
   */
  rewindTo(source: PgSnapshot, from: string): DiscardedWal | null {
    let shared = 0;
    while (shared < this.records.length && shared < source.records.length && this.records[shared] === source.records[shared]) shared++;
    const lost = this.records.slice(shared);
    this.storage.copyFrom(source.storage);
    this.records.length = 0;
    this.records.push(...source.records);
    this.end = this.records.at(-1)?.lsn ?? 0;
    this.currentTimeline = source.timeline;
    if (lost.length === 0) return null;
    const discarded: DiscardedWal = { rewoundFrom: from, forkLsn: shared === 0 ? 0 : this.records[shared - 1]!.lsn, records: lost };
    this.discarded.push(discarded);
    return discarded;
  }

  /** Index of the first record ending after `lsn` (binary search: LSNs increase). */
  private indexAfter(lsn: Lsn): number {
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid]!.lsn <= lsn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The records an old primary committed past the position its successor was promoted at: the
 * acknowledged-but-unreplicated commits a failover loses (RPO), before any rewind discards them.
 * `data` is the old primary's, `promotedLsn` the `lsn` of the successor's `patroni.promote` event.
 */
export function walBeyond(data: PgData, promotedLsn: Lsn): WalRecord[] {
  return data.recordsAfter(promotedLsn);
}

// ---- the replication protocol -------------------------------------------------------------------

/**
 * Messages on a replication connection (the walreceiver dials the primary's member process).
 * `repl.start` stands for IDENTIFY_SYSTEM + START_REPLICATION at the standby's position; it names
 * the standby (its `application_name`, which `synchronous_standby_names` matches) and carries its
 * last record for the divergence check.
 */
export type ReplicationMessage =
  | { kind: 'repl.start'; standby: string; lsn: Lsn; last: WalRecord | null }
  /** walsender.c: a start position not in this server's history, or a server not in production. */
  | { kind: 'repl.refused'; reason: 'diverged' | 'not-primary' }
  /** WAL from the primary, with its current timeline. */
  | { kind: 'repl.wal'; records: readonly WalRecord[]; timeline: number }
  /** The standby's status update (flush position): after each batch, and every status interval. */
  | { kind: 'repl.reply'; flush: Lsn };

export function isReplicationStart(message: unknown): message is Extract<ReplicationMessage, { kind: 'repl.start' }> {
  return typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === 'repl.start';
}

export interface ReplicationTimings {
  /**
   * wal_sender_timeout (PostgreSQL default 60 s): a walsender that hears nothing from its standby
   * for this long terminates, and the standby leaves pg_stat_replication. Until then a standby on a
   * dead node still counts as streaming (and as the synchronous one).
   */
  senderTimeoutUs?: Micros;
  /** wal_receiver_status_interval (default 10 s): a standby's status update when nothing else is sent. */
  statusIntervalUs?: Micros;
  /** wal_retrieve_retry_interval (default 5 s): how long a walreceiver waits before reconnecting. */
  retryIntervalUs?: Micros;
}

export const DEFAULT_REPLICATION_TIMINGS: Required<ReplicationTimings> = {
  senderTimeoutUs: 60 * SECOND,
  statusIntervalUs: 10 * SECOND,
  retryIntervalUs: 5 * SECOND,
};

/**
 * The value Patroni puts in synchronous_standby_names in strict mode when no standby streams
 * (patroni/postgresql/sync.py SYNC_STRICT_PLACEHOLDER): it names no standby, so commits wait.
 */
export const SYNC_STRICT_PLACEHOLDER = '__patroni_strict_sync_replica_placeholder__';

interface Sender {
  readonly conn: ConnectionEnd;
  readonly standby: string;
  /** The standby's reported flush position. */
  flush: Lsn;
  /** Local monotonic time of its last message, for wal_sender_timeout. */
  heardAt: Micros;
  timer: TimerHandle | undefined;
}

interface Waiter {
  readonly lsn: Lsn;
  readonly release: () => void;
}

/**
 * A primary's walsenders and its synchronous-commit queue (syncrep.c). `synchronousStandby` is
 * synchronous_standby_names with one name (Patroni's `synchronous_node_count` 1): when it is set, a
 * commit is answered only once that standby's walsender reports a flush at or past the commit
 * (SyncRepWaitForLSN / SyncRepReleaseWaiters); waiters are released on that standby's replies,
 * and all at once when the setting is cleared (SyncRepUpdateSyncStandbysDefined). A standby that
 * is not connected releases nobody, so commits wait while it is away.
 */
export class WalSenders {
  private readonly senders: Sender[] = [];
  private readonly waiters: Waiter[] = [];
  private synchronous: string | null = null;
  private readonly timeoutUs: Micros;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly data: PgData,
    timings: ReplicationTimings = {},
  ) {
    this.timeoutUs = timings.senderTimeoutUs ?? DEFAULT_REPLICATION_TIMINGS.senderTimeoutUs;
  }

  /** synchronous_standby_names (null: empty). */
  get synchronousStandby(): string | null {
    return this.synchronous;
  }

  /** Changes synchronous_standby_names (a reload); clearing it releases every waiting commit. */
  setSynchronousStandby(name: string | null): void {
    this.synchronous = name;
    if (name === null) this.release(Number.POSITIVE_INFINITY);
  }

  /** The standbys in pg_stat_replication (walsenders that started streaming), in connection order. */
  streaming(): ReadonlyArray<{ standby: string; flush: Lsn }> {
    return this.senders;
  }

  /** A standby asked to stream (`repl.start` on an accepted connection). */
  accept(conn: ConnectionEnd, start: Extract<ReplicationMessage, { kind: 'repl.start' }>): void {
    if (this.data.lacks(start.last)) {
      conn.send({ kind: 'repl.refused', reason: 'diverged' } satisfies ReplicationMessage);
      conn.close();
      return;
    }
    // A standby reconnecting replaces its old walsender (the old one would time out).
    const old = this.senders.find((s) => s.standby === start.standby);
    if (old !== undefined) this.drop(old, true);
    const sender: Sender = { conn, standby: start.standby, flush: start.lsn, heardAt: this.ctx.monotonic(), timer: undefined };
    this.senders.push(sender);
    conn.onMessage = (raw) => {
      const msg = raw as ReplicationMessage;
      if (msg.kind !== 'repl.reply') return;
      sender.heardAt = this.ctx.monotonic();
      sender.flush = Math.max(sender.flush, msg.flush);
      if (sender.standby === this.synchronous) this.release(sender.flush);
    };
    conn.onClose = () => this.drop(sender, false);
    this.armTimeout(sender);
    conn.send({ kind: 'repl.wal', records: this.data.recordsAfter(start.lsn), timeline: this.data.timeline } satisfies ReplicationMessage);
  }

  /** Streams a just-committed record to every standby. */
  broadcast(record: WalRecord): void {
    const message: ReplicationMessage = { kind: 'repl.wal', records: [record], timeline: record.timeline };
    for (const s of this.senders) s.conn.send(message);
  }

  /** Calls `release` once the commit at `lsn` may be answered (at once without a synchronous standby). */
  waitForSync(lsn: Lsn, release: () => void): void {
    if (this.synchronous === null) {
      release();
      return;
    }
    this.waiters.push({ lsn, release });
    const s = this.senders.find((x) => x.standby === this.synchronous);
    if (s !== undefined && s.flush >= lsn) this.release(s.flush);
  }

  /** Postgres stops: every walsender ends; waiting commits are never answered (their sessions end too). */
  closeAll(): void {
    for (const s of [...this.senders]) this.drop(s, true);
    this.waiters.length = 0;
  }

  private release(flush: Lsn): void {
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.lsn <= flush) n++;
    if (n === 0) return;
    for (const w of this.waiters.splice(0, n)) w.release();
  }

  /** wal_sender_timeout, checked lazily: one timer per timeout period, re-armed from the last message. */
  private armTimeout(sender: Sender): void {
    const due = sender.heardAt + this.timeoutUs - this.ctx.monotonic();
    sender.timer = this.ctx.setTimer(Math.max(0, due), () => {
      sender.timer = undefined;
      if (!this.senders.includes(sender)) return;
      if (this.ctx.monotonic() - sender.heardAt >= this.timeoutUs) this.drop(sender, true);
      else this.armTimeout(sender);
    }, 'pg.wal-sender-timeout');
  }

  private drop(sender: Sender, close: boolean): void {
    const i = this.senders.indexOf(sender);
    if (i < 0) return;
    this.senders.splice(i, 1);
    this.ctx.cancelTimer(sender.timer);
    if (close) {
      sender.conn.onClose = undefined;
      sender.conn.close();
    }
  }
}

/**
 * A standby's walreceiver: streams from `upstream` (primary_conninfo), replays each batch and
 * replies with its flush position, plus a status update every wal_receiver_status_interval. A
 * broken connection (or one refused because the upstream is not yet a primary) is redialled after
 * wal_retrieve_retry_interval; a refusal for a diverged WAL is reported (`onRefused`) and not
 * retried: Patroni decides (a rewind, or another upstream).
 */
export class WalReceiver {
  private conn: ConnectionEnd | null = null;
  private target: string | null = null;
  private statusTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private readonly timings: Required<ReplicationTimings>;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly data: PgData,
    private readonly onRefused: (upstream: string) => void,
    timings: ReplicationTimings = {},
  ) {
    this.timings = { ...DEFAULT_REPLICATION_TIMINGS, ...timings };
  }

  get upstream(): string | null {
    return this.target;
  }

  /**
   * Points the walreceiver at `upstream` (null: none); a change drops the current connection. The
   * dial has the kernel's connect timeout: Patroni's primary_conninfo sets no connect_timeout.
   */
  follow(upstream: string | null): void {
    if (upstream === this.target) return;
    this.stop();
    this.target = upstream;
    if (upstream !== null) this.dial();
  }

  stop(): void {
    this.target = null;
    this.ctx.cancelTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.ctx.cancelTimer(this.statusTimer);
    this.statusTimer = undefined;
    const conn = this.conn;
    this.conn = null;
    conn?.close();
  }

  private dial(): void {
    const upstream = this.target!;
    const conn = this.ctx.connect(upstream, {
      onOpen: () => {
        conn.send({ kind: 'repl.start', standby: this.ctx.name, lsn: this.data.lsn, last: this.data.lastRecord } satisfies ReplicationMessage);
        this.armStatus(conn);
      },
      onMessage: (raw) => {
        const msg = raw as ReplicationMessage;
        if (msg.kind === 'repl.wal') {
          for (const r of msg.records) if (r.lsn > this.data.lsn) this.data.replay(r);
          this.data.followTimeline(msg.timeline);
          conn.send({ kind: 'repl.reply', flush: this.data.lsn } satisfies ReplicationMessage);
        } else if (msg.kind === 'repl.refused' && msg.reason === 'diverged') {
          this.stop();
          this.onRefused(upstream);
        }
        // Refused as `not-primary`: the upstream closes the connection and the dial is retried.
      },
      onClose: () => {
        if (this.conn !== conn) return;
        this.conn = null;
        this.ctx.cancelTimer(this.statusTimer);
        this.statusTimer = undefined;
        this.retryTimer = this.ctx.setTimer(this.timings.retryIntervalUs, () => {
          this.retryTimer = undefined;
          if (this.target === upstream && this.conn === null) this.dial();
        }, 'pg.wal-receiver-retry');
      },
    });
    this.conn = conn;
  }

  private armStatus(conn: ConnectionEnd): void {
    this.statusTimer = this.ctx.setTimer(this.timings.statusIntervalUs, () => {
      if (this.conn !== conn) return;
      conn.send({ kind: 'repl.reply', flush: this.data.lsn } satisfies ReplicationMessage);
      this.armStatus(conn);
    }, 'pg.wal-receiver-status');
  }
}
