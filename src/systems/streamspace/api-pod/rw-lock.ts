/**
 * Go's sync.RWMutex as the hub uses it (agent_hub.go:100-105): the write lock is held across the
 * DB and Redis I/O of handleRegister/handleUnregister, so every reader (SendCommandToAgent,
 * IsAgentConnected, UpdateAgentHeartbeat, the Redis listener, the stale sweep) waits meanwhile.
 * Read sections in the model are instantaneous map reads, so a read either runs at once or waits
 * for the writer; queued readers run in arrival order when the writer unlocks.
 * Only the hub's Run loop takes the write lock, so there is never more than one writer.
 */
export class RwLock {
  private writerHeld = false;
  private readers: Array<() => void> = [];

  get writeLocked(): boolean {
    return this.writerHeld;
  }

  /** Runs `section` under the read lock: now, or when the writer releases. */
  read(section: () => void): void {
    if (this.writerHeld) this.readers.push(section);
    else section();
  }

  lock(): void {
    if (this.writerHeld) throw new Error('RwLock: the hub loop took the write lock twice');
    this.writerHeld = true;
  }

  unlock(): void {
    this.writerHeld = false;
    const waiting = this.readers;
    this.readers = [];
    for (const section of waiting) {
      if (this.writerHeld) this.readers.push(section);
      else section();
    }
  }
}
