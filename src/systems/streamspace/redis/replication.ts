import type { CloseReason, ConnectionEnd, ProcessContext, RandomStream } from '../../../sim-cluster/index.ts';
import { MS, SECOND, vocabulary, type Micros } from '../../../sim-cluster/index.ts';
import { ok, type RpcResult } from '../net/rpc.ts';
import type { RedisDatabases, RedisSnapshot } from './databases.ts';
import { RedisError } from './keyspace.ts';
import type { AofLog } from './replication-aof.ts';
import { ReplicationBacklog } from './replication-backlog.ts';
import { ReplicaLinks, type ReplicationHistory } from './replication-master.ts';
import { MasterLink, type MasterLinkOwner } from './replication-replica.ts';
import { applyOp, opBytes, opDb, type ReplOp, type ReplicationRequest, type StreamEntry } from './replication-stream.ts';

/**
 * Asynchronous master/replica replication of a Redis 7 server (redis/redis replication.c; sources
 * read at 4f8cdc2, the 7.4 line). Parameters are redis.conf's, with its defaults.
 */
export interface RedisReplicationOptions {
  /** `replicaof`: the master's process name at the first start. Absent: the node starts as a master. */
  replicaOf?: string;
  /** `replica-priority`: lower is preferred by Sentinel, 0 never promoted. Default 100. */
  replicaPriority?: number;
  /**
   * `min-replicas-to-write`: a master refuses writes (`NOREPLICAS`) while fewer replicas than this
   * have acknowledged within `minReplicasMaxLagUs` (server.c `processCommand`,
   * replication.c `checkGoodReplicasStatus`). Default 0: off.
   */
  minReplicasToWrite?: number;
  /** `min-replicas-max-lag`, in whole seconds as Redis counts them. Default 10 s; 0 turns the check off. */
  minReplicasMaxLagUs?: Micros;
  /**
   * The period of `replicationCron` (1 s, `run_with_period(1000)`): a replica sends REPLCONF ACK,
   * redials a lost master and checks its timeouts at each tick; a master checks its replicas'.
   * Default 1 s.
   */
  replicaAckEveryUs?: Micros;
  /** `repl-timeout`: a link silent this long is dropped, on either side. Default 60 s. */
  replTimeoutUs?: Micros;
  /** `repl-ping-replica-period`: how often a master PINGs its replicas. Default 10 s. */
  pingReplicaPeriodUs?: Micros;
  /** `repl-backlog-size`: bytes of stream kept for partial resynchronization. Default 1 MiB. */
  backlogBytes?: number;
  /** `repl-diskless-sync-delay`: how long a full synchronization waits for more replicas. Default 5 s. */
  disklessSyncDelayUs?: Micros;
  /**
   * Fixed cost of a full synchronization once its RDB child starts: fork, transfer and the replica's
   * load of a small dataset. Default 10 ms [an estimate: tens of kB on a LAN and a fork of a small
   * process take milliseconds].
   */
  fullSyncBaseUs?: Micros;
  /** Added per key of the RDB. Default 1 µs [an estimate: RDB save and load run at about a million small keys per second]. */
  fullSyncPerKeyUs?: number;
}

/** INFO replication, as the fields Sentinel and the checkers read (server.c `genRedisInfoString`). */
export interface ReplicationInfo {
  /** `run_id`: new at every start of the process (drawn from the `replication` random stream). */
  runId: string;
  role: 'master' | 'replica';
  /**
   * `master_repl_offset` (a replica's equals its `slave_repl_offset`): bytes of replication stream
   * processed, counted as RESP (replication-stream.ts `StreamEntry`).
   */
  offset: number;
  /** `replica-priority` (default 100; 0 = never promote). */
  replicaPriority: number;
  /**
   * Replicas with an open link, in link order, with their acknowledged offset and the time since
   * their last REPLCONF ACK (from their PSYNC until their first). Redis lists a replica's own
   * sub-replicas too, so a replica serving one lists it.
   */
  connectedReplicas: Array<{ name: string; offset: number; lastAckAgoUs: number }>;
  /** replica only (null / false / null on a master) */
  master: string | null;
  masterLinkUp: boolean;
  /**
   * `master_link_down_since_seconds` in µs; null while up (or for a master). Redis reports -1 for a
   * link that has not been up since the node became a replica (`repl_down_since == 0`): here -1 s.
   */
  masterLinkDownForUs: number | null;
}

