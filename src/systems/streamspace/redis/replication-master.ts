import type { ConnectionEnd, ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import type { Micros } from '../../../sim-cluster/index.ts';
import { ok, pushRpc, serverError, type RpcResult } from '../net/rpc.ts';
import type { RedisDatabases } from './databases.ts';
import type { ReplicationBacklog } from './replication-backlog.ts';
import type { PsyncReply, ReplicationPush, StreamEntry } from './replication-stream.ts';
import { wallSeconds } from './replication-time.ts';

/** What the serving side reads of its node's replication history (replication.c `server.replid*`). */
export interface ReplicationHistory {
  readonly replid: string;
  /** The previous history's id, valid up to `secondReplidOffset` (PSYNC2, `shiftReplicationId`). */
  readonly replid2: string;
  readonly secondReplidOffset: number;
  readonly backlog: ReplicationBacklog;
  /** The database of the last command fed (`server.slaveseldb`); -1 forces a SELECT. */
  selectedDb: number;
  /** A replica whose own link is not up refuses to serve (`syncCommand`: NOMASTERLINK). */
  readonly servesSync: boolean;
}

export interface ReplicaLinksOptions {
  replTimeoutUs: Micros;
  disklessSyncDelayUs: Micros;
  fullSyncBaseUs: Micros;
  fullSyncPerKeyUs: number;
  minReplicasToWrite: number;
  minReplicasMaxLagUs: Micros;
}

/** One replica as its master sees it (a `client` with `CLIENT_SLAVE`). */
interface ReplicaLink {
  readonly conn: ConnectionEnd;
  /** The replica's address: its process name (the connection's peer). */
  readonly name: string;
  /**
   * replication.c `slave->replstate`: waiting for an RDB child to start, waiting for it to finish
   * (the stream is buffered meanwhile), or online (streamed to).
   */
  state: 'wait-bgsave-start' | 'wait-bgsave-end' | 'online';
  /** When its PSYNC arrived (wall µs, the replica's `lastinteraction` while it waits). */
  readonly since: Micros;
  /** `repl_ack_off`, `repl_ack_time` (wall µs). */
  ackOffset: number;
  ackAt: Micros;
  /** The stream fed while its RDB is produced, sent after it. */
  buffer: StreamEntry[];
  /** The PSYNC's reply, held until the RDB child starts (`+FULLRESYNC` carries the child's offset). */
  reply: ((r: RpcResult<unknown>) => void) | null;
}

/**
 * The serving side of replication on one node (a master, or a replica serving sub-replicas): the
 * replicas linked to it, PSYNC (partial or full resynchronization), the stream to each, their ACKs,
 * their timeouts, and the count of good replicas behind `min-replicas-to-write`.
 *
 * Full synchronization is diskless, Redis 7's default (`repl-diskless-sync yes`,
 * `repl-diskless-sync-delay 5`): a replica that cannot continue waits until some waiting replica has
 * waited `disklessSyncDelayUs` (checked once a second, `shouldStartChildReplication`), then one RDB
 * child serves every waiting replica: it takes the dataset and offset of that instant, replies
 * `+FULLRESYNC`, and the RDB arrives after `fullSyncBaseUs + fullSyncPerKeyUs × keys` (fork,
 * transfer and the replica's load in one delay), followed by the stream buffered meanwhile.
 * Simplification: Redis streams the buffered commands only from the first ACK the replica sends
 * once the master has noticed its RDB child exit (`repl_start_cmd_stream_on_ack`, checked by a
 * 10 Hz cron): the ACK the replica sends right after loading when it comes after that, else the
 * next one, up to a second later. The model sends them right after the RDB: the same commands in
 * the same order, that up-to-a-second earlier, to a replica whose link is already up either way.
 */
export class ReplicaLinks {
  /** By connection id, in the order the replicas linked (`server.slaves`). */
  private readonly links = new Map<string, ReplicaLink>();
  private child: TimerHandle | undefined;
  private good = 0;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly history: ReplicationHistory,
    private readonly databases: RedisDatabases,
    private readonly options: ReplicaLinksOptions,
    /** Closes a client connection the way the server lets a client go (`freeClient`). */
    private readonly closeClient: (conn: ConnectionEnd) => void,
  ) {}

  /** Whether the connection is a replica's link (`CLIENT_SLAVE`): CLIENT KILL TYPE normal|pubsub never closes it. */
  isLink(connId: string): boolean {
    return this.links.has(connId);
  }

  get size(): number {
    return this.links.size;
  }

  /** `repl_good_slaves_count` as of its last refresh. */
  get goodReplicas(): number {
    return this.good;
  }

  /** INFO's `slaveN` lines: every linked replica, its acked offset and the time since its last ACK. */
  list(now: Micros): Array<{ name: string; offset: number; lastAckAgoUs: number }> {
    return [...this.links.values()].map((l) => ({ name: l.name, offset: l.ackOffset, lastAckAgoUs: now - l.ackAt }));
  }

  /**
   * PSYNC `replid` `offset` (replication.c `syncCommand`, `masterTryPartialResynchronization`):
   * continue from the backlog when the id is this history's, or the previous one's up to where it
   * ended, and the backlog still holds everything after the replica's offset; else a full sync.
   */
  psync(conn: ConnectionEnd, replid: string, psyncOffset: number, reply: (r: RpcResult<unknown>) => void): void {
    if (this.links.has(conn.id)) return;
    if (!this.history.servesSync) {
      reply(serverError("NOMASTERLINK Can't SYNC while not connected with my master"));
      return;
    }
    const now = this.ctx.now();
    const h = this.history;
    const reploff = psyncOffset - 1;
    const sameHistory = replid === h.replid || (replid === h.replid2 && psyncOffset <= h.secondReplidOffset);
    const link: ReplicaLink = {
      conn, name: conn.remote, state: 'wait-bgsave-start', since: now, ackOffset: 0, ackAt: now, buffer: [], reply,
    };
    this.links.set(conn.id, link);
    if (replid !== '?' && sameHistory && h.backlog.covers(reploff)) {
      link.state = 'online';
      link.reply = null;
      reply(ok({ type: 'CONTINUE', replid: h.replid } satisfies PsyncReply));
      const missed = h.backlog.since(reploff);
      if (missed.length > 0) pushRpc(conn, { repl: 'stream', entries: missed } satisfies ReplicationPush);
      this.refreshGood(now);
    }
  }

  /** REPLCONF ACK `offset`: the replica processed the stream up to it (`replconfCommand`). */
  ack(conn: ConnectionEnd, offset: number): void {
    const link = this.links.get(conn.id);
    if (link === undefined) return;
    if (offset > link.ackOffset) link.ackOffset = offset;
    link.ackAt = this.ctx.now();
  }

  /** One command of the stream: sent to online replicas, buffered for those whose RDB is in the making. */
  stream(entry: StreamEntry): void {
    if (this.links.size === 0) return;
    let message: ReplicationPush | undefined;
    for (const link of this.links.values()) {
      if (link.state === 'online') pushRpc(link.conn, (message ??= { repl: 'stream', entries: [entry] }));
      else if (link.state === 'wait-bgsave-end') link.buffer.push(entry);
    }
  }

  /** The link's connection closed (the replica went, or CLIENT KILL TYPE replica would). */
  closed(connId: string): void {
    if (this.links.delete(connId)) this.refreshGood(this.ctx.now());
  }

  /** `disconnectSlaves`: every replica must resynchronize (this node's history changed). */
  disconnectAll(): void {
    const links = [...this.links.values()];
    this.links.clear();
    for (const link of links) this.closeClient(link.conn);
    this.refreshGood(this.ctx.now());
  }

  /**
   * replicationCron's serving half: the newline to replicas waiting for an RDB child (and to online
   * ones while this replica's own master link is down: they get no PING from above), replicas
   * silent for longer than `repl-timeout` disconnected, a pending RDB child started, the good
   * replicas counted.
   */
  cron(now: Micros, ownLinkDown: boolean): void {
    for (const link of this.links.values()) {
      if (link.state === 'wait-bgsave-start' || (ownLinkDown && link.state === 'online')) {
        pushRpc(link.conn, { repl: 'newline' } satisfies ReplicationPush);
      }
    }
    const timeoutS = this.options.replTimeoutUs / 1e6;
    for (const link of [...this.links.values()]) {
      if (link.state === 'online' && wallSeconds(now) - wallSeconds(link.ackAt) > timeoutS) {
        // "Disconnecting timedout replica (streaming sync)".
        this.links.delete(link.conn.id);
        this.closeClient(link.conn);
      }
    }
    this.startChildIfDue(now);
    this.refreshGood(now);
  }

  /**
   * `refreshGoodSlavesCount`: online replicas whose last ACK is at most `min-replicas-max-lag`
   * seconds old (whole seconds of the wall clock, `server.unixtime`). Refreshed once a second and
   * when a replica links or goes, not on every ACK, as in Redis.
   */
  private refreshGood(now: Micros): void {
    const { minReplicasToWrite, minReplicasMaxLagUs } = this.options;
    if (minReplicasToWrite === 0 || minReplicasMaxLagUs === 0) return;
    const maxLagS = minReplicasMaxLagUs / 1e6;
    let good = 0;
    for (const link of this.links.values()) {
      if (link.state === 'online' && wallSeconds(now) - wallSeconds(link.ackAt) <= maxLagS) good++;
    }
    this.good = good;
  }

  /** `shouldStartChildReplication` with diskless sync: one RDB child once a waiting replica waited the delay. */
  private startChildIfDue(now: Micros): void {
    if (this.child !== undefined) return;
    const delayS = this.options.disklessSyncDelayUs / 1e6;
    const waiting = [...this.links.values()].filter((l) => l.state === 'wait-bgsave-start');
    if (waiting.length === 0 || !waiting.some((l) => wallSeconds(now) - wallSeconds(l.since) >= delayS)) return;
    const h = this.history;
    const snapshot = this.databases.snapshot();
    const keys = snapshot.entries.length;
    const offset = h.backlog.offset;
    // replicationSetupSlaveForFullResync: +FULLRESYNC with the child's offset; the next command
    // fed starts with a SELECT.
    h.selectedDb = -1;
    for (const link of waiting) {
      link.state = 'wait-bgsave-end';
      link.reply!(ok({ type: 'FULLRESYNC', replid: h.replid, offset } satisfies PsyncReply));
      link.reply = null;
    }
    const transferUs = this.options.fullSyncBaseUs + Math.round(this.options.fullSyncPerKeyUs * keys);
    this.child = this.ctx.setTimer(transferUs, () => {
      this.child = undefined;
      const done = this.ctx.now();
      for (const link of waiting) {
        if (this.links.get(link.conn.id) !== link || link.state !== 'wait-bgsave-end') continue;
        pushRpc(link.conn, { repl: 'rdb', snapshot, keys } satisfies ReplicationPush);
        if (link.buffer.length > 0) pushRpc(link.conn, { repl: 'stream', entries: link.buffer } satisfies ReplicationPush);
        link.buffer = [];
        // replicaPutOnline: online, and its ACK clock starts now ("Prevent false timeout").
        link.state = 'online';
        link.ackAt = done;
      }
      this.refreshGood(done);
    }, 'redis.rdb-child');
  }
}
