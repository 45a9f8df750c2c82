import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import {
  FAILOVER_NONE,
  FAILOVER_RECONF_SLAVES,
  sentinelFailoverMachine,
  type AbortReason,
  type FailoverMaster,
  type SentinelFailoverComponent,
  type SentinelFailoverEvent,
} from './sentinel-failover-machine.ts';
import { createInstance, NEVER, type Instance } from './sentinel-instance.ts';

function connected(ri: Instance): Instance {
  ri.link.disconnected = false;
  return ri;
}

/** A Sentinel whose vote count, replica selection and end check answer what the test sets; it logs what it is told to do. */
class FakeSentinel implements SentinelFailoverComponent {
  readonly log: string[] = [];
  clock: Micros = 100 * SECOND;
  readonly failoverTimeoutUs = 30 * SECOND;
  readonly master: FailoverMaster & { addr: string; odown: boolean } = {
    addr: 'redis-0', odown: false, failoverState: FAILOVER_NONE, failoverStateChangeTime: NEVER, failoverStartTime: NEVER, promotedSlave: null,
  };
  /** The replica to promote, its link up. */
  readonly replica: Instance = connected(createInstance('replica', 'redis-1', 0));
  elected = false;
  selectable = true;
  ended = false;
  chart!: Statechart<FakeSentinel, SentinelFailoverEvent, number>;
  now(): Micros {
    return this.clock;
  }
  startFailover(): void {
    this.log.push('start');
    this.master.failoverStartTime = this.clock;
  }
  askMasterStateToOtherSentinels(forced: boolean): void {
    this.log.push(`ask forced=${forced} state=${this.master.failoverState}`);
  }
  countVotes(): void {
    this.chart.send({ type: 'LEADER', elected: this.elected });
  }
  recordElected(): void {
    this.log.push('elected');
  }
  selectReplica(): void {
    this.chart.send({ type: 'SELECTED', replica: this.selectable ? this.replica : null });
  }
  promoteCandidate(replica: Instance): void {
    replica.promoted = true;
    this.master.promotedSlave = replica;
    this.log.push(`selected ${replica.addr}`);
  }
  sendSlaveOfNoOne(): void {
    this.log.push('slaveof no one');
  }
  announcePromotion(replica: Instance): void {
    this.log.push(`promoted ${replica.addr} state=${this.master.failoverState}`);
  }
  convertToReplicaIfStale(replica: Instance): void {
    this.log.push(`convert? ${replica.addr}`);
  }
  reconfigureReplicas(): void {
    this.log.push('reconf');
    if (this.ended) this.chart.send({ type: 'FAILOVER_END', timedOut: false });
  }
  recordFailoverEnd(): void {
    this.log.push('end');
  }
  reconfigureRestBestEffort(): void {
    this.log.push('best effort');
  }
  abortFailover(reason: AbortReason): void {
    this.log.push(`abort ${reason}`);
    this.master.failoverStateChangeTime = this.clock;
  }
  switchToPromotedSlave(): void {
    this.log.push('switch');
    this.master.addr = this.master.promotedSlave!.addr;
    this.master.promotedSlave = null;
  }
  adoptAnnouncedMaster(master: string): void {
    this.log.push(`adopt ${master}`);
    this.master.addr = master;
  }
}

function startFake(): FakeSentinel {
  const s = new FakeSentinel();
  const host: StatechartHost<number> = {
    setTimer: () => {
      throw new Error('the failover arms no timer');
    },
    cancelTimer: () => undefined,
    record: () => undefined,
    fail: (error) => {
      throw error;
    },
  };
  s.chart = new Statechart(compileMachine(sentinelFailoverMachine), s, host);
  s.chart.start();
  return s;
}

/** One master handling of the timer: the start check, one step; then the end of the pass. */
function timerRun(s: FakeSentinel): void {
  s.chart.send({ type: 'START_CHECK' });
  s.chart.send({ type: 'STEP' });
  s.chart.send({ type: 'INSTANCES_HANDLED' });
}