/** The READONLY error reply (server.c `shared.roslaveerr`): a write sent to a replica (`replica-read-only yes`). */
export const ERR_READONLY = "READONLY You can't write against a read only replica.";
/** The NOREPLICAS error reply (server.c `shared.noreplicaserr`). */
export const ERR_NOREPLICAS = 'NOREPLICAS Not enough good replicas to write.';

/** Trace events of replication, recorded only by servers with `replication` configured. */
export interface ReplicationEvents {
  /** The node's role at start and at every REPLICAOF that changed it. */
  'redis.role': { role: 'master' | 'replica'; master: string | null };
  /**
   * A replica's link came up: after a full synchronization (`full`: its dataset replaced by the RDB)
   * or a partial one (it then catches up from `offset`); `keys` and `offset` are the replica's then.
   */
  'redis.sync': { from: string; full: boolean; keys: number; offset: number };
  /** A replica's up link to its master was lost (the connection closed, `repl-timeout`, or a REPLICAOF). */
  'redis.link-down': { master: string; reason: CloseReason | 'repl-timeout' | 'replicaof' };
  /** CLIENT KILL TYPE closed `killed` connections. */
  'redis.client-kill': { type: 'normal' | 'pubsub'; killed: number };
  /** A write refused with READONLY (on a replica) or NOREPLICAS (min-replicas-to-write); `client` is the connection's peer. */
  'redis.readonly': { cmd: string; client: string };
  'redis.noreplicas': { cmd: string; client: string };
}

export const replicationEvents = vocabulary<ReplicationEvents>();

/** What the replication of a node needs from its server process. */
export interface ReplicationHooks {
  /** Delivers a PUBLISH to this node's own subscribers; returns how many. */
  publishLocal(channel: string, message: string): number;
  /** The role changed (expiry, eviction and lazy deletion are a master's only). */
  roleChanged(): void;
  /** Closes a served connection as the server lets a client go (`freeClient`): a replica's link the master drops. */
  closeClient(conn: ConnectionEnd): void;
  /** The node's AOF, if `appendonly yes`. */
  readonly aof: AofLog | null;
}

/** The first start's `replicaof` and what CONFIG REWRITE made of it (kept in `RedisStorage`). */
export interface ReplicationConfigFile {
  /**
   * The `replicaof` line Sentinel's CONFIG REWRITE left after a REPLICAOF (sentinel.c
   * `sentinelSendSlaveOf` sends `SLAVEOF`, `CONFIG REWRITE`, then the CLIENT KILLs, in one MULTI):
   * undefined until a REPLICAOF, then the master's name or null (a master).
   */
  replicaOfConfig: string | null | undefined;
}

const NO_REPLID = '0000000000000000000000000000000000000000';

/**
 * The replication state of one Redis incarnation: its role, replication history (ids and offset)
 * and backlog, its link to a master when a replica, the replicas linked to it, and the 1 Hz
 * `replicationCron`.
 *
 * PSYNC2 is modelled (Redis 4+): a promoted replica keeps its master's id as `replid2` up to its
 * offset (`shiftReplicationId`), and a demoted master PSYNCs with its own id and offset
 * (`replicationCacheMasterUsingMyself`), so after a failover the other replicas continue from the
 * new master's backlog, while an old master that accepted writes the new one never got is past
 * `second_replid_offset` and must full-sync, losing them. A restarted process starts with a new id
 * and offset 0 (its AOF or RDB carries no replication state here; Redis keeps it in an RDB saved by
 * SHUTDOWN), so its replicas, or itself as a replica, full-sync: the same data as a partial
 * resynchronization would give, only the synchronization's time differs.
 *
 * A replica serves PSYNC too (chained replication), from the stream it applied, which it proxies
 * unchanged. Not modelled: blocking commands, so `disconnectAllBlockedClients` at REPLICAOF has
 * nothing to do (the model has none); `replica-serve-stale-data no` (a replica always serves its
 * copy, the default); `repl-backlog-ttl` (see replication-backlog.ts); the `-LOADING` replies while
 * a replica loads its RDB (the load is part of the full synchronization's delay, then instant).
 */
