import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { Abandon, LeaseLock } from './lease-lock.ts';
import type { LeaseSpec } from './lease-store.ts';
import type { Observation } from './observation.ts';

/**
 * The two Lease round-trip procedures of client-go's LeaderElector (leaderelection.go, v0.34),
 * `tryAcquireOrRenew` and `tryRelease`. The elector's machine starts one in the state whose context
 * bounds it; leaving that state abandons it (the returned `Abandon`), which drops the request in
 * flight: that is Go's context cancellation (an acquire cancelled by the caller, a renew poll
 * reaching RenewDeadline, release reaching its own RD timeout).
 */

/** What both procedures work on: client-go's LeaderElector fields and its Lock. */
export interface ElectionEnv {
  readonly ctx: ProcessContext;
  readonly lock: LeaseLock;
  readonly observed: Observation;
  readonly identity: string;
  /** `int(LeaseDuration / time.Second)`: the duration this client writes into the record (fact 12). */
  readonly leaseDurationSeconds: number;
}

/**
 * tryAcquireOrRenew (real-world-semantics §1.1 fact 6). `now` is taken once, when the attempt
 * starts, on the local monotonic clock (validity) and the local wall clock (the times written into
 * the record, which nobody uses for expiry, fact 2).
 */
export function tryAcquireOrRenew(env: ElectionEnv, done: (succeeded: boolean) => void): Abandon {
  const { ctx, lock, observed } = env;
  const nowUs = ctx.monotonic();
  const wallUs = ctx.now();
  const desired: LeaseSpec = {
    holderIdentity: env.identity,
    leaseDurationSeconds: env.leaseDurationSeconds,
    acquireTime: wallUs,
    renewTime: wallUs,
    leaseTransitions: 0,
  };
  let inFlight: Abandon | null = null;

  const write = (spec: LeaseSpec, onFailure: () => void): void => {
    inFlight = lock.update(spec, (r) => {
      if (!r.ok) return onFailure();
      observed.set(spec); // (f)
      done(true);
    });
  };

  const slowPath = (): void => {
    // (b) Get; NotFound → Create, whose success is leadership.
    inFlight = lock.get((r) => {
      if (!r.ok) {
        if (r.kind !== 'not-found') return done(false);
        inFlight = lock.create(desired, (c) => {
          if (!c.ok) return done(false);
          observed.set(desired);
          done(true);
        });
        return;
      }
      const { record, raw } = r.value;
      // (c) A changed record restarts this client's expiry clock.
      observed.fetched(record, raw);
      // (d) Held by someone else and not expired on this client's clock; an empty holder is
      // acquirable at once (fact 11).
      if (record.holderIdentity !== '' && observed.isLeaseValid(nowUs) && !observed.isLeader()) return done(false);
      // (e) Keep acquireTime and leaseTransitions when renewing; a new holder increments them.
      const spec: LeaseSpec = observed.isLeader()
        ? { ...desired, acquireTime: record.acquireTime, leaseTransitions: record.leaseTransitions }
        : { ...desired, leaseTransitions: record.leaseTransitions + 1 };
      write(spec, () => done(false));
    });
  };

  // (a) Fast path (client-go >= v0.30): the observed leader with a locally valid lease updates the
  // cached object without a Get; any error falls through to the slow path.
  const cached = observed.record;
  if (cached !== null && observed.isLeader() && observed.isLeaseValid(nowUs)) {
    write({ ...desired, acquireTime: cached.acquireTime, leaseTransitions: cached.leaseTransitions }, slowPath);
  } else slowPath();
  return () => inFlight?.();
}

/**
 * How a release ended: `released` (holder cleared), `not-leader` (this client had already observed
 * another holder, nothing to do), or `failed` (an error other than Conflict).
 */
export type ReleaseOutcome = { outcome: 'released' } | { outcome: 'not-leader' } | { outcome: 'failed'; why: string };

/**
 * tryRelease as in client-go v0.34 (facts 10, 11; §1.4): a Get first (refreshing the cached
 * resourceVersion), then — judged on the *previously observed* record, not the one just read, since
 * v0.34 dropped the holder check — an Update to holder '', leaseDurationSeconds 1, keeping the
 * fetched leaseTransitions; a Conflict starts over. The caller bounds it with its RD timeout.
 * Because the fetched holder is not checked, a client whose stale observation still names itself
 * clears a newer holder's lease: the stale-release overwrite of §1.4.
 */
export function tryRelease(env: ElectionEnv, done: (r: ReleaseOutcome) => void): Abandon {
  const { ctx, lock, observed } = env;
  let inFlight: Abandon | null = null;
  const attempt = (): void => {
    inFlight = lock.get((r) => {
      if (!r.ok) return done({ outcome: 'failed', why: r.kind });
      if (!observed.isLeader()) return done({ outcome: 'not-leader' });
      const wallUs = ctx.now();
      const released: LeaseSpec = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: wallUs,
        renewTime: wallUs,
        leaseTransitions: r.value.record.leaseTransitions,
      };
      inFlight = lock.update(released, (u) => {
        if (u.ok) {
          observed.set(released);
          return done({ outcome: 'released' });
        }
        if (u.kind === 'conflict') return attempt();
        done({ outcome: 'failed', why: u.kind });
      });
    });
  };
  attempt();
  return () => inFlight?.();
}
