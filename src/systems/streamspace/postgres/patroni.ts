import { MS, SECOND, type BootFn, type ConnectionEnd, type Micros, type ProcessBehaviour, type ProcessContext, type TimerHandle } from '../../../sim-cluster/index.ts';
import { ok, RpcClient, serveRpc, serverError, type RpcResult } from '../net/rpc.ts';
import { ClusterView, KubernetesDcs, WatchCache, type FailoverKey, type KubeObject, type KubeObjectSpec } from './patroni-dcs.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import { PATRONI_TIMER_LABELS, patroniMachine, TAKEOVER_WAIT_US, type PatroniComponent, type PatroniEvent } from './patroni-machine.ts';
import { MemberPostgres, memberPostgresTimings, type MemberPostgresOptions, type PgState } from './patroni-postgres.ts';
import { failoverKeyName, failoverSpec, ManualFailover, syncKeyName, type LeaderVerdict, type MemberStatus } from './patroni-switchover.ts';
import { SynchronousReplication, type ReplicationMode } from './patroni-sync.ts';
import { isReplicationStart, type PgData, type PgSnapshot, type WalRecord } from './replication.ts';
import { healthyPostgres, type PostgresFaults } from './server.ts';
import type { Statement } from './statements.ts';

/**
 * A Patroni member (Patroni 4.1.4, patroni/ha.py) with its PostgreSQL (patroni-postgres.ts) in one
 * process, as Spilo runs them in one container; the leader key in the Kubernetes API server
 * (patroni-dcs.ts). Spec: seeds-001-004 §2 "PostgreSQL failover", real-world-semantics §4.
 *
 * The HA loop (`Ha._run_cycle`) is the statechart of patroni-machine.ts, run by the kernel's compiled
 * stepper with the member as its context; it runs every loop_wait (`Patroni.schedule_next_run`: the next run is
 * the previous one plus loop_wait, at once if that has passed; a member that watches a leader it
 * does not hold waits 0.5 s more, `Kubernetes.watch`). A finished long action (start, promote,
 * rewind) wakes it at once (`AsyncExecutor.run` calls `ha.wakeup`). Each cycle:
 * - loads the cluster: the leader and /sync objects from the watch-fed cache (below), noting when
 *   the leader record last changed (the expiry clock, `ClusterView`);
 * - a long action in progress: the holder renews the key, nothing else (`handle_long_action_in_progress`);
 * - postgres not running: bootstrap (the first member of a cluster never initialised), else start it
 *   as a standby of the leader, after a pg_rewind if its WAL diverged (`recover`); with the key
 *   still its own, as a standby without upstream, promoted on the next cycle;
 * - the key held by this member: renew it (`update_lock`: a compare-and-swap on the object last
 *   read or written; optime = its WAL position). Renewed: act on a switchover request (below),
 *   then promote if still a standby (after the /sync pre-promote step), or manage synchronous
 *   replication (`process_sync_replication`). Found another holder: demote `immediate-nolock`;
 * - the key held by another: follow it (`follow`): a primary demotes; a standby re-points its
 *   walreceiver (a reload: PostgreSQL >= 13 applies primary_conninfo without a restart), after a
 *   divergence check when one is due (`Rewind.trigger_check_diverged_lsn` after a demote, a restart
 *   or a new upstream), rewinding when the WAL diverged (`_handle_rewind_or_reinitialize`);
 * - no valid key: the leader race (`process_unhealthy_cluster`). A member is healthy enough
 *   (`is_healthiest_node`) if it runs; as a primary, always; in synchronous mode, only the /sync
 *   standby (or the /sync leader); its WAL within maximum_lag_on_failover of the leader's last
 *   optime (`is_lagging`); and no other member it can reach over the REST API in 2 s
 *   (`fetch_node_status`: timeout 2 s, no retry) is a primary or ahead of it (the former /sync
 *   leader excepted). Then it takes the key by compare-and-swap (`attempt_to_acquire_leader`,
 *   transitions + 1) and promotes (`enforce_primary_role`); one that is not healthiest, or lost the
 *   race, follows whoever holds the key (nobody: its walreceiver stops);
 * - a DCS error (a request still failing after retry_timeout): a running primary demotes
 *   `offline` (`_handle_dcs_error`): fast stop, then a standby without upstream, key not released.
 *
 * The cluster comes from the member's watch-fed cache (patroni-dcs.ts `WatchCache`), so a cycle
 * makes no request unless it writes; a change of the leader object by another member wakes the loop
 * at once. Hence a standby runs a cycle right after every renewal and notes it; with no renewal
 * after T its cycles come at T + k × loop_wait + 0.5 s, and the first past T + ttl (T + 30.5 s with
 * the defaults) starts the race; the REST calls wait 2 s for a dead member, promotion takes
 * `promoteUs`: promoted about T + 33.5 s, i.e. 23.5-33.5 s after a node failure (pigsty: ttl -
 * loop_wait to ttl + loop_wait + 2 s). A release wakes the standbys at once. A leader cut off from
 * the API server reads its stale cache, spends retry_timeout on the renewal, and demotes within
 * loop_wait + retry_timeout of the cut (before the key can expire: loop_wait + 2 × retry_timeout <= ttl).
 *
 * A planned switchover (patroni-switchover.ts has the request and the decisions): the holder finds
 * a request in the `<scope>-failover` key at a cycle, after its renewal, and if a candidate is fit
 * demotes gracefully (`demote('graceful')`, a long action): fast stop, 1 s for the standbys, key
 * released, 2 s for another member to take it, then postgres starts as a standby of the new
 * holder. The release wakes the standbys; the candidate takes the key and promotes, the others
 * stand aside (2 s, then they follow the new holder). From the request: within loop_wait to the
 * holder's cycle, then stopFastUs + 1 s to the release and promoteUs to the promotion (about 3 s
 * with the defaults). The fast stop ends the walsenders' connections after the WAL already
 * written, so a standby that streams has every commit the old primary made: as PostgreSQL's
 * walsenders send everything up to the shutdown checkpoint before they exit (walsender.c
 * `WalSndDone`), which Patroni counts on (`on_shutdown`: the key goes early only once a candidate
 * has the checkpoint, `is_failover_possible(cluster_lsn=...)`). The model skips that check: its
 * stop ends when pg_control says "shut down", and the key is released then either way, as
 * Patroni releases it after the stop when the check fails; only the instant could differ, for a
 * candidate cut off from the stream (its walsender keeps the postmaster up to wal_sender_timeout).
 *
 * Simplifications: Patroni's member keys (pod annotations written by `touch_member`) are not
 * modelled: the member list is fixed (the StatefulSet's pods, which stay listed on a dead node),
 * "streaming" comes from pg_stat_replication; no failsafe mode, watchdog, pause, scheduled
 * switchover, primary_race_backoff (default 0), nofailover or priority tags; a standby shutting
 * down does not first ask to lose its sync status (`while_not_sync_standby`).
 *
 * Trace events (flat details, fixed key order):
 * - `patroni.leader` {member, transitions}: it took the leader key;
 * - `patroni.bootstrap` {member}: it initialised the cluster and runs as its first primary;
 * - `patroni.promote` {member, lsn, timeline}: pg_ctl promote finished, writes accepted from now;
 *   `lsn` is where the new timeline starts: the old primary's records past it never reach it
 *   (replication.ts `walBeyond`);
 * - `patroni.demote` {member, why}: `offline` (DCS unreachable), `lost-lock` (another holder) or
 *   `switchover` (a graceful demotion for a switchover request);
 * - `patroni.release` {member}: graceful shutdown or a switchover released the key (and emptied the Endpoints);
 * - `patroni.switchover` {leader, candidate, outcome}: the holder's verdict on a request in the
 *   failover key (`leader`, `candidate` as the request names them, null when not named):
 *   `accepted` (it demotes for it), `refused` (no fit candidate: the request is removed, nothing
 *   else changes) or `stale` (the request names another leader, or this member as the candidate:
 *   removed);
 * - `patroni.follow` {member, leader}: its walreceiver now streams from `leader` (null: from nobody);
 * - `patroni.rewind` {member, leader, forkLsn, lost}: its data became a copy of `leader`'s; `lost`
 *   records past `forkLsn` were discarded (replication.ts `PgData.discarded`);
 * - `pg.sync-standby` {leader, standby}: the /sync key now names `standby` (null: none; patroni-sync.ts).
 */

