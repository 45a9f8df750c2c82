import { MS, SECOND, type BootFn, type ConnectionEnd, type KeepAliveOptions, type Micros, type ProcessContext, type TimerHandle } from '../../../sim-cluster/index.ts';
import { ok, pushRpc, serverError, type RpcClient, type RpcResult, type RpcWire } from '../net/rpc.ts';
import { kubeApiServer, kubeReason, type KubeApiFaults, type KubeApiServerOptions, type LeaseRequest } from '../kube/api-server.ts';
import { LeaseStore, type Lease, type LeaseSpec, type LeaseWriteResult } from '../kube/lease-store.ts';

/**
 * Patroni's Kubernetes DCS (patroni/dcs/kubernetes.py, Patroni 4.1.4) over the model's API server.
 *
 * Objects. With `kubernetes.use_endpoints` Patroni keeps its leader key in the annotations of the
 * Endpoints object named after the cluster scope, the very Endpoints of the master Service (a
 * Service without a selector): the leader writes its own address into the subsets whenever it
 * takes or renews the key, and empties them when it releases the key (`_patch_or_create` with
 * `ips=[pod_ip]` from `attempt_to_acquire_leader` and `update_leader`, `ips=[]` from
 * `delete_leader`). The synchronous-replication state is the `<scope>-sync` object, a manual
 * switchover's request the `<scope>-failover` object (annotations `leader` and `member`:
 * `manual_failover`; patroni-switchover.ts). Every write is a PATCH carrying the resourceVersion
 * last read, i.e. a compare-and-swap; the model sends them as
 * the API server's Lease Create/Update (kube/api-server.ts), which have exactly that CAS, and keeps
 * the annotations and subsets alongside (`KubeObjectStore`). Nothing else about an Endpoints or
 * ConfigMap object matters to the model.
 *
 * Watches. Patroni reads the cluster from a cache (`ObjectCache`) that a LIST fills and a WATCH
 * keeps current; a change of the leader object wakes the HA loop at once, unless it is the member's
 * own renewal (`_process_event`; a change of the failover object wakes nobody: `_annotations_map`
 * names only the leader and config objects). Its own writes go into the cache too (`_patch_or_create`). The
 * model's API server has Lease Get/Create/Update only, so `kubeApiServerWithWatch` wraps it with a
 * watch of named objects (the current objects in the reply, then every committed write pushed on
 * the connection) and `WatchCache` is the member's side. The watch connection has Patroni's TCP
 * keepalive (idle loop_wait + retry_timeout, then 3 probes to ttl: `configure_timeouts`); when it
 * breaks the cache is not ready until a new watch answers, and an HA cycle waits for it at most
 * retry_timeout (`_wait_caches`) before it fails with a DCS error.
 *
 * Expiry. Patroni never compares the renewTime it reads with its own clock: a member notes when it
 * last saw the leader record change (`_leader_observed_record`, `_leader_observed_time =
 * time.time()` in `_cluster_from_nodes`) and holds the key valid while `observed + ttl >= now`
 * (kubernetes.py, `_cluster_from_nodes`), as client-go does; unlike client-go the clock is the wall
 * clock (`time.time()`), so a step of the member's clock moves its judgement (`ClusterView`).
 *
 * Requests. Patroni's read timeout is retry_timeout, split for one API server into two attempts of
 * retry_timeout/2 (`_calculate_timeouts`), inside a `Retry` with deadline retry_timeout, delays from
 * 0.1 s doubling to at most 1 s plus up to 0.8 s of jitter (patroni/utils.py `Retry`,
 * `Kubernetes.__init__` max_delay=1). `KubernetesDcs` makes every request that way: it fails with
 * `dcs-error` (Patroni's KubernetesError) once the deadline is spent.
 */

/** Annotations of an Endpoints or ConfigMap object. */
export type Annotations = Readonly<Record<string, string>>;

/** A write of a Patroni object: the Lease fields the API server checks, plus what Patroni stores. */
export interface KubeObjectSpec extends LeaseSpec {
  readonly annotations?: Annotations;
  /**
   * The Endpoints' addresses (process names stand for pod IPs). Undefined leaves them as they are,
   * as Patroni's PATCH without `ips` does.
   */
  readonly subsets?: readonly string[];
}

