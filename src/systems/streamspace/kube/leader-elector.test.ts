import { describe, expect, test } from 'vitest';
import { DEFAULT_NETWORK_OPTIONS, MS, SECOND, Simulation, type Micros, type NetworkOptions, type NodeClockOptions, type ProcessContext } from '../../../sim-cluster/index.ts';
import { RpcClient, type RpcResult } from '../net/rpc.ts';
import { healthyKubeApi, kubeApiServer, type KubeApiServerOptions, type LeaseRequest } from './api-server.ts';
import { startLeaderElector, type LeaderElector, type LeaderElectorOptions, type LeadershipTerm } from './leader-elector.ts';
import { LeaseStore, type Lease } from './lease-store.ts';

// Spec references: real-world-semantics §1.1 (facts), §1.2 (derived timings), §1.6 (bounds);
// streamspace-v2-behavior §8. Defaults under test: LD 15 s, RD 10 s, RP 2 s, J 1.2.
const LD = 15 * SECOND;
const RD = 10 * SECOND;
const RP = 2 * SECOND;
const MAX_SLEEP = RP + 1.2 * RP; // 4.4 s, the longest acquire sleep (fact 8)
/**
 * A bound on one API round trip L here: two link latencies (0.2-0.5 ms, plus a 5 ms tail with 1 %
 * probability, each) and 1-3 ms of service time.
 */
const L = 20 * MS;
const LEASE = 'streamspace-agent-k8s-prod';

/** One API call made by a candidate's elector: true and local (monotonic) times of the call and its answer. */
interface Call {
  p: string;
  op: LeaseRequest['op'];
  sentAt: Micros;
  sentLocal: Micros;
  answeredAt?: Micros;
  answeredLocal?: Micros;
  result?: RpcResult<Lease>;
}

/** The RpcClient the agent would use, logging every call (answers to abandoned calls included). */
class LoggingClient extends RpcClient {
  constructor(
    private readonly proc: ProcessContext,
    private readonly sim: Simulation,
    private readonly log: Call[],
  ) {
    super(proc, { target: 'kube-api' });
  }

  override call<T>(body: unknown, onResult: (r: RpcResult<T>) => void, timeoutUs?: Micros): void {
    const entry: Call = { p: this.proc.name, op: (body as LeaseRequest).op, sentAt: this.sim.now, sentLocal: this.proc.monotonic() };
    this.log.push(entry);
    super.call<T>(body, (r) => {
      entry.answeredAt = this.sim.now;
      entry.answeredLocal = this.proc.monotonic();
      entry.result = r as RpcResult<Lease>;
      onResult(r);
    }, timeoutUs);
  }
}

interface Candidate {
  /** Process name (POD_NAME) and the name of its own node. */
  name: string;
  clock?: NodeClockOptions;
  /** Default: the process name, reused by every incarnation (§8, fact 16). */
  identity?: (ctx: ProcessContext) => string;
  /** Boot later than t=0. */
  startAt?: Micros;
  /** This replica's own elector options, over the cluster-wide ones. */
  elector?: Partial<LeaderElectorOptions>;
}

interface CallbackEvent {
  t: Micros;
  p: string;
  kind: 'started' | 'stopped';
  term?: LeadershipTerm;
}

/** A kube-api server on `control-plane` and one agent replica per candidate, each on its own node. */
function election(
  seed: number,
  candidates: Candidate[],
  setup: { elector?: Partial<LeaderElectorOptions>; api?: KubeApiServerOptions; store?: LeaseStore; network?: Partial<NetworkOptions> } = {},
) {
  const sim = new Simulation({ seed, trace: { keepEvents: true }, ...(setup.network === undefined ? {} : { network: setup.network }) });
  sim.addNode('control-plane');
  const store = setup.store ?? new LeaseStore();
  const faults = healthyKubeApi();
  sim.addProcess({ name: 'kube-api', node: 'control-plane', boot: kubeApiServer(store, faults, setup.api) });
  const electors = new Map<string, LeaderElector>();
  const calls: Call[] = [];
  const callbacks: CallbackEvent[] = [];
  for (const c of candidates) {
    sim.addNode(c.name, c.clock);
    sim.addProcess({
      name: c.name, node: c.name, autoStart: c.startAt === undefined,
      boot: (ctx) => {
        const identity = c.identity?.(ctx) ?? ctx.name;
        const elector = startLeaderElector(ctx, new LoggingClient(ctx, sim, calls), { leaseName: LEASE, identity, ...setup.elector, ...c.elector }, {
          onStartedLeading: (term) => callbacks.push({ t: sim.now, p: ctx.name, kind: 'started', term }),
          onStoppedLeading: () => callbacks.push({ t: sim.now, p: ctx.name, kind: 'stopped' }),
        });
        electors.set(ctx.name, elector);
        return { onSignal: () => elector.cancel() };
      },
    });
    if (c.startAt !== undefined) sim.at(c.startAt, () => sim.start(c.name));
  }
  /** Runs to `until`; anything else (a model failure, a determinism leak) fails the test. */
  const run = (until: Micros): void => {
    const r = sim.run({ until });
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('until-reached');
  };
  return { sim, run, store, faults, electors, calls, callbacks };
}

