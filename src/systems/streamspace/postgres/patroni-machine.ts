import { setup } from 'xstate';
import { MS, type Micros } from '../../../sim-cluster/index.ts';
import type { FailoverKey } from './patroni-dcs.ts';
import type { LeaderVerdict } from './patroni-switchover.ts';

/**
 * The statechart of a Patroni member's HA loop (Patroni 4.1.4, patroni/ha.py `Ha._run_cycle`,
 * patroni/__init__.py `Patroni.run`; spec seeds-001-004 §2 "PostgreSQL failover", real-world-semantics
 * §4): the definition patroni.ts runs through the kernel's compiled stepper (sim-cluster/statechart).
 * The module comment of patroni.ts describes what a cycle does and the trace events.
 *
 * Modes of the loop:
 * - `running.due`: a cycle is due now (the first one, or `Ha.wakeup`); `running.sleeping`: the loop
 *   waits for `next_run` (`Patroni.schedule_next_run`, plus 0.5 s while watching another's key);
 * - `running.cycle`: one `_run_cycle`, its states the branches of the cycle, each waiting for the
 *   answer of the I/O its entry started: `loading` (`load_cluster_from_dcs`), `longAction`
 *   (`handle_long_action_in_progress`: the holder renews), `recovering` (postgres not running:
 *   `recover`), `racing` (no valid key: `process_unhealthy_cluster`), `leading` (the holder:
 *   `process_healthy_cluster` and `process_manual_failover_from_leader`), `primaryRole`
 *   (`enforce_primary_role`), `following` (`follow` with its divergence check), `demoting`
 *   (`demote('immediate-nolock')`) and `demotingOffline` (`_handle_dcs_error`, `demote('offline')`);
 * - `stopped` (final): `Ha.shutdown` ran (SIGTERM); no cycle runs any more.
 *
 * The context is the member itself (`PatroniComponent`, implemented by patroni.ts's PatroniMember):
 * it keeps the cluster view, the DCS client, postgres and the long actions (`AsyncExecutor`: a
 * bootstrap, a start, a promotion, a pg_rewind or a switchover's demotion runs on its own and wakes
 * the loop when it ends; the loop sees it as `busy`). The statechart decides what a cycle does next
 * from the answers: the component answers the work an action starts with an event. A cycle's end
 * is `CYCLE_DONE`, sent by `endCycle` or by the work that ends it.
 *
 * A signal does not cut a cycle short: the shutdown starts at once (`shutdown`), the cycle's I/O in
 * flight is answered and its steps run on, and the loop stops when the cycle ends.
 *
 * No new trace event: the statechart records nothing itself (no `actor.state`); the component's
 * records are those of patroni.ts.
 */

/** The loop's events: a wakeup, the signal, the answers of a cycle's I/O, the cycle's end. */
export type PatroniEvent =
  | { type: 'WAKE' }
  | { type: 'SIGTERM' }
  /** The cluster is loaded from the watch-fed cache and observed (`get_cluster`). */
  | { type: 'LOADED' }
  /** The cache was not ready within retry_timeout: a DCS error. */
  | { type: 'LOAD_FAILED' }
  /** A leader-key write (renewal or acquisition) committed. */
  | { type: 'LOCK_OK' }
  /** Another member holds the key, or the race was lost. */
  | { type: 'LOCK_LOST' }
  /** The write still failed after retry_timeout (`DCSError`). */
  | { type: 'DCS_ERROR' }
  | { type: 'HEALTHY' }
  | { type: 'NOT_HEALTHY' }
  /** The divergence check against the upstream (`_check_timeline_and_lsn`). */
  | { type: 'WAL_DIVERGED' }
  | { type: 'WAL_MATCHES' }
  /** The upstream is no primary yet, or did not answer. */
  | { type: 'WAL_UNKNOWN' }
  | { type: 'SWITCHOVER'; outcome: LeaderVerdict }
  /** The failover key's write answered (committed or not). */
  | { type: 'REQUEST_REMOVED' }
  | { type: 'SYNC_DONE' }
  | { type: 'PROMOTE_READY' }
  | { type: 'PROMOTE_POSTPONED' }
  | { type: 'DEMOTED' }
  | { type: 'CYCLE_DONE' };

