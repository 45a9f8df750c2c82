import type { StreamEntry } from './replication-stream.ts';

/**
 * The replication backlog and offset of one Redis node (replication.c `feedReplicationBuffer`,
 * `repl-backlog-size`): the last `capacity` bytes of the stream the node fed to its replicas (a
 * master's own writes, or, on a replica, the stream it applied), kept so that a replica that lost
 * its link can continue where it stopped (`masterTryPartialResynchronization`). `offset` is
 * `master_repl_offset`, the bytes fed so far.
 *
 * Redis keeps exactly `capacity` bytes, cutting through a command; the model keeps whole commands,
 * at most `capacity` bytes of them. A replica always stops on a command boundary, so the offsets it
 * may continue from are the same. Redis creates the backlog with the first replica and frees it after
 * `repl-backlog-ttl` (3600 s) without one; the model keeps it for the incarnation's life (the
 * difference: `offset` advances on a master that never had a replica, which no comparison between
 * a master and its replicas sees).
 */
export class ReplicationBacklog {
  private entries: StreamEntry[] = [];
  /** `ends[i]`: the offset just after `entries[i]`. */
  private ends: number[] = [];
  /** Index of the oldest entry kept (trimmed entries before it are dropped in batches). */
  private head = 0;
  private held = 0;
  private fed: number;

  constructor(
    private readonly capacity: number,
    offset = 0,
  ) {
    this.fed = offset;
  }

  /** `master_repl_offset`: bytes of stream fed so far. */
  get offset(): number {
    return this.fed;
  }

  /** Appends one command, dropping the oldest while more than `capacity` bytes are kept. */
  append(entry: StreamEntry): void {
    this.fed += entry.bytes;
    this.entries.push(entry);
    this.ends.push(this.fed);
    this.held += entry.bytes;
    while (this.held > this.capacity && this.head < this.entries.length) {
      this.held -= this.entries[this.head]!.bytes;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Whether a replica that processed the stream up to `offset` can continue from the backlog: the
   * bytes after it are all kept (`psync_offset` = offset + 1 within `[backlog->offset, backlog->offset
   * + histlen]`).
   */
  covers(offset: number): boolean {
    return offset >= this.fed - this.held && offset <= this.fed;
  }

  /** The commands after `offset` (which `covers`), oldest first: what `addReplyReplicationBacklog` sends. */
  since(offset: number): StreamEntry[] {
    let i = this.entries.length;
    while (i > this.head && this.ends[i - 1]! > offset) i--;
    return this.entries.slice(i);
  }

  /** Starts over, empty, at `offset` (a replica after a full synchronization: `createReplicationBacklog`). */
  reset(offset: number): void {
    this.entries = [];
    this.ends = [];
    this.head = 0;
    this.held = 0;
    this.fed = offset;
  }
}