interface Write {
  t: Micros;
  holder: string;
  transitions: number;
  rv: number;
  by: string;
}

/** Every committed Lease write, from the API server's trace events. */
function writes(sim: Simulation): Write[] {
  return sim.trace.events.filter((e) => e.k === 'lease.create' || e.k === 'lease.update').map((e) => ({ t: e.t, ...e.d }) as Write);
}

/** The first write after `t` that names a holder other than `previous` (and not ''). */
function takeoverAfter(sim: Simulation, t: Micros, previous: string): Write | undefined {
  return writes(sim).find((w) => w.t > t && w.holder !== '' && w.holder !== previous);
}

const rawOf = (lease: Lease): string => JSON.stringify([lease.holderIdentity, lease.leaseDurationSeconds, lease.acquireTime, lease.renewTime, lease.leaseTransitions]);

/** `p`'s successful Gets answered before `before`. */
function getsOf(calls: Call[], p: string, before: Micros): Call[] {
  return calls.filter((c) => c.p === p && c.op === 'lease.get' && c.result?.ok === true && c.answeredAt! < before);
}

/** The Get at which a candidate last saw the record change (fact 6c: its observedTime). */
function lastChangeSeen(gets: Call[]): Call {
  let seen: Call | undefined;
  let lastRaw = '';
  for (const g of gets) {
    const raw = rawOf((g.result as { value: Lease }).value);
    if (raw !== lastRaw) seen = g;
    lastRaw = raw;
  }
  return seen!;
}