export class RedisReplication implements ReplicationHistory, MasterLinkOwner {
  readonly runId: string;
  private nodeRole: 'master' | 'replica' = 'master';
  replid: string;
  replid2 = NO_REPLID;
  secondReplidOffset = -1;
  readonly backlog: ReplicationBacklog;
  selectedDb = -1;
  readonly replicas: ReplicaLinks;
  /** The master's history kept for the next PSYNC (`server.cached_master`): its id and our offset in it. */
  private cachedMaster: { replid: string; offset: number } | null = null;
  /** `repl_down_since` (wall µs), null for never since becoming a replica. */
  private downSince: Micros | null = null;
  private link: MasterLink | null = null;
  private loops = 0;
  private readonly rng: RandomStream;
  private readonly priority: number;
  private readonly replTimeoutUs: Micros;
  private readonly minReplicasToWrite: number;
  private readonly minReplicasMaxLagUs: Micros;
  private readonly pingEveryLoops: number;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly databases: RedisDatabases,
    private readonly config: ReplicationConfigFile,
    options: RedisReplicationOptions,
    private readonly hooks: ReplicationHooks,
  ) {
    this.priority = checkedInteger('replicaPriority', options.replicaPriority ?? 100, 0);
    this.minReplicasToWrite = checkedInteger('minReplicasToWrite', options.minReplicasToWrite ?? 0, 0);
    this.minReplicasMaxLagUs = checkedInteger('minReplicasMaxLagUs', options.minReplicasMaxLagUs ?? 10 * SECOND, 0);
    const cronUs = checkedInteger('replicaAckEveryUs', options.replicaAckEveryUs ?? SECOND, 1);
    this.replTimeoutUs = checkedInteger('replTimeoutUs', options.replTimeoutUs ?? 60 * SECOND, 1);
    const pingUs = checkedInteger('pingReplicaPeriodUs', options.pingReplicaPeriodUs ?? 10 * SECOND, 1);
    this.pingEveryLoops = Math.max(1, Math.round(pingUs / cronUs));
    this.rng = ctx.random('replication');
    this.runId = randomId(this.rng);
    this.replid = randomId(this.rng);
    this.backlog = new ReplicationBacklog(checkedInteger('backlogBytes', options.backlogBytes ?? 1024 * 1024, 1));
    this.replicas = new ReplicaLinks(ctx, this, databases, {
      replTimeoutUs: this.replTimeoutUs,
      disklessSyncDelayUs: checkedInteger('disklessSyncDelayUs', options.disklessSyncDelayUs ?? 5 * SECOND, 0),
      fullSyncBaseUs: checkedInteger('fullSyncBaseUs', options.fullSyncBaseUs ?? 10 * MS, 0),
      fullSyncPerKeyUs: checkedNumber('fullSyncPerKeyUs', options.fullSyncPerKeyUs ?? 1),
      minReplicasToWrite: this.minReplicasToWrite,
      minReplicasMaxLagUs: this.minReplicasMaxLagUs,
    }, (conn) => hooks.closeClient(conn));
    const master = config.replicaOfConfig !== undefined ? config.replicaOfConfig : (options.replicaOf ?? null);
    if (master !== null) {
      this.nodeRole = 'replica';
      this.link = new MasterLink(ctx, master, this, this.replTimeoutUs);
    }
    replicationEvents.record(ctx, 'redis.role', { role: this.nodeRole, master });
    // serverCron's first run comes 1 ms after start (`aeCreateTimeEvent(..., 1, serverCron, ...)`),
    // and with it the first replicationCron: a replica dials its master then.
    const cron = (): void => {
      this.cron();
      ctx.setTimer(cronUs, cron, 'redis.replication-cron');
    };
    ctx.setTimer(MS, cron, 'redis.replication-cron');
  }

  get role(): 'master' | 'replica' {
    return this.nodeRole;
  }

  get isReplica(): boolean {
    return this.nodeRole === 'replica';
  }

  get offset(): number {
    return this.backlog.offset;
  }

  get servesSync(): boolean {
    return this.link === null || this.link.state === 'connected';
  }

  /** A request of the replication protocol on a served connection (REPLCONF, PSYNC, REPLCONF ACK). */
  handleRequest(body: ReplicationRequest, reply: (r: RpcResult<unknown>) => void, conn: ConnectionEnd): void {
    switch (body.cmd) {
      case 'REPLCONF':
        reply(ok('OK'));
        return;
      case 'PSYNC':
        this.replicas.psync(conn, body.replid, body.offset, reply);
        return;
      case 'REPLCONF_ACK':
        this.replicas.ack(conn, body.offset);
        return;
    }
  }

  /**
   * server.c `processCommand` before a write command runs: `NOREPLICAS` on a master short of good
   * replicas (`checkGoodReplicasStatus`), `READONLY` on a replica (`replica-read-only yes`).
   */
  checkWrite(cmd: string, client: string): void {
    if (this.nodeRole === 'replica') {
      replicationEvents.record(this.ctx, 'redis.readonly', { cmd, client });
      throw new RedisError(ERR_READONLY);
    }
    if (this.minReplicasToWrite > 0 && this.minReplicasMaxLagUs > 0 && this.replicas.goodReplicas < this.minReplicasToWrite) {
      replicationEvents.record(this.ctx, 'redis.noreplicas', { cmd, client });
      throw new RedisError(ERR_NOREPLICAS);
    }
  }

  /** A master's own write (or PUBLISH): into the stream, with a SELECT when its database changes. */
  feed(op: ReplOp): void {
    const db = opDb(op);
    const select = db !== undefined && db !== this.selectedDb;
    if (select) this.selectedDb = db;
    const entry: StreamEntry = { op, bytes: opBytes(op, select) };
    this.backlog.append(entry);
    this.replicas.stream(entry);
  }

  /** The served connection closed. */
  connectionClosed(connId: string): void {
    this.replicas.closed(connId);
  }

  /** INFO replication. */
  info(): ReplicationInfo {
    const now = this.ctx.now();
    const link = this.link;
    const up = link !== null && link.state === 'connected';
    return {
      runId: this.runId,
      role: this.nodeRole,
      offset: this.backlog.offset,
      replicaPriority: this.priority,
      connectedReplicas: this.replicas.list(now),
      master: link === null ? null : link.master,
      masterLinkUp: up,
      masterLinkDownForUs: link === null || up ? null : this.downSince === null ? -SECOND : now - this.downSince,
    };
  }

  /**
   * REPLICAOF (replication.c `replicaofCommand`), with the config rewrite Sentinel sends with it.
   * `null` (NO ONE) promotes a replica (`replicationUnsetMaster`): the master link goes, a new
   * replication id starts (the old one kept as `replid2`), the replicas linked to it are
   * disconnected to learn the new id (they continue partially), and it keeps its data and accepts
   * writes. A master name demotes a master (`replicationSetMaster`) or moves a replica: the node
   * dials the new master at once and resynchronizes, fully if the new master cannot continue its
   * history, replacing its whole dataset. The same master again is a no-op ("Already connected").
   */
  replicaOf(master: string | null): void {
    if (master === null) {
      if (this.link === null) return;
      this.link.close();
      this.link = null;
      this.cachedMaster = null;
      // shiftReplicationId.
      this.replid2 = this.replid;
      this.secondReplidOffset = this.backlog.offset + 1;
      this.replid = randomId(this.rng);
      this.replicas.disconnectAll();
      this.selectedDb = -1;
      this.downSince = null;
      this.nodeRole = 'master';
    } else {
      if (this.link !== null && this.link.master === master) return;
      if (this.link === null) {
        // replicationCacheMasterUsingMyself: PSYNC the new master with our own history.
        this.cachedMaster = { replid: this.replid, offset: this.backlog.offset };
      } else {
        this.link.close();
      }
      this.nodeRole = 'replica';
      this.link = new MasterLink(this.ctx, master, this, this.replTimeoutUs);
      this.link.connect();
    }
    this.config.replicaOfConfig = master;
    replicationEvents.record(this.ctx, 'redis.role', { role: this.nodeRole, master });
    this.hooks.roleChanged();
  }

  // ---------------------------------------------------------------- MasterLinkOwner

  psyncArguments(): { replid: string; offset: number } {
    const cached = this.cachedMaster;
    return cached === null ? { replid: '?', offset: -1 } : { replid: cached.replid, offset: cached.offset + 1 };
  }

  continued(replid: string): void {
    const cached = this.cachedMaster!;
    if (replid !== cached.replid) {
      // "Master replication ID changed": our history continues under the new id; sub-replicas reconnect to learn it.
      this.replid2 = cached.replid;
      this.secondReplidOffset = this.backlog.offset + 1;
      this.replid = replid;
      this.replicas.disconnectAll();
    }
    this.cachedMaster = null;
    this.downSince = null;
    this.recordSync(false);
  }

  fullResyncAccepted(): void {
    this.cachedMaster = null;
  }

  loadRdb(replid: string, offset: number, snapshot: RedisSnapshot): void {
    // replicationAttachToNewMaster: sub-replicas must resynchronize, the backlog starts over.
    this.replicas.disconnectAll();
    this.databases.replaceAll(snapshot, this.ctx.now(), true);
    this.replid = replid;
    this.replid2 = NO_REPLID;
    this.secondReplidOffset = -1;
    this.backlog.reset(offset);
    this.hooks.aof?.replaceAll(snapshot);
    this.downSince = null;
    this.recordSync(true);
  }

  apply(entry: StreamEntry): void {
    const op = entry.op;
    if (op.op === 'PUBLISH') this.hooks.publishLocal(op.channel, op.message);
    else if (op.op !== 'PING') {
      applyOp(this.databases, op);
      this.hooks.aof?.append(op);
    }
    // A replica proxies exactly what it applied (`replicationFeedStreamFromMasterStream`).
    this.backlog.append(entry);
    this.replicas.stream(entry);
  }

  lost(reason: CloseReason | 'repl-timeout' | 'replicaof'): void {
    this.cachedMaster = { replid: this.replid, offset: this.backlog.offset };
    this.downSince = this.ctx.now();
    replicationEvents.record(this.ctx, 'redis.link-down', { master: this.link!.master, reason });
  }

  // ---------------------------------------------------------------- cron

  private cron(): void {
    const now = this.ctx.now();
    this.link?.cron(now);
    if (this.link === null && this.replicas.size > 0 && this.loops % this.pingEveryLoops === 0) this.feed({ op: 'PING' });
    this.replicas.cron(now, this.link !== null && this.link.state !== 'connected');
    this.loops++;
  }

  private recordSync(full: boolean): void {
    replicationEvents.record(this.ctx, 'redis.sync', { from: this.link!.master, full, keys: this.databases.storedKeys, offset: this.backlog.offset });
  }
}

/** 40 hex characters, as `getRandomHexChars` makes run ids and replication ids. */
function randomId(rng: RandomStream): string {
  let id = '';
  for (let i = 0; i < 40; i++) id += '0123456789abcdef'[rng.int(0, 15)];
  return id;
}

function checkedInteger(name: string, value: number, min: number): number {
  if (!(Number.isSafeInteger(value) && value >= min)) throw new RangeError(`replication.${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

function checkedNumber(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`replication.${name} must be a non-negative number, got ${value}`);
  return value;
}
