import { serviceTimeSampler } from '../net/service-time.ts';
import { MS, type BootFn, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import { ok, serveRpc, serverError, type RpcResult } from '../net/rpc.ts';
import type { LeaseSpec, LeaseStore, LeaseWriteResult } from './lease-store.ts';
import { events } from '../events.ts';

/**
 * The Kubernetes API server as a simulated process, serving the Lease operations client-go's
 * LeaseLock uses (real-world-semantics §1.1 facts 6, 7; streamspace-v2-behavior §8) over
 * `serveRpc`, against a `LeaseStore` that outlives the process (etcd is durable).
 *
 * A request is read or applied when its service time ends, and answered `extraLatencyUs` later.
 * Writes therefore commit *before* a slow answer leaves: a renewal that commits at c but whose
 * answer reaches the holder more than LD-RD-RP = 3 s later is the overlap case of §1.2, and a
 * client that times out meanwhile has an Update that committed anyway (the unknown outcome of
 * §1.5). A crash before the service time ends loses the request, as an uncommitted etcd write is.
 *
 * Answers: `ok(lease)`, or `serverError('<StatusReason>: <message>')` for a non-2xx status, the
 * reason being what client-go's `errors.IsNotFound` / `IsConflict` test (`kubeReason` reads it).
 *
 * Trace events, one per committed write or refused compare-and-swap, with `by` the calling process:
 * - `lease.create` {lease, holder, transitions, rv, by}
 * - `lease.update` {lease, holder, transitions, rv, by}: every committed Update, renewals and
 *   releases (holder '') included, so a checker knows at every instant who holds which lease;
 * - `lease.conflict` {lease, by, holder, reason}: a Create refused with AlreadyExists or an Update
 *   refused with 409 Conflict (`holder` is the identity the refused write named).
 */

/** The requests LeaseLock sends (client-go resourcelock/leaselock.go: Get, Create, Update). */
export type LeaseRequest =
  | { op: 'lease.get'; name: string }
  | { op: 'lease.create'; name: string; spec: LeaseSpec }
  | { op: 'lease.update'; name: string; resourceVersion: number; spec: LeaseSpec };

/** The StatusReason of a non-2xx answer. */
export type KubeReason = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'ServiceUnavailable';

const REASONS: readonly KubeReason[] = ['NotFound', 'AlreadyExists', 'Conflict', 'ServiceUnavailable'];

/** The StatusReason of a `server` RPC error from this process, or undefined for any other message. */
export function kubeReason(message: string): KubeReason | undefined {
  const colon = message.indexOf(':');
  return colon < 0 ? undefined : REASONS.find((r) => r === message.slice(0, colon));
}

/**
 * Faults a fault injector toggles at scheduled times; both are read when a request arrives.
 * - `extraLatencyUs`: added before the answer leaves (after the commit, see above): a slow or
 *   overloaded API server.
 * - `mode`: `ok`; `error` answers every request with 503 ServiceUnavailable and applies nothing
 *   (the "too many concurrent requests" errors of kubernetes#23731, §1.3; client-go does not retry
 *   a 503 without Retry-After); `blackhole` never answers and applies nothing, so clients run into
 *   their own deadlines (a suspended kube-apiserver, kubernetes#65090, §1.3; facts 9 and 14).
 */
export interface KubeApiFaults {
  extraLatencyUs: Micros;
  mode: 'ok' | 'error' | 'blackhole';
}

/** A fault object with no fault active. */
export function healthyKubeApi(): KubeApiFaults {
  return { extraLatencyUs: 0, mode: 'ok' };
}

export interface KubeApiServerOptions {
  /**
   * Service time of one request, uniform in [min, max] µs from the process's `service` stream.
   * Default 1-3 ms: a Get served from the watch cache or a single-key etcd transaction on a lightly
   * loaded control plane (an assumption: the spec gives no figure; L in §1.2 includes it).
   */
  serviceTimeUs?: { min: Micros; max: Micros };
}

export const DEFAULT_KUBE_API_SERVICE_TIME_US = { min: 1 * MS, max: 3 * MS } as const;

export function kubeApiServer(store: LeaseStore, faults: KubeApiFaults, options: KubeApiServerOptions = {}): BootFn {
  const serviceTime = serviceTimeSampler(options.serviceTimeUs ?? DEFAULT_KUBE_API_SERVICE_TIME_US);
  return (ctx) => ({
    onAccept(conn) {
      serveRpc(conn, (body, reply) => {
        const { mode, extraLatencyUs } = faults;
        if (mode === 'blackhole') return;
        const serviceUs = serviceTime(ctx);
        ctx.setTimer(serviceUs, () => {
          const result = mode === 'error'
            ? serverError('ServiceUnavailable: the server is currently unable to handle the request')
            : handle(ctx, store, body as LeaseRequest, conn.remote);
          if (extraLatencyUs === 0) reply(result);
          else ctx.setTimer(extraLatencyUs, () => reply(result), 'kube-api.slow-answer');
        }, 'kube-api.request');
      });
    },
  });
}

function handle(ctx: ProcessContext, store: LeaseStore, req: LeaseRequest, by: string): RpcResult<unknown> {
  switch (req.op) {
    case 'lease.get': {
      const lease = store.get(req.name);
      return lease === undefined ? serverError(`NotFound: leases "${req.name}" not found`) : ok(lease);
    }
    case 'lease.create':
      return written(ctx, 'lease.create', req.name, req.spec, by, store.create(req.name, req.spec));
    case 'lease.update':
      return written(ctx, 'lease.update', req.name, req.spec, by, store.update(req.name, req.resourceVersion, req.spec));
  }
}

function written(ctx: ProcessContext, kind: 'lease.create' | 'lease.update', name: string, spec: LeaseSpec, by: string, result: LeaseWriteResult): RpcResult<unknown> {
  if (result.ok) {
    const { lease } = result;
    events.record(ctx, kind, { lease: name, holder: lease.holderIdentity, transitions: lease.leaseTransitions, rv: lease.resourceVersion, by });
    return ok(lease);
  }
  if (result.reason !== 'NotFound') ctx.record('lease.conflict', { lease: name, by, holder: spec.holderIdentity, reason: result.reason });
  switch (result.reason) {
    case 'NotFound':
      return serverError(`NotFound: leases "${name}" not found`);
    case 'AlreadyExists':
      return serverError(`AlreadyExists: leases "${name}" already exists`);
    case 'Conflict':
      return serverError(`Conflict: Operation cannot be fulfilled on leases "${name}": the object has been modified; please apply your changes to the latest version and try again`);
  }
}