describe('leader election: expiry on the candidate’s own clock (§1.1 facts 1-5)', () => {
  /**
   * a leads from t=0 and crashes at 30 s; b (on a node with the given clock) stands by. Returns when
   * b last saw the record change (o, fact 6c), the Get that started its winning attempt and the
   * Get of the attempt before.
   */
  function standbyTakeover(clock: NodeClockOptions, wallStepUs = 0) {
    const { sim, run, calls } = election(11, [{ name: 'a' }, { name: 'b', clock, startAt: 1 * SECOND }]);
    sim.at(30 * SECOND, () => sim.crash('a'));
    if (wallStepUs !== 0) sim.at(33 * SECOND, () => sim.jumpClock('b', wallStepUs));
    run(70 * SECOND);
    const win = writes(sim).find((w) => w.holder === 'b')!;
    const gets = getsOf(calls, 'b', win.t);
    return { win, observed: lastChangeSeen(gets), winningGet: gets.at(-1)!, previousGet: gets.at(-2)! };
  }

  test('the standby takes over only once LD has passed on its own clock since it last saw the record change; wall-clock offsets and steps change nothing', () => {
    const variants: Array<[NodeClockOptions, Micros]> = [[{}, 0], [{ offsetUs: 3600 * SECOND }, 0], [{ offsetUs: -3600 * SECOND }, 0], [{}, 60 * SECOND], [{}, -60 * SECOND]];
    const at = variants.map(([clock, step]) => {
      const r = standbyTakeover(clock, step);
      // Expired when observedTime + LD <= now, both on b's monotonic clock (facts 2, 3).
      expect(r.winningGet.sentLocal - r.observed.answeredLocal!).toBeGreaterThanOrEqual(LD);
      expect(r.previousGet.sentLocal - r.observed.answeredLocal!).toBeLessThan(LD);
      return r.win.t;
    });
    // An hour of offset either way, or an NTP step of a minute while b waits: the same takeover
    // instant (fact 1: any offset is tolerated; fact 3: expiry is measured on the monotonic clock).
    expect(new Set(at).size).toBe(1);
  });

  test('the clock rate matters: a fast clock expires the lease early in true time, a slow one late (fact 1)', () => {
    const fast = standbyTakeover({ driftPpm: 100_000 }); // 10 % fast
    expect(fast.winningGet.sentLocal - fast.observed.answeredLocal!).toBeGreaterThanOrEqual(LD);
    const fastTrue = fast.winningGet.sentAt - fast.observed.answeredAt!;
    expect(fastTrue).toBeGreaterThanOrEqual(LD / 1.1 - 1);
    expect(fastTrue).toBeLessThan(LD); // less than 15 true seconds after b saw a's last renewal

    const slow = standbyTakeover({ driftPpm: -100_000 }); // 10 % slow
    expect(slow.winningGet.sentLocal - slow.observed.answeredLocal!).toBeGreaterThanOrEqual(LD);
    expect(slow.winningGet.sentAt - slow.observed.answeredAt!).toBeGreaterThanOrEqual(LD / 0.9);
  });

  test('a fresh candidate waits a full LD from its first Get even though the holder died long ago (fact 5)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { sim, run, calls } = election(seed, [{ name: 'a' }, { name: 'b', startAt: 60 * SECOND }]);
      sim.at(5 * SECOND, () => sim.crash('a'));
      run(120 * SECOND);
      expect(writes(sim).filter((w) => w.holder === 'a').at(-1)!.t).toBeLessThan(5 * SECOND);
      const firstGet = calls.find((c) => c.p === 'b' && c.op === 'lease.get')!;
      const win = takeoverAfter(sim, 0, 'a')!;
      expect(win.holder).toBe('b');
      // §1.2: a freshly started candidate acquires >= LD after its first Get, <= LD + 4.4 s + 2L (+ L for that Get).
      expect(win.t - firstGet.answeredAt!).toBeGreaterThanOrEqual(LD);
      expect(win.t - firstGet.answeredAt!).toBeLessThanOrEqual(LD + MAX_SLEEP + 3 * L);
    }
  });
});

describe('leader election: steady state', () => {
  test('the leader renews every RP with Updates only (fast path, facts 6a, 9); a candidate Gets every RP + rand·1.2·RP after its last attempt ended (fact 8)', () => {
    const { run, calls } = election(6, [{ name: 'a' }, { name: 'b', startAt: 1 * SECOND }]);
    run(120 * SECOND);
    const leader = calls.filter((c) => c.p === 'a' && c.sentAt > 1 * SECOND);
    expect(new Set(leader.map((c) => c.op))).toEqual(new Set(['lease.update']));
    for (let i = 1; i < leader.length; i++) {
      // wait.Until is sliding: RP after the previous renew returned.
      expect(leader[i]!.sentAt - leader[i - 1]!.answeredAt!).toBe(RP);
    }
    const candidate = calls.filter((c) => c.p === 'b');
    expect(new Set(candidate.map((c) => c.op))).toEqual(new Set(['lease.get']));
    const sleeps = candidate.slice(1).map((c, i) => c.sentAt - candidate[i]!.answeredAt!);
    for (const sleep of sleeps) {
      expect(sleep).toBeGreaterThanOrEqual(RP);
      expect(sleep).toBeLessThan(MAX_SLEEP);
    }
    expect(Math.max(...sleeps) - Math.min(...sleeps)).toBeGreaterThan(1 * SECOND); // jittered
  });

  test('a candidate judges expiry with the duration in the record, not its own (fact 4)', () => {
    const { sim, run, calls } = election(13, [{ name: 'a', elector: { leaseDurationUs: 30 * SECOND } }, { name: 'b', startAt: 1 * SECOND }]);
    sim.at(40 * SECOND, () => sim.crash('a'));
    run(100 * SECOND);
    const win = takeoverAfter(sim, 0, 'a')!;
    const gets = getsOf(calls, 'b', win.t);
    const observed = lastChangeSeen(gets);
    // Expired only once a's 30 s had passed on b's clock; b's own 15 s would have let it in earlier.
    expect(gets.at(-1)!.sentLocal - observed.answeredLocal!).toBeGreaterThanOrEqual(30 * SECOND);
    expect(gets.at(-2)!.sentLocal - observed.answeredLocal!).toBeLessThan(30 * SECOND);
    expect(gets.at(-2)!.sentLocal - observed.answeredLocal!).toBeGreaterThan(LD);
  });
});