export type { ReplicationMode } from './patroni-sync.ts';

export interface PatroniOptions {
  /** Every member's process name (the StatefulSet's pods). The first bootstraps a new cluster. */
  members: readonly string[];
  /** The cluster scope: the leader Endpoints' and the master Service's name. Default `postgres`. */
  scope?: string;
  /** The Kubernetes API server's process name. Default `kube-api`. */
  kubeApi?: string;
  /**
   * `async` (synchronous_mode off), `sync` (synchronous_mode on: one synchronous standby while one
   * streams, commits go on locally without), `sync-strict` (synchronous_mode_strict: commits wait
   * while no standby is synchronous). Default `sync` (seed 004).
   */
  replication?: ReplicationMode;
  /** Leader key TTL, whole seconds. Default 30 (Patroni, Spilo). */
  ttl?: number;
  /** HA loop period, whole seconds. Default 10. */
  loopWait?: number;
  /** Deadline of DCS requests (and of the leader's renewal), whole seconds. Default 10. */
  retryTimeout?: number;
  /** Bytes a standby may lag the leader's last optime and still race. Default 32 MiB (Spilo; Patroni's own default is 1 MiB). */
  maximumLagOnFailover?: number;
  /** PostgreSQL's timings (patroni-postgres.ts). */
  postgres?: MemberPostgresOptions;
}

export const DEFAULT_PATRONI = {
  scope: 'postgres',
  kubeApi: 'kube-api',
  replication: 'sync',
  ttl: 30,
  loopWait: 10,
  retryTimeout: 10,
  maximumLagOnFailover: 32 * 1024 * 1024,
} as const;

/**
 * Patroni's checks of ttl, loop_wait and retry_timeout (patroni/config.py
 * `_validate_and_adjust_timeouts`): at least 20, 1 and 3 s; when loop_wait + 2 × retry_timeout >
 * ttl, loop_wait is reduced, and retry_timeout too if loop_wait is already 1. Patroni adjusts (and
 * logs a warning); so does the model. Non-integers are refused.
 */
