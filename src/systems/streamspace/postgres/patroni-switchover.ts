import type { Micros } from '../../../sim-cluster/index.ts';
import type { ClusterView, FailoverKey, KubeObject, KubeObjectSpec, KubeObjectStore } from './patroni-dcs.ts';

/**
 * Patroni's planned switchover (Patroni 4.1.4): the request in the DCS and what each member decides
 * on it (patroni/ha.py); patroni.ts runs the decisions in its HA loop and the leader's graceful
 * demotion.
 *
 * The request. `patronictl switchover --leader L [--candidate C]` POSTs /switchover to the leader's
 * REST API (ctl.py `_do_failover_or_switchover`); the API checks the request (api.py
 * `is_failover_possible`: L holds the key; C exists and, in synchronous mode, is the /sync standby;
 * some candidate answers), writes the /failover key (`dcs.manual_failover(L, C)`) and wakes its HA
 * loop (api.py `do_POST_failover`). When the REST API cannot be reached, patronictl writes the key
 * itself ("Could not switchover using Patroni api, falling back to DCS"). Under the Kubernetes DCS
 * the key is the `<scope>-failover` object, the request in its annotations `leader` and `member`
 * (kubernetes.py `manual_failover`: a PATCH without resourceVersion, or a create; patroni/dcs
 * `Failover.from_node`). `requestSwitchover` is that write, made as the fallback makes it: nothing
 * wakes the leader (a change of the failover object wakes no HA loop, kubernetes.py
 * `_process_event`), so it acts at its next cycle, within loop_wait, and the REST API's checks are
 * the ones its HA loop makes anyway (below); a request it refuses changes nothing but the key.
 * That holds only while the leader is yet to read the key: once it has accepted a request it
 * demotes and never reads the key again as the holder, and a request written over it is what the
 * others race on. There the API's checks matter: a switchover in synchronous mode to a member
 * that is not the /sync standby would be written past them and name a healthy member nobody may
 * promote (the /sync standby and the old leader stand aside while it answers,
 * `manual_failover_process_no_leader`; it is barred from the race, `is_healthiest_node`), and the
 * cluster would stay without a leader. So a request written while another is pending gets the
 * checks api.py `is_failover_possible` decides from the DCS (below), and is refused (412, nothing
 * written) as the leader's REST API, still serving while it demotes, refuses it.
 *
 * The leader (`process_manual_failover_from_leader`, after renewing its key): a request naming
 * another leader, or itself as the candidate, is removed. Otherwise, if a failover is possible
 * (`is_failover_possible`: among the standbys, the named candidate only, and in synchronous mode
 * only the /sync standby for a switchover (`get_failover_candidates`), one answers its REST API
 * within 2 s with postgres running and its WAL within maximum_lag_on_failover of the leader's last
 * optime), it demotes gracefully (`demote('graceful')`, patroni.ts); if not ("no healthy members
 * found, switchover is not possible") the key is removed, by a compare-and-swap on the version it
 * read, not retried (`manual_failover('', '', version=failover.version)`), and nothing changes.
 *
 * The others, once the key is released (`is_healthiest_node` under a /failover key, then
 * `manual_failover_process_no_leader`): in synchronous mode only /sync members take part; the named
 * candidate takes the key with no further check; the other members stand aside while the candidate
 * answers its REST API; with no candidate named, or one that does not answer, the members but the
 * old leader race as in a failover, without the lag check; the old leader itself runs only when no
 * other member could. Whoever takes the key removes the request (`process_unhealthy_cluster`:
 * "Cleaning up failover key after acquiring leader lock").
 *
 * Not modelled: scheduled switchovers (`scheduled_at`), pause mode, manual failovers without a
 * leader (`patronictl failover`), nofailover tags, failover priorities, quorum commit mode and
 * `check_timeline` (off by default).
 */

/** What a member's REST API answers (`GET /`; `_MemberStatus.from_api_response`). */
export interface MemberStatus {
  /**
   * PostgreSQL runs. A member whose postgres is down answers without `xlog` (api.py
   * `get_postgresql_status`), which `fetch_node_status` counts as an unknown, unreachable member.
   */
  running: boolean;
  inRecovery: boolean;
  /** pg_current_wal_lsn() on a primary, max(received, replayed) on a standby; 0 when postgres is down. */
  walPosition: number;
}

