import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Micros } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import type { FailoverKey } from './patroni-dcs.ts';
import { PATRONI_TIMER_LABELS, patroniMachine, type PatroniComponent, type PatroniEvent } from './patroni-machine.ts';
import type { LeaderVerdict } from './patroni-switchover.ts';

/** A member whose I/O only logs what it starts: the test answers with the events. */
class FakeMember implements PatroniComponent {
  readonly log: string[] = [];
  readonly me = 'pg-0';
  busy: string | null = null;
  rewindCheck = true;
  shuttingDown = false;
  request: FailoverKey | null = null;
  target: string | null = null;
  napUs: Micros = 0;
  holder: string | null = null;
  pgState: 'stopped' | 'starting' | 'running' | 'stopping' = 'running';
  primary = false;
  failover: FailoverKey | null = null;
  chart!: Statechart<FakeMember, PatroniEvent, number>;
  private readonly io = (what: string) => (): void => void this.log.push(what);
  keyHolder = (): string | null => this.holder;
  initialised = (): boolean => true;
  mayBootstrap = (): boolean => false;
  postgresState = (): FakeMember['pgState'] => this.pgState;
  isPrimary = (): boolean => this.primary;
  switchoverRequest = (): FailoverKey | null => this.failover;
  runNow = this.io('runNow');
  scheduleNextRun(): void {
    this.napUs = 10_000_000;
    this.log.push('scheduleNextRun');
  }
  markWakePending = this.io('wakePending');
  loadCluster = this.io('loadCluster');
  updateLock = this.io('updateLock');
  acquireKey = this.io('acquireKey');
  checkHealth = this.io('checkHealth');
  checkDivergence(): void {
    this.log.push(`checkDivergence ${this.target}`);
  }
  judgeSwitchover = this.io('judgeSwitchover');
  recordSwitchover(outcome: LeaderVerdict): void {
    this.log.push(`switchover ${outcome}`);
  }
  declineSwitchover = this.io('declineSwitchover');
  removeRequest = this.io('removeRequest');
  processSync = this.io('processSync');
  prepromote = this.io('prepromote');
  bootstrap = this.io('bootstrap');
  promote = this.io('promote');
  startStandby(upstream: string | null): void {
    this.log.push(`startStandby ${upstream}`);
  }
  rewind(): void {
    this.log.push(`rewind ${this.target}`);
  }
  demoteGraceful = this.io('demoteGraceful');
  repoint(upstream: string | null): void {
    this.log.push(`repoint ${upstream}`);
  }
  demote = this.io('demote');
  demoteOffline = this.io('demoteOffline');
  shutdown(): void {
    this.shuttingDown = true;
    this.log.push('shutdown');
  }
  send(event: PatroniEvent): void {
    this.chart.send(event);
  }
}

/** A member on a host whose timers the test fires by hand. */
function startFake(): { m: FakeMember; timers: Map<number, { label: string; delayUs: Micros; fn: () => void }>; fire: (label: string) => void } {
  const m = new FakeMember();
  const timers = new Map<number, { label: string; delayUs: Micros; fn: () => void }>();
  let next = 0;
  const host: StatechartHost<number> = {
    setTimer: (delayUs, fn, label) => {
      timers.set(++next, { label, delayUs, fn });
      m.log.push(`timer ${label} ${delayUs}`);
      return next;
    },
    cancelTimer: (h) => {
      if (timers.delete(h)) m.log.push('cancel');
    },
    record: () => undefined,
    fail: (error) => {
      throw error;
    },
  };
  m.chart = new Statechart(compileMachine(patroniMachine), m, host, { timerLabels: PATRONI_TIMER_LABELS });
  m.chart.start();
  const fire = (label: string): void => {
    const entry = [...timers].find(([, t]) => t.label === label);
    if (entry === undefined) throw new Error(`no timer ${label}`);
    timers.delete(entry[0]);
    entry[1].fn();
  };
  return { m, timers, fire };
}