/** Whom the member follows: the key's holder now, nobody, or the one its divergence check asked. */
export type Upstream = 'keyHolder' | 'nobody' | 'target';

/** The member as its HA loop sees it: PatroniMember's fields and I/O. */
export interface PatroniComponent {
  /** The long action in progress (`AsyncExecutor.scheduled_action`), or null. */
  readonly busy: string | null;
  /** `Rewind` state CHECK: a divergence check is due before following. */
  rewindCheck: boolean;
  /** SIGTERM received: `Ha.shutdown` is under way. */
  readonly shuttingDown: boolean;
  /** The failover key's request this cycle acts on, noted when the branch starts. */
  request: FailoverKey | null;
  /** The member the cycle's divergence check asks, then follows. */
  target: string | null;
  /** The valid leader key's holder now (`cluster.leader`), or null. */
  keyHolder(): string | null;
  /** This member's name. */
  readonly me: string;
  /** Whether a leader object exists (the cluster was initialised). */
  initialised(): boolean;
  /** The first member, with no data yet: it bootstraps a new cluster. */
  mayBootstrap(): boolean;
  /** PostgreSQL's state and role. */
  postgresState(): 'stopped' | 'starting' | 'running' | 'stopping';
  isPrimary(): boolean;
  /** The request in the failover key now, or null. */
  switchoverRequest(): FailoverKey | null;
  /** `schedule_next_run`: the sleep until the next cycle, in µs. */
  readonly napUs: Micros;
  /** `next_run` = now: the next cycle runs at once. */
  runNow(): void;
  /** After a cycle: the next `next_run`, and the nap until it. */
  scheduleNextRun(): void;
  /** A wakeup during a cycle: the next one runs right after it. */
  markWakePending(): void;
  /** `get_cluster`: answers `LOADED` or `LOAD_FAILED`. */
  loadCluster(): void;
  /** `update_lock`: answers `LOCK_OK`, `LOCK_LOST` or `DCS_ERROR`. */
  updateLock(): void;
  /** `attempt_to_acquire_leader` in the race: answers `LOCK_OK`, `LOCK_LOST` (the winner observed) or `DCS_ERROR`. */
  acquireKey(): void;
  /** `is_healthiest_node`: answers `HEALTHY` or `NOT_HEALTHY`. */
  checkHealth(): void;
  /** `_check_timeline_and_lsn` against `target`: answers `WAL_DIVERGED`, `WAL_MATCHES` or `WAL_UNKNOWN`. */
  checkDivergence(): void;
  /** The holder's verdict on `request` (patroni-switchover.ts): answers `SWITCHOVER`. */
  judgeSwitchover(): void;
  recordSwitchover(outcome: LeaderVerdict): void;
  /** The holder removes the request it will not act on: answers `REQUEST_REMOVED`. */
  declineSwitchover(): void;
  /** The race's winner removes `request`: answers `REQUEST_REMOVED`. */
  removeRequest(): void;
  /** `process_sync_replication`: answers `SYNC_DONE`. */
  processSync(): void;
  /** The /sync pre-promote step: answers `PROMOTE_READY` or `PROMOTE_POSTPONED`. */
  prepromote(): void;
  /** The long actions, which wake the loop when they end. */
  bootstrap(): void;
  promote(): void;
  startStandby(upstream: string | null): void;
  rewind(): void;
  demoteGraceful(): void;
  /** Re-points the walreceiver (`follow` as a reload). */
  repoint(upstream: string | null): void;
  /** `demote('immediate-nolock')`: answers `DEMOTED`. */
  demote(): void;
  /** `demote('offline')`: answers `DEMOTED`. */
  demoteOffline(): void;
  /** `Ha.shutdown`: stop postgres, release the key if held, exit. */
  shutdown(): void;
  /** Posts an event to this member's statechart. */
  send(event: PatroniEvent): void;
}

/** `Kubernetes.watch` in `process_unhealthy_cluster` under a named candidate: "Give a time to somebody to take the leader lock". */
export const TAKEOVER_WAIT_US: Micros = 2_000 * MS;

/** The labels of the loop's timers, as failure reports show them. */
export const PATRONI_TIMER_LABELS: Readonly<Record<string, string>> = {
  0: 'patroni.cycle',
  nap: 'patroni.cycle',
  takeoverWait: 'patroni.takeover-wait',
};

