import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SECOND } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import type { ContainerProbes, ProbeSpec } from '../config.ts';
import { kubeletContainerMachine, type ContainerComponent, type ContainerEvent } from './kubelet-container-machine.ts';

const spec = (failureThreshold: number, successThreshold: number): ProbeSpec => ({
  check: 'answers', initialDelayUs: 0, periodUs: 10 * SECOND, timeoutUs: SECOND, failureThreshold, successThreshold,
});

/** A container whose results are counted as kubelet-probes.ts counts them; what the statechart does is logged. */
class FakeContainer implements ContainerComponent {
  readonly log: string[] = [];
  readonly failures = { liveness: 0, readiness: 0 };
  successes = 0;
  reachable = true;
  reported = true;
  chart!: Statechart<FakeContainer, ContainerEvent, never>;
  constructor(readonly probes: ContainerProbes) {}
  readiness(ok: boolean): void {
    if (ok) {
      this.failures.readiness = 0;
      this.successes++;
    } else {
      this.failures.readiness++;
      this.successes = 0;
    }
    this.chart.send({ type: ok ? 'READINESS_PASSED' : 'READINESS_FAILED' });
  }
  livenessFailed(): void {
    this.failures.liveness++;
    this.chart.send({ type: 'LIVENESS_FAILED' });
  }
  recordReady(): void {
    this.log.push('ready');
  }
  recordNotReady(): void {
    this.log.push(`not-ready ${this.failures.readiness}`);
  }
  report(ready: boolean): void {
    if (this.reported === ready || !this.reachable) return;
    this.reported = ready;
    this.log.push(`sent ${ready}`);
  }
  kill(): void {
    this.log.push(`kill ${this.failures.liveness}`);
  }
}

function startFake(probes: ContainerProbes = { liveness: spec(3, 1), readiness: spec(3, 2) }): FakeContainer {
  const c = new FakeContainer(probes);
  const host: StatechartHost<never> = {
    setTimer: () => {
      throw new Error('the container statechart arms no timer');
    },
    cancelTimer: () => undefined,
    record: () => undefined,
    fail: (error) => {
      throw error;
    },
  };
  c.chart = new Statechart(compileMachine(kubeletContainerMachine), c, host);
  c.chart.start();
  return c;
}

describe('the kubelet container statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (readiness results, liveness failures, the kill)', () => {
    fc.assert(fc.property(stepsArbitrary(kubeletContainerMachine, 60), (steps) => checkDifferential(kubeletContainerMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the states of the module comment, with no timer', () => {
    const compiled = compileMachine(kubeletContainerMachine);
    expect(compiled.states.map((s) => s.id)).toEqual(['container.running.ready', 'container.running.notReady', 'container.killed']);
    expect(compiled.timers).toEqual([]);
    expect(compiled.events).toEqual(['LIVENESS_FAILED', 'READINESS_PASSED', 'READINESS_FAILED']);
  });

  test('NotReady after failureThreshold consecutive readiness failures, Ready again after successThreshold successes', () => {
    const c = startFake();
    c.readiness(false);
    c.readiness(false);
    c.readiness(true);
    c.readiness(false);
    c.readiness(false);
    expect(c.chart.state.id).toBe('container.running.ready');
    c.readiness(false);
    expect(c.chart.state.id).toBe('container.running.notReady');
    c.readiness(true);
    expect(c.chart.state.id).toBe('container.running.notReady');
    c.readiness(true);
    expect(c.chart.state.id).toBe('container.running.ready');
    expect(c.log).toEqual(['not-ready 3', 'sent false', 'ready', 'sent true']);
  });

  test('a verdict the cut-off kubelet could not send goes out with a later result', () => {
    const c = startFake({ liveness: null, readiness: spec(1, 1) });
    c.reachable = false;
    c.readiness(false);
    c.readiness(false);
    expect(c.log).toEqual(['not-ready 1']);
    c.reachable = true;
    c.readiness(false);
    expect(c.log).toEqual(['not-ready 1', 'sent false']);
    c.reachable = false;
    c.readiness(true);
    c.reachable = true;
    c.readiness(true);
    expect(c.log).toEqual(['not-ready 1', 'sent false', 'ready', 'sent true']);
  });

  test('failureThreshold consecutive liveness failures kill the container; the incarnation ignores every later result', () => {
    const c = startFake();
    c.livenessFailed();
    c.livenessFailed();
    expect(c.chart.status).toBe('active');
    c.livenessFailed();
    expect(c.chart.state.id).toBe('container.killed');
    expect(c.chart.status).toBe('done');
    c.readiness(false);
    c.readiness(false);
    c.readiness(false);
    expect(c.log).toEqual(['kill 3']);
  });
});
