import { setup } from 'xstate';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import type { Instance } from './sentinel-instance.ts';

/**
 * The statechart of a Sentinel's failover of its master (redis/redis src/sentinel.c at 4f8cdc2,
 * "sentinel.c:N" cites its lines; spec seeds-001-004 §2 "Redis Sentinel", real-world-semantics
 * §3.3): the definition sentinel.ts runs through the kernel's compiled stepper
 * (sim-cluster/statechart), drawn in docs/machines.md. Its states are sentinel.c's own
 * `failover_state` values (:89-95): `monitoring` (SENTINEL_FAILOVER_STATE_NONE) and, under
 * `failover`, `waitStart`, `selectSlave`, `sendSlaveofNoone`, `waitPromotion`, `reconfSlaves`,
 * `updateConfig`.
 *
 * The context is the Sentinel itself (`SentinelFailoverComponent`, implemented by sentinel.ts's
 * SentinelProcess): it keeps the instance records, links, epochs, votes and the configuration file;
 * the statechart decides when a failover starts, how it moves on and how it ends. Each state's first
 * entry action writes its value to the master's `failoverState`, the field sentinel.c keeps, which
 * the rest of the Sentinel reads (the INFO period, vote requests, the advertised master address):
 * written where sentinel.c writes it, before the work of the step that reads it.
 *
 * Events, each sent where sentinel.c makes the call it stands for:
 * - `START_CHECK`: sentinelStartFailoverIfNeeded in sentinelHandleRedisInstance (:5385);
 * - `STEP`: sentinelFailoverStateMachine (:5386), one step of the current state;
 * - `LEADER`, `SELECTED`, `FAILOVER_END`: the outcome of the vote count, the replica selection and
 *   the end check a step's action ran (sentinelGetLeader, sentinelSelectSlave,
 *   sentinelFailoverDetectEnd have effects of their own: they cannot be guards);
 * - `REPLICA_IS_MASTER`: an INFO reply of a replica reporting `role:master` (:2601-2660);
 * - `INSTANCES_HANDLED`: the timer's pass over the instances ended (:5405-5415);
 * - `CONFIG_UPDATE`: a hello carried a newer configuration epoch (:2897-2920).
 *
 * No `after` delay: sentinel.c checks every failover deadline (the election timeout, the promotion
 * timeout, failover-timeout) when its timer runs, 10-19 times a second, not at the deadline itself.
 * No trace event of its own: the actions record the events sentinel.ts recorded.
 */

/** sentinel.c's failover states (:89-95), ordered: the Sentinel compares them (`>= RECONF_SLAVES`). */
export const FAILOVER_NONE = 0;
export const FAILOVER_WAIT_START = 1;
export const FAILOVER_SELECT_SLAVE = 2;
export const FAILOVER_SEND_SLAVEOF_NOONE = 3;
export const FAILOVER_WAIT_PROMOTION = 4;
export const FAILOVER_RECONF_SLAVES = 5;
export const FAILOVER_UPDATE_CONFIG = 6;

/** The states by their sentinel.c names (SENTINEL_FAILOVER_STATE_…), as the definition's params name them. */
const FAILOVER_STATES = {
  WAIT_START: FAILOVER_WAIT_START,
  SELECT_SLAVE: FAILOVER_SELECT_SLAVE,
  SEND_SLAVEOF_NOONE: FAILOVER_SEND_SLAVEOF_NOONE,
  WAIT_PROMOTION: FAILOVER_WAIT_PROMOTION,
  RECONF_SLAVES: FAILOVER_RECONF_SLAVES,
  UPDATE_CONFIG: FAILOVER_UPDATE_CONFIG,
} as const;

type FailoverStateName = keyof typeof FAILOVER_STATES;

export type FailoverState = typeof FAILOVER_NONE | (typeof FAILOVER_STATES)[FailoverStateName];

/** sentinel.c SENTINEL_ELECTION_TIMEOUT (:79): the wait for a majority, capped by failover-timeout. */
const ELECTION_TIMEOUT_US = 10 * SECOND;

export type AbortReason = 'not-elected' | 'no-good-slave' | 'slave-timeout';