/** The `<scope>-failover` object's name (`failover_path`: the client path with '/' as '-'). */
export function failoverKeyName(scope: string): string {
  return `${scope}-failover`;
}

/** The `<scope>-sync` object's name (`sync_path`). */
export function syncKeyName(scope: string): string {
  return `${scope}-sync`;
}

/**
 * `patronictl switchover --leader <leader> [--candidate <candidate>] --force` as its DCS fallback
 * writes it (`manual_failover`): the `<scope>-failover` object created, or patched whatever its
 * version, with the request's annotations. Returns the stored object, or null when a request is
 * already pending and the leader's REST API refuses this one (`refusedByApi`): nothing written.
 */
export function requestSwitchover(store: KubeObjectStore, scope: string, leader: string, candidate: string | null, nowUs: Micros): KubeObject | null {
  const name = failoverKeyName(scope);
  const current = store.get(name) as KubeObject | undefined;
  const pending = current !== undefined && ((current.annotations?.['leader'] ?? '') !== '' || (current.annotations?.['member'] ?? '') !== '');
  if (pending && refusedByApi(store, scope, leader, candidate)) return null;
  const spec = failoverSpec(nowUs, { leader, ...(candidate === null ? {} : { member: candidate }) });
  const r = current === undefined ? store.create(name, spec) : store.update(name, current.resourceVersion, spec);
  if (!r.ok) throw new Error(`writing ${name} failed: ${r.reason}`); // one synchronous store, nobody in between
  return r.lease as KubeObject;
}

/**
 * api.py `is_failover_possible` for a switchover, as far as the DCS decides it: the leader named
 * must hold the key ("leader name does not match"), and in synchronous mode the candidate must be
 * the /sync standby ("candidate name does not match with sync_standby"), or with none named a
 * /sync standby must exist ("can not find sync_standby"). Synchronous mode is read from /sync
 * naming a leader (the leader empties it in async mode, patroni-sync.ts), which is how it stands
 * in every cycle past the first of a leader. Left out: the candidate's membership (the callers
 * name members) and the status fetch (a candidate that does not answer is raced past after the
 * release: `manual_failover_process_no_leader`).
 */
function refusedByApi(store: KubeObjectStore, scope: string, leader: string, candidate: string | null): boolean {
  const holder = store.get(scope)?.holderIdentity ?? '';
  if (holder !== leader) return true;
  const sync = (store.get(syncKeyName(scope)) as Partial<KubeObject> | undefined)?.annotations ?? {};
  if ((sync['leader'] ?? '') === '') return false;
  const standby = sync['sync_standby'] ?? '';
  return candidate === null ? standby === '' : standby !== candidate;
}

/**
 * A write of the failover object: the request's annotations, or none (`manual_failover('', '')`:
 * the PATCH sets `leader` and `member` to null, which removes them). The Lease fields are unused.
 */
export function failoverSpec(nowUs: Micros, annotations: { leader?: string; member?: string } = {}): KubeObjectSpec {
  return { holderIdentity: '', leaseDurationSeconds: 0, acquireTime: 0, renewTime: nowUs, leaseTransitions: 0, annotations };
}

/** What the holder does with a request: demote for it, refuse it, or drop a request not meant for it. */
export type LeaderVerdict = 'accepted' | 'refused' | 'stale';

/** A member as the switchover decisions see it. */
export interface SwitchoverMember {
  readonly me: string;
  /** Every member (the StatefulSet's pods). */
  readonly members: readonly string[];
  readonly view: ClusterView;
  /** `is_synchronous_mode`: synchronous_mode requested. */
  readonly synchronousMode: boolean;
  /** `sync_mode_is_active`: requested, and /sync names a leader. */
  syncActive(): boolean;
  readonly maximumLagOnFailover: number;
  /** `fetch_nodes_statuses`: asked in parallel, 2 s each, no retry; null for a member that did not answer. */
  fetchStatuses(members: readonly string[], done: (statuses: ReadonlyArray<MemberStatus | null>) => void): void;
}