describe('leader election: failover (§1.2, §1.6)', () => {
  test('holder crash: a standby holds the lease within [LD-RP, 23.8 s + 4L] of the crash', () => {
    const failovers: Micros[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const { sim, run, store } = election(seed, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      run(10 * SECOND);
      const holder = store.get(LEASE)!.holderIdentity;
      const crashAt = 10 * SECOND + sim.stream('test').int(0, 4 * SECOND); // any phase of the renew cycle
      sim.at(crashAt, () => sim.crash(holder));
      run(crashAt + 60 * SECOND);
      const takeover = takeoverAfter(sim, crashAt, holder)!;
      failovers.push(takeover.t - crashAt);
    }
    expect(Math.min(...failovers)).toBeGreaterThanOrEqual(LD - RP - L);
    expect(Math.max(...failovers)).toBeLessThanOrEqual(23.8 * SECOND + 4 * L);
  });

  test('graceful cancel with ReleaseOnCancel: release, then OnStoppedLeading, then a takeover within 4.4 s + 2L (+L) of the release (facts 10, 11)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { sim, run, store, callbacks } = election(seed, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      run(10 * SECOND);
      const holder = store.get(LEASE)!.holderIdentity;
      const signalAt = 10 * SECOND + sim.stream('test').int(0, 4 * SECOND);
      sim.at(signalAt, () => sim.signal(holder, 'SIGTERM'));
      run(signalAt + 30 * SECOND);
      const release = writes(sim).find((w) => w.t > signalAt && w.holder === '')!;
      expect(release).toMatchObject({ by: holder, transitions: 0 }); // leaseTransitions kept (fact 11)
      expect(release.t - signalAt).toBeLessThanOrEqual(2 * L); // a Get, then the Update
      const stopped = callbacks.find((c) => c.p === holder && c.kind === 'stopped')!;
      expect(stopped.t).toBeGreaterThan(release.t); // work context cancelled only after release (fact 10)
      const takeover = takeoverAfter(sim, signalAt, holder)!;
      expect(takeover.transitions).toBe(1);
      // The candidate's attempt in flight at the release reads the old record (up to L), then sleeps
      // at most 4.4 s, then Get + Update (2L).
      expect(takeover.t - release.t).toBeLessThanOrEqual(MAX_SLEEP + 3 * L);
    }
  });
});