/** The failover's events (see the module comment). */
export type SentinelFailoverEvent =
  | { type: 'START_CHECK' }
  | { type: 'STEP' }
  | { type: 'LEADER'; elected: boolean }
  | { type: 'SELECTED'; replica: Instance | null }
  | { type: 'REPLICA_IS_MASTER'; replica: Instance }
  | { type: 'FAILOVER_END'; timedOut: boolean }
  | { type: 'INSTANCES_HANDLED' }
  | { type: 'CONFIG_UPDATE'; master: string };

/** The master's entry as the failover reads and writes it (sentinel.c `sentinelRedisInstance`). */
export interface FailoverMaster {
  readonly addr: string;
  readonly odown: boolean;
  failoverState: FailoverState;
  failoverStateChangeTime: Micros;
  /** When the last failover started (with its jitter), or when this Sentinel last voted for another. */
  failoverStartTime: Micros;
  promotedSlave: Instance | null;
}

/** The Sentinel as its failover sees it: sentinel.ts's SentinelProcess. */
export interface SentinelFailoverComponent {
  readonly master: FailoverMaster;
  /** `failover-timeout`. */
  readonly failoverTimeoutUs: Micros;
  /** The Sentinel node's wall clock (`mstime()`). */
  now(): Micros;
  /** sentinelStartFailover (:4927-4938): a new epoch, the start jitter, `+try-failover`. */
  startFailover(): void;
  /** sentinelAskMasterStateToOtherSentinels (:4670-4712); `forced`: at once, not once a second. */
  askMasterStateToOtherSentinels(forced: boolean): void;
  /** sentinelGetLeader (:4784-4847) for the failover epoch, this Sentinel's own vote included; answers `LEADER` to the statechart. */
  countVotes(): void;
  /** `+elected-leader` (:5110-5117). */
  recordElected(): void;
  /** sentinelSelectSlave (sentinel-select.ts); answers `SELECTED`. */
  selectReplica(): void;
  /** `+selected-slave`: the replica is marked promoted (:5130-5136). */
  promoteCandidate(replica: Instance): void;
  /** REPLICAOF NO ONE to the promoted replica (:5151-5162). */
  sendSlaveOfNoOne(): void;
  /** The promoted replica reported `role:master`: the failover epoch becomes the configuration's (:2607-2626). */
  announcePromotion(replica: Instance): void;
  /** A replica that is master without this failover (an old master back): made a replica of the current master once it has been for 8 s (:2628-2660). */
  convertToReplicaIfStale(replica: Instance): void;
  /** sentinelFailoverReconfNextSlave (:5237-5294), then sentinelFailoverDetectEnd (:5176-5235), which answers `FAILOVER_END` when it ends. */
  reconfigureReplicas(): void;
  /** `+failover-end` (:5207-5212). */
  recordFailoverEnd(): void;
  /** At failover-timeout, the best-effort REPLICAOF to the replicas not reconfigured yet (:5214-5233). */
  reconfigureRestBestEffort(): void;
  /** sentinelAbortFailover (:5339-5350). */
  abortFailover(reason: AbortReason): void;
  /** sentinelFailoverSwitchToPromotedSlave (:5299-5308): `+switch-master` and the new master's replica list. */
  switchToPromotedSlave(): void;
  /** A hello's newer configuration names another master: `+switch-master` and a reset to it (:2908-2918). */
  adoptAnnouncedMaster(master: string): void;
}

const state = (name: FailoverStateName) => ({ type: 'enterState', params: { state: name } }) as const;

