import type { ProcessContext } from '../../../sim-cluster/index.ts';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { RedisDatabases, type RedisSnapshot } from './databases.ts';
import { applyOp, type ReplOp } from './replication-stream.ts';

/** `appendonly yes` with `appendfsync everysec` (redis.conf). */
export interface RedisAofOptions {
  /**
   * How often the AOF is fsynced: what a restart finds is the dataset as of the last fsync.
   * Default 1 s (`appendfsync everysec`).
   */
  fsyncEveryUs?: Micros;
}

/**
 * The append-only file of one Redis process (aof.c), as what survives a restart: the dataset its
 * fsynced part replays to. Writes reach the file as the data effects of the replication stream
 * (replication-stream.ts: the same commands `propagateNow` feeds the AOF), the ones since the last
 * fsync are held by the incarnation and lost with it, and every `fsyncEveryUs` they become durable.
 * So a restart loses the writes of the last second at most (redis.io persistence: "you can lose one
 * second worth of writes"; real-world §3.2.5; seeds §2 "AOF reload (~1–2 s lost)").
 *
 * Simplifications: Redis `write()`s the buffer to the file before replying and only the fsync is
 * once a second, so a process crash on a live host keeps the written data in the page cache and
 * only a host crash loses the last second; the model loses it on every restart, the bound the
 * Redis docs give. The durable part is kept as a dataset (`RedisStorage.aof`), the result of
 * replaying the file, rather than as commands: AOF rewrites change the file, not what it replays to.
 */
export class AofLog {
  private pending: ReplOp[] = [];
  /** A full synchronization replaced the dataset since the last fsync (the AOF rewrite Redis starts after it). */
  private rewrite: RedisSnapshot | null = null;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly durable: { aof: RedisDatabases | null },
    databases: RedisDatabases,
    options: RedisAofOptions,
  ) {
    const every = options.fsyncEveryUs ?? SECOND;
    if (!(Number.isSafeInteger(every) && every > 0)) throw new RangeError(`aof.fsyncEveryUs must be a positive integer, got ${every}`);
    // At start Redis rewrites a base file from the dataset it loaded (aof.c `loadAppendOnlyFiles`,
    // then a new base if there was none): the durable dataset is the loaded one.
    durable.aof = copyOf(databases.snapshot(), ctx.now());
    const fsync = (): void => {
      this.fsyncNow();
      ctx.setTimer(every, fsync, 'redis.aof-fsync');
    };
    ctx.setTimer(every, fsync, 'redis.aof-fsync');
  }

  /** A data effect applied to the dataset (PUBLISH and PING are never in the AOF). */
  append(op: ReplOp): void {
    if (op.op !== 'PUBLISH' && op.op !== 'PING') this.pending.push(op);
  }

  /** The dataset was replaced by a master's RDB: the file is rewritten from it. */
  replaceAll(snapshot: RedisSnapshot): void {
    this.rewrite = snapshot;
    this.pending = [];
  }

  /** Makes every write so far durable (the everysec fsync, or the one a shutdown does). */
  fsyncNow(): void {
    if (this.rewrite !== null) {
      this.durable.aof = copyOf(this.rewrite, this.ctx.now());
      this.rewrite = null;
    }
    const aof = this.durable.aof!;
    for (const op of this.pending) applyOp(aof, op);
    this.pending = [];
  }
}

/** A dataset holding exactly a snapshot's keys, expired ones included (a restart's load drops those). */
function copyOf(snapshot: RedisSnapshot, now: Micros): RedisDatabases {
  const copy = new RedisDatabases();
  copy.deleteExpiredOnAccess = false;
  copy.replaceAll(snapshot, now, true);
  return copy;
}
