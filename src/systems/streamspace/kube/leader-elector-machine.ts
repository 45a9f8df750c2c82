import { setup } from 'xstate';
import { fromMillis, MS, type Micros, type RandomStream, type TimerHandle } from '../../../sim-cluster/index.ts';
import { events } from '../events.ts';
import { tryAcquireOrRenew, tryRelease, type ElectionEnv, type ReleaseOutcome } from './election-attempts.ts';
import type { Abandon } from './lease-lock.ts';
import type { ElectorSettings, LeaderElectorCallbacks, Leadership, LeadershipTerm } from './leader-elector.ts';

/**
 * The statechart of client-go's LeaderElector (tools/leaderelection/leaderelection.go, v0.34):
 * the definition leader-elector.ts runs through the kernel's compiled stepper
 * (sim-cluster/statechart), drawn in docs/machines.md. Every guard and action cites the Go
 * function or the fact of real-world-semantics §1 it stands for; the module comment of
 * leader-elector.ts describes the states and the trace events.
 *
 * The context is the elector component itself (`ElectorComponent`, made by leader-elector.ts):
 * the actions keep its fields, as Go's LeaderElector keeps its own.
 *
 * An attempt in flight (tryAcquireOrRenew, tryRelease) is started by a state's entry action and
 * abandoned by its exit action: leaving the state is Go's context cancellation. The release
 * deadline is part of the release call (`release()` creates `context.WithTimeout(RD)` before
 * calling tryRelease), so `startRelease` arms it before the first request and it arrives as
 * `RELEASE_TIMEOUT`; the other timers are the states' `after` delays.
 */

/** The elector's events: attempts ending, the release deadline, and Run's context being cancelled. */
export type ElectorEvent =
  | { type: 'ATTEMPT_DONE'; succeeded: boolean }
  | ({ type: 'RELEASE_DONE' } & ReleaseOutcome)
  | { type: 'RELEASE_TIMEOUT' }
  | { type: 'CANCEL' };

/** A running tryAcquireOrRenew or tryRelease; abandoning it is Go's context cancellation. */
interface Attempt {
  abandon: Abandon | undefined;
  abandoned: boolean;
}

/** The elector component: the machine's context, Go's LeaderElector fields and the run's ports. */
export interface ElectorComponent {
  readonly env: ElectionEnv;
  readonly settings: ElectorSettings;
  readonly callbacks: LeaderElectorCallbacks;
  readonly leadership: Leadership;
  readonly rng: RandomStream;
  /** Posts an event to this elector's statechart (an attempt's answer, the release deadline). */
  readonly send: (event: ElectorEvent) => void;
  /** The current acquire sleep, drawn when it starts (fact 8). */
  sleepUs: Micros;
  /** Local monotonic start of the current renew poll (its RD deadline is counted from here). */
  pollStartUs: Micros;
  /** Local monotonic start of the current renew attempt. */
  attemptStartUs: Micros;
  /** The attempt of `acquiring.attempting`, `leading.polling.attempting` or `releasing`. */
  attempt: Attempt | null;
  /** release()'s RD timeout, armed while `releasing`. */
  releaseTimer: TimerHandle | undefined;
}

/**
 * A delay in whole µs, rounded through milliseconds as every timer of the elector is (the stepper,
 * like xstate, counts delays in milliseconds): an identity for integer settings.
 */
const timerDelay = (us: Micros): Micros => fromMillis(us / MS);

/** The next tick of the poll's RP ticker after the current attempt started (time.Ticker keeps one pending tick). */
function untilNextTick(c: ElectorComponent): Micros {
  const rp = c.settings.retryPeriodUs;
  const tick = c.pollStartUs + (Math.floor((c.attemptStartUs - c.pollStartUs) / rp) + 1) * rp;
  return Math.max(0, tick - c.env.ctx.monotonic());
}

function startAttempt(c: ElectorComponent, kind: 'acquire' | 'renew' | 'release'): void {
  const attempt: Attempt = { abandon: undefined, abandoned: false };
  c.attempt = attempt;
  attempt.abandon = kind === 'release'
    ? tryRelease(c.env, (r) => {
      if (!attempt.abandoned) c.send({ type: 'RELEASE_DONE', ...r });
    })
    : tryAcquireOrRenew(c.env, (succeeded) => {
      if (!attempt.abandoned) c.send({ type: 'ATTEMPT_DONE', succeeded });
    });
}

/** Cancels the context of the attempt in flight: its answer, if it ever comes, is ignored. */
function abandonAttempt(c: ElectorComponent): void {
  const attempt = c.attempt;
  if (attempt === null) return;
  c.attempt = null;
  attempt.abandoned = true;
  attempt.abandon?.();
}

/** release() returned (or was abandoned): its RD timeout is cancelled with its request. */
export function abandonRelease(c: ElectorComponent): void {
  c.env.ctx.cancelTimer(c.releaseTimer);
  c.releaseTimer = undefined;
  abandonAttempt(c);
}