export function patroniTimeouts(input: { ttl: number; loopWait: number; retryTimeout: number }): { ttl: number; loopWait: number; retryTimeout: number } {
  for (const [k, v] of Object.entries(input)) if (!Number.isSafeInteger(v)) throw new RangeError(`patroni ${k} must be a whole number of seconds, got ${v}`);
  const ttl = Math.max(20, input.ttl);
  let loopWait = Math.max(1, input.loopWait);
  let retryTimeout = Math.max(3, input.retryTimeout);
  if (1 + 2 * retryTimeout > ttl) {
    loopWait = 1;
    retryTimeout = Math.floor((ttl - 1) / 2);
  } else if (loopWait + 2 * retryTimeout > ttl) loopWait = ttl - 2 * retryTimeout;
  return { ttl, loopWait, retryTimeout };
}

interface PatroniConfig {
  scope: string;
  syncKey: string;
  failoverKey: string;
  members: readonly string[];
  kubeApi: string;
  mode: ReplicationMode;
  ttl: number;
  loopWaitUs: Micros;
  retryTimeoutUs: Micros;
  maximumLagOnFailover: number;
  postgres: MemberPostgresOptions;
}

function configure(options: PatroniOptions): PatroniConfig {
  const members = options.members;
  if (members.length === 0 || new Set(members).size !== members.length) throw new RangeError(`patroni members must be distinct names, got [${members.join(', ')}]`);
  const mode = options.replication ?? DEFAULT_PATRONI.replication;
  if (mode !== 'async' && mode !== 'sync' && mode !== 'sync-strict') throw new RangeError(`patroni replication must be async, sync or sync-strict, got ${String(mode)}`);
  const lag = options.maximumLagOnFailover ?? DEFAULT_PATRONI.maximumLagOnFailover;
  if (!Number.isSafeInteger(lag) || lag < 0) throw new RangeError(`patroni maximumLagOnFailover must be a non-negative number of bytes, got ${lag}`);
  const t = patroniTimeouts({
    ttl: options.ttl ?? DEFAULT_PATRONI.ttl,
    loopWait: options.loopWait ?? DEFAULT_PATRONI.loopWait,
    retryTimeout: options.retryTimeout ?? DEFAULT_PATRONI.retryTimeout,
  });
  const scope = options.scope ?? DEFAULT_PATRONI.scope;
  memberPostgresTimings(options.postgres ?? {}); // checked here, at boot-function creation
  return {
    scope, syncKey: syncKeyName(scope), failoverKey: failoverKeyName(scope), members, kubeApi: options.kubeApi ?? DEFAULT_PATRONI.kubeApi, mode,
    ttl: t.ttl, loopWaitUs: t.loopWait * SECOND, retryTimeoutUs: t.retryTimeout * SECOND, maximumLagOnFailover: lag,
    postgres: options.postgres ?? {},
  };
}

/**
 * Boots a Patroni member over its durable data. `faults` (server.ts) apply to its statements as
 * to the single server's. The process name must be one of `options.members`.
 */
export function bootPatroniMember(data: PgData, options: PatroniOptions, faults: PostgresFaults = healthyPostgres()): BootFn {
  const config = configure(options);
  return (ctx) => new PatroniMember(ctx, data, faults, config).behaviour;
}

/** `fetch_node_status`: 2 s, no retries. */
const REST_TIMEOUT_US = 2 * SECOND;
/** The rewind check's and pg_rewind's libpq connections to the leader (assumed; not a Patroni constant). */
const IDENTIFY_TIMEOUT_US = 5 * SECOND;
const SNAPSHOT_TIMEOUT_US = 60 * SECOND;
/** `Kubernetes.watch`: a member watching another's key waits 0.5 s longer. */
const WATCH_EXTRA_US = 500 * MS;
/** `shutdown` / `demote` `on_shutdown`: 1 s for the standbys to catch up before the key is released. */
const RELEASE_DELAY_US = 1 * SECOND;

type PeerRequest = { op: 'patroni.status' } | { op: 'pg.identify'; last: WalRecord | null } | { op: 'pg.snapshot' };

type LockResult = 'ok' | 'lost' | 'dcs-error';

/** The statechart (patroni-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const PATRONI = compileMachine(patroniMachine);

/** The events without data, made once. */
const WAKE: PatroniEvent = { type: 'WAKE' };
const SIGTERM: PatroniEvent = { type: 'SIGTERM' };
const LOADED: PatroniEvent = { type: 'LOADED' };
const LOAD_FAILED: PatroniEvent = { type: 'LOAD_FAILED' };
const HEALTHY: PatroniEvent = { type: 'HEALTHY' };
const NOT_HEALTHY: PatroniEvent = { type: 'NOT_HEALTHY' };
const REQUEST_REMOVED: PatroniEvent = { type: 'REQUEST_REMOVED' };
const SYNC_DONE: PatroniEvent = { type: 'SYNC_DONE' };
const PROMOTE_READY: PatroniEvent = { type: 'PROMOTE_READY' };
const PROMOTE_POSTPONED: PatroniEvent = { type: 'PROMOTE_POSTPONED' };
const DEMOTED: PatroniEvent = { type: 'DEMOTED' };
const LOCK_EVENTS: Readonly<Record<LockResult, PatroniEvent>> = { ok: { type: 'LOCK_OK' }, lost: { type: 'LOCK_LOST' }, 'dcs-error': { type: 'DCS_ERROR' } };
const WAL_EVENTS: Readonly<Record<'diverged' | 'ok' | 'unknown', PatroniEvent>> = {
  diverged: { type: 'WAL_DIVERGED' }, ok: { type: 'WAL_MATCHES' }, unknown: { type: 'WAL_UNKNOWN' },
};