describe('leader election: a leader cut off from the API server (fact 9, §1.2 holder self-demotion)', () => {
  /** a leads; its link to the API server breaks at 20.5 s and comes back at 80 s. */
  function cutOff(cut: 'partition' | 'blackhole', releaseOnCancel: boolean) {
    const env = election(7, [{ name: 'a' }, { name: 'b', startAt: 1 * SECOND }], { elector: { releaseOnCancel } });
    const { sim, run, faults } = env;
    const cutAt = 20.5 * SECOND;
    sim.at(cutAt, () => (cut === 'partition' ? sim.network.isolate('a') : (faults.mode = 'blackhole')));
    sim.at(80 * SECOND, () => (cut === 'partition' ? sim.network.rejoin('a') : (faults.mode = 'ok')));
    run(200 * SECOND);
    const lastRenew = env.calls.filter((c) => c.p === 'a' && c.op === 'lease.update' && c.result?.ok === true && c.answeredAt! <= cutAt).at(-1)!;
    const stopped = env.callbacks.find((c) => c.p === 'a' && c.kind === 'stopped')!;
    return { ...env, s: lastRenew.answeredAt!, stopped };
  }

  for (const cut of ['partition', 'blackhole'] as const) {
    test(`${cut}: stops leading at s+RP+RD, +RD for the release that cannot finish (s+22 s), and never campaigns again`, () => {
      const { sim, s, stopped, calls, electors, callbacks } = cutOff(cut, true);
      expect(callbacks.filter((c) => c.p === 'a').map((c) => c.kind)).toEqual(['started', 'stopped']);
      expect(stopped.t).toBe(s + RP + RD + RD);
      const kinds = sim.trace.events.filter((e) => e.p === 'a' && e.k.startsWith('elector.renew-failed') || e.p === 'a' && e.k === 'elector.release-failed').map((e) => [e.t, e.k, e.d!['why']]);
      expect(kinds).toEqual([[s + RP + RD, 'elector.renew-failed', 'deadline'], [s + RP + 2 * RD, 'elector.release-failed', 'deadline']]);
      // Run is not re-entered (§8): no request after it returned, even once the API server is reachable.
      expect(calls.filter((c) => c.p === 'a' && c.sentAt > stopped.t)).toEqual([]);
      expect(electors.get('a')!.state).toBe('stopped');
      expect(electors.get('a')!.currentTerm()).toBeNull();
      const bStarted = callbacks.find((c) => c.p === 'b' && c.kind === 'started')!;
      if (cut === 'partition') {
        // b reaches the API server and takes over after LD on its clock, while a still leads: the
        // release time that ReleaseOnCancel adds (s+22 s > LD) is a dual-leader window (§1.2).
        expect(bStarted.t).toBeLessThan(stopped.t);
      } else {
        // b's own requests hang too (45 s each without a client timeout, fact 15): no takeover
        // until the API server answers again.
        expect(bStarted.t).toBeGreaterThan(80 * SECOND);
      }
    });
  }

  test('without ReleaseOnCancel the leader stops exactly at s+RP+RD', () => {
    const { s, stopped } = cutOff('partition', false);
    expect(stopped.t).toBe(s + RP + RD);
  });

  test('§1.4 stale release: the old leader, reconnecting while it releases, clears the new holder’s lease; a third candidate takes it while the second still leads', () => {
    const { sim, run, callbacks } = election(7, [{ name: 'a' }, { name: 'b', startAt: 1 * SECOND }, { name: 'c', startAt: 1 * SECOND }]);
    sim.at(20.5 * SECOND, () => sim.network.isolate('a'));
    // Heal 100 ms after another candidate took the lease, inside a's release window [s+12, s+22].
    const unsubscribe = sim.trace.subscribe((e) => {
      if (e.k !== 'lease.update' || e.d!['holder'] === 'a') return;
      unsubscribe();
      sim.after(100 * MS, () => sim.network.rejoin('a'));
    });
    run(80 * SECOND);
    const first = takeoverAfter(sim, 0, 'a')!;
    const staleRelease = writes(sim).find((w) => w.by === 'a' && w.holder === '')!;
    expect(staleRelease.t).toBeGreaterThan(first.t);
    expect(staleRelease.transitions).toBe(1); // the new holder's transitions, kept
    const second = takeoverAfter(sim, staleRelease.t, first.holder)!;
    expect(second.transitions).toBe(2);
    const firstStopped = callbacks.find((c) => c.p === first.holder && c.kind === 'stopped')!;
    expect(firstStopped.t).toBeGreaterThan(second.t); // two leaders until the first one's RD deadline
    expect(firstStopped.t - second.t).toBeGreaterThan(RD - RP - L);
  });

  test('a slow answer is abandoned at the deadline although the renewal committed (§1.5: a timed-out Update may still commit)', () => {
    const { sim, run, faults, calls, callbacks, store } = election(8, [{ name: 'a' }]);
    const slowFrom = 20.5 * SECOND;
    sim.at(slowFrom, () => (faults.extraLatencyUs = 11 * SECOND));
    run(60 * SECOND);
    const s = calls.filter((c) => c.p === 'a' && c.op === 'lease.update' && c.result?.ok === true && c.answeredAt! <= slowFrom).at(-1)!.answeredAt!;
    const stopped = callbacks.find((c) => c.kind === 'stopped')!;
    expect(stopped.t).toBe(s + RP + RD + RD);
    const committedAfter = writes(sim).filter((w) => w.t > s && w.holder === 'a');
    expect(committedAfter.length).toBeGreaterThan(0); // the API server applied renewals a no longer counts
    expect(store.get(LEASE)!.holderIdentity).toBe('a'); // and the release never got through
  });
});

