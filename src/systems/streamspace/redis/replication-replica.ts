import type { CloseReason, ConnectionEnd, ProcessContext } from '../../../sim-cluster/index.ts';
import type { Micros } from '../../../sim-cluster/index.ts';
import type { RpcResult, RpcWire } from '../net/rpc.ts';
import type { RedisSnapshot } from './databases.ts';
import type { RedisCommand } from './server.ts';
import type { PsyncReply, ReplicationPush, ReplicationRequest, StreamEntry } from './replication-stream.ts';
import { wallSeconds } from './replication-time.ts';

/**
 * replication.c `server.repl_state` of a replica: `connect` (to dial at the next cron tick),
 * `connecting`, `handshake` (PING, REPLCONF, PSYNC), `transfer` (waiting for the RDB after
 * `+FULLRESYNC`), `connected` (the master link is up).
 */
export type MasterLinkState = 'connect' | 'connecting' | 'handshake' | 'transfer' | 'connected';

/** What the link does to the node it replicates into. */
export interface MasterLinkOwner {
  /** PSYNC's arguments: the cached master's replication id and offset + 1, or `?` and -1. */
  psyncArguments(): { replid: string; offset: number };
  /** `+CONTINUE <replid>`: the link is up, continuing the cached master's stream. */
  continued(replid: string): void;
  /** `+FULLRESYNC`: the cached master is discarded (`replicationDiscardCachedMaster`). */
  fullResyncAccepted(): void;
  /** The RDB arrived: the dataset becomes the master's, at `offset` of history `replid`. */
  loadRdb(replid: string, offset: number, snapshot: RedisSnapshot): void;
  /** A command of the master's stream, applied in order. */
  apply(entry: StreamEntry): void;
  /** The node's replication offset (what REPLCONF ACK reports). */
  readonly offset: number;
  /** The up link was lost: the master's state is cached for a later PSYNC (`replicationCacheMaster`). */
  lost(reason: CloseReason | 'repl-timeout' | 'replicaof'): void;
}

/**
 * A replica's link to its master (replication.c `connectWithMaster`, `syncWithMaster`,
 * `readSyncBulkPayload`, `replicationCron`): it dials the master's process, runs the handshake
 * (PING, REPLCONF, PSYNC; one round trip each), then receives the RDB of a full synchronization or
 * continues from the backlog, applies the stream, and sends `REPLCONF ACK <offset>` at every cron
 * tick. The link is lost when its connection closes or when nothing came from the master for
 * `repl-timeout` (the master PINGs every `repl-ping-replica-period`); a lost link redials at once,
 * a failed dial or handshake at the next tick. A dial that gets no answer is given up after
 * `repl-timeout` too ("Timeout connecting to the MASTER...").
 */
export class MasterLink {
  private linkState: MasterLinkState = 'connect';
  private conn: ConnectionEnd | null = null;
  /** Wall µs of the last data from the master (`repl_transfer_lastio`, then `master->lastinteraction`). */
  private lastIo: Micros = 0;
  /** The handshake request awaiting its reply. */
  private awaiting: { id: number; step: 'ping' | 'replconf' | 'psync' } | null = null;
  /** `+FULLRESYNC`'s history and offset, until the RDB arrives. */
  private full: { replid: string; offset: number } | null = null;
  private nextId = 1;

  constructor(
    private readonly ctx: ProcessContext,
    /** The master's process name. */
    readonly master: string,
    private readonly owner: MasterLinkOwner,
    private readonly replTimeoutUs: Micros,
  ) {}

  get state(): MasterLinkState {
    return this.linkState;
  }

  /** `connectWithMaster`. */
  connect(): void {
    this.linkState = 'connecting';
    this.lastIo = this.ctx.now();
    const conn: ConnectionEnd = this.ctx.connect(this.master, {
      onOpen: () => {
        if (this.conn !== conn) return;
        this.linkState = 'handshake';
        this.lastIo = this.ctx.now();
        this.request('ping', { cmd: 'PING' } satisfies RedisCommand);
      },
      onMessage: (raw) => {
        if (this.conn !== conn) return;
        this.lastIo = this.ctx.now();
        const msg = raw as RpcWire;
        if (msg.kind === 'res') this.handshakeReply(msg.id, msg.result);
        else if (msg.kind === 'push') this.pushed(msg.body as ReplicationPush);
      },
      onClose: (reason) => {
        if (this.conn !== conn) return;
        this.conn = null;
        if (this.linkState === 'connected') this.lose(reason);
        else this.cancelHandshake();
      },
    });
    this.conn = conn;
  }

