import type { Micros } from '../../../sim-cluster/index.ts';

/**
 * The `coordination.k8s.io/v1` Lease objects held by the Kubernetes API server, as etcd stores them
 * (real-world-semantics §1.1 facts 6, 7, 11, 17; streamspace-v2-behavior §8).
 *
 * Durability: etcd keeps every committed write across an API-server crash or restart, so this
 * object is built by whoever builds the topology and handed to every incarnation of the API-server
 * process (`kubeApiServer`); the process itself keeps only volatile state (requests in service).
 *
 * Plain synchronous data: no clock, no I/O. Every stored Lease is a frozen object replaced on each
 * write, so a Lease handed to a client (by reference, over the simulated network) can never change
 * under it, as a decoded HTTP response would not.
 */

/**
 * The Lease spec fields client-go's LeaseLock reads and writes (its LeaderElectionRecord). Times are
 * the writer's wall clock in µs (`MicroTime` in the real object): client-go writes them but never
 * uses them to judge expiry (fact 2), so a skewed writer clock changes nothing but these values.
 */
export interface LeaseSpec {
  /** '' when the lease was released (fact 11). */
  readonly holderIdentity: string;
  /** Whole seconds (fact 12); candidates judge expiry with this value, not their own (fact 4). */
  readonly leaseDurationSeconds: number;
  readonly acquireTime: Micros;
  readonly renewTime: Micros;
  /** Incremented by a candidate that takes the lease from another identity (fact 6e, fact 17). */
  readonly leaseTransitions: number;
}

export interface Lease extends LeaseSpec {
  readonly name: string;
  /**
   * metadata.resourceVersion: the store-wide revision of the write that produced this object, as
   * etcd's revision is. Update compares it (compare-and-swap): the only mutual exclusion (fact 7).
   */
  readonly resourceVersion: number;
}

/** Why a write was refused, named as the API server's StatusReason. */
export type LeaseWriteRefusal = 'NotFound' | 'AlreadyExists' | 'Conflict';

export type LeaseWriteResult = { ok: true; lease: Lease } | { ok: false; reason: LeaseWriteRefusal };

export class LeaseStore {
  private readonly leases = new Map<string, Lease>();
  private revisionCounter = 0;

  /** etcd's current revision: the resourceVersion of the latest committed write (0 before any). */
  get revision(): number {
    return this.revisionCounter;
  }

  get(name: string): Lease | undefined {
    return this.leases.get(name);
  }

  /** POST: fails with AlreadyExists when a Lease of that name exists. */
  create(name: string, spec: LeaseSpec): LeaseWriteResult {
    if (this.leases.has(name)) return { ok: false, reason: 'AlreadyExists' };
    return { ok: true, lease: this.commit(name, spec) };
  }

  /**
   * PUT with the resourceVersion the client last read: NotFound if the Lease is gone, 409 Conflict
   * if anything wrote it since (fact 7). Every successful write gets a new resourceVersion.
   */
  update(name: string, resourceVersion: number, spec: LeaseSpec): LeaseWriteResult {
    const current = this.leases.get(name);
    if (current === undefined) return { ok: false, reason: 'NotFound' };
    if (current.resourceVersion !== resourceVersion) return { ok: false, reason: 'Conflict' };
    return { ok: true, lease: this.commit(name, spec) };
  }

  private commit(name: string, spec: LeaseSpec): Lease {
    const lease: Lease = Object.freeze({
      name,
      holderIdentity: spec.holderIdentity,
      leaseDurationSeconds: spec.leaseDurationSeconds,
      acquireTime: spec.acquireTime,
      renewTime: spec.renewTime,
      leaseTransitions: spec.leaseTransitions,
      resourceVersion: ++this.revisionCounter,
    });
    this.leases.set(name, lease);
    return lease;
  }
}