describe('leader election: a paused leader (Kleppmann §2, §1.5)', () => {
  test('resumes believing it leads while another holds the lease; IsLeader turns false after its next Get, the leading context only at the renew deadline', () => {
    const { sim, run, store, electors, callbacks } = election(9, [{ name: 'a' }, { name: 'b', startAt: 1 * SECOND }]);
    run(10 * SECOND);
    expect(store.get(LEASE)!.holderIdentity).toBe('a');
    const pauseAt = 10 * SECOND;
    const resumeAt = 40 * SECOND; // paused 30 s > LD
    sim.at(pauseAt, () => sim.pause('a'));
    let atResume: { a: [boolean, LeadershipTerm | null]; b: [boolean, LeadershipTerm | null] } | undefined;
    sim.at(resumeAt, () => {
      sim.resume('a');
      const a = electors.get('a')!;
      const b = electors.get('b')!;
      atResume = { a: [a.isLeader(), a.currentTerm()], b: [b.isLeader(), b.currentTerm()] };
    });
    run(80 * SECOND);

    // The overlap: at one instant both processes lead by their own belief.
    expect(atResume!.a[0]).toBe(true);
    expect(atResume!.b[0]).toBe(true);
    expect(atResume!.a[1]?.transitions).toBe(0);
    expect(atResume!.b[1]?.transitions).toBe(1);
    const bStarted = callbacks.find((c) => c.p === 'b' && c.kind === 'started')!;
    expect(bStarted.t).toBeLessThan(resumeAt);

    // IsLeader() turns false as soon as a observes b as holder (fact 9): its first attempt after resume.
    const observedB = sim.trace.events.find((e) => e.p === 'a' && e.k === 'elector.observed' && e.d!['holder'] === 'b')!;
    expect(observedB.t - resumeAt).toBeLessThanOrEqual(2 * L); // a fast-path Update is not tried: the lease is invalid on a's clock
    // Its leading context stays live until the poll's RD deadline, then a release that finds it is
    // not the leader (a Get only): both "leaders" for about RD after the resume.
    const aStopped = callbacks.find((c) => c.p === 'a' && c.kind === 'stopped')!;
    expect(aStopped.t - resumeAt).toBeGreaterThanOrEqual(RD);
    expect(aStopped.t - resumeAt).toBeLessThanOrEqual(RD + L);
    expect(writes(sim).filter((w) => w.by === 'a' && w.t > pauseAt)).toEqual([]);
  });
});