describe('the Patroni HA loop statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (every branch of a cycle, wakeups, SIGTERM, every timer)', () => {
    fc.assert(fc.property(stepsArbitrary(patroniMachine, 80), (steps) => checkDifferential(patroniMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the modes of the module comment, with the loop\'s and the stand-aside timers', () => {
    const compiled = compileMachine(patroniMachine);
    expect(compiled.states.map((s) => s.id.replace('patroni.', ''))).toEqual([
      'running.due', 'running.sleeping', 'running.cycle.loading', 'running.cycle.longAction',
      'running.cycle.recovering.renewing', 'running.cycle.recovering.checking',
      'running.cycle.racing.checkingHealth', 'running.cycle.racing.acquiring', 'running.cycle.racing.removingRequest',
      'running.cycle.racing.standingAside', 'running.cycle.racing.reloading',
      'running.cycle.leading.renewing', 'running.cycle.leading.judgingSwitchover', 'running.cycle.leading.decliningSwitchover',
      'running.cycle.primaryRole.managingSync', 'running.cycle.primaryRole.prepromoting',
      'running.cycle.following', 'running.cycle.demoting', 'running.cycle.demotingOffline', 'stopped',
    ]);
    expect(compiled.timers.map((t) => `${t.state} ${t.delay}`)).toEqual([
      'patroni.running.due 0', 'patroni.running.sleeping nap', 'patroni.running.cycle.racing.standingAside takeoverWait',
    ]);
  });

  test('a holder\'s cycle: loaded, renewed, replication managed, then loop_wait; a wakeup meanwhile makes the next cycle follow at once', () => {
    const { m, fire } = startFake();
    expect(m.log).toEqual(['runNow', 'timer patroni.cycle 0']);
    fire('patroni.cycle');
    m.holder = 'pg-0';
    m.primary = true;
    m.send({ type: 'LOADED' });
    m.send({ type: 'WAKE' });
    m.send({ type: 'LOCK_OK' });
    expect(m.chart.state.id).toBe('patroni.running.cycle.primaryRole.managingSync');
    m.send({ type: 'SYNC_DONE' });
    expect(m.chart.state.id).toBe('patroni.running.sleeping');
    expect(m.log.slice(2)).toEqual(['loadCluster', 'updateLock', 'wakePending', 'processSync', 'scheduleNextRun', 'timer patroni.cycle 10000000']);
    // A wakeup while sleeping: the nap's timer is cancelled and a cycle is due now.
    m.log.length = 0;
    m.send({ type: 'WAKE' });
    expect(m.log).toEqual(['cancel', 'runNow', 'timer patroni.cycle 0']);
  });

  test('a standby that finds another holder checks its WAL against it, then streams from it or rewinds', () => {
    const { m, fire } = startFake();
    fire('patroni.cycle');
    m.holder = 'pg-1';
    m.send({ type: 'LOADED' });
    expect(m.chart.state.id).toBe('patroni.running.cycle.following');
    m.send({ type: 'WAL_MATCHES' });
    expect([m.rewindCheck, m.chart.state.id]).toEqual([false, 'patroni.running.sleeping']);
    fire('patroni.cycle');
    m.send({ type: 'LOADED' }); // no check due: straight to the walreceiver
    fire('patroni.cycle');
    m.rewindCheck = true;
    m.send({ type: 'LOADED' });
    m.send({ type: 'WAL_DIVERGED' });
    expect(m.log.filter((l) => !l.startsWith('timer') && l !== 'scheduleNextRun')).toEqual([
      'runNow', 'loadCluster', 'checkDivergence pg-1', 'repoint pg-1', 'loadCluster', 'repoint pg-1', 'loadCluster', 'checkDivergence pg-1', 'rewind pg-1',
    ]);
  });

  test('no valid key: the healthiest takes it and promotes; one that is not stands aside 2 s under a named candidate, then follows the new holder', () => {
    const { m, fire } = startFake();
    fire('patroni.cycle');
    m.send({ type: 'LOADED' });
    m.send({ type: 'HEALTHY' });
    m.send({ type: 'LOCK_OK' });
    m.send({ type: 'PROMOTE_READY' });
    expect(m.log.slice(2, 8)).toEqual(['loadCluster', 'checkHealth', 'acquireKey', 'prepromote', 'promote', 'scheduleNextRun']);
    m.log.length = 0;
    fire('patroni.cycle');
    m.failover = { leader: 'pg-2', candidate: 'pg-1', resourceVersion: 7 };
    m.send({ type: 'LOADED' });
    m.send({ type: 'NOT_HEALTHY' });
    expect(m.chart.state.id).toBe('patroni.running.cycle.racing.standingAside');
    fire('patroni.takeover-wait');
    m.holder = 'pg-1';
    m.send({ type: 'LOADED' });
    m.send({ type: 'WAL_UNKNOWN' });
    expect(m.log).toEqual(['loadCluster', 'checkHealth', 'timer patroni.takeover-wait 2000000', 'loadCluster', 'checkDivergence pg-1', 'repoint pg-1', 'scheduleNextRun', 'timer patroni.cycle 10000000']);
  });

  test('SIGTERM lets the cycle in progress finish and stops the loop at its end; while sleeping, at once', () => {
    const { m, fire, timers } = startFake();
    fire('patroni.cycle');
    m.holder = 'pg-0';
    m.send({ type: 'LOADED' });
    m.send({ type: 'SIGTERM' });
    m.send({ type: 'LOCK_LOST' });
    expect(m.chart.status).toBe('done');
    expect(m.log.slice(2)).toEqual(['loadCluster', 'updateLock', 'shutdown']);
    expect(timers.size).toBe(0);
    const b = startFake();
    b.fire('patroni.cycle');
    b.m.send({ type: 'LOAD_FAILED' });
    b.m.send({ type: 'SIGTERM' });
    expect(b.m.log.slice(-3)).toEqual(['timer patroni.cycle 10000000', 'cancel', 'shutdown']);
    expect(b.m.chart.state.id).toBe('patroni.stopped');
  });
});