/** `failover_limitation() is None`: it answered, with postgres running. */
function healthy(status: MemberStatus | null): status is MemberStatus {
  return status !== null && status.running;
}

export class ManualFailover {
  constructor(private readonly m: SwitchoverMember) {}

  /** `process_manual_failover_from_leader` on the key's holder. */
  atLeader(request: FailoverKey, done: (verdict: LeaderVerdict) => void): void {
    // "leader name does not match", or "I am already the leader, no need to switchover".
    if ((request.leader !== '' && request.leader !== this.m.me) || request.candidate === this.m.me) {
      done('stale');
      return;
    }
    this.possible(false, (possible) => done(possible ? 'accepted' : 'refused'));
  }

  /**
   * `is_healthiest_node` under a /failover key, for a member with no valid leader key and postgres
   * running as a standby: true or false, or (`among`) the members to run `_is_healthiest_node`
   * against without the lag check.
   */
  race(request: FailoverKey, done: (verdict: boolean | { among: string[] }) => void): void {
    const { me, view } = this.m;
    // "When doing a switchover in synchronous mode only synchronous nodes and former leader are allowed to race".
    if (request.leader !== '' && this.m.syncActive() && !view.syncMatches(me, true)) {
      done(false);
      return;
    }
    if (request.candidate === '') {
      this.withoutCandidate(request, done);
      return;
    }
    if (request.candidate === me) {
      done(true);
      return;
    }
    // "in synchronous mode ... when our name is not in the /sync key we shouldn't take any action".
    if (this.m.synchronousMode && !view.syncMatches(me, true)) {
      done(false);
      return;
    }
    if (!this.m.members.includes(request.candidate)) {
      this.withoutCandidate(request, done);
      return;
    }
    this.m.fetchStatuses([request.candidate], ([status]) => {
      if (healthy(status ?? null)) done(false); // "switchover: to <candidate>, i am <me>"
      else this.withoutCandidate(request, done); // the candidate is not healthy: any member may take over
    });
  }

  /** `manual_failover_process_no_leader` past the named candidate. */
  private withoutCandidate(request: FailoverKey, done: (verdict: boolean | { among: string[] }) => void): void {
    const { me, view } = this.m;
    if (request.leader !== '' && request.leader === me) {
      // "I was the leader": I run only if nobody else could.
      this.possible(request.candidate !== '', (possible) => done(!possible));
      return;
    }
    const syncActive = this.m.syncActive();
    done({ among: this.m.members.filter((m) => m !== request.leader && (!syncActive || view.syncMatches(m, false))) });
  }

  /** `is_failover_possible` (without `cluster_lsn`): a candidate answers, postgres running, not lagging. */
  private possible(excludeCandidate: boolean, done: (possible: boolean) => void): void {
    const candidates = this.candidates(excludeCandidate);
    if (candidates.length === 0) {
      done(false); // "switchover: candidates list is empty" (or the candidate is not the /sync standby)
      return;
    }
    this.m.fetchStatuses(candidates, (statuses) => {
      const lastLsn = this.m.view.lastLsn;
      // A primary reports no received/replayed location: its position counts as 0 (`from_api_response`).
      done(statuses.some((s) => healthy(s) && lastLsn - (s.inRecovery ? s.walPosition : 0) <= this.m.maximumLagOnFailover));
    });
  }

  /** `get_failover_candidates`. */
  private candidates(excludeCandidate: boolean): string[] {
    const { me, view } = this.m;
    const request = view.failover;
    const syncActive = this.m.syncActive();
    return this.m.members.filter((m) => {
      // "in synchronous mode we allow failover (not switchover!) to async node".
      if (syncActive && !view.syncMatches(m, false) && !(request !== null && request.leader === '')) return false;
      if (m === me || (excludeCandidate && request !== null && m === request.candidate)) return false;
      return excludeCandidate || request === null || request.candidate === '' || m === request.candidate;
    });
  }
}