const CYCLE_DONE: PatroniEvent = { type: 'CYCLE_DONE' };

const upstreamOf = (c: PatroniComponent, which: Upstream): string | null => (which === 'keyHolder' ? c.keyHolder() : which === 'target' ? c.target : null);

const cycle = '#patroni.running.cycle';

/** `_handle_dcs_error`: a running primary that cannot reach the DCS demotes; any other member ends the cycle. */
const onDcsError = [
  { guard: 'isPrimary', target: `${cycle}.demotingOffline` },
  { actions: 'endCycle' },
] as const;

/**
 * `follow(leader)` with the key's holder: a primary demotes; a standby due a divergence check asks
 * its upstream first; otherwise it re-points its walreceiver and the cycle ends.
 */
const followKeyHolder = [
  { guard: 'isPrimary', target: `${cycle}.demoting` },
  { guard: 'rewindCheckDue', target: `${cycle}.following` },
  { actions: [{ type: 'repoint', params: { upstream: 'keyHolder' } }, 'endCycle'] },
] as const;

/** `follow(None)`: a primary demotes; a standby stops its walreceiver and the cycle ends. */
const followNobody = [
  { guard: 'isPrimary', target: `${cycle}.demoting` },
  { actions: [{ type: 'repoint', params: { upstream: 'nobody' } }, 'endCycle'] },
] as const;

/** `enforce_primary_role`: a primary manages its replication, a running standby holding the key promotes. */
const enforcePrimaryRole = [
  { guard: 'isPrimary', target: `${cycle}.primaryRole.managingSync` },
  { guard: 'postgresRunning', target: `${cycle}.primaryRole.prepromoting` },
  { actions: 'endCycle' },
] as const;

/** `follow` with refresh after standing aside: nothing when shutting down, else the cluster read again. */
const refollow = [
  { guard: 'shuttingDown', actions: 'endCycle' },
  { target: `${cycle}.racing.reloading` },
] as const;

/** The divergence check's verdicts: rewind from the upstream, or start or stream from it. */
const afterCheck = (then: 'startStandby' | 'repoint') => ({
  WAL_DIVERGED: { actions: ['rewind', 'endCycle'] },
  WAL_MATCHES: { actions: ['clearRewindCheck', { type: then, params: { upstream: 'target' } }, 'endCycle'] },
  WAL_UNKNOWN: { actions: [{ type: then, params: { upstream: 'target' } }, 'endCycle'] },
}) as const;

