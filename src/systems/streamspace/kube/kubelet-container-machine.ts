import { setup } from 'xstate';
import type { ContainerProbes } from '../config.ts';

/**
 * The statechart of one container incarnation as its kubelet's prober sees it (Kubernetes
 * pkg/kubelet/prober: the workers' results, the status manager's Ready condition, the liveness
 * kill; spec real-world-semantics §5.1, §5.3): the definition kubelet-probes.ts runs through the
 * kernel's compiled stepper (sim-cluster/statechart), drawn in docs/machines.md. A started
 * container is Ready as far as the probes are concerned (`running.ready`); `failureThreshold`
 * consecutive readiness failures make it NotReady (`running.notReady`) until `successThreshold`
 * consecutive successes; `failureThreshold` consecutive liveness failures end the incarnation
 * (`killed`): the kubelet kills the container (SIGTERM, SIGKILL after the grace period) and the
 * restart in place is a new incarnation with a statechart of its own.
 *
 * The context is the container's probe state (`ContainerComponent`, kubelet-probes.ts): the
 * consecutive failure and success counts, which the probe workers keep (plain data, counted before
 * the result is sent), the probes and the status last sent to the API server; the statechart holds
 * the verdict and decides what a result changes. `report` sends the verdict of the state it is
 * taken in to the API server, when it changed and the node can reach the control plane: a verdict
 * a cut-off kubelet could not send goes out with a later result (the status manager's resync).
 *
 * Events are the probe workers' results that can change something: every readiness result, and
 * liveness failures (a liveness success only resets its count).
 *
 * No `after` delay: the probe workers tick every period from the container's start whatever the
 * verdict (a timer per worker, kept by kubelet-probes.ts), and a paused process's probe fails at its
 * timeout, which the worker arms. The rest of the container's life is the pod container statechart
 * (cluster/pod-container-machine.ts): the process start after the pod's placement, the restart of an
 * exited container after `containerRestartUs` (a fixed delay: no CrashLoopBackOff, §5.1 fact 5), the
 * grace period of a kill.
 */

/** The probe workers' results the statechart reads. */
export type ContainerEvent =
  | { type: 'READINESS_PASSED' }
  | { type: 'READINESS_FAILED' }
  | { type: 'LIVENESS_FAILED' };

/** One container incarnation's probe state (kubelet-probes.ts). */
export interface ContainerComponent {
  /** Its probes (the chart's, with Kubernetes' defaults); a probe that sends results is not null. */
  readonly probes: ContainerProbes;
  /** Consecutive failures per probe, this result included. */
  readonly failures: { readonly liveness: number; readonly readiness: number };
  /** Consecutive readiness successes, this result included. */
  readonly successes: number;
  /** `kubelet.ready` {pod}. */
  recordReady(): void;
  /** `kubelet.not-ready` {pod, failures}. */
  recordNotReady(): void;
  /** Sends the readiness verdict to the API server if it differs from the one last sent and the node reaches the control plane. */
  report(ready: boolean): void;
  /** `kubelet.liveness-kill` {pod, failures}, then the kill and restart in place (cluster.ts killForLiveness). */
  kill(): void;
}

const report = (ready: boolean) => ({ type: 'report', params: { ready } }) as const;

export const kubeletContainerMachine = setup({
  types: {
    context: {} as ContainerComponent,
    input: {} as ContainerComponent,
    events: {} as ContainerEvent,
  },
  guards: {
    /** readiness failureThreshold consecutive failures (Kubernetes default 3): NotReady (prober worker.go, results manager). */
    readinessFailed: ({ context: c }) => c.failures.readiness >= c.probes.readiness!.failureThreshold,
    /** readiness successThreshold consecutive successes (default 1): Ready again. */
    readinessRecovered: ({ context: c }) => c.successes >= c.probes.readiness!.successThreshold,
    /** liveness failureThreshold consecutive failures: the kubelet kills the container (kuberuntime's liveness handling). */
    livenessFailed: ({ context: c }) => c.failures.liveness >= c.probes.liveness!.failureThreshold,
  },
  actions: {
    recordReady: ({ context }) => context.recordReady(),
    recordNotReady: ({ context }) => context.recordNotReady(),
    /** The status manager: the verdict reaches the endpoints controller through the API server (§5.1 fact 2). */
    report: ({ context }, params: { ready: boolean }) => context.report(params.ready),
    kill: ({ context }) => context.kill(),
  },
}).createMachine({
  id: 'container',
  description: "one container incarnation under its kubelet's probes: Ready or NotReady by readiness, killed by liveness; a restart is a new incarnation",
  context: ({ input }) => input,
  initial: 'running',
  states: {
    running: {
      description: 'the container runs and its probe workers tick from its start',
      initial: 'ready',
      on: { LIVENESS_FAILED: { guard: 'livenessFailed', target: 'killed' } },
      states: {
        ready: {
          description: 'Ready as far as the probes are concerned: a started container is, until readiness fails failureThreshold times',
          on: {
            READINESS_PASSED: { actions: report(true) },
            READINESS_FAILED: { guard: 'readinessFailed', target: 'notReady', actions: ['recordNotReady', report(false)] },
          },
        },
        notReady: {
          description: 'NotReady: out of its Service endpoints, until readiness passes successThreshold times',
          on: {
            READINESS_PASSED: [
              { guard: 'readinessRecovered', target: 'ready', actions: ['recordReady', report(true)] },
              { actions: report(false) },
            ],
            READINESS_FAILED: { guard: 'readinessFailed', actions: report(false) },
          },
        },
      },
    },
    killed: {
      description: 'liveness failed failureThreshold times: the kubelet kills the container and restarts it in place (a new incarnation)',
      type: 'final',
      entry: 'kill',
    },
  },
});
