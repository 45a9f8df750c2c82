import { MS, SECOND, fromMillis, type Micros, type ProcessContext, type RandomStream, type TimerHandle } from '../../../sim-cluster/index.ts';
import type { RpcClient } from '../net/rpc.ts';
import { tryAcquireOrRenew, tryRelease, type ElectionEnv, type ReleaseOutcome } from './election-attempts.ts';
import { LeaseLock, type Abandon } from './lease-lock.ts';
import { Observation } from './observation.ts';
import { events } from '../events.ts';

/**
 * client-go's LeaderElector (tools/leaderelection/leaderelection.go, v0.34) as a state machine:
 * `Run` = acquire, then renew, then (ReleaseOnCancel) release, then OnStoppedLeading, never
 * re-entered. Sources: real-world-semantics §1.1 facts 2-12 and 16, §1.2; streamspace-v2-behavior §8
 * (the k8s-agent runs it with LD 15 s, RD 10 s, RP 2 s, ReleaseOnCancel=true).
 *
 * States (the roles of §1.5):
 * - `acquiring` (candidate): `attempting` runs tryAcquireOrRenew; after it completes, `sleeping`
 *   waits RP + rand[0,1)·J·RP (JitterUntil, sliding: the sleep starts when the attempt ends, fact 8).
 *   Acquire requests carry no deadline (fact 8).
 * - `leading`: OnStartedLeading has been called and the leading context is live.
 *   `polling` is one PollUntilContextTimeout(RP, RD, immediate) call: an attempt at once, then one
 *   per RP ticker tick (a tick that fell due during a slow attempt starts the next one as soon as it
 *   ends), all inside one RD deadline that abandons the attempt in flight (fact 9). A success ends
 *   the poll; `renewed` then waits RP (wait.Until, sliding, no jitter) before the next poll, so a
 *   poll's deadline falls at s+RP+RD, s being when the last successful renew returned (§1.2).
 *   Attempts seeing another holder fail but do not end the poll early (fact 9).
 * - `releasing`: tryRelease bounded by its own RD timeout (facts 10, 11), entered when the renew
 *   poll failed or the caller cancelled, if ReleaseOnCancel; the leading context is still live.
 * - `stopped` (final): the leading context is cancelled, then OnStoppedLeading is called — also
 *   when this client never led (fact 10). Run is never re-entered (§8).
 *
 * `cancel()` is the signal path (§8): cancelling Run's context abandons any attempt in flight; a
 * candidate stops at once (no release: Run returns before renew), a leader releases first if
 * ReleaseOnCancel. Cancelling a release in progress changes nothing (it runs on its own context).
 *
 * Trace events (besides `actor.state` {actor: `elector/<lease>`, state} on every state change, the
 * state as a nested value such as `{leading: {polling: 'attempting'}}`; `lease.*` from the API server and `elector.observed` from
 * observation.ts):
 * - `elector.acquired` {lease, identity, transitions}: the acquire loop succeeded; OnStartedLeading follows.
 * - `elector.renewed` {lease, transitions}: a renew poll succeeded (about every RP while leading).
 * - `elector.renew-failed` {lease, why: 'deadline' | 'cancelled'}: the renew loop ended.
 * - `elector.released` {lease}: the release write committed and was answered.
 * - `elector.release-failed` {lease, why}: the release gave up (`deadline` or the error kind).
 * - `elector.stopped-leading` {lease, led}: the leading context is cancelled (if `led`) and
 *   OnStoppedLeading is being called.
 */