/** Labels of the `after` timers, by delay name (seen in failure reports). */
export const ELECTOR_TIMER_LABELS: Readonly<Record<string, string>> = {
  acquireSleep: 'elector.sleep_done',
  renewDeadline: 'elector.renew-deadline',
  pollTick: 'elector.poll_tick',
  retryPeriod: 'elector.retry_period',
};

export const electorMachine = setup({
  types: {
    context: {} as ElectorComponent,
    input: {} as ElectorComponent,
    events: {} as ElectorEvent,
  },
  guards: {
    /** tryAcquireOrRenew returned true: acquire() returns (fact 8), the renew poll ends (fact 9). */
    attemptSucceeded: ({ event }) => event.type === 'ATTEMPT_DONE' && event.succeeded,
    /** LeaderElectionConfig.ReleaseOnCancel: renew() ends with release() (facts 10, 11). */
    releaseOnCancel: ({ context }) => context.settings.releaseOnCancel,
  },
  actions: {
    /** acquire(): JitterUntil calls tryAcquireOrRenew (fact 6); the request carries no deadline (fact 8). */
    startAcquireAttempt: ({ context }) => startAttempt(context, 'acquire'),
    /** renew(): PollUntilContextTimeout calls tryAcquireOrRenew under the poll's RD deadline (fact 9). */
    startRenewAttempt: ({ context }) => startAttempt(context, 'renew'),
    /** Leaving the attempt's state cancels its context (facts 8, 9; election-attempts.ts). */
    abandonAttempt: ({ context }) => abandonAttempt(context),
    /** maybeReportTransition: OnNewLeader for a holder not reported before (after every acquire attempt and renew poll). */
    reportTransition: ({ context }) => {
      const holder = context.env.observed.holder;
      if (holder === context.leadership.reportedLeader) return;
      context.leadership.reportedLeader = holder;
      context.callbacks.onNewLeader?.(holder);
    },
    /** JitterUntil's sleep: RP + rand[0,1)·J·RP, drawn when the sleep starts, after the attempt ended (fact 8, sliding). */
    drawAcquireSleep: ({ context }) => {
      context.sleepUs = context.rng.jitter(context.settings.retryPeriodUs, context.settings.jitterFactor);
    },
    /** Run: acquire() succeeded; the leading context is created and OnStartedLeading called (fact 10). */
    startLeading: ({ context }) => {
      const { env, leadership } = context;
      const term: LeadershipTerm = {
        lease: env.lock.name,
        identity: env.identity,
        transitions: env.observed.record?.leaseTransitions ?? 0,
        acquiredAtLocalUs: env.ctx.monotonic(),
      };
      leadership.term = term;
      events.record(env.ctx, 'elector.acquired', { lease: term.lease, identity: term.identity, transitions: term.transitions });
      context.callbacks.onStartedLeading(term);
    },
    /** renew(): one PollUntilContextTimeout(RP, RD, immediate) starts; its RD deadline counts from here (fact 9, §1.2). */
    startPoll: ({ context }) => {
      context.pollStartUs = context.env.ctx.monotonic();
    },
    /** The poll's ticker counts from the start of each attempt (time.Ticker keeps one pending tick). */
    markAttemptStart: ({ context }) => {
      context.attemptStartUs = context.env.ctx.monotonic();
    },
    /** A renew poll succeeded: wait.Until waits RP before the next one (fact 9). */
    recordRenewed: ({ context }) => {
      context.env.ctx.record('elector.renewed', { lease: context.env.lock.name, transitions: context.env.observed.record?.leaseTransitions ?? 0 });
    },
    /** renew() returns: the poll reached RD, or Run's context was cancelled (facts 9, 10). */
    recordRenewFailed: ({ context }, params: { why: 'deadline' | 'cancelled' }) => {
      context.env.ctx.record('elector.renew-failed', { lease: context.env.lock.name, why: params.why });
    },
    /** release(): context.WithTimeout(RD), then tryRelease under it (facts 10, 11; §1.4). */
    startRelease: ({ context }) => {
      const c = context;
      c.releaseTimer = c.env.ctx.setTimer(timerDelay(c.settings.renewDeadlineUs), () => {
        c.releaseTimer = undefined;
        c.send({ type: 'RELEASE_TIMEOUT' });
      }, 'elector.release_deadline');
      startAttempt(c, 'release');
    },
    /** release() returns: its context is cancelled (its timeout and any request still in flight). */
    abandonRelease: ({ context }) => abandonRelease(context),
    /** tryRelease's outcome: released, or failed with the error (fact 11); not-leader writes nothing. */
    recordRelease: ({ context, event }) => {
      if (event.type !== 'RELEASE_DONE') return;
      const lease = context.env.lock.name;
      if (event.outcome === 'released') context.env.ctx.record('elector.released', { lease });
      else if (event.outcome === 'failed') context.env.ctx.record('elector.release-failed', { lease, why: event.why });
    },
    /** release() reached its RD timeout (fact 10; client-go commit f9eba8e8 bounded it). */
    recordReleaseTimeout: ({ context }) => {
      context.env.ctx.record('elector.release-failed', { lease: context.env.lock.name, why: 'deadline' });
    },
    /** Run's deferred calls: cancel the leading context, then OnStoppedLeading, also when it never led (fact 10). */
    stopLeading: ({ context }) => {
      const led = context.leadership.term !== null;
      context.leadership.term = null;
      events.record(context.env.ctx, 'elector.stopped-leading', { lease: context.env.lock.name, led });
      context.callbacks.onStoppedLeading();
    },
  },
  delays: {
    /** The sleep drawn by drawAcquireSleep (fact 8). */
    acquireSleep: ({ context }) => context.sleepUs / MS,
    /** wait.Until's period between successful polls (fact 9). */
    retryPeriod: ({ context }) => context.settings.retryPeriodUs / MS,
    /** The renew poll's deadline (fact 9). */
    renewDeadline: ({ context }) => context.settings.renewDeadlineUs / MS,
    /** The poll's next RP tick after the failed attempt (fact 9). */
    pollTick: ({ context }) => untilNextTick(context) / MS,
  },
}).createMachine({
  id: 'elector',
  description: "client-go's LeaderElector.Run (leaderelection.go v0.34): acquire, renew, release if ReleaseOnCancel, OnStoppedLeading; never re-entered",
  context: ({ input }) => input,
  initial: 'acquiring',
  states: {
    acquiring: {
      description: 'acquire(): a candidate, until an attempt succeeds (fact 8); a cancelled candidate stops without releasing',
      initial: 'attempting',
      on: { CANCEL: 'stopped' },
      states: {
        attempting: {
          description: 'tryAcquireOrRenew in flight (fact 6)',
          entry: 'startAcquireAttempt',
          exit: 'abandonAttempt',
          on: {
            ATTEMPT_DONE: [
              { guard: 'attemptSucceeded', target: '#elector.leading', actions: 'reportTransition' },
              { target: 'sleeping', actions: 'reportTransition' },
            ],
          },
        },
        sleeping: {
          description: 'JitterUntil: RP + rand·J·RP after the attempt ended (fact 8)',
          entry: 'drawAcquireSleep',
          after: { acquireSleep: 'attempting' },
        },
      },
    },
    leading: {
      description: 'OnStartedLeading called, the leading context live (fact 10)',
      entry: 'startLeading',
      initial: 'polling',
      on: {
        CANCEL: [
          { guard: 'releaseOnCancel', target: 'releasing', actions: { type: 'recordRenewFailed', params: { why: 'cancelled' } } },
          { target: 'stopped', actions: { type: 'recordRenewFailed', params: { why: 'cancelled' } } },
        ],
      },
      states: {
        polling: {
          description: 'one PollUntilContextTimeout(RP, RD, immediate): attempts until one succeeds or RD runs out (fact 9)',
          entry: 'startPoll',
          initial: 'attempting',
          after: {
            renewDeadline: [
              { guard: 'releaseOnCancel', target: '#elector.releasing', actions: ['reportTransition', { type: 'recordRenewFailed', params: { why: 'deadline' } }] },
              { target: '#elector.stopped', actions: ['reportTransition', { type: 'recordRenewFailed', params: { why: 'deadline' } }] },
            ],
          },
          states: {
            attempting: {
              description: 'tryAcquireOrRenew in flight under the poll deadline (fact 9)',
              entry: ['markAttemptStart', 'startRenewAttempt'],
              exit: 'abandonAttempt',
              on: {
                ATTEMPT_DONE: [
                  { guard: 'attemptSucceeded', target: '#elector.leading.renewed', actions: ['reportTransition', 'recordRenewed'] },
                  { target: 'waitingTick' },
                ],
              },
            },
            waitingTick: {
              description: "a failed attempt waits for the poll's next RP tick (fact 9)",
              after: { pollTick: 'attempting' },
            },
          },
        },
        renewed: {
          description: 'wait.Until: RP after the last successful renew before the next poll (fact 9, §1.2)',
          after: { retryPeriod: 'polling' },
        },
      },
    },
    releasing: {
      description: 'release(): tryRelease bounded by its own RD timeout, the leading context still live (facts 10, 11)',
      entry: 'startRelease',
      exit: 'abandonRelease',
      on: {
        RELEASE_DONE: { target: 'stopped', actions: 'recordRelease' },
        RELEASE_TIMEOUT: { target: 'stopped', actions: 'recordReleaseTimeout' },
      },
    },
    stopped: {
      description: 'Run returned: leading context cancelled, OnStoppedLeading called (fact 10)',
      type: 'final',
      entry: 'stopLeading',
    },
  },
});