export const patroniMachine = setup({
  types: {
    context: {} as PatroniComponent,
    input: {} as PatroniComponent,
    events: {} as PatroniEvent,
  },
  guards: {
    /** `handle_long_action_in_progress`: the holder renews its key while an action runs. */
    longActionHoldingKey: ({ context: c }) => c.busy !== null && c.keyHolder() === c.me,
    /** `handle_long_action_in_progress`: anyone else just waits for it ("... in progress"). */
    longActionRunning: ({ context }) => context.busy !== null,
    /** `bootstrap`: a cluster never initialised, and this is pod 0 with no data (it wins the initialize key). */
    bootstrapDue: ({ context: c }) => c.postgresState() === 'stopped' && !c.initialised() && c.mayBootstrap(),
    /** "waiting for leader to bootstrap": the other members have nothing to clone from yet. */
    uninitialised: ({ context: c }) => c.postgresState() === 'stopped' && !c.initialised(),
    /** `recover` with the key: "starting as readonly because i had the session lock", after a renewal. */
    stoppedHoldingKey: ({ context: c }) => c.postgresState() === 'stopped' && c.keyHolder() === c.me,
    /** `recover` with no leader: start as a standby without upstream. */
    stoppedWithoutLeader: ({ context: c }) => c.postgresState() === 'stopped' && c.keyHolder() === null,
    /** `recover`: start as a standby of the holder, after a divergence check. */
    postgresStopped: ({ context }) => context.postgresState() === 'stopped',
    /** No valid leader key: `process_unhealthy_cluster`. */
    noLeader: ({ context }) => context.keyHolder() === null,
    /** The key is this member's: `process_healthy_cluster` as the holder. */
    holdsKey: ({ context: c }) => c.keyHolder() === c.me,
    isPrimary: ({ context }) => context.isPrimary(),
    postgresRunning: ({ context }) => context.postgresState() === 'running',
    /** `Rewind.trigger_check_diverged_lsn` set (after a demotion, a restart or a new upstream), and someone to ask. */
    rewindCheckDue: ({ context: c }) => c.rewindCheck && c.keyHolder() !== null,
    /** A request in the failover key (`cluster.failover`). */
    switchoverRequested: ({ context }) => context.switchoverRequest() !== null,
    /** The race started under a request. */
    requestNoted: ({ context }) => context.request !== null,
    /** Under a request naming a candidate, the others sleep 2 s before following (`process_unhealthy_cluster`). */
    candidateNamed: ({ context }) => context.request !== null && context.request.candidate !== '',
    /** A request without a candidate, and SIGTERM came meanwhile: the refresh does not run. */
    asideWhileShuttingDown: ({ context }) => context.request !== null && context.shuttingDown,
    shuttingDown: ({ context }) => context.shuttingDown,
    /** A fit candidate: the holder demotes for it. */
    switchoverAccepted: ({ event }) => event.type === 'SWITCHOVER' && event.outcome === 'accepted',
  },
  actions: {
    /** `Ha.wakeup` (or the first cycle): `next_run` is now. */
    runNow: ({ context }) => context.runNow(),
    /** `schedule_next_run` after a cycle, `Kubernetes.watch`'s 0.5 s while watching another's key. */
    scheduleNextRun: ({ context }) => context.scheduleNextRun(),
    /** A wakeup while the cycle runs: the next cycle follows it at once. */
    markWakePending: ({ context }) => context.markWakePending(),
    /** The cycle ended (Patroni's `_run_cycle` returned). */
    endCycle: ({ context }) => context.send(CYCLE_DONE),
    loadCluster: ({ context }) => context.loadCluster(),
    /** `update_lock`: compare-and-swap on the cached object, optime = its WAL position. */
    updateLock: ({ context }) => context.updateLock(),
    /** `attempt_to_acquire_leader`: transitions + 1. */
    acquireKey: ({ context }) => context.acquireKey(),
    /** `process_unhealthy_cluster` reads the request before asking whether it is the healthiest. */
    noteRequest: ({ context }) => {
      context.request = context.switchoverRequest();
    },
    checkHealth: ({ context }) => context.checkHealth(),
    /** The divergence check asks the key's holder of now. */
    targetKeyHolder: ({ context }) => {
      context.target = context.keyHolder();
    },
    checkDivergence: ({ context }) => context.checkDivergence(),
    /** `_check_timeline_and_lsn` found no divergence: `Rewind` state NOT_NEED. */
    clearRewindCheck: ({ context }) => {
      context.rewindCheck = false;
    },
    /** A restart or a divergence check to come: `Rewind` state CHECK. */
    markRewindCheck: ({ context }) => {
      context.rewindCheck = true;
    },
    /** `_handle_rewind_or_reinitialize`: pg_rewind from the upstream (a long action). */
    rewind: ({ context }) => context.rewind(),
    /** `bootstrap` (a long action): initdb, start as primary, take the key. */
    bootstrap: ({ context }) => context.bootstrap(),
    /** `recover`: start as a standby (a long action, "restarting after failure"). */
    startStandby: ({ context }, params: { upstream: Upstream }) => context.startStandby(upstreamOf(context, params.upstream)),
    repoint: ({ context }, params: { upstream: Upstream }) => context.repoint(upstreamOf(context, params.upstream)),
    judgeSwitchover: ({ context }) => context.judgeSwitchover(),
    recordSwitchover: ({ context, event }) => {
      if (event.type === 'SWITCHOVER') context.recordSwitchover(event.outcome);
    },
    /** `demote('graceful')` for the request (a long action); the cycle ends. */
    demoteGraceful: ({ context }) => context.demoteGraceful(),
    declineSwitchover: ({ context }) => context.declineSwitchover(),
    /** "Cleaning up failover key after acquiring leader lock". */
    removeRequest: ({ context }) => context.removeRequest(),
    processSync: ({ context }) => context.processSync(),
    prepromote: ({ context }) => context.prepromote(),
    /** pg_ctl promote (a long action). */
    promote: ({ context }) => context.promote(),
    demote: ({ context }) => context.demote(),
    demoteOffline: ({ context }) => context.demoteOffline(),
    /** `Ha.shutdown` on SIGTERM. */
    shutdown: ({ context }) => context.shutdown(),
  },
  delays: {
    /** `schedule_next_run`'s sleep, computed by `scheduleNextRun`. */
    nap: ({ context }) => context.napUs / MS,
    takeoverWait: TAKEOVER_WAIT_US / MS,
  },
}).createMachine({
  id: 'patroni',
  description: "a Patroni member's HA loop (ha.py Ha._run_cycle): one cycle every loop_wait or on a wakeup, each renewing, racing for or following the leader key",
  context: ({ input }) => input,
  initial: 'running',
  states: {
    running: {
      description: 'Patroni.run: cycles until SIGTERM',
      initial: 'due',
      on: { SIGTERM: { target: 'stopped', actions: 'shutdown' } },
      states: {
        due: {
          description: 'a cycle is due now: the first one, or Ha.wakeup (a changed leader object, a long action ended)',
          entry: 'runNow',
          after: { 0: 'cycle' },
          on: { WAKE: { target: 'due', reenter: true } },
        },
        sleeping: {
          description: 'waiting for next_run (loop_wait after the previous one; 0.5 s more watching another\'s key; 1 ms if overdue or woken)',
          entry: 'scheduleNextRun',
          after: { nap: 'cycle' },
          on: { WAKE: 'due' },
        },
        cycle: {
          description: '_run_cycle: the cluster loaded, then the branch its state picks; a wakeup meanwhile makes the next cycle follow at once',
          initial: 'loading',
          on: {
            WAKE: { actions: 'markWakePending' },
            SIGTERM: { actions: 'shutdown' },
            CYCLE_DONE: [
              { guard: 'shuttingDown', target: '#patroni.stopped' },
              { target: 'sleeping' },
            ],
          },
          states: {
            loading: {
              description: 'load_cluster_from_dcs: the watch-fed cache, once ready (at most retry_timeout)',
              entry: 'loadCluster',
              on: {
                LOADED: [
                  { guard: 'longActionHoldingKey', target: 'longAction' },
                  { guard: 'longActionRunning', actions: 'endCycle' },
                  { guard: 'bootstrapDue', actions: ['bootstrap', 'endCycle'] },
                  { guard: 'uninitialised', actions: 'endCycle' },
                  { guard: 'stoppedHoldingKey', target: 'recovering.renewing' },
                  { guard: 'stoppedWithoutLeader', actions: ['markRewindCheck', { type: 'startStandby', params: { upstream: 'nobody' } }, 'endCycle'] },
                  { guard: 'postgresStopped', target: 'recovering.checking', actions: 'markRewindCheck' },
                  { guard: 'noLeader', target: 'racing' },
                  { guard: 'holdsKey', target: 'leading' },
                  ...followKeyHolder,
                ],
                LOAD_FAILED: onDcsError,
              },
            },
            longAction: {
              description: 'handle_long_action_in_progress: the holder renews its key while a start, promote or rewind runs',
              entry: 'updateLock',
              on: {
                LOCK_OK: { actions: 'endCycle' },
                LOCK_LOST: [{ guard: 'isPrimary', target: 'demoting' }, { actions: 'endCycle' }],
                DCS_ERROR: onDcsError,
              },
            },
            recovering: {
              description: 'recover: postgres is not running; it starts as a standby',
              initial: 'renewing',
              states: {
                renewing: {
                  description: 'the key is still its own: renewed, then started without upstream and promoted at a later cycle',
                  entry: 'updateLock',
                  on: {
                    LOCK_OK: { actions: [{ type: 'startStandby', params: { upstream: 'nobody' } }, 'endCycle'] },
                    LOCK_LOST: { actions: [{ type: 'startStandby', params: { upstream: 'nobody' } }, 'endCycle'] },
                    DCS_ERROR: onDcsError,
                  },
                },
                checking: {
                  description: 'the divergence check against the holder before starting as its standby',
                  entry: ['targetKeyHolder', 'checkDivergence'],
                  on: afterCheck('startStandby'),
                },
              },
            },
            racing: {
              description: 'process_unhealthy_cluster: no valid key; the healthiest member takes it',
              entry: 'noteRequest',
              initial: 'checkingHealth',
              states: {
                checkingHealth: {
                  description: 'is_healthiest_node: running, within maximum_lag_on_failover, no reachable member a primary or ahead',
                  entry: 'checkHealth',
                  on: {
                    HEALTHY: 'acquiring',
                    NOT_HEALTHY: [
                      { guard: 'candidateNamed', target: 'standingAside' },
                      { guard: 'asideWhileShuttingDown', actions: 'endCycle' },
                      { guard: 'requestNoted', target: 'reloading' },
                      ...followNobody,
                    ],
                  },
                },
                acquiring: {
                  description: 'attempt_to_acquire_leader: a compare-and-swap on the object last seen',
                  entry: 'acquireKey',
                  on: {
                    LOCK_OK: [{ guard: 'requestNoted', target: 'removingRequest' }, ...enforcePrimaryRole],
                    LOCK_LOST: followKeyHolder,
                    DCS_ERROR: onDcsError,
                  },
                },
                removingRequest: {
                  description: 'the winner removes the switchover request (not retried)',
                  entry: 'removeRequest',
                  on: { REQUEST_REMOVED: enforcePrimaryRole },
                },
                standingAside: {
                  description: 'not the named candidate: 2 s for it to take the key, a divergence check due',
                  entry: 'markRewindCheck',
                  after: { takeoverWait: refollow },
                },
                reloading: {
                  description: 'follow with refresh: the cluster read again, then its holder followed',
                  entry: 'loadCluster',
                  on: { LOADED: followKeyHolder, LOAD_FAILED: onDcsError },
                },
              },
            },
            leading: {
              description: 'process_healthy_cluster as the holder: renew the key, act on a switchover request, enforce the primary role',
              initial: 'renewing',
              states: {
                renewing: {
                  description: 'update_lock',
                  entry: 'updateLock',
                  on: {
                    LOCK_OK: [{ guard: 'switchoverRequested', target: 'judgingSwitchover', actions: 'noteRequest' }, ...enforcePrimaryRole],
                    LOCK_LOST: [{ guard: 'isPrimary', target: `${cycle}.demoting` }, { actions: 'endCycle' }],
                    DCS_ERROR: onDcsError,
                  },
                },
                judgingSwitchover: {
                  description: 'process_manual_failover_from_leader: is a candidate fit?',
                  entry: 'judgeSwitchover',
                  on: {
                    SWITCHOVER: [
                      { guard: 'switchoverAccepted', actions: ['recordSwitchover', 'demoteGraceful', 'endCycle'] },
                      { target: 'decliningSwitchover', actions: 'recordSwitchover' },
                    ],
                  },
                },
                decliningSwitchover: {
                  description: 'the request refused or stale: removed (not retried), then the primary role enforced',
                  entry: 'declineSwitchover',
                  on: { REQUEST_REMOVED: enforcePrimaryRole },
                },
              },
            },
            primaryRole: {
              description: 'enforce_primary_role with the key',
              initial: 'managingSync',
              states: {
                managingSync: {
                  description: 'process_sync_replication: the /sync key and synchronous_standby_names',
                  entry: 'processSync',
                  on: { SYNC_DONE: { actions: 'endCycle' } },
                },
                prepromoting: {
                  description: 'the /sync pre-promote step; then pg_ctl promote runs as a long action',
                  entry: 'prepromote',
                  on: {
                    PROMOTE_READY: { actions: ['promote', 'endCycle'] },
                    PROMOTE_POSTPONED: { actions: 'endCycle' },
                  },
                },
              },
            },
            following: {
              description: 'follow: the divergence check against the holder before streaming from it',
              entry: ['targetKeyHolder', 'checkDivergence'],
              on: afterCheck('repoint'),
            },
            demoting: {
              description: "demote('immediate-nolock'): another member holds the key; immediate stop, then a standby of the holder",
              entry: 'demote',
              on: { DEMOTED: { actions: 'endCycle' } },
            },
            demotingOffline: {
              description: "demote('offline'): the DCS is unreachable; fast stop, then a standby without upstream, key untouched",
              entry: 'demoteOffline',
              on: { DEMOTED: { actions: 'endCycle' } },
            },
          },
        },
      },
    },
    stopped: {
      description: 'Ha.shutdown ran: postgres stopped, the key released if held, the process exits',
      type: 'final',
    },
  },
});