/** A stored Patroni object as the API server returns it. */
export interface KubeObject extends Lease {
  readonly annotations: Annotations;
  readonly subsets: readonly string[];
}

/**
 * A LeaseStore that also keeps the annotations and subsets of the objects written with them:
 * Patroni's Endpoints/ConfigMap objects ride on the API server's Lease requests unchanged (the
 * server hands the stored object back, so Gets return them). Plain Leases behave exactly as in a
 * LeaseStore. Build the cluster's API server over one of these when Patroni members run.
 */
export class KubeObjectStore extends LeaseStore {
  private readonly objects = new Map<string, KubeObject>();
  /** Called with every object a write committed (the watch of the API server's incarnation). */
  private committed: ((object: Lease) => void) | null = null;

  /** Sets the commit listener (`kubeApiServerWithWatch` sets it at each boot of the API server). */
  onCommit(listener: (object: Lease) => void): void {
    this.committed = listener;
  }

  override get(name: string): Lease | undefined {
    return this.objects.get(name) ?? super.get(name);
  }

  override create(name: string, spec: LeaseSpec): LeaseWriteResult {
    return this.keep(name, spec, super.create(name, spec));
  }

  override update(name: string, resourceVersion: number, spec: LeaseSpec): LeaseWriteResult {
    return this.keep(name, spec, super.update(name, resourceVersion, spec));
  }

  private keep(name: string, spec: LeaseSpec, result: LeaseWriteResult): LeaseWriteResult {
    if (!result.ok) return result;
    const { annotations, subsets } = spec as KubeObjectSpec;
    if (annotations === undefined && subsets === undefined) {
      this.objects.delete(name);
      this.committed?.(result.lease);
      return result;
    }
    const object: KubeObject = Object.freeze({
      ...result.lease,
      annotations: Object.freeze({ ...annotations }),
      subsets: Object.freeze([...(subsets ?? this.objects.get(name)?.subsets ?? [])]),
    });
    this.objects.set(name, object);
    this.committed?.(object);
    return { ok: true, lease: object };
  }
}

/** A watch of named objects (the request body on the API server's connection). */
export interface WatchRequest {
  op: 'kube.watch';
  names: readonly string[];
}

/**
 * The Kubernetes API server (kube/api-server.ts) with a watch: a `kube.watch` request registers the
 * connection for the objects it names and is answered with their current state (null: absent); from
 * then on every committed write of one of them is pushed on that connection, in commit order, until
 * it closes. Other requests are served as `kubeApiServer` serves them. The faults apply as to any
 * request: `error` answers 503, `blackhole` never answers (and commits nothing to push).
 */
export function kubeApiServerWithWatch(store: KubeObjectStore, faults: KubeApiFaults, options: KubeApiServerOptions = {}): BootFn {
  const boot = kubeApiServer(store, faults, options);
  return (ctx) => {
    const inner = boot(ctx);
    const watchers = new Map<string, Set<ConnectionEnd>>();
    store.onCommit((object) => {
      const conns = watchers.get(object.name);
      if (conns !== undefined) for (const conn of conns) pushRpc(conn, object);
    });
    return {
      ...inner,
      onAccept(conn) {
        inner.onAccept?.(conn);
        const serve = conn.onMessage;
        conn.onMessage = (raw) => {
          const msg = raw as RpcWire;
          if (msg.kind !== 'req' || (msg.body as Partial<WatchRequest>).op !== 'kube.watch') {
            serve?.(raw);
            return;
          }
          if (faults.mode === 'blackhole') return;
          if (faults.mode === 'error') {
            conn.send({ kind: 'res', id: msg.id, result: serverError('ServiceUnavailable: the server is currently unable to handle the request') } satisfies RpcWire);
            return;
          }
          const names = (msg.body as WatchRequest).names;
          for (const name of names) {
            let conns = watchers.get(name);
            if (conns === undefined) watchers.set(name, (conns = new Set()));
            conns.add(conn);
          }
          // The API server's own handling of the connection's end (closing at the client's FIN) goes on.
          const served = conn.onClose;
          conn.onClose = (reason) => {
            for (const name of names) watchers.get(name)?.delete(conn);
            served?.(reason);
          };
          conn.send({ kind: 'res', id: msg.id, result: ok(names.map((name) => store.get(name) ?? null)) } satisfies RpcWire);
        };
      },
    };
  };
}