export interface LeaderElectorOptions {
  /** The Lease's name (§8: `streamspace-agent-<AgentID>`). */
  leaseName: string;
  /** HolderIdentity (§8: POD_NAME). Must be unique per process incarnation to be safe (fact 16). */
  identity: string;
  /** LeaseDuration (§8: 15 s). Written into the record in whole seconds (fact 12). */
  leaseDurationUs?: Micros;
  /** RenewDeadline (§8: 10 s): the renew poll's deadline, and release's timeout (facts 9, 10). */
  renewDeadlineUs?: Micros;
  /** RetryPeriod (§8: 2 s). */
  retryPeriodUs?: Micros;
  /** client-go's JitterFactor for the acquire sleep (fact 8: 1.2; a package constant in Go). */
  jitterFactor?: number;
  /** ReleaseOnCancel (§8: true). */
  releaseOnCancel?: boolean;
  /**
   * The REST client's per-request timeout (rest.Config.Timeout). Default: none, as for raw
   * client-go users such as the k8s-agent (fact 14); controller-runtime sets max(1 s, RD/2) = 5 s.
   * Without it, renew requests are bounded only by the poll's RD deadline (fact 9), release
   * requests by release's RD timeout (fact 10), and acquire requests, which carry no deadline
   * (fact 8), by `http2HealthCheckUs`.
   */
  requestTimeoutUs?: Micros;
  /**
   * How long a request with no timeout waits on a silent API server before client-go's HTTP/2
   * health check closes the connection under it: read-idle 30 s + ping timeout 15 s = 45 s
   * (fact 15; §1.2 "add up to ~45 s"). Used only when `requestTimeoutUs` is not set.
   */
  http2HealthCheckUs?: Micros;
}

/** One leadership: from OnStartedLeading until the leading context is cancelled. */
export interface LeadershipTerm {
  lease: string;
  identity: string;
  /**
   * leaseTransitions of the record this client wrote when it acquired: its fencing epoch (fact 17).
   * Fixed for the term: a renew attempt that finds the lease released (holder '') takes it again
   * with transitions+1 inside the same term, without a new OnStartedLeading, as client-go does.
   */
  transitions: number;
  /** Local monotonic time of the acquisition. */
  acquiredAtLocalUs: Micros;
}

export interface LeaderElectorCallbacks {
  /** Called once, when the acquire loop succeeds (Go starts it in a goroutine). */
  onStartedLeading(term: LeadershipTerm): void;
  /** Called exactly once, when Run exits, whether or not this client ever led (fact 10). */
  onStoppedLeading(): void;
  /** Called after an attempt (or a renew poll) that observed a holder different from the last reported one. */
  onNewLeader?(identity: string): void;
}

export type ElectorRole = 'acquiring' | 'leading' | 'releasing' | 'stopped';

export interface LeaderElector {
  /**
   * client-go's IsLeader(): the last observed record names this identity (observation.ts). False
   * as soon as another holder is observed (fact 9); it stays true after Run exits if no other
   * holder was seen and no release succeeded. `currentTerm()` tells whether the leading context is live.
   */
  isLeader(): boolean;
  /** The current term while the leading context is live (OnStartedLeading called, not yet cancelled). */
  currentTerm(): LeadershipTerm | null;
  /**
   * leaseTransitions of the last record this elector observed, while its leading context is live:
   * the fencing token to present with a write. It moves on when the lease is re-taken inside the
   * same term (after a stale release), which `currentTerm().transitions` does not.
   */
  fencingToken(): number | null;
  /** Cancels Run's context (the signal path, §8). */
  cancel(): void;
  readonly state: ElectorRole;
}

export const DEFAULT_LEADER_ELECTOR_OPTIONS = {
  leaseDurationUs: 15 * SECOND,
  renewDeadlineUs: 10 * SECOND,
  retryPeriodUs: 2 * SECOND,
  jitterFactor: 1.2,
  releaseOnCancel: true,
  http2HealthCheckUs: 45 * SECOND,
} as const;

interface Settings {
  leaseDurationUs: Micros;
  renewDeadlineUs: Micros;
  retryPeriodUs: Micros;
  jitterFactor: number;
  releaseOnCancel: boolean;
}

/** The leader's mutable state outside the state machine: read synchronously by the callbacks it calls. */
interface Leadership {
  /** The live leading context, or null. */
  term: LeadershipTerm | null;
  /** `reportedLeader`: the holder last passed to OnNewLeader. */
  reportedLeader: string;
}

/** The leaf states of the statechart in the module comment, as `actor.state` records them. */
type ElectorState =
  | 'acquiring.attempting'
  | 'acquiring.sleeping'
  | 'leading.polling.attempting'
  | 'leading.polling.waitingTick'
  | 'leading.renewed'
  | 'releasing'
  | 'stopped';