describe('leader election: the Lease as the only mutual exclusion (facts 6, 7, 11, 16, 17)', () => {
  test('two candidates racing for a released lease: one Update wins, the other gets 409 Conflict', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const store = new LeaseStore();
      store.create(LEASE, { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: 0, renewTime: 0, leaseTransitions: 3 });
      // Fixed service time and no latency tail: both Gets are served before either Update commits.
      const { sim, run, callbacks } = election(seed, [{ name: 'a' }, { name: 'b' }], {
        store,
        api: { serviceTimeUs: { min: 2 * MS, max: 2 * MS } },
        network: { link: { ...DEFAULT_NETWORK_OPTIONS.link, latency: { baseUs: 200, jitterUs: 300, tailChance: 0, tailUs: 0 } } },
      });
      run(30 * SECOND);
      const conflicts = sim.trace.events.filter((e) => e.k === 'lease.conflict');
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]!.d).toMatchObject({ lease: LEASE, reason: 'Conflict' });
      const started = callbacks.filter((c) => c.kind === 'started');
      expect(started).toHaveLength(1);
      expect(started[0]!.p).not.toBe(conflicts[0]!.d!['by']);
      expect(started[0]!.term!.transitions).toBe(4); // an empty holder is taken at once, +1 (facts 6e, 11)
    }
  });

  test('leaseTransitions increments exactly when the holder changes; renewals and releases keep it (fact 17)', () => {
    const { sim, run } = election(12, ['a', 'b', 'c'].map((name) => ({ name, identity: (ctx: ProcessContext) => `${ctx.name}_${ctx.incarnation}` })));
    const holder = (): string => sim.trace.events.filter((e) => e.k === 'elector.acquired').at(-1)!.p;
    sim.at(20 * SECOND, () => sim.restart(holder(), 5 * SECOND));
    sim.at(60 * SECOND, () => sim.signal(holder(), 'SIGTERM'));
    sim.at(62 * SECOND, () => sim.restart(sim.trace.events.filter((e) => e.k === 'elector.released').at(-1)!.p, 1 * SECOND));
    sim.at(100 * SECOND, () => sim.crash(holder()));
    run(160 * SECOND);
    const all = writes(sim);
    let changes = 0;
    for (let i = 1; i < all.length; i++) {
      const prev = all[i - 1]!;
      const w = all[i]!;
      const taken = w.holder !== '' && w.holder !== prev.holder;
      if (taken) changes++;
      expect(w.transitions).toBe(prev.transitions + (taken ? 1 : 0));
    }
    expect(changes).toBe(3);
    expect(all.filter((w) => w.holder === '')).toHaveLength(1);
  });

  test('identity reuse: a restarted process with the same identity renews at once, without waiting LD, and keeps leaseTransitions (fact 16)', () => {
    const { sim, run, callbacks } = election(4, [{ name: 'a' }, { name: 'b', startAt: 1 * SECOND }]);
    sim.at(10 * SECOND, () => sim.restart('a', 1 * SECOND));
    run(60 * SECOND);
    const starts = callbacks.filter((c) => c.kind === 'started');
    expect(starts.map((c) => c.p)).toEqual(['a', 'a']);
    expect(starts[1]!.t - 11 * SECOND).toBeLessThanOrEqual(3 * L); // dial, Get (sees itself), Update
    expect(starts[1]!.term!.transitions).toBe(0);
    expect(writes(sim).every((w) => w.holder === 'a')).toBe(true);
  });

  test('a unique identity per incarnation makes the restarted process wait like any candidate', () => {
    const { sim, run, callbacks } = election(4, [{ name: 'a', identity: (ctx) => `a_${ctx.incarnation}` }, { name: 'b', startAt: 1 * SECOND }]);
    sim.at(10 * SECOND, () => sim.restart('a', 1 * SECOND));
    run(60 * SECOND);
    const second = callbacks.filter((c) => c.kind === 'started')[1]!;
    expect(second.t - 10 * SECOND).toBeGreaterThanOrEqual(LD - RP - L);
    expect(second.term!.transitions).toBe(1);
  });
});

describe('leader election: Run exits once', () => {
  test('cancelling a candidate calls OnStoppedLeading without a release; nothing is sent afterwards (facts 10, §8)', () => {
    const { sim, run, calls, callbacks, electors } = election(2, [{ name: 'a' }, { name: 'b', startAt: 1 * SECOND }]);
    sim.at(5 * SECOND, () => sim.signal('b', 'SIGTERM'));
    run(40 * SECOND);
    expect(callbacks.filter((c) => c.p === 'b')).toEqual([{ t: 5 * SECOND, p: 'b', kind: 'stopped' }]);
    expect(sim.trace.events.find((e) => e.p === 'b' && e.k === 'elector.stopped-leading')!.d).toEqual({ lease: LEASE, led: false });
    expect(writes(sim).filter((w) => w.by === 'b')).toEqual([]);
    expect(calls.filter((c) => c.p === 'b' && c.sentAt > 5 * SECOND)).toEqual([]);
    expect(electors.get('b')!.state).toBe('stopped');
    expect(electors.get('b')!.isLeader()).toBe(false);
  });

  test('invalid timings are rejected as NewLeaderElector does (fact 12)', () => {
    const sim = new Simulation({ seed: 1 });
    sim.addNode('n');
    sim.addProcess({
      name: 'p', node: 'n',
      boot: (ctx) => (startLeaderElector(ctx, new RpcClient(ctx, { target: 'kube-api' }), { leaseName: LEASE, identity: 'p', renewDeadlineUs: 2 * SECOND }, { onStartedLeading: () => {}, onStoppedLeading: () => {} }), {}),
    });
    const r = sim.run({ until: 1 * SECOND });
    expect(r.status).toBe('model-failure');
    expect(r.failure?.message).toMatch(/renewDeadline must be greater than retryPeriod\*JitterFactor/);
  });

  test('same seed, same trace', () => {
    const hash = (): string => {
      const { sim, run } = election(21, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      sim.at(20 * SECOND, () => sim.crash('a'));
      run(60 * SECOND);
      return sim.trace.hash();
    };
    expect(hash()).toBe(hash());
  });
});