/** `ObjectCache`'s pause after a failed LIST before it tries again (`_list`: time.sleep(1)). */
const WATCH_RETRY_US = 1 * SECOND;

/**
 * A member's cache of Patroni's objects (`ObjectCache`), fed by a watch (see `kubeApiServerWithWatch`)
 * and by the member's own writes (`set`). `onChange` gets every object the watch brought that is
 * newer than the cached one, with the one it replaced.
 */
export class WatchCache {
  private readonly objects = new Map<string, KubeObject>();
  private conn: ConnectionEnd | null = null;
  private isReady = false;
  private waiters: Array<(ready: boolean) => void> = [];

  constructor(
    private readonly ctx: ProcessContext,
    private readonly target: string,
    private readonly names: readonly string[],
    private readonly timeouts: { connectUs: Micros; answerUs: Micros; keepAlive: KeepAliveOptions },
    private readonly onChange: (previous: KubeObject | undefined, object: KubeObject) => void,
  ) {
    this.dial();
  }

  get(name: string): KubeObject | null {
    return this.objects.get(name) ?? null;
  }

  /** Stores `object` if it is newer than the cached one (`ObjectCache.set`); returns the replaced one. */
  set(object: KubeObject): { stored: boolean; previous: KubeObject | undefined } {
    const previous = this.objects.get(object.name);
    const stored = previous === undefined || previous.resourceVersion < object.resourceVersion;
    if (stored) this.objects.set(object.name, object);
    return { stored, previous };
  }

  /** `_wait_caches`: `done(true)` once ready, `done(false)` if not ready within `timeoutUs`. */
  whenReady(timeoutUs: Micros, done: (ready: boolean) => void): void {
    if (this.isReady) {
      done(true);
      return;
    }
    let settled = false;
    const settle = (ready: boolean): void => {
      if (settled) return;
      settled = true;
      this.ctx.cancelTimer(timer);
      done(ready);
    };
    this.waiters.push(settle);
    const timer: TimerHandle = this.ctx.setTimer(timeoutUs, () => {
      this.waiters = this.waiters.filter((w) => w !== settle);
      settle(false);
    }, 'patroni.wait-caches');
  }

  private dial(): void {
    let answered = false;
    let answerTimer: TimerHandle | undefined;
    /** The watch ended (closed by either side): not ready until a new one answers (`ObjectCache.run`). */
    const ended = (): void => {
      if (this.conn !== conn) return;
      this.conn = null;
      this.isReady = false;
      this.ctx.cancelTimer(answerTimer);
      this.ctx.setTimer(WATCH_RETRY_US, () => this.dial(), 'patroni.watch-retry');
    };
    const abandon = (): void => {
      conn.close(); // a local close calls no handler
      ended();
    };
    const conn = this.ctx.connect(this.target, {
      onOpen: () => {
        conn.send({ kind: 'req', id: 1, body: { op: 'kube.watch', names: this.names } satisfies WatchRequest } satisfies RpcWire);
        answerTimer = this.ctx.setTimer(this.timeouts.answerUs, () => {
          if (!answered) abandon();
        }, 'patroni.watch-answer');
      },
      onMessage: (raw) => {
        const msg = raw as RpcWire;
        if (msg.kind === 'res') {
          answered = true;
          this.ctx.cancelTimer(answerTimer);
          if (msg.result === undefined) {
            this.ctx.fail(new Error(`${this.target} does not serve watches: build it with kubeApiServerWithWatch (postgres/patroni-dcs.ts)`));
            return;
          }
          if (!msg.result.ok) {
            abandon();
            return;
          }
          const current = msg.result.value as Array<KubeObject | null>;
          this.names.forEach((name, i) => {
            const object = current[i];
            if (object === null || object === undefined) this.objects.delete(name);
            else this.objects.set(name, withDefaults(object));
          });
          this.isReady = true;
          const waiters = this.waiters;
          this.waiters = [];
          for (const w of waiters) w(true);
        } else if (msg.kind === 'push') {
          const object = withDefaults(msg.body as KubeObject);
          const { stored, previous } = this.set(object);
          if (stored) this.onChange(previous, object);
        }
      },
      onClose: ended,
    }, { timeoutUs: this.timeouts.connectUs, keepAlive: this.timeouts.keepAlive });
    this.conn = conn;
  }
}