/** The state value as a nested object (`{leading: {polling: 'attempting'}}`), the form `actor.state` records. */
const STATE_VALUES: Record<ElectorState, unknown> = {
  'acquiring.attempting': { acquiring: 'attempting' },
  'acquiring.sleeping': { acquiring: 'sleeping' },
  'leading.polling.attempting': { leading: { polling: 'attempting' } },
  'leading.polling.waitingTick': { leading: { polling: 'waitingTick' } },
  'leading.renewed': { leading: 'renewed' },
  releasing: 'releasing',
  stopped: 'stopped',
};

type ElectorEvent =
  | { type: 'ATTEMPT_DONE'; succeeded: boolean }
  | ({ type: 'RELEASE_DONE' } & ReleaseOutcome)
  | { type: 'CANCEL' }
  /** The delayed transitions: the timer of the state that armed it fired. */
  | { type: 'SLEEP_DONE' | 'POLL_DEADLINE' | 'POLL_TICK' | 'RETRY_PERIOD' | 'RELEASE_DEADLINE' };

/** A running tryAcquireOrRenew or tryRelease; abandoning it is Go's context cancellation. */
interface Attempt {
  abandon: Abandon | undefined;
  abandoned: boolean;
}

/**
 * A delay in whole µs, rounded through milliseconds exactly as the xstate clock adapter of the
 * earlier version did (an identity for integer delays; settings are not checked to be integers).
 */
const timerDelay = (us: Micros): Micros => fromMillis(us / MS);

/** The next tick of the poll's RP ticker after the current attempt started (time.Ticker keeps one pending tick). */
function untilNextTick(retryPeriodUs: Micros, pollStartUs: Micros, attemptStartUs: Micros, nowUs: Micros): Micros {
  const tick = pollStartUs + (Math.floor((attemptStartUs - pollStartUs) / retryPeriodUs) + 1) * retryPeriodUs;
  return Math.max(0, tick - nowUs);
}

/**
 * The elector's statechart (see the module comment), hand-written: it is the busiest state machine
 * of a run (an attempt every RP on every replica), and as an xstate actor with a child actor per
 * attempt it took about a quarter of a fuzz case's time. It keeps the order of effects of the xstate
 * version, so traces are unchanged:
 * - a step first exits states, innermost first (cancelling their timers, abandoning their attempt),
 *   then runs the transition's actions, then enters states, outermost first, running their entry
 *   actions at once;
 * - the timers and attempts of the entered states start after that, in entry order;
 * - then the new state is published (recorded as `actor.state` when it changed);
 * - an event raised meanwhile (a callback that cancels the elector) waits for the step to finish,
 *   and is dropped if the elector has stopped.
 */
class ElectorMachine {
  private state: ElectorState = 'acquiring.attempting';
  /** The state callers see: the one the last finished step published. */
  private published: ElectorState = 'acquiring.attempting';
  private status: 'active' | 'done' | 'error' = 'active';
  private readonly mailbox: ElectorEvent[] = [];
  private processing = false;
  /** Timers and attempts of the states entered by the current step, started once its entry actions ran. */
  private readonly entered: Array<() => void> = [];
  private recorded: ElectorState | null = null;
  /** The attempt of `acquiring.attempting`, `leading.polling.attempting` or `releasing`. */
  private attempt: Attempt | null = null;
  /** The delayed transition of the current leaf state (sleeping, waitingTick, renewed, releasing). */
  private leafTimer: TimerHandle | undefined;
  /** The renew poll's RD deadline, armed while in `leading.polling`. */
  private pollTimer: TimerHandle | undefined;
  /** Local monotonic start of the current renew poll (its RD deadline is counted from here). */
  private pollStartUs: Micros = 0;
  /** Local monotonic start of the current renew attempt. */
  private attemptStartUs: Micros = 0;

  constructor(
    private readonly id: string,
    private readonly env: ElectionEnv,
    private readonly settings: Settings,
    private readonly callbacks: LeaderElectorCallbacks,
    private readonly leadership: Leadership,
    private readonly rng: RandomStream,
  ) {}

