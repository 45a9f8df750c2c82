import type { RedisSnapshot, RedisDatabases } from './databases.ts';

/**
 * The replication stream of a Redis master (replication.c `replicationFeedSlaves`): the effects of
 * every write it applies, in the order it applies them, in the form Redis 7 propagates them:
 * - `SET key value [PXAT ms]`: a SET with EX/PX goes out with its absolute deadline (t_string.c
 *   `setGenericCommand` rewrites it to `SET key value PXAT ms`), so a replica's copy expires when
 *   the master's does whatever the replica's clock says; one without goes out as sent (with its
 *   NX/XX); a SET that NX/XX refused is not propagated (nothing changed);
 * - `DEL key...`: a client's DEL (as sent) and a compare-and-delete script's DEL (scripts replicate
 *   their effects since Redis 7, eval.c), and the DEL Redis synthesizes when a key expires (lazily
 *   or actively) or is evicted (db.c `deleteExpiredKeyAndPropagate`, evict.c `performEvictions`);
 * - `PEXPIREAT key ms` for an EXPIRE (expire.c `expireGenericCommand`), or `DEL` when the new
 *   deadline has already passed (expire.c `checkAlreadyExpired`);
 * - `PUBLISH channel message` (pubsub.c `publishCommand`: `forceCommandPropagation(c,
 *   PROPAGATE_REPL)` outside cluster mode), so a replica's subscribers get the master's messages;
 * - `PING`, every `repl-ping-replica-period` (replication.c `replicationCron`).
 * The AOF (`appendonly yes`) gets the same data effects, without PUBLISH and PING (server.c
 * `propagateNow` sends PUBLISH with `PROPAGATE_REPL` only; the PING is fed to replicas only).
 */
export type ReplOp =
  | {
    op: 'SET'; db: number; key: string; value: string; pxatMs: number | null; valueBytes?: number;
    /** NX or XX of a SET without expiry, propagated as sent (a SET with one is rewritten without them); only its bytes count. */
    cond?: 'NX' | 'XX';
  }
  | { op: 'DEL'; db: number; keys: readonly string[] }
  | { op: 'PEXPIREAT'; db: number; key: string; atMs: number }
  | { op: 'PUBLISH'; channel: string; message: string }
  | { op: 'PING' };

/**
 * One command of the stream with its size. Offsets (`master_repl_offset`, `slave_repl_offset`,
 * REPLCONF ACK) count bytes of the stream as Redis does: `bytes` is the command's RESP encoding,
 * plus the `SELECT db` Redis emits before it when the stream's database changes
 * (`server.slaveseldb`). Values count their modelled size (`valueBytes`) when they have one. A
 * replica proxies the entries it applies unchanged, so its offsets match its master's.
 */
export interface StreamEntry {
  readonly op: ReplOp;
  readonly bytes: number;
}

/** Wire messages a master pushes on a replication link (after the PSYNC reply). */
export type ReplicationPush =
  /** Commands of the stream, in order (a backlog replay after `+CONTINUE` carries many). */
  | { repl: 'stream'; entries: readonly StreamEntry[] }
  /** The RDB of a full synchronization; the stream continues after it. */
  | { repl: 'rdb'; snapshot: RedisSnapshot; keys: number }
  /** The newline a master writes to replicas waiting for their RDB (replicationCron): it only refreshes their timeout. */
  | { repl: 'newline' };

/**
 * The requests of the replication handshake and link (replication.c `syncWithMaster` and
 * `replicationSendAck`), besides the ordinary PING that opens the handshake. They travel as
 * requests on the link but are not client commands: `REPLCONF` stands for the pipelined
 * `REPLCONF listening-port`/`capa eof`/`capa psync2` (one round trip), `PSYNC` carries the cached
 * master's replication id and offset + 1 (`?` and -1 for none), and `REPLCONF_ACK` is never
 * answered (`replconfCommand`: "this command does not reply anything").
 */
export type ReplicationRequest =
  | { cmd: 'REPLCONF' }
  | { cmd: 'PSYNC'; replid: string; offset: number }
  | { cmd: 'REPLCONF_ACK'; offset: number };

/** The reply to PSYNC: `+CONTINUE <replid>` (partial resynchronization) or `+FULLRESYNC <replid> <offset>`. */
export type PsyncReply = { type: 'CONTINUE'; replid: string } | { type: 'FULLRESYNC'; replid: string; offset: number };

const REPLICATION_REQUESTS: ReadonlySet<string> = new Set(['REPLCONF', 'PSYNC', 'REPLCONF_ACK']);

/** Whether a request on a served connection belongs to the replication protocol. */
export function isReplicationRequest(body: unknown): body is ReplicationRequest {
  return REPLICATION_REQUESTS.has((body as { cmd?: unknown }).cmd as string);
}

/** The database a data command runs in, or undefined for PUBLISH and PING. */
export function opDb(op: ReplOp): number | undefined {
  return op.op === 'PUBLISH' || op.op === 'PING' ? undefined : op.db;
}

/** The RESP size of a command with these argument lengths: `*<n>\r\n` then `$<len>\r\n<arg>\r\n` each. */
function respBytes(argLengths: readonly number[]): number {
  let n = 3 + digits(argLengths.length);
  for (const len of argLengths) n += 5 + digits(len) + len;
  return n;
}

function digits(n: number): number {
  return String(n).length;
}

/** Bytes of `op` in the stream, with the `SELECT <db>` before it when `select` (see `StreamEntry`). */
export function opBytes(op: ReplOp, select: boolean): number {
  let n = 0;
  switch (op.op) {
    case 'SET': {
      const args = [3, op.key.length, op.valueBytes ?? op.value.length];
      if (op.pxatMs !== null) args.push(4, digits(op.pxatMs));
      else if (op.cond !== undefined) args.push(2);
      n = respBytes(args);
      break;
    }
    case 'DEL':
      n = respBytes([3, ...op.keys.map((k) => k.length)]);
      break;
    case 'PEXPIREAT':
      n = respBytes([9, op.key.length, digits(op.atMs)]);
      break;
    case 'PUBLISH':
      n = respBytes([7, op.channel.length, op.message.length]);
      break;
    case 'PING':
      n = respBytes([4]);
      break;
  }
  return select ? n + respBytes([6, digits(opDb(op)!)]) : n;
}

/**
 * Applies a data command of the stream to a dataset as the master client does (a replica applying
 * its master's stream, or an AOF being replayed): keys past their deadline count as present, and
 * nothing is evicted or expired on the way. PUBLISH and PING change no data.
 */
export function applyOp(databases: RedisDatabases, op: ReplOp): void {
  switch (op.op) {
    case 'SET':
      databases.db(op.db).applySet(op.key, op.value, op.pxatMs, op.valueBytes);
      return;
    case 'DEL': {
      const ks = databases.db(op.db);
      for (const key of op.keys) ks.applyDel(key);
      return;
    }
    case 'PEXPIREAT':
      databases.db(op.db).applyExpireAt(op.key, op.atMs);
      return;
    case 'PUBLISH':
    case 'PING':
      return;
  }
}
