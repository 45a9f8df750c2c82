import { SECOND, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import type { LeaseSpec } from './lease-store.ts';

/**
 * What a client-go LeaderElector knows about its Lease: `observedRecord`, `observedRawRecord` and
 * `observedTime` (tools/leaderelection/leaderelection.go), with `IsLeader` and `isLeaseValid`.
 *
 * - observedTime is read from the candidate's **own monotonic clock** whenever it stores a record
 *   (`setObservedRecord`), and expiry is judged only against it: valid while
 *   observedTime + record.leaseDurationSeconds > now (real-world-semantics §1.1 facts 2, 3, 4).
 *   Clock offsets between nodes therefore do not matter; clock rates do (fact 1).
 * - observedRawRecord changes only when a Get returns a record different from the last one read
 *   (fact 6c); the client's own successful writes store the record and reset observedTime but do
 *   not touch it, exactly as client-go does.
 * - IsLeader compares the observed holder with this identity and nothing else (fact 16), so it
 *   turns false as soon as another holder is observed (fact 9) and can stay true after Run returned.
 *
 * Records `elector.observed` {lease, holder} whenever the observed holder changes.
 */
export class Observation {
  /** Go's zero LeaderElectionRecord (holder '') until the first record is stored. */
  private current: LeaseSpec | null = null;
  private observedAtUs: Micros = 0;
  /** observedRawRecord; null (Go's nil) until a Get has returned a record. */
  private raw: string | null = null;

  constructor(
    private readonly ctx: ProcessContext,
    readonly lease: string,
    readonly identity: string,
  ) {}

  get record(): LeaseSpec | null {
    return this.current;
  }

  get holder(): string {
    return this.current?.holderIdentity ?? '';
  }

  /** `setObservedRecord`: stores the record and sets observedTime to the local monotonic now. */
  set(record: LeaseSpec): void {
    const previousHolder = this.holder;
    this.current = record;
    this.observedAtUs = this.ctx.monotonic();
    if (record.holderIdentity !== previousHolder) this.ctx.record('elector.observed', { lease: this.lease, holder: record.holderIdentity });
  }

  /** Step (c) of tryAcquireOrRenew: a record read by a Get is stored only if its raw form changed (fact 6c). */
  fetched(record: LeaseSpec, raw: string): void {
    if (raw === this.raw) return;
    this.set(record);
    this.raw = raw;
  }

  isLeader(): boolean {
    return this.holder === this.identity;
  }

  /** `isLeaseValid(now)`: the record's own duration, counted from when this client observed it (facts 2, 4). */
  isLeaseValid(nowUs: Micros): boolean {
    if (this.current === null) return false;
    return this.observedAtUs + this.current.leaseDurationSeconds * SECOND > nowUs;
  }
}