/**
 * The master Service (the scope's Service without a selector): a dial goes to the address the
 * leader wrote into its Endpoints, read when the connection opens (net/rpc.ts `DialTarget`). With
 * no address (the key was released, or never taken) it resolves to its own name, which no process
 * has, so the dial is refused as kube-proxy rejects a Service without endpoints. kube-proxy's
 * propagation delay (well under a second) is not modelled: the Service follows the Endpoints at once.
 */
export class PatroniMasterService {
  constructor(
    private readonly store: LeaseStore,
    /** The Service's (and the scope's, and the leader Endpoints') name. */
    readonly name: string,
  ) {}

  /** The member process a new connection reaches now (a `DialTarget`). */
  readonly resolve = (): string => {
    const object = this.store.get(this.name) as Partial<KubeObject> | undefined;
    return object?.subsets?.[0] ?? this.name;
  };
}

export type DcsResult<T> = { ok: true; value: T } | { ok: false; why: 'not-found' | 'conflict' | 'dcs-error' };

/** Patroni's `Retry` delays: 0.1 s doubling, at most 1 s (max_delay=1), plus 0..0.8 s of jitter. */
const RETRY_FIRST_DELAY_US = 100 * MS;
const RETRY_MAX_DELAY_US = 1 * SECOND;
const RETRY_MAX_JITTER_CS = 80;

/** One member's requests to the Kubernetes API server, each retried until retry_timeout (see above). */
export class KubernetesDcs {
  constructor(
    private readonly ctx: ProcessContext,
    private readonly api: RpcClient,
    private readonly retryTimeoutUs: Micros,
  ) {}

  /** GET of an object; `not-found` when it does not exist. */
  get(name: string, done: (r: DcsResult<KubeObject>) => void): void {
    this.request({ op: 'lease.get', name }, done);
  }

  /**
   * PATCH with the resourceVersion last read (`rv`), or a create (`rv` null); `conflict` when someone
   * wrote first. `retried` false: without the `Retry` wrapper (`patch_or_create(..., retry=False)`,
   * as `manual_failover` writes): only the API client's own two attempts of retry_timeout/2, back to
   * back (`_calculate_timeouts` for one API server: one retry), and no retry of a 503.
   */
  write(name: string, rv: number | null, spec: KubeObjectSpec, done: (r: DcsResult<KubeObject>) => void, retried = true): void {
    this.request(rv === null ? { op: 'lease.create', name, spec } : { op: 'lease.update', name, resourceVersion: rv, spec }, done, retried);
  }

  private request(body: LeaseRequest, done: (r: DcsResult<KubeObject>) => void, retried = true): void {
    const stop = this.ctx.monotonic() + this.retryTimeoutUs;
    let delay = RETRY_FIRST_DELAY_US;
    let attempts = 0;
    const attempt = (): void => {
      attempts++;
      const timeout = Math.min(this.retryTimeoutUs / 2, stop - this.ctx.monotonic());
      this.api.call<KubeObject>(body, (r: RpcResult<KubeObject>) => {
        if (r.ok) return done({ ok: true, value: withDefaults(r.value) });
        if (r.error === 'server') {
          const reason = kubeReason(r.message);
          if (reason === 'NotFound') return done({ ok: false, why: 'not-found' });
          if (reason === 'Conflict' || reason === 'AlreadyExists') return done({ ok: false, why: 'conflict' });
        }
        if (!retried) {
          // urllib3 retries a timeout or a broken connection once; a 503 is an ApiException at once.
          if (r.error === 'server' || attempts >= 2 || this.ctx.monotonic() >= stop) return done({ ok: false, why: 'dcs-error' });
          attempt();
          return;
        }
        // A timeout, a broken connection or a 503: Retry sleeps and tries again while time is left.
        const sleep = delay + this.ctx.random('patroni-retry').int(0, RETRY_MAX_JITTER_CS) * 10 * MS;
        delay = Math.min(delay * 2, RETRY_MAX_DELAY_US);
        if (this.ctx.monotonic() + sleep >= stop) return done({ ok: false, why: 'dcs-error' });
        this.ctx.setTimer(sleep, attempt, 'patroni.dcs-retry');
      }, Math.max(1, Math.floor(timeout)));
    };
    attempt();
  }
}