describe('the Sentinel failover statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (starts, votes, selection, promotion, end, aborts, resets)', () => {
    fc.assert(fc.property(stepsArbitrary(sentinelFailoverMachine, 80), (steps) => checkDifferential(sentinelFailoverMachine, steps)), { numRuns: 400 });
  });

  test("it compiles to sentinel.c's failover states, with no timer", () => {
    const compiled = compileMachine(sentinelFailoverMachine);
    expect(compiled.states.map((s) => s.id)).toEqual([
      'sentinel.monitoring',
      'sentinel.failover.waitStart', 'sentinel.failover.selectSlave', 'sentinel.failover.sendSlaveofNoone',
      'sentinel.failover.waitPromotion', 'sentinel.failover.reconfSlaves', 'sentinel.failover.updateConfig',
    ]);
    expect(compiled.timers).toEqual([]);
    expect(compiled.events).toEqual(['REPLICA_IS_MASTER', 'CONFIG_UPDATE', 'START_CHECK', 'STEP', 'LEADER', 'SELECTED', 'FAILOVER_END', 'INSTANCES_HANDLED']);
  });

  test('a failover runs one state per timer run, writes each state before its work, and switches at the end of the pass', () => {
    const s = startFake();
    timerRun(s);
    expect(s.log).toEqual([]);
    s.master.odown = true;
    s.elected = true;
    timerRun(s);
    // Started, asked for votes with the state already WAIT_START (a vote request), then counted them in the same run.
    expect(s.log).toEqual(['start', 'ask forced=true state=1', 'elected']);
    expect(s.chart.state.id).toBe('sentinel.failover.selectSlave');
    timerRun(s);
    // REPLICAOF NO ONE waits for the promoted replica's link.
    s.replica.link.disconnected = true;
    timerRun(s);
    expect(s.chart.state.id).toBe('sentinel.failover.sendSlaveofNoone');
    s.replica.link.disconnected = false;
    timerRun(s);
    expect(s.chart.state.id).toBe('sentinel.failover.waitPromotion');
    s.chart.send({ type: 'REPLICA_IS_MASTER', replica: createInstance('replica', 'redis-2', 0) });
    expect(s.chart.state.id).toBe('sentinel.failover.waitPromotion');
    s.chart.send({ type: 'REPLICA_IS_MASTER', replica: s.replica });
    expect(s.master.failoverState).toBe(FAILOVER_RECONF_SLAVES);
    s.ended = true;
    timerRun(s);
    expect(s.chart.state.id).toBe('sentinel.monitoring');
    expect(s.master.failoverState).toBe(FAILOVER_NONE);
    expect(s.master.addr).toBe('redis-1');
    expect(s.log.slice(3)).toEqual([
      'selected redis-1', 'slaveof no one', 'convert? redis-2', `promoted redis-1 state=${FAILOVER_RECONF_SLAVES}`, 'reconf', 'end', 'switch',
    ]);
  });

  test('a Sentinel not elected aborts after the election timeout and does not start again within 2 × failover-timeout', () => {
    const s = startFake();
    s.master.odown = true;
    timerRun(s);
    s.clock += 10 * SECOND;
    timerRun(s);
    expect(s.chart.state.id).toBe('sentinel.failover.waitStart');
    s.clock += 1;
    timerRun(s);
    expect(s.chart.state.id).toBe('sentinel.monitoring');
    expect(s.log.at(-1)).toBe('abort not-elected');
    s.clock = s.master.failoverStartTime + 2 * s.failoverTimeoutUs - 1;
    timerRun(s);
    expect(s.chart.state.id).toBe('sentinel.monitoring');
    s.clock += 1;
    timerRun(s);
    expect(s.chart.state.id).toBe('sentinel.failover.waitStart');
  });

  test('a newer configuration with another master ends a failover in any state; one naming the same master changes nothing', () => {
    const s = startFake();
    s.master.odown = true;
    s.elected = true;
    timerRun(s);
    s.chart.send({ type: 'CONFIG_UPDATE', master: 'redis-0' });
    expect(s.chart.state.id).toBe('sentinel.failover.selectSlave');
    s.chart.send({ type: 'CONFIG_UPDATE', master: 'redis-2' });
    expect(s.chart.state.id).toBe('sentinel.monitoring');
    expect(s.master.failoverState).toBe(FAILOVER_NONE);
    expect(s.log.at(-1)).toBe('adopt redis-2');
  });
});