/**
 * A member: its HA loop is the statechart of patroni-machine.ts, run by the kernel's compiled
 * stepper with this object as its context. The class keeps the cluster view, the DCS client,
 * postgres and the long actions, and answers the I/O the statechart starts with events.
 */
class PatroniMember implements PatroniComponent {
  readonly behaviour: ProcessBehaviour;
  private readonly mode: Statechart<PatroniMember, PatroniEvent, TimerHandle>;
  readonly me: string;
  private readonly pg: MemberPostgres;
  private readonly dcs: KubernetesDcs;
  private readonly cache: WatchCache;
  private readonly view = new ClusterView();
  private readonly peers = new Map<string, RpcClient>();
  /** The long action in progress (`AsyncExecutor.scheduled_action`), or null. */
  busy: string | null = null;
  /** `Rewind` state CHECK: a divergence check is due before following. */
  rewindCheck = true;
  /** `next_run` (wall clock, as Patroni's time.time()). */
  private nextRun: Micros = 0;
  /** The sleep until `next_run`, set when a cycle ends. */
  napUs: Micros = 0;
  private wakePending = false;
  shuttingDown = false;
  request: FailoverKey | null = null;
  target: string | null = null;
  private readonly sync: SynchronousReplication;
  private readonly switchover: ManualFailover;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly data: PgData,
    faults: PostgresFaults,
    private readonly config: PatroniConfig,
  ) {
    this.me = ctx.name;
    if (!config.members.includes(this.me)) throw new Error(`patroni member ${this.me} is not in members [${config.members.join(', ')}]`);
    this.pg = new MemberPostgres(ctx, data, faults, config.postgres, () => {
      this.rewindCheck = true;
    });
    // Patroni's API client: per attempt a total of retry_timeout/2 with a connect timeout of half that (`request`).
    const api = new RpcClient(ctx, { target: config.kubeApi, connectTimeoutUs: Math.floor(config.retryTimeoutUs / 4), timeoutIncludesDial: true });
    this.dcs = new KubernetesDcs(ctx, api, config.retryTimeoutUs);
    this.sync = new SynchronousReplication(ctx, config.mode, this.view, this.pg, data, (spec, done) => {
      this.dcs.write(config.syncKey, this.view.syncObject?.resourceVersion ?? null, spec, (r) => {
        if (r.ok) this.cached(r.value);
        done(r.ok ? r.value : null);
      });
    });
    const idle = config.loopWaitUs + config.retryTimeoutUs;
    this.switchover = new ManualFailover({
      me: this.me, members: config.members, view: this.view, synchronousMode: config.mode !== 'async',
      syncActive: () => this.sync.active, maximumLagOnFailover: config.maximumLagOnFailover,
      fetchStatuses: (members, done) => this.fetchStatuses(members, done),
    });
    this.cache = new WatchCache(ctx, config.kubeApi, [config.scope, config.syncKey, config.failoverKey], {
      connectUs: config.retryTimeoutUs,
      answerUs: Math.floor(config.retryTimeoutUs / 2),
      // `configure_timeouts`: keepalive idle loop_wait + retry_timeout, 3 probes spread to ttl.
      keepAlive: { idleUs: idle, intervalUs: Math.max(SECOND, Math.floor((config.ttl * SECOND - idle) / 3 / SECOND) * SECOND), probes: 3 },
    }, (previous, object) => {
      // `_process_event`: a change of the leader object wakes the loop unless it is our own renewal.
      if (object.name !== config.scope) return;
      if (previous?.holderIdentity !== object.holderIdentity || object.holderIdentity !== this.me) this.wake();
    });
    // The first cycle is due at once (the statechart's `due`).
    this.mode = new Statechart<PatroniMember, PatroniEvent, TimerHandle>(PATRONI, this, ctx, { timerLabels: PATRONI_TIMER_LABELS });
    this.mode.start();
    this.behaviour = {
      onAccept: (conn) => this.accept(conn),
      // SIGTERM from the kubelet (pod deletion); Spilo forwards it to Patroni, which shuts down.
      onSignal: (signal) => {
        if (signal === 'SIGTERM' || signal === 'SIGINT') this.mode.send(SIGTERM);
      },
    };
  }

  // ---- the HA loop: patroni-machine.ts decides, these answer -----------------------------------

  send(event: PatroniEvent): void {
    this.mode.send(event);
  }

  runNow(): void {
    this.nextRun = this.ctx.now();
  }

  /** `schedule_next_run` and `Ha.watch`. */
  scheduleNextRun(): void {
    const now = this.ctx.now();
    this.nextRun += this.config.loopWaitUs;
    let nap = this.nextRun - now;
    if (nap <= 0 || this.wakePending) {
      this.nextRun = now;
      nap = 1 * MS; // "Loop time exceeded, rescheduling immediately" (after a 1 ms sleep)
    } else if (this.busy === null && this.view.leader(now) !== null && this.view.leader(now) !== this.me) nap += WATCH_EXTRA_US;
    this.wakePending = false;
    this.napUs = nap;
  }

  markWakePending(): void {
    this.wakePending = true;
  }

  /** `Ha.wakeup`: the next cycle runs now (or right after the current one). */
  private wake(): void {
    this.mode.send(WAKE);
  }

  keyHolder(): string | null {
    return this.view.leader(this.ctx.now());
  }

  initialised(): boolean {
    return this.view.leaderObject !== null;
  }

  /**
   * No leader object: the cluster was never initialised. The first member bootstraps it (a
   * StatefulSet starts its pods in order, so pod 0's Patroni wins the initialize key); the others
   * wait for a leader to clone from.
   */
  mayBootstrap(): boolean {
    return this.me === this.config.members[0] && this.data.lsn === 0;
  }

  postgresState(): PgState {
    return this.pg.state;
  }

  isPrimary(): boolean {
    return this.pg.isPrimary;
  }

  switchoverRequest(): FailoverKey | null {
    return this.view.failover;
  }

  /** The cycle's `get_cluster`, observed (`_cluster_from_nodes`) when loaded. */
  loadCluster(): void {
    this.getCluster((loaded) => {
      if (loaded) this.view.observe(this.ctx.now());
      this.mode.send(loaded ? LOADED : LOAD_FAILED);
    });
  }

  /** `get_cluster`: the cache, once ready (`_wait_caches`, at most retry_timeout); false on a DCS error. */
  private getCluster(done: (loaded: boolean) => void): void {
    this.cache.whenReady(this.config.retryTimeoutUs, (ready) => {
      if (ready) {
        this.view.leaderObject = this.cache.get(this.config.scope);
        this.view.syncObject = this.cache.get(this.config.syncKey);
        this.view.failoverObject = this.cache.get(this.config.failoverKey);
      }
      done(ready);
    });
  }

  /** A write's (or a direct read's) result goes into the cache and the view (`_patch_or_create`). */
  private cached(object: KubeObject): void {
    this.cache.set(object);
    const current = this.cache.get(object.name); // a newer version the watch brought first stays
    if (object.name === this.config.scope) this.view.leaderObject = current;
    else if (object.name === this.config.failoverKey) this.view.failoverObject = current;
    else this.view.syncObject = current;
  }

  /** The member the cycle's divergence check names (set by the statechart before it asks). */
  private targetMember(): string {
    if (this.target === null) throw new Error(`patroni ${this.me}: a divergence check without an upstream`);
    return this.target;
  }

  /** `bootstrap` (a long action): start as primary, take the key, then wake the loop. */
  bootstrap(): void {
    this.busy = 'bootstrap';
    this.pg.start('primary', null, () => {
      this.acquire((r) => {
        this.busy = null;
        if (r === 'ok') this.ctx.record('patroni.bootstrap', { member: this.me });
        this.wake();
      });
    });
  }

  startStandby(upstream: string | null): void {
    this.busy = 'restarting after failure';
    this.pg.start('standby', upstream, () => {
      this.busy = null;
      if (upstream !== null) this.ctx.record('patroni.follow', { member: this.me, leader: upstream });
      this.wake();
    });
  }

  /**
   * `process_manual_failover_from_leader` (patroni-switchover.ts): the holder's verdict on the
   * request in the failover key.
   */
  judgeSwitchover(): void {
    this.switchover.atLeader(this.noted(), (outcome) => this.mode.send({ type: 'SWITCHOVER', outcome }));
  }

  recordSwitchover(outcome: LeaderVerdict): void {
    const request = this.noted();
    this.ctx.record('patroni.switchover', { leader: request.leader || null, candidate: request.candidate || null, outcome });
  }

  /** A request refused or stale is removed: a compare-and-swap on the version read, not retried. */
  declineSwitchover(): void {
    this.dcs.write(this.config.failoverKey, this.noted().resourceVersion, failoverSpec(this.ctx.now()), (r) => {
      if (r.ok) this.cached(r.value);
      this.mode.send(REQUEST_REMOVED);
    }, false);
  }

  /** `follow`'s reload: the walreceiver streams from `upstream` (nothing when it already does, or postgres is not running). */
  repoint(upstream: string | null): void {
    if (this.pg.state !== 'running' || this.pg.receiver.upstream === upstream) return;
    this.pg.follow(upstream);
    this.ctx.record('patroni.follow', { member: this.me, leader: upstream });
    if (upstream !== null) this.rewindCheck = true; // checked at the next cycle, as after Patroni's reload
  }

  /** "Cleaning up failover key after acquiring leader lock": the request removed (not retried). */
  removeRequest(): void {
    const request = this.noted();
    // Patroni's PATCH carries no resourceVersion; the model's write is a compare-and-swap on the
    // version last seen, so a request written again in between (a new switchover) would stay.
    const rv = this.view.failoverObject?.resourceVersion ?? request.resourceVersion;
    this.dcs.write(this.config.failoverKey, rv, failoverSpec(this.ctx.now()), (r) => {
      if (r.ok) this.cached(r.value);
      this.mode.send(REQUEST_REMOVED);
    }, false);
  }

  /** The request the cycle acts on (the statechart notes it before it asks). */
  private noted(): FailoverKey {
    if (this.request === null) throw new Error(`patroni ${this.me}: no switchover request noted`);
    return this.request;
  }

  checkHealth(): void {
    this.isHealthiest((healthy) => this.mode.send(healthy ? HEALTHY : NOT_HEALTHY));
  }

  /** `is_healthiest_node`: under a switchover request, as patroni-switchover.ts decides. */
  private isHealthiest(done: (healthy: boolean) => void): void {
    if (this.pg.state !== 'running') {
      done(false);
      return;
    }
    if (this.pg.isPrimary) {
      done(true);
      return;
    }
    const request = this.view.failover;
    if (request !== null) {
      this.switchover.race(request, (verdict) => {
        if (typeof verdict === 'boolean') done(verdict);
        else this.healthiestAmong(verdict.among, false, done);
      });
      return;
    }
    const syncActive = this.sync.active;
    if (syncActive && !this.view.syncMatches(this.me, true)) {
      done(false);
      return;
    }
    this.healthiestAmong(this.config.members.filter((m) => !syncActive || this.view.syncMatches(m, true)), true, done);
  }

  /** `_is_healthiest_node(members, check_replication_lag)`. */
  private healthiestAmong(members: readonly string[], checkLag: boolean, done: (healthy: boolean) => void): void {
    const syncActive = this.sync.active;
    const myPosition = this.data.lsn;
    if (checkLag && this.view.lastLsn - myPosition > this.config.maximumLagOnFailover) {
      done(false);
      return;
    }
    const others = members.filter((m) => m !== this.me);
    this.fetchStatuses(others, (statuses) => {
      done(statuses.every((s, i) => {
        if (s === null || !s.running) return true; // not reachable: not counted
        if (!s.inRecovery) return false; // "Primary (...) is still alive"
        // Ahead of us: not the healthiest, unless it is the former /sync leader ("Ignoring the former leader being ahead of us").
        return !(myPosition < s.walPosition && !(syncActive && this.view.syncLeader === others[i]));
      }));
    });
  }

  /** The race's `attempt_to_acquire_leader`: a member that lost reads the winner's record (observes it) before following it. */
  acquireKey(): void {
    this.acquire((r) => {
      if (r === 'lost') this.view.observe(this.ctx.now());
      this.mode.send(LOCK_EVENTS[r]);
    });
  }

  /** `attempt_to_acquire_leader` (also the bootstrap's `take_leader`). */
  private acquire(done: (r: LockResult) => void): void {
    const now = this.ctx.now();
    const observed = this.view.leaderObject;
    const mine = observed !== null && observed.holderIdentity === this.me;
    const spec: KubeObjectSpec = {
      holderIdentity: this.me,
      leaseDurationSeconds: this.config.ttl,
      acquireTime: mine ? observed.acquireTime : now,
      renewTime: now,
      leaseTransitions: observed === null ? 0 : observed.leaseTransitions + (mine ? 0 : 1),
      annotations: { ...observed?.annotations },
      subsets: [this.me],
    };
    const acquired = (object: KubeObject): void => {
      this.cached(object);
      this.ctx.record('patroni.leader', { member: this.me, transitions: object.leaseTransitions });
      done('ok');
    };
    this.dcs.write(this.config.scope, observed?.resourceVersion ?? null, spec, (r) => {
      if (r.ok) acquired(r.value);
      else if (r.why === 'dcs-error') done('dcs-error');
      else {
        // 409: our own earlier attempt may have committed; read the object directly (handle_conflict).
        this.dcs.get(this.config.scope, (g) => {
          if (!g.ok) {
            done(g.why === 'dcs-error' ? 'dcs-error' : 'lost');
            return;
          }
          this.cached(g.value);
          if (g.value.resourceVersion !== observed?.resourceVersion && g.value.holderIdentity === this.me && g.value.renewTime === now) acquired(g.value);
          else done('lost');
        });
      }
    });
  }

  updateLock(): void {
    this.renew((r) => this.mode.send(LOCK_EVENTS[r]));
  }

  /** `update_lock` / `update_leader`: renew the key, compare-and-swap on the cached object; optime = our WAL position. */
  private renew(done: (r: LockResult) => void): void {
    const cached = this.view.leaderObject;
    if (cached === null || cached.holderIdentity !== this.me) {
      done('lost');
      return;
    }
    const spec = this.leaderSpec(cached, this.ctx.now(), [this.me]);
    this.dcs.write(this.config.scope, cached.resourceVersion, spec, (r) => {
      if (r.ok) {
        this.cached(r.value);
        done('ok');
        return;
      }
      if (r.why === 'dcs-error') {
        done('dcs-error');
        return;
      }
      // 409 (`_update_leader_with_retry`): read the object; another holder, or nothing new, means lost.
      this.dcs.get(this.config.scope, (g) => {
        if (!g.ok) {
          done(g.why === 'dcs-error' ? 'dcs-error' : 'lost');
          return;
        }
        this.cached(g.value);
        if (g.value.holderIdentity !== this.me || g.value.resourceVersion === cached.resourceVersion) done('lost');
        else if (g.value.renewTime === spec.renewTime) done('ok'); // our retried write had committed
        else {
          this.dcs.write(this.config.scope, g.value.resourceVersion, spec, (w) => {
            if (w.ok) this.cached(w.value);
            done(w.ok ? 'ok' : w.why === 'dcs-error' ? 'dcs-error' : 'lost');
          });
        }
      });
    });
  }

  /** The leader object written by a renewal or a release (merge-patch: other annotations stay). */
  private leaderSpec(current: KubeObject, now: Micros, subsets: string[], holder = this.me): KubeObjectSpec {
    return {
      holderIdentity: holder,
      leaseDurationSeconds: this.config.ttl,
      acquireTime: current.acquireTime,
      renewTime: now,
      leaseTransitions: current.leaseTransitions,
      annotations: { ...current.annotations, optime: String(this.data.lsn) },
      subsets,
    };
  }

  /** `demote('immediate-nolock')`: another member holds the key. */
  demote(): void {
    this.demoteWith('immediate-nolock', () => this.mode.send(DEMOTED));
  }

  /** `_handle_dcs_error`: a running primary that cannot reach the DCS demotes `offline`. */
  demoteOffline(): void {
    this.demoteWith('offline', () => this.mode.send(DEMOTED));
  }

  /**
   * `demote`. `offline`: fast stop, then a standby without upstream, in the HA cycle (the key is not
   * touched: the DCS is unreachable). `immediate-nolock`: immediate stop in the cycle, then (a long
   * action) a standby of whoever holds the key now.
   */
  private demoteWith(mode: 'offline' | 'immediate-nolock', done: () => void): void {
    this.ctx.record('patroni.demote', { member: this.me, why: mode === 'offline' ? 'offline' : 'lost-lock' });
    this.rewindCheck = true;
    const stop = mode === 'offline' ? 'fast' : 'immediate';
    const stopped = (then: () => void) => () => {
      // After the stop (its sessions, and the commits waiting in them, are gone), as `demote` does.
      this.sync.clearStandbyNames();
      then();
    };
    if (mode === 'offline') {
      this.busy = 'demote';
      this.pg.stop(stop, stopped(() => {
        this.pg.start('standby', null, () => {
          this.busy = null;
          done();
        });
      }));
      return;
    }
    const upstream = this.view.leader(this.ctx.now());
    this.pg.stop(stop, stopped(() => {
      this.startStandby(upstream === this.me ? null : upstream);
      done();
    }));
  }

  /**
   * `demote('graceful')` for a switchover, a long action ("switchover: demote"): fast stop (the
   * walsenders' connections close after the WAL already written: see the module note), 1 s for the
   * standbys (`on_shutdown`), the key released (`release_leader_key_voluntarily`), 2 s for another
   * member to take it, then postgres started as a standby of whoever holds the key then
   * (`state_handler.follow`; a divergence check is due at the next cycle, as after any demotion).
   */
  demoteGraceful(): void {
    this.busy = 'switchover: demote';
    this.ctx.record('patroni.demote', { member: this.me, why: 'switchover' });
    this.rewindCheck = true;
    this.pg.stop('fast', () => {
      this.sync.clearStandbyNames();
      this.ctx.setTimer(RELEASE_DELAY_US, () => {
        if (this.shuttingDown) return;
        this.releaseKey(() => {
          this.ctx.setTimer(TAKEOVER_WAIT_US, () => {
            if (this.shuttingDown) return;
            this.getCluster((loaded) => {
              if (loaded) this.view.observe(this.ctx.now());
              const leader = loaded ? this.view.leader(this.ctx.now()) : null;
              this.startStandby(leader === this.me ? null : leader);
            });
          }, 'patroni.takeover-wait');
        });
      }, 'patroni.release');
    });
  }

  /** `enforce_primary_role` for a primary: `process_sync_replication`. */
  processSync(): void {
    this.sync.process(() => this.mode.send(SYNC_DONE));
  }

  /** `enforce_primary_role` for a standby holding the key: the /sync pre-promote step first. */
  prepromote(): void {
    // Not ready: "Postponing promotion because synchronous replication state was updated by somebody else".
    this.sync.prepromote((ready) => this.mode.send(ready ? PROMOTE_READY : PROMOTE_POSTPONED));
  }

  /** pg_ctl promote (a long action); the loop wakes when it ends. */
  promote(): void {
    this.busy = 'promote';
    this.pg.promote((promoted) => {
      this.busy = null;
      if (promoted) this.ctx.record('patroni.promote', { member: this.me, lsn: this.data.lsn, timeline: this.data.timeline });
      this.wake();
    });
  }

  /** A divergence check against `target` (`_check_timeline_and_lsn`): `unknown` if it is no primary yet or unreachable. */
  checkDivergence(): void {
    this.peer(this.targetMember()).call<{ primary: boolean; diverged: boolean }>({ op: 'pg.identify', last: this.data.lastRecord } satisfies PeerRequest, (r) => {
      this.mode.send(WAL_EVENTS[!r.ok || !r.value.primary ? 'unknown' : r.value.diverged ? 'diverged' : 'ok']);
    }, IDENTIFY_TIMEOUT_US);
  }

  /** pg_rewind from `target` (a long action): stop, copy its data, start as its standby. */
  rewind(): void {
    const leader = this.targetMember();
    this.busy = 'running pg_rewind';
    const copy = (): void => {
      this.peer(leader).call<PgSnapshot>({ op: 'pg.snapshot' } satisfies PeerRequest, (r) => {
        if (!r.ok) {
          this.busy = null; // tried again at a later cycle
          this.wake();
          return;
        }
        this.ctx.setTimer(this.pg.timings.rewindUs, () => {
          const lsnBefore = this.data.lsn;
          const discarded = this.data.rewindTo(r.value, leader);
          this.ctx.record('patroni.rewind', {
            member: this.me, leader, forkLsn: discarded?.forkLsn ?? lsnBefore, lost: discarded?.records.length ?? 0,
          });
          this.rewindCheck = false;
          this.startStandby(leader);
        }, 'patroni.rewind');
      }, SNAPSHOT_TIMEOUT_US);
    };
    this.pg.stop('fast', copy);
  }

  // ---- shutdown ---------------------------------------------------------------------------------

  /**
   * `Ha.shutdown` on SIGTERM: stop postgres (fast); the leader then waits 1 s for the standbys and
   * releases the key (`delete_leader`: leader annotation removed, Endpoints emptied), then exits.
   */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true; // the loop's timer is cancelled as the statechart leaves `running`
    const wasLeader = this.view.leaderObject?.holderIdentity === this.me;
    this.pg.stop('fast', () => {
      if (!wasLeader) {
        this.ctx.exit();
        return;
      }
      this.ctx.setTimer(RELEASE_DELAY_US, () => this.releaseKey(() => this.ctx.exit()), 'patroni.release');
    });
  }

  private releaseKey(done: () => void): void {
    const cached = this.view.leaderObject;
    if (cached === null || cached.holderIdentity !== this.me) {
      done();
      return;
    }
    this.dcs.write(this.config.scope, cached.resourceVersion, this.leaderSpec(cached, this.ctx.now(), [], ''), (r) => {
      if (r.ok) {
        this.cached(r.value);
        this.ctx.record('patroni.release', { member: this.me });
      }
      done();
    });
  }

  // ---- serving ----------------------------------------------------------------------------------

  /**
   * One process serves PostgreSQL's port and Patroni's REST API: the first message of a
   * connection tells which (a replication start, or a request).
   */
  private accept(conn: ConnectionEnd): void {
    conn.onMessage = (raw) => {
      if (isReplicationStart(raw)) {
        this.pg.acceptReplication(conn, raw);
        return;
      }
      serveRpc(conn, (body, reply, c) => this.serve(body, reply, c));
      conn.onMessage!(raw);
    };
  }

  private serve(body: unknown, reply: (r: RpcResult<unknown>) => void, conn: ConnectionEnd): void {
    const request = body as Partial<PeerRequest>;
    switch (request.op) {
      case 'patroni.status':
        reply(ok({ running: this.pg.state === 'running', inRecovery: !this.pg.isPrimary, walPosition: this.pg.state === 'running' ? this.data.lsn : 0 } satisfies MemberStatus));
        return;
      case 'pg.identify':
        reply(ok({ primary: this.pg.isPrimary, diverged: this.data.lacks((request as Extract<PeerRequest, { op: 'pg.identify' }>).last) }));
        return;
      case 'pg.snapshot':
        reply(this.pg.isPrimary ? ok(this.data.snapshot()) : serverError('pg_rewind: source server must not be in recovery mode'));
        return;
      default:
        this.pg.serveStatement(conn, body as Statement, reply);
    }
  }

  /** `fetch_nodes_statuses`: every member asked at once; null for one that did not answer in 2 s. */
  private fetchStatuses(members: readonly string[], done: (statuses: ReadonlyArray<MemberStatus | null>) => void): void {
    const statuses: Array<MemberStatus | null> = members.map(() => null);
    let pending = members.length;
    if (pending === 0) {
      done(statuses);
      return;
    }
    members.forEach((member, i) => {
      this.peer(member).call<MemberStatus>({ op: 'patroni.status' } satisfies PeerRequest, (r) => {
        if (r.ok) statuses[i] = r.value;
        if (--pending === 0) done(statuses);
      }, REST_TIMEOUT_US);
    });
  }

  private peer(member: string): RpcClient {
    let client = this.peers.get(member);
    if (client === undefined) {
      client = new RpcClient(this.ctx, { target: member, connectTimeoutUs: REST_TIMEOUT_US, timeoutIncludesDial: true });
      this.peers.set(member, client);
    }
    return client;
  }
}