/** An object written as a plain Lease (by something other than Patroni) read as a Patroni object. */
function withDefaults(lease: Lease & Partial<Pick<KubeObject, 'annotations' | 'subsets'>>): KubeObject {
  if (lease.annotations !== undefined && lease.subsets !== undefined) return lease as KubeObject;
  return { ...lease, annotations: lease.annotations ?? {}, subsets: lease.subsets ?? [] };
}

/** A manual failover or switchover request (`Failover`): `leader` '' for a failover, `candidate` '' for any member. */
export interface FailoverKey {
  readonly leader: string;
  readonly candidate: string;
  /** The object's resourceVersion (`Failover.version`), for the holder's compare-and-swap cleanup. */
  readonly resourceVersion: number;
}

/**
 * A member's view of the cluster from the DCS (Patroni's `Cluster` built by `_cluster_from_nodes`):
 * the leader object with the observed-record expiry (see the module note) and the sync object.
 */
export class ClusterView {
  leaderObject: KubeObject | null = null;
  syncObject: KubeObject | null = null;
  /** The `<scope>-failover` object (patroni-switchover.ts), null when absent. */
  failoverObject: KubeObject | null = null;
  /** `_leader_observed_record` as a string ('' = `{}`), and `_leader_observed_time` (null = None). */
  private observedRaw = '';
  private observedAt: Micros | null = null;

  /** `_cluster_from_nodes` at the start of an HA cycle: notes when the leader record last changed. */
  observe(nowUs: Micros): void {
    const raw = leaderRecord(this.leaderObject);
    if (raw !== this.observedRaw) {
      this.observedRaw = raw;
      this.observedAt = nowUs;
    }
  }

  /**
   * The leader's name if the key is held and valid (`cluster.leader.name`), else null: the object
   * must exist, name a leader, and have been seen to change within its ttl.
   */
  leader(nowUs: Micros): string | null {
    const o = this.leaderObject;
    if (o === null || o.holderIdentity === '' || this.observedAt === null) return null;
    return this.observedAt + o.leaseDurationSeconds * SECOND >= nowUs ? o.holderIdentity : null;
  }

  /** The leader's last reported WAL position (the `optime` annotation: `cluster.status.last_lsn`). */
  get lastLsn(): number {
    return Number(this.leaderObject?.annotations['optime'] ?? 0);
  }

  /** The /sync key's leader ('' when synchronous mode is not active: `SyncState.is_empty`). */
  get syncLeader(): string {
    return this.syncObject?.annotations['leader'] ?? '';
  }

  /** The /sync key's synchronous standby ('' when none). */
  get syncStandby(): string {
    return this.syncObject?.annotations['sync_standby'] ?? '';
  }

  /**
   * The /failover key (`Failover.from_node` over the object's annotations `leader` and `member`;
   * kubernetes.py `manual_failover`), or null when absent or naming nobody (an empty `Failover` is
   * falsy, `Failover.__len__`). Names are '' when not given.
   */
  get failover(): FailoverKey | null {
    const o = this.failoverObject;
    if (o === null) return null;
    const leader = o.annotations['leader'] ?? '';
    const candidate = o.annotations['member'] ?? '';
    return leader === '' && candidate === '' ? null : { leader, candidate, resourceVersion: o.resourceVersion };
  }

  /** `SyncState.matches(name, check_leader)`: the sync standby, or (with `orLeader`) the sync leader. */
  syncMatches(name: string, orLeader: boolean): boolean {
    return this.syncStandby === name || (orLeader && this.syncLeader === name);
  }
}

/** The leader record Patroni compares (annotations leader, acquireTime, ttl, renewTime, transitions). */
function leaderRecord(o: KubeObject | null): string {
  if (o === null) return '';
  return `${o.holderIdentity}|${o.acquireTime}|${o.leaseDurationSeconds}|${o.renewTime}|${o.leaseTransitions}`;
}
