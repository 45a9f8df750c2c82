import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import { podContainerMachine, type PodContainerComponent, type PodContainerEvent } from './pod-container-machine.ts';

/** A pod whose process is a flag and an incarnation count; what the statechart does is logged. */
class FakePod implements PodContainerComponent {
  readonly log: string[] = [];
  alive = false;
  incarnation = 0;
  nodeUp = true;
  chart!: Statechart<FakePod, PodContainerEvent, never>;
  constructor(readonly restartsOnExit: boolean) {}
  startable(): boolean {
    return !this.alive && this.nodeUp;
  }
  stillRunning(incarnation: number): boolean {
    return this.alive && this.incarnation === incarnation;
  }
  start(): void {
    this.alive = true;
    this.incarnation++;
    this.log.push(`start ${this.incarnation}`);
    this.chart.send({ type: 'STARTED' });
  }
  exit(): void {
    this.alive = false;
    this.chart.send({ type: 'EXITED' });
  }
  leaveEndpoints(): void {
    this.log.push('leave');
  }
  armRestart(): void {
    this.log.push('arm');
  }
  sigkill(): void {
    this.alive = false;
    this.log.push('sigkill');
  }
  crash(): void {
    this.alive = false;
    this.log.push('crash');
  }
  kill(): void {
    this.alive = false;
    this.log.push('kill');
  }
}

function startFake(restartsOnExit = true): FakePod {
  const p = new FakePod(restartsOnExit);
  const host: StatechartHost<never> = {
    setTimer: () => {
      throw new Error('the pod container statechart arms no timer');
    },
    cancelTimer: () => undefined,
    record: () => undefined,
    fail: (error) => {
      throw error;
    },
  };
  p.chart = new Statechart(compileMachine(podContainerMachine), p, host);
  p.chart.start();
  return p;
}

