import type { Micros } from '../../../sim-cluster/index.ts';
import type { RpcClient, RpcResult } from '../net/rpc.ts';
import { kubeReason, type LeaseRequest } from './api-server.ts';
import type { Lease, LeaseSpec } from './lease-store.ts';

/**
 * client-go's `resourcelock.LeaseLock` (tools/leaderelection/resourcelock/leaselock.go) over the
 * model's RpcClient: Get, Create and Update of one Lease, caching the object last returned by any
 * of them. Update sends the cached object's resourceVersion, so it fails with 409 Conflict if
 * anything wrote the Lease since (real-world-semantics §1.1 fact 7).
 *
 * Every call takes a context in client-go; here the caller gets an `Abandon` function instead.
 * Calling it is the context being cancelled: the answer, if it ever comes, is ignored and does not
 * refresh the cache, while the API server may still apply the request (§1.5: a timed-out Update
 * may still commit).
 */

export type Abandon = () => void;

/**
 * Why a call failed: a StatusReason from the server (`not-found`, `already-exists`, `conflict`,
 * `unavailable`), or the client's own `timeout` / `connection` failure.
 */
export type LockErrorKind = 'not-found' | 'already-exists' | 'conflict' | 'unavailable' | 'timeout' | 'connection';

export type LockResult<T> = { ok: true; value: T } | { ok: false; kind: LockErrorKind; message: string };

/** A record as Get returns it, with its raw form for the change test of fact 6c. */
export interface FetchedRecord {
  record: LeaseSpec;
  /**
   * Stands in for the JSON bytes of the LeaderElectionRecord client-go compares (`bytes.Equal` on
   * observedRawRecord): every spec field, no resourceVersion. A renewal changes `renewTime`, so
   * the raw record changes on every write.
   */
  raw: string;
}

export class LeaseLock {
  /** `ll.lease`: the object last returned by a Get, Create or Update; null until one succeeds. */
  private lease: Lease | null = null;

  constructor(
    private readonly api: RpcClient,
    readonly name: string,
    /** The REST client's per-request timeout (see LeaderElectorOptions.requestTimeoutUs). */
    private readonly timeoutUs: Micros,
  ) {}

  get(done: (r: LockResult<FetchedRecord>) => void): Abandon {
    return this.call({ op: 'lease.get', name: this.name }, (lease) => done({ ok: true, value: { record: specOf(lease), raw: rawRecord(lease) } }), done);
  }

  create(spec: LeaseSpec, done: (r: LockResult<null>) => void): Abandon {
    return this.call({ op: 'lease.create', name: this.name, spec }, () => done({ ok: true, value: null }), done);
  }

  /** Writes `spec` over the cached object. Only called after a Get or Create succeeded (fact 6). */
  update(spec: LeaseSpec, done: (r: LockResult<null>) => void): Abandon {
    if (this.lease === null) throw new Error(`LeaseLock ${this.name}: Update before any Get or Create (lease not initialized)`);
    return this.call({ op: 'lease.update', name: this.name, resourceVersion: this.lease.resourceVersion, spec }, () => done({ ok: true, value: null }), done);
  }

  private call(body: LeaseRequest, onLease: (lease: Lease) => void, onError: (r: LockResult<never>) => void): Abandon {
    let live = true;
    this.api.call<Lease>(body, (r: RpcResult<Lease>) => {
      if (!live) return;
      if (r.ok) {
        this.lease = r.value;
        onLease(r.value);
      } else onError({ ok: false, kind: errorKind(r.error, r.message), message: r.message });
    }, this.timeoutUs);
    return () => {
      live = false;
    };
  }
}

function errorKind(error: 'connection' | 'timeout' | 'server', message: string): LockErrorKind {
  if (error !== 'server') return error;
  switch (kubeReason(message)) {
    case 'NotFound':
      return 'not-found';
    case 'AlreadyExists':
      return 'already-exists';
    case 'Conflict':
      return 'conflict';
    case 'ServiceUnavailable':
    case undefined:
      return 'unavailable';
  }
}

function specOf(lease: Lease): LeaseSpec {
  return {
    holderIdentity: lease.holderIdentity,
    leaseDurationSeconds: lease.leaseDurationSeconds,
    acquireTime: lease.acquireTime,
    renewTime: lease.renewTime,
    leaseTransitions: lease.leaseTransitions,
  };
}

/**
 * The raw form of a record: only ever compared with the previous one, so it needs to be equal
 * exactly when every field is. The numbers (integers, never a comma in them) come first and the
 * identity, the one string, last, so the separators cannot be confused with its contents. Joined
 * rather than JSON.stringify'd: every elector's Get builds one, a few times a simulated second.
 */
function rawRecord(lease: Lease): string {
  return `${lease.leaseDurationSeconds},${lease.acquireTime},${lease.renewTime},${lease.leaseTransitions},${lease.holderIdentity}`;
}