  get role(): ElectorRole {
    return this.published.split('.')[0] as ElectorRole;
  }

  /** Run: the first acquire attempt. */
  start(): void {
    this.runStep(() => this.enterAcquireAttempt());
  }

  send(event: ElectorEvent): void {
    if (this.status !== 'active') return;
    this.mailbox.push(event);
    if (this.processing) return;
    this.processing = true;
    try {
      for (let next = this.mailbox.shift(); next !== undefined; next = this.mailbox.shift()) {
        const event = next;
        this.runStep(() => this.transition(event));
        if (this.status !== 'active') this.mailbox.length = 0;
      }
    } finally {
      this.processing = false;
    }
  }

  private runStep(transition: () => void): void {
    try {
      transition();
      this.published = this.state;
      if (this.state === 'stopped') this.status = 'done';
      for (let i = 0; i < this.entered.length; i++) this.entered[i]!();
      this.entered.length = 0;
      if (this.published !== this.recorded) {
        this.recorded = this.published;
        this.env.ctx.record('actor.state', { actor: this.id, state: STATE_VALUES[this.published] });
      }
    } catch (error) {
      // An action threw (a model bug): the elector stops for good and the run fails.
      this.status = 'error';
      this.entered.length = 0;
      this.env.ctx.cancelTimer(this.leafTimer);
      this.env.ctx.cancelTimer(this.pollTimer);
      this.abandonAttempt();
      this.env.ctx.fail(error);
    }
  }

  private transition(event: ElectorEvent): void {
    const ctx = this.env.ctx;
    switch (this.state) {
      case 'acquiring.attempting':
        if (event.type === 'ATTEMPT_DONE') {
          this.abandonAttempt();
          this.reportTransition();
          return event.succeeded ? this.enterLeading() : this.enterSleeping();
        }
        if (event.type === 'CANCEL') {
          this.abandonAttempt();
          this.enterStopped();
        }
        return;
      case 'acquiring.sleeping':
        if (event.type === 'SLEEP_DONE') {
          this.leafTimer = undefined;
          this.enterAcquireAttempt();
        } else if (event.type === 'CANCEL') {
          ctx.cancelTimer(this.leafTimer);
          this.enterStopped();
        }
        return;
      case 'leading.polling.attempting':
        if (event.type === 'ATTEMPT_DONE') {
          this.abandonAttempt();
          if (!event.succeeded) return this.enterWaitingTick();
          ctx.cancelTimer(this.pollTimer);
          this.reportTransition();
          ctx.record('elector.renewed', { lease: this.env.lock.name, transitions: this.env.observed.record?.leaseTransitions ?? 0 });
          return this.enterRenewed();
        }
        if (event.type === 'POLL_DEADLINE') {
          this.abandonAttempt();
          this.reportTransition();
          return this.endLeading('deadline');
        }
        if (event.type === 'CANCEL') {
          this.abandonAttempt();
          ctx.cancelTimer(this.pollTimer);
          this.endLeading('cancelled');
        }
        return;
      case 'leading.polling.waitingTick':
        if (event.type === 'POLL_TICK') {
          this.leafTimer = undefined;
          return this.enterRenewAttempt();
        }
        if (event.type === 'POLL_DEADLINE') {
          ctx.cancelTimer(this.leafTimer);
          this.reportTransition();
          return this.endLeading('deadline');
        }
        if (event.type === 'CANCEL') {
          ctx.cancelTimer(this.leafTimer);
          ctx.cancelTimer(this.pollTimer);
          this.endLeading('cancelled');
        }
        return;
      case 'leading.renewed':
        if (event.type === 'RETRY_PERIOD') {
          this.leafTimer = undefined;
          return this.enterPolling();
        }
        if (event.type === 'CANCEL') {
          ctx.cancelTimer(this.leafTimer);
          this.endLeading('cancelled');
        }
        return;
      case 'releasing':
        if (event.type === 'RELEASE_DONE') {
          ctx.cancelTimer(this.leafTimer);
          this.abandonAttempt();
          const lease = this.env.lock.name;
          if (event.outcome === 'released') ctx.record('elector.released', { lease });
          else if (event.outcome === 'failed') ctx.record('elector.release-failed', { lease, why: event.why });
          return this.enterStopped();
        }
        if (event.type === 'RELEASE_DEADLINE') {
          this.leafTimer = undefined;
          this.abandonAttempt();
          ctx.record('elector.release-failed', { lease: this.env.lock.name, why: 'deadline' });
          this.enterStopped();
        }
        return;
      case 'stopped':
        return;
    }
  }