export const sentinelFailoverMachine = setup({
  types: {
    context: {} as SentinelFailoverComponent,
    input: {} as SentinelFailoverComponent,
    events: {} as SentinelFailoverEvent,
  },
  guards: {
    /** sentinelStartFailoverIfNeeded (:4951-4979): ODOWN, and 2 × failover-timeout since the last start or vote for another. */
    failoverDue: ({ context: c }) => c.master.odown && c.now() - c.master.failoverStartTime >= c.failoverTimeoutUs * 2,
    /** sentinelFailoverWaitStart (:5094): this Sentinel won the vote of the failover epoch. */
    elected: ({ event }) => event.type === 'LEADER' && event.elected,
    /** sentinelFailoverWaitStart (:5096-5103): not elected within min(10 s, failover-timeout) of the start. */
    electionTimedOut: ({ context: c }) => c.now() - c.master.failoverStartTime > Math.min(ELECTION_TIMEOUT_US, c.failoverTimeoutUs),
    /** sentinelFailoverSelectSlave (:5124-5129): some replica may be promoted. */
    replicaFound: ({ event }) => event.type === 'SELECTED' && event.replica !== null,
    /** sentinelFailoverSendSlaveOfNoOne (:5143-5149): the promoted replica's link stayed down for failover-timeout. */
    promotedUnreachableTooLong: ({ context: c }) =>
      c.master.promotedSlave!.link.disconnected && c.now() - c.master.failoverStateChangeTime > c.failoverTimeoutUs,
    /** sentinelFailoverSendSlaveOfNoOne (:5143): REPLICAOF NO ONE waits for the promoted replica's link. */
    promotedReachable: ({ context: c }) => !c.master.promotedSlave!.link.disconnected,
    /** sentinelFailoverWaitPromotion (:5167-5174): no `role:master` from the promoted replica within failover-timeout. */
    failoverTimedOut: ({ context: c }) => c.now() - c.master.failoverStateChangeTime > c.failoverTimeoutUs,
    /** sentinelRefreshInstanceInfo (:2607): the replica reporting `role:master` is the one this failover promoted. */
    promotedReplica: ({ event }) => event.type === 'REPLICA_IS_MASTER' && event.replica.promoted,
    /** sentinelProcessHelloMessage (:2908): the newer configuration's master is not the one monitored. */
    masterMoved: ({ context, event }) => event.type === 'CONFIG_UPDATE' && event.master !== context.master.addr,
  },
  actions: {
    /** `ri->failover_state = …`, with `failover_state_change_time` (every state change but the end, :4930, :5115, :5134, :5160, :2616, :5211). */
    enterState: ({ context: c }, params: { state: FailoverStateName }) => {
      c.master.failoverState = FAILOVER_STATES[params.state];
      c.master.failoverStateChangeTime = c.now();
    },
    /** Back to SENTINEL_FAILOVER_STATE_NONE; the change time is the abort's or the reset's (:5346, :1601). */
    endFailover: ({ context }) => {
      context.master.failoverState = FAILOVER_NONE;
    },
    startFailover: ({ context }) => context.startFailover(),
    /** sentinelHandleRedisInstance (:5385): a failover that just started asks for votes at once. */
    askForVotes: ({ context }) => context.askMasterStateToOtherSentinels(true),
    countVotes: ({ context }) => context.countVotes(),
    recordElected: ({ context }) => context.recordElected(),
    selectReplica: ({ context }) => context.selectReplica(),
    promoteCandidate: ({ context, event }) => {
      if (event.type === 'SELECTED' && event.replica !== null) context.promoteCandidate(event.replica);
    },
    sendSlaveOfNoOne: ({ context }) => context.sendSlaveOfNoOne(),
    announcePromotion: ({ context, event }) => {
      if (event.type === 'REPLICA_IS_MASTER') context.announcePromotion(event.replica);
    },
    convertToReplicaIfStale: ({ context, event }) => {
      if (event.type === 'REPLICA_IS_MASTER') context.convertToReplicaIfStale(event.replica);
    },
    reconfigureReplicas: ({ context }) => context.reconfigureReplicas(),
    recordFailoverEnd: ({ context }) => context.recordFailoverEnd(),
    /** Only when the end came by failover-timeout (:5214). */
    reconfigureRestBestEffort: ({ context, event }) => {
      if (event.type === 'FAILOVER_END' && event.timedOut) context.reconfigureRestBestEffort();
    },
    abortFailover: ({ context }, params: { reason: AbortReason }) => context.abortFailover(params.reason),
    switchToPromotedSlave: ({ context }) => context.switchToPromotedSlave(),
    adoptAnnouncedMaster: ({ context, event }) => {
      if (event.type === 'CONFIG_UPDATE') context.adoptAnnouncedMaster(event.master);
    },
  },
}).createMachine({
  id: 'sentinel',
  description: "a Sentinel's failover of its master (sentinel.c sentinelFailoverStateMachine, :5310-5332): start on ODOWN, win the epoch's vote, promote a replica, reconfigure the others, switch",
  context: ({ input }) => input,
  initial: 'monitoring',
  on: {
    REPLICA_IS_MASTER: { actions: 'convertToReplicaIfStale' },
    CONFIG_UPDATE: { guard: 'masterMoved', target: '.monitoring', actions: 'adoptAnnouncedMaster' },
  },
  states: {
    monitoring: {
      description: 'SENTINEL_FAILOVER_STATE_NONE: PINGs, INFO, SDOWN and ODOWN checks, votes for others; a failover starts on ODOWN (:4951-4979)',
      entry: 'endFailover',
      on: { START_CHECK: { guard: 'failoverDue', target: 'failover' } },
    },
    failover: {
      description: 'SRI_FAILOVER_IN_PROGRESS: one attempt in the failover epoch, until it aborts or the switch (:4927-4938)',
      initial: 'waitStart',
      states: {
        waitStart: {
          description: 'WAIT_START: the vote requests out, until a majority elects this Sentinel or the election times out (:5087-5118)',
          entry: [state('WAIT_START'), 'startFailover', 'askForVotes'],
          on: {
            STEP: { actions: 'countVotes' },
            LEADER: [
              { guard: 'elected', target: 'selectSlave', actions: 'recordElected' },
              { guard: 'electionTimedOut', target: '#sentinel.monitoring', actions: { type: 'abortFailover', params: { reason: 'not-elected' } } },
            ],
          },
        },
        selectSlave: {
          description: 'SELECT_SLAVE: the replica to promote, by priority, offset and run id (:5120-5137)',
          entry: state('SELECT_SLAVE'),
          on: {
            STEP: { actions: 'selectReplica' },
            SELECTED: [
              { guard: 'replicaFound', target: 'sendSlaveofNoone', actions: 'promoteCandidate' },
              { target: '#sentinel.monitoring', actions: { type: 'abortFailover', params: { reason: 'no-good-slave' } } },
            ],
          },
        },
        sendSlaveofNoone: {
          description: "SEND_SLAVEOF_NOONE: REPLICAOF NO ONE once the promoted replica's link is up (:5139-5163)",
          entry: state('SEND_SLAVEOF_NOONE'),
          on: {
            STEP: [
              { guard: 'promotedUnreachableTooLong', target: '#sentinel.monitoring', actions: { type: 'abortFailover', params: { reason: 'slave-timeout' } } },
              { guard: 'promotedReachable', target: 'waitPromotion', actions: 'sendSlaveOfNoOne' },
            ],
          },
        },
        waitPromotion: {
          description: 'WAIT_PROMOTION: until the promoted replica reports role:master in INFO (:5167-5174, :2607-2626)',
          entry: state('WAIT_PROMOTION'),
          on: {
            STEP: { guard: 'failoverTimedOut', target: '#sentinel.monitoring', actions: { type: 'abortFailover', params: { reason: 'slave-timeout' } } },
            REPLICA_IS_MASTER: { guard: 'promotedReplica', target: 'reconfSlaves' },
          },
        },
        reconfSlaves: {
          description: 'RECONF_SLAVES: the promoted replica is advertised; REPLICAOF to the others, parallel-syncs at a time (:5237-5294)',
          entry: [state('RECONF_SLAVES'), 'announcePromotion'],
          on: {
            STEP: { actions: 'reconfigureReplicas' },
            FAILOVER_END: { target: 'updateConfig', actions: ['recordFailoverEnd', 'reconfigureRestBestEffort'] },
          },
        },
        updateConfig: {
          description: 'UPDATE_CONFIG: every replica reconfigured, or failover-timeout; the switch at the end of the timer run (:5176-5235, :5299-5308)',
          entry: state('UPDATE_CONFIG'),
          on: { INSTANCES_HANDLED: { target: '#sentinel.monitoring', actions: 'switchToPromotedSlave' } },
        },
      },
    },
  },
});
