import { SECOND, type Micros, type ProcessContext, type TimerHandle } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import type { RpcClient } from '../net/rpc.ts';
import type { ElectionEnv } from './election-attempts.ts';
import { LeaseLock } from './lease-lock.ts';
import { abandonRelease, ELECTOR_TIMER_LABELS, electorMachine, type ElectorComponent, type ElectorEvent } from './leader-elector-machine.ts';
import { Observation } from './observation.ts';

/**
 * client-go's LeaderElector (tools/leaderelection/leaderelection.go, v0.34) as a statechart, defined
 * in leader-elector-machine.ts and run by the kernel's compiled stepper (sim-cluster/statechart):
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

/** The resolved options the elector runs with (LeaderElectionConfig's timings and ReleaseOnCancel). */
export interface ElectorSettings {
  leaseDurationUs: Micros;
  renewDeadlineUs: Micros;
  retryPeriodUs: Micros;
  jitterFactor: number;
  releaseOnCancel: boolean;
}

/** The leader's mutable state outside the state machine: read synchronously by the callbacks it calls. */
export interface Leadership {
  /** The live leading context, or null. */
  term: LeadershipTerm | null;
  /** `reportedLeader`: the holder last passed to OnNewLeader. */
  reportedLeader: string;
}

/** The statechart, compiled once (a machine the stepper cannot run fails here, at load time). */
const ELECTOR = compileMachine(electorMachine);

/** NewLeaderElector's validation (fact 12), on the resolved options. */
function resolve(options: LeaderElectorOptions): ElectorSettings {
  const d = DEFAULT_LEADER_ELECTOR_OPTIONS;
  const s: ElectorSettings = {
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
  const component: ElectorComponent = {
    env, settings, callbacks, leadership, rng: ctx.random('elector'),
    send: (event) => machine.send(event), sleepUs: 0, pollStartUs: 0, attemptStartUs: 0, attempt: null, releaseTimer: undefined,
  };
  const machine = new Statechart<ElectorComponent, ElectorEvent, TimerHandle>(ELECTOR, component, ctx, {
    actorId: `elector/${options.leaseName}`,
    timerLabels: ELECTOR_TIMER_LABELS,
    // An action threw (a model bug): the elector has stopped for good; drop its requests, the run fails.
    onError: () => abandonRelease(component),
  });
  machine.start();
  return {
    isLeader: () => env.observed.isLeader(),
    currentTerm: () => leadership.term,
    fencingToken: () => (leadership.term === null ? null : env.observed.record?.leaseTransitions ?? null),
    cancel: () => machine.send({ type: 'CANCEL' }),
    get state(): ElectorRole {
      return machine.state.path[0] as ElectorRole;
    },
  };
}