  /** The replica half of `replicationCron`; `now` is the wall clock. */
  cron(now: Micros): void {
    const silentS = wallSeconds(now) - wallSeconds(this.lastIo);
    const timedOut = silentS > this.replTimeoutUs / 1e6;
    if (timedOut && (this.linkState === 'connecting' || this.linkState === 'handshake' || this.linkState === 'transfer')) {
      this.closeConnection();
      this.cancelHandshake();
    }
    if (timedOut && this.linkState === 'connected') {
      // "MASTER timeout: no data nor PING received...": freeClient(server.master).
      this.closeConnection();
      this.lose('repl-timeout');
    }
    if (this.linkState === 'connect') this.connect();
    if (this.linkState === 'connected') this.sendAck();
  }

  /**
   * The node stops replicating from this master (REPLICAOF another, or NO ONE): an up link's master
   * is cached first (`freeClient(server.master)` caches it), a handshake in progress is cancelled.
   */
  close(): void {
    const wasUp = this.linkState === 'connected';
    this.closeConnection();
    this.awaiting = null;
    this.full = null;
    this.linkState = 'connect';
    if (wasUp) this.owner.lost('replicaof');
  }

  private closeConnection(): void {
    const conn = this.conn;
    this.conn = null;
    conn?.close();
  }

  /** `replicationHandleMasterDisconnection`: the master's state is cached and the link redials at once. */
  private lose(reason: CloseReason | 'repl-timeout'): void {
    this.linkState = 'connect';
    this.owner.lost(reason);
    this.connect();
  }

  /** `cancelReplicationHandshake`: back to `connect`, the next cron tick dials again. */
  private cancelHandshake(): void {
    this.awaiting = null;
    this.full = null;
    this.linkState = 'connect';
  }

  private request(step: 'ping' | 'replconf' | 'psync', body: RedisCommand | ReplicationRequest): void {
    const id = this.nextId++;
    this.awaiting = { id, step };
    this.conn!.send({ kind: 'req', id, body } satisfies RpcWire);
  }

  private handshakeReply(id: number, result: RpcResult<unknown>): void {
    const awaiting = this.awaiting;
    if (awaiting === null || awaiting.id !== id) return;
    this.awaiting = null;
    if (!result.ok) {
      // "Error reply to PING from master" / a refused PSYNC (NOMASTERLINK): try again later.
      this.closeConnection();
      this.cancelHandshake();
      return;
    }
    switch (awaiting.step) {
      case 'ping':
        this.request('replconf', { cmd: 'REPLCONF' });
        return;
      case 'replconf':
        this.request('psync', { cmd: 'PSYNC', ...this.owner.psyncArguments() });
        return;
      case 'psync': {
        const reply = result.value as PsyncReply;
        if (reply.type === 'CONTINUE') {
          this.linkState = 'connected';
          this.owner.continued(reply.replid);
        } else {
          this.linkState = 'transfer';
          this.full = { replid: reply.replid, offset: reply.offset };
          this.owner.fullResyncAccepted();
        }
        return;
      }
    }
  }

  private pushed(body: ReplicationPush): void {
    switch (body.repl) {
      case 'newline':
        return;
      case 'rdb': {
        const full = this.full;
        if (this.linkState !== 'transfer' || full === null) return;
        this.full = null;
        this.linkState = 'connected';
        this.owner.loadRdb(full.replid, full.offset, body.snapshot);
        // A diskless load ends with an ACK at once (readSyncBulkPayload: `if (usemark) replicationSendAck()`).
        this.sendAck();
        return;
      }
      case 'stream':
        if (this.linkState !== 'connected') return;
        for (const entry of body.entries) this.owner.apply(entry);
        return;
    }
  }

  /** `replicationSendAck`: REPLCONF ACK with the offset processed so far; the master never answers it. */
  private sendAck(): void {
    this.conn?.send({ kind: 'req', id: this.nextId++, body: { cmd: 'REPLCONF_ACK', offset: this.owner.offset } satisfies ReplicationRequest } satisfies RpcWire);
  }
}