describe('the pod container statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences', () => {
    fc.assert(fc.property(stepsArbitrary(podContainerMachine, 60), (steps) => checkDifferential(podContainerMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the states of the module comment, with no timer', () => {
    const compiled = compileMachine(podContainerMachine);
    expect(compiled.states.map((s) => s.id)).toEqual([
      'pod-container.scheduled', 'pod-container.running', 'pod-container.terminating', 'pod-container.exited', 'pod-container.stopped',
      'pod-container.deleting', 'pod-container.deleted',
    ]);
    expect(compiled.timers).toEqual([]);
  });

  test('scheduled, started when the placement delay ends; an API container that exits is restarted after the fixed delay', () => {
    const p = startFake();
    expect(p.chart.state.id).toBe('pod-container.scheduled');
    p.chart.send({ type: 'START_DUE' });
    expect(p.chart.state.id).toBe('pod-container.running');
    p.exit();
    expect(p.chart.state.id).toBe('pod-container.exited');
    p.chart.send({ type: 'RESTART_DUE' });
    expect(p.chart.state.id).toBe('pod-container.running');
    expect(p.log).toEqual(['start 1', 'leave', 'arm', 'start 2']);
  });

  test('a down node starts nothing', () => {
    const p = startFake();
    p.nodeUp = false;
    p.chart.send({ type: 'START_DUE' });
    p.chart.send({ type: 'RESTART_DUE' });
    expect(p.chart.state.id).toBe('pod-container.scheduled');
    expect(p.log).toEqual([]);
  });

  test('a pod deleted before its placement delay ends is never started', () => {
    const p = startFake();
    p.chart.send({ type: 'DELETE', force: false });
    expect(p.chart.state.id).toBe('pod-container.deleting');
    p.chart.send({ type: 'START_DUE' });
    p.chart.send({ type: 'DELETION_GRACE_EXPIRED' });
    expect(p.chart.state.id).toBe('pod-container.deleted');
    expect(p.chart.status).toBe('done');
    p.chart.send({ type: 'RESTART_DUE' });
    expect(p.log).toEqual(['kill']);
  });

  test('a graceful deletion: SIGKILL at the end of the grace period, nothing restarts it meanwhile or after', () => {
    const p = startFake();
    p.chart.send({ type: 'START_DUE' });
    p.chart.send({ type: 'DELETE', force: false });
    expect(p.chart.state.id).toBe('pod-container.deleting');
    // Its process stops on the stop signal; a pending restart or another deletion changes nothing.
    p.alive = false;
    p.chart.send({ type: 'RESTART_DUE' });
    p.chart.send({ type: 'CRASHED' });
    p.chart.send({ type: 'DELETE', force: true });
    p.chart.send({ type: 'EVICTED' });
    expect(p.chart.state.id).toBe('pod-container.deleting');
    // The kernel's restart of an earlier crash starts it anyway: still the deleted pod, killed at the end.
    p.start();
    expect(p.chart.state.id).toBe('pod-container.deleting');
    p.chart.send({ type: 'DELETION_GRACE_EXPIRED' });
    expect(p.chart.state.id).toBe('pod-container.deleted');
    expect(p.alive).toBe(false);
    expect(p.log).toEqual(['start 1', 'start 2', 'kill']);
  });

  test('a deletion during a liveness kill: the liveness SIGKILL and restart no longer apply', () => {
    const p = startFake();
    p.chart.send({ type: 'START_DUE' });
    p.chart.send({ type: 'LIVENESS_KILL' });
    p.chart.send({ type: 'DELETE', force: false });
    p.chart.send({ type: 'GRACE_EXPIRED', incarnation: 1 });
    expect(p.chart.state.id).toBe('pod-container.deleting');
    expect(p.log).toEqual(['start 1']);
  });

  test('a forced deletion is final at once, from any state; the component kills the process', () => {
    for (const before of ['scheduled', 'running', 'terminating', 'exited', 'stopped']) {
      const p = startFake(before !== 'stopped');
      if (before !== 'scheduled') p.chart.send({ type: 'START_DUE' });
      if (before === 'terminating') p.chart.send({ type: 'LIVENESS_KILL' });
      if (before === 'exited' || before === 'stopped') p.exit();
      expect(p.chart.state.id).toBe(`pod-container.${before}`);
      p.chart.send({ type: 'DELETE', force: true });
      expect(p.chart.state.id).toBe('pod-container.deleted');
      expect(p.chart.status).toBe('done');
      p.chart.send({ type: 'STARTED' });
      expect(p.chart.state.id).toBe('pod-container.deleted');
    }
  });

  test('an eviction deletes the pod at once, with no SIGKILL of its own', () => {
    const p = startFake(false);
    p.chart.send({ type: 'START_DUE' });
    p.chart.send({ type: 'EVICTED' });
    expect(p.chart.state.id).toBe('pod-container.deleted');
    p.chart.send({ type: 'RESTART_DUE' });
    p.chart.send({ type: 'DELETION_GRACE_EXPIRED' });
    expect(p.log).toEqual(['start 1']);
  });

  test('a datastore container that exits by itself is not restarted by the kubelet; after a liveness kill it is', () => {
    const p = startFake(false);
    p.chart.send({ type: 'START_DUE' });
    p.exit();
    expect(p.chart.state.id).toBe('pod-container.stopped');
    p.start();
    p.chart.send({ type: 'LIVENESS_KILL' });
    expect(p.chart.state.id).toBe('pod-container.terminating');
    p.exit();
    expect(p.chart.state.id).toBe('pod-container.exited');
    expect(p.log).toEqual(['start 1', 'start 2', 'leave', 'arm']);
  });

  test('SIGKILL after the grace period only for the incarnation killed, if it still runs', () => {
    const p = startFake();
    p.chart.send({ type: 'START_DUE' });
    p.chart.send({ type: 'LIVENESS_KILL' });
    p.chart.send({ type: 'GRACE_EXPIRED', incarnation: 0 });
    expect(p.chart.state.id).toBe('pod-container.terminating');
    p.chart.send({ type: 'GRACE_EXPIRED', incarnation: 1 });
    expect(p.chart.state.id).toBe('pod-container.exited');
    expect(p.log).toEqual(['start 1', 'sigkill']);
  });

  test('an in-place crash restarts from any state', () => {
    const p = startFake();
    p.chart.send({ type: 'START_DUE' });
    p.chart.send({ type: 'CRASHED' });
    expect(p.chart.state.id).toBe('pod-container.exited');
    expect(p.log).toEqual(['start 1', 'crash']);
  });
});