  // ---- entering states ------------------------------------------------------------------------

  private enterAcquireAttempt(): void {
    this.state = 'acquiring.attempting';
    this.entered.push(() => this.startAttempt('acquire'));
  }

  /** JitterUntil's sleep: RP + rand[0,1)·J·RP, drawn when the sleep starts (fact 8). */
  private enterSleeping(): void {
    this.state = 'acquiring.sleeping';
    const sleepUs = this.rng.jitter(this.settings.retryPeriodUs, this.settings.jitterFactor);
    this.armLeafTimer(sleepUs, 'SLEEP_DONE');
  }

  /** OnStartedLeading, then the first renew poll. */
  private enterLeading(): void {
    const { env, leadership } = this;
    const term: LeadershipTerm = {
      lease: env.lock.name,
      identity: env.identity,
      transitions: env.observed.record?.leaseTransitions ?? 0,
      acquiredAtLocalUs: env.ctx.monotonic(),
    };
    leadership.term = term;
    events.record(env.ctx, 'elector.acquired', { lease: term.lease, identity: term.identity, transitions: term.transitions });
    this.callbacks.onStartedLeading(term);
    this.enterPolling();
  }

  /** One PollUntilContextTimeout(RP, RD, immediate): an attempt at once, all within one RD deadline. */
  private enterPolling(): void {
    this.pollStartUs = this.env.ctx.monotonic();
    const deadlineUs = timerDelay(this.settings.renewDeadlineUs);
    this.entered.push(() => {
      this.pollTimer = this.env.ctx.setTimer(deadlineUs, () => {
        this.pollTimer = undefined;
        this.send({ type: 'POLL_DEADLINE' });
      }, 'elector.renew-deadline');
    });
    this.enterRenewAttempt();
  }

  private enterRenewAttempt(): void {
    this.state = 'leading.polling.attempting';
    this.attemptStartUs = this.env.ctx.monotonic();
    this.entered.push(() => this.startAttempt('renew'));
  }

  private enterWaitingTick(): void {
    this.state = 'leading.polling.waitingTick';
    this.armLeafTimer(untilNextTick(this.settings.retryPeriodUs, this.pollStartUs, this.attemptStartUs, this.env.ctx.monotonic()), 'POLL_TICK');
  }

  /** wait.Until's sliding RP between successful polls. */
  private enterRenewed(): void {
    this.state = 'leading.renewed';
    this.armLeafTimer(this.settings.retryPeriodUs, 'RETRY_PERIOD');
  }

  /** The renew loop ended (poll deadline, or the caller cancelled): release first if ReleaseOnCancel. */
  private endLeading(why: 'deadline' | 'cancelled'): void {
    this.env.ctx.record('elector.renew-failed', { lease: this.env.lock.name, why });
    if (!this.settings.releaseOnCancel) return this.enterStopped();
    this.state = 'releasing';
    this.armLeafTimer(this.settings.renewDeadlineUs, 'RELEASE_DEADLINE');
    this.entered.push(() => this.startAttempt('release'));
  }

  /** Run's deferred calls: cancel the leading context, then OnStoppedLeading (fact 10). */
  private enterStopped(): void {
    this.state = 'stopped';
    const led = this.leadership.term !== null;
    this.leadership.term = null;
    events.record(this.env.ctx, 'elector.stopped-leading', { lease: this.env.lock.name, led });
    this.callbacks.onStoppedLeading();
  }

  // ---- timers and attempts --------------------------------------------------------------------

