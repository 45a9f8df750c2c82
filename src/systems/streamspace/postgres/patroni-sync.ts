import { SECOND, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import type { ClusterView, KubeObject, KubeObjectSpec } from './patroni-dcs.ts';
import type { MemberPostgres } from './patroni-postgres.ts';
import { SYNC_STRICT_PLACEHOLDER, type PgData } from './replication.ts';

/**
 * Patroni's synchronous replication on the leader (patroni/ha.py `process_sync_replication`,
 * `process_sync_replication_prepromote`; patroni/postgresql/sync.py), with one synchronous standby
 * (`synchronous_node_count` 1). Modes (docs/replication_modes.rst):
 * - `async`: /sync stays empty, synchronous_standby_names too: commits are answered at local commit;
 * - `sync` (`synchronous_mode`): the leader names a streaming standby in synchronous_standby_names
 *   and, once it has caught up, in the `<scope>-sync` object; only that standby (or the /sync
 *   leader) may then be promoted (ha.py `is_healthiest_node`). With no standby streaming the leader
 *   takes it out of /sync and then out of synchronous_standby_names, and commits go on locally;
 *   until then (up to loop_wait after the standby left pg_stat_replication) they wait;
 * - `sync-strict` (`synchronous_mode_strict`): with no standby streaming, synchronous_standby_names
 *   keeps the /sync standby (or Patroni's placeholder), so commits wait until one streams again.
 *
 * Trace: `pg.sync-standby` {leader, standby} whenever a committed /sync write names another standby
 * than the last one recorded (`standby` null: none; `leader` null: /sync emptied).
 */

export type ReplicationMode = 'async' | 'sync' | 'sync-strict';

/** `_process_multisync_replication`: sleeps 2 s for a newly named standby to confirm. */
const SYNC_CONFIRM_WAIT_US: Micros = 2 * SECOND;

/** Writes the /sync object with a compare-and-swap on `view.syncObject`; the committed object, or null. */
export type SyncWriter = (spec: KubeObjectSpec, done: (written: KubeObject | null) => void) => void;

export class SynchronousReplication {
  /** `_primary_flush_lsn`: the primary's flush position when synchronous_standby_names last changed. */
  private flushAtChange = 0;
  /** The /sync standby last recorded in `pg.sync-standby`, to record changes only. */
  private recorded: string | null | undefined = undefined;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly mode: ReplicationMode,
    private readonly view: ClusterView,
    private readonly pg: MemberPostgres,
    private readonly data: PgData,
    private readonly write: SyncWriter,
  ) {}

  /** Whether /sync restricts the race: synchronous mode requested and /sync has a leader (`sync_mode_is_active`). */
  get active(): boolean {
    return this.mode !== 'async' && this.view.syncLeader !== '';
  }

  /** synchronous_standby_names emptied (a demoted primary's `set_synchronous_standby_names([])`). */
  clearStandbyNames(): void {
    this.setStandbyNames(null);
  }

  /**
   * `process_sync_replication_prepromote`: in synchronous mode the new primary names itself /sync
   * leader before promoting, with no standby (strict: the old ones but itself, and while none
   * streams the placeholder, so commits wait); in async mode /sync is cleared. False: /sync was
   * written by someone else first ("Postponing promotion").
   */
  prepromote(done: (ready: boolean) => void): void {
    if (this.mode === 'async') {
      this.disable(() => done(true));
      return;
    }
    const strict = this.mode === 'sync-strict';
    const keep = strict && this.view.syncStandby !== this.ctx.name ? this.view.syncStandby : '';
    this.writeSync(keep, (written) => {
      if (written) this.setStandbyNames(keep !== '' ? keep : strict ? SYNC_STRICT_PLACEHOLDER : null);
      done(written);
    });
  }

  /**
   * `process_sync_replication`, each cycle on the primary (`_process_multisync_replication`): pick
   * the streaming standby (the current synchronous one first, else the most advanced), name it in
   * synchronous_standby_names, and once confirmed (caught up with the primary's flush position at
   * that change) in /sync. Removal goes the other way: first /sync, then synchronous_standby_names.
   * Strict mode keeps the /sync standby (or the placeholder) while none streams
   * (`_handle_synchronous_strict_mode`).
   */
  process(done: () => void): void {
    if (this.mode === 'async') {
      this.disable(done);
      return;
    }
    // `_maybe_enable_synchronous_mode`, or /sync naming another leader: it becomes ours, with no standby.
    if (this.view.syncLeader !== this.ctx.name) this.writeSync('', (written) => (written ? this.choose(done) : done()));
    else this.choose(done);
  }

  private choose(done: () => void): void {
    const senders = this.pg.walSenders;
    if (senders === null) {
      done();
      return;
    }
    const picked = pickSynchronous(senders.streaming(), this.pg.synchronousStandbyNames);
    const allow = this.confirmed(picked) ? picked : '';
    const voters = this.view.syncStandby;
    if (picked === '') {
      if (this.mode === 'sync-strict') {
        // "No active replication connections ... synchronous_mode_strict is requested. Commits will be delayed."
        this.setStandbyNames(voters !== '' ? voters : SYNC_STRICT_PLACEHOLDER);
        done();
        return;
      }
      if (voters === '') this.setStandbyNames(null);
    }
    if (picked === voters && voters === (this.pg.synchronousStandbyNames ?? '')) {
      done();
      return;
    }
    // "Updating /sync key temporarily": /sync keeps only a standby still confirmed.
    const common = voters === allow ? voters : '';
    const change = (): void => {
      this.setStandbyNames(picked !== '' ? picked : null);
      const register = (confirmed: string): void => {
        if (confirmed !== '' && confirmed !== common) this.writeSync(confirmed, () => done());
        else done();
      };
      if (picked === '' || allow === picked) {
        register(allow);
        return;
      }
      this.ctx.setTimer(SYNC_CONFIRM_WAIT_US, () => {
        if (this.pg.isPrimary) register(this.confirmed(picked) ? picked : '');
        else done();
      }, 'patroni.sync-confirm');
    };
    if (common !== voters) this.writeSync(common, (written) => (written ? change() : done()));
    else change();
  }

  /** `disable_synchronous_replication`: clears synchronous_standby_names and /sync. */
  private disable(done: () => void): void {
    this.setStandbyNames(null);
    if (this.view.syncLeader === '') done();
    else this.writeSync(null, () => done());
  }

  /**
   * `_process_replica_readiness`: a standby counts as synchronous once /sync names it, or once it is
   * the synchronous one in pg_stat_replication and has flushed the primary's position at the change.
   */
  private confirmed(standby: string): boolean {
    if (standby === '') return false;
    if (this.view.syncStandby === standby) return true;
    const s = this.pg.walSenders?.streaming().find((x) => x.standby === standby);
    return s !== undefined && this.pg.synchronousStandbyNames === standby && s.flush >= this.flushAtChange;
  }

  private setStandbyNames(name: string | null): void {
    if (name === this.pg.synchronousStandbyNames) return;
    this.flushAtChange = this.data.lsn;
    this.pg.setSynchronousStandbyNames(name);
  }

  /**
   * `write_sync_state`: /sync with us as leader and `standby` ('' none), or (null) emptied
   * (`delete_sync_state`); false when the write failed (`patch_or_create` is wrapped in
   * `catch_kubernetes_errors`: no DCS error is raised).
   */
  private writeSync(standby: string | null, done: (written: boolean) => void): void {
    const spec: KubeObjectSpec = {
      holderIdentity: '',
      leaseDurationSeconds: 0,
      acquireTime: 0,
      renewTime: this.ctx.now(),
      leaseTransitions: 0,
      annotations: { leader: standby === null ? '' : this.ctx.name, sync_standby: standby ?? '' },
    };
    this.write(spec, (object) => {
      if (object === null) {
        done(false);
        return;
      }
      const named = standby === null || standby === '' ? null : standby;
      if (named !== this.recorded) {
        this.recorded = named;
        this.ctx.record('pg.sync-standby', { leader: standby === null ? null : this.ctx.name, standby: named });
      }
      done(true);
    });
  }
}

/**
 * The synchronous standby candidate (`SyncHandler.current_state` with one synchronous node): the
 * current synchronous one if it streams (sync_state `sync` sorts first), else the one with the
 * highest flush position; ties in pg_stat_replication order (the sort is stable). '' for none.
 */
function pickSynchronous(streaming: ReadonlyArray<{ standby: string; flush: number }>, current: string | null): string {
  if (current !== null && streaming.some((s) => s.standby === current)) return current;
  let best: { standby: string; flush: number } | undefined;
  for (const s of streaming) if (best === undefined || s.flush > best.flush) best = s;
  return best?.standby ?? '';
}