  private armLeafTimer(delayUs: Micros, fires: 'SLEEP_DONE' | 'POLL_TICK' | 'RETRY_PERIOD' | 'RELEASE_DEADLINE'): void {
    const timerUs = timerDelay(delayUs);
    this.entered.push(() => {
      this.leafTimer = this.env.ctx.setTimer(timerUs, () => this.send({ type: fires }), `elector.${fires.toLowerCase()}`);
    });
  }

  private startAttempt(kind: 'acquire' | 'renew' | 'release'): void {
    const attempt: Attempt = { abandon: undefined, abandoned: false };
    this.attempt = attempt;
    attempt.abandon = kind === 'release'
      ? tryRelease(this.env, (r) => {
        if (!attempt.abandoned) this.send({ type: 'RELEASE_DONE', ...r });
      })
      : tryAcquireOrRenew(this.env, (succeeded) => {
        if (!attempt.abandoned) this.send({ type: 'ATTEMPT_DONE', succeeded });
      });
  }

  private abandonAttempt(): void {
    const attempt = this.attempt;
    if (attempt === null) return;
    this.attempt = null;
    attempt.abandoned = true;
    attempt.abandon?.();
  }

  /** maybeReportTransition: OnNewLeader for a holder not reported before. */
  private reportTransition(): void {
    const holder = this.env.observed.holder;
    if (holder === this.leadership.reportedLeader) return;
    this.leadership.reportedLeader = holder;
    this.callbacks.onNewLeader?.(holder);
  }
}

/** NewLeaderElector's validation (fact 12), on the resolved options. */
function resolve(options: LeaderElectorOptions): Settings {
  const d = DEFAULT_LEADER_ELECTOR_OPTIONS;
  const s: Settings = {
    leaseDurationUs: options.leaseDurationUs ?? d.leaseDurationUs,
    renewDeadlineUs: options.renewDeadlineUs ?? d.renewDeadlineUs,
    retryPeriodUs: options.retryPeriodUs ?? d.retryPeriodUs,
    jitterFactor: options.jitterFactor ?? d.jitterFactor,
    releaseOnCancel: options.releaseOnCancel ?? d.releaseOnCancel,
  };
  if (options.identity === '') throw new RangeError('leader election: Lock identity is empty');
  if (s.leaseDurationUs <= s.renewDeadlineUs) throw new RangeError('leader election: leaseDuration must be greater than renewDeadline');
  if (s.renewDeadlineUs <= s.jitterFactor * s.retryPeriodUs) throw new RangeError('leader election: renewDeadline must be greater than retryPeriod*JitterFactor');
  if (s.retryPeriodUs < 1) throw new RangeError('leader election: retryPeriod must be greater than zero');
  return s;
}

/**
 * Creates the elector and calls Run at once (the agent's `go le.Run(ctx)`, §8). `api` is the
 * process's client of the Kubernetes API server.
 */
export function startLeaderElector(ctx: ProcessContext, api: RpcClient, options: LeaderElectorOptions, callbacks: LeaderElectorCallbacks): LeaderElector {
  const settings = resolve(options);
  const timeoutUs = options.requestTimeoutUs ?? options.http2HealthCheckUs ?? DEFAULT_LEADER_ELECTOR_OPTIONS.http2HealthCheckUs;
  const env: ElectionEnv = {
    ctx,
    lock: new LeaseLock(api, options.leaseName, timeoutUs),
    observed: new Observation(ctx, options.leaseName, options.identity),
    identity: options.identity,
    leaseDurationSeconds: Math.floor(settings.leaseDurationUs / SECOND),
  };
  const leadership: Leadership = { term: null, reportedLeader: '' };
  const machine = new ElectorMachine(`elector/${options.leaseName}`, env, settings, callbacks, leadership, ctx.random('elector'));
  machine.start();
  return {
    isLeader: () => env.observed.isLeader(),
    currentTerm: () => leadership.term,
    fencingToken: () => (leadership.term === null ? null : env.observed.record?.leaseTransitions ?? null),
    cancel: () => machine.send({ type: 'CANCEL' }),
    get state(): ElectorRole {
      return machine.role;
    },
  };
}
