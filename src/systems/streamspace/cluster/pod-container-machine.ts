import { setup } from 'xstate';

/**
 * The statechart of one pod's container as its kubelet and controllers run it (Kubernetes pod
 * lifecycle, restartPolicy Always; spec real-world-semantics §5.1), the definition cluster.ts runs
 * through the kernel's compiled stepper (sim-cluster/statechart), drawn in docs/machines.md:
 *
 * - `scheduled`: the pod is bound to a node and its container starts after the placement delay
 *   (`podReplacementUs` for a new pod);
 * - `running`: the container's process started;
 * - `terminating`: the kubelet killed it for failed liveness probes (kube/kubelet-container-machine.ts):
 *   its stop signal went out, SIGKILL follows after `terminationGraceUs` if it still runs (§5.1 fact 1);
 * - `exited`: the kubelet starts it again in place after `containerRestartUs`, a fixed delay (a real
 *   kubelet backs off a crash-looping container, §5.1 fact 5; the model does not);
 * - `stopped`: a datastore container (Redis, PostgreSQL, a Sentinel) exited by itself: the model's
 *   kubelet does not restart it; whatever stopped it (a fault, a node's recovery) starts it again;
 * - `deleting`: `kubectl delete pod` (or the Eviction API) of an API or agent pod: the object has a
 *   deletionTimestamp, no longer counts, and its stop signal went out; SIGKILL follows after
 *   `terminationGraceUs` whether or not it still runs (§5.1 facts 1-2); nothing starts it again;
 * - `deleted` (final): the pod object is gone: after the grace period, at once when forced
 *   (`--grace-period=0 --force`), or evicted (the taint manager's eviction of a failed node's pod,
 *   a datastore pod stopped at once by the Eviction API). Its replacement is another pod.
 *
 * The context is the pod (cluster.ts): its kind and node, which the controllers keep as plain data;
 * whether it was deleted is its state (`deleting` or `deleted`). The replacement of a deleted pod,
 * a StatefulSet's recreation under the same name, the deletion of a datastore pod that is recreated
 * under its name, and node failures are the controllers' (cluster.ts); a process they start again
 * reports `STARTED` like any other.
 *
 * Events are the kernel's process events (`STARTED` on `proc.start`, `EXITED` on `proc.exit` of a
 * pod that is not deleted nor being recreated), the kubelet's decisions (`LIVENESS_KILL`, `CRASHED`
 * for an in-place crash such as an OOM kill), the API's (`DELETE`, forced or not; `EVICTED`) and
 * the component's timers (`START_DUE`, `RESTART_DUE`, `GRACE_EXPIRED`, `DELETION_GRACE_EXPIRED`). The process's own state is read by the guards, not mirrored: a node failure or
 * a fault crashes a process without `proc.exit`, so `running` means "last seen starting".
 *
 * No `after` delay: the timers are armed by cluster.ts with `sim.after`, in the order the kernel's
 * queue has always had them (an `after` would arm them on state entry, and change which of two
 * timers due at the same instant runs first). For the same reason the stop signal of a liveness
 * kill is sent by the component once the chart is in `terminating`: a process that exits on its
 * signal at once reports `EXITED` while the chart would still be stepping, which queues the event
 * and would arm the restart after the grace timer instead of before it. A deletion's stop signal (or
 * forced SIGKILL), and its leaving the Service endpoints, are the component's after the step too, so
 * that whatever they wake finds the pod already deleted.
 */

/** The events the pod's container statechart reads. */
export type PodContainerEvent =
  | { type: 'START_DUE' }
  | { type: 'STARTED' }
  | { type: 'EXITED' }
  | { type: 'LIVENESS_KILL' }
  | { type: 'GRACE_EXPIRED'; incarnation: number }
  | { type: 'CRASHED' }
  | { type: 'RESTART_DUE' }
  /** `kubectl delete pod`; `force`: `--grace-period=0 --force`, SIGKILL at once with no grace. */
  | { type: 'DELETE'; force: boolean }
  /** The deletion's grace period ended: SIGKILL if the process still runs, and the object is gone. */
  | { type: 'DELETION_GRACE_EXPIRED' }
  /** Deleted with no grace to wait for: a failed node's pod evicted, or a datastore pod evicted and stopped at once. */
  | { type: 'EVICTED' };

/** One pod's container as the statechart drives it (cluster.ts). */
export interface PodContainerComponent {
  /** Whether the kubelet restarts it in place when it exits by itself (API and agent pods; restartPolicy Always). */
  readonly restartsOnExit: boolean;
  /** Whether its process can be started now: its node is up, its process is not running (a deleted pod's chart starts nothing). */
  startable(): boolean;
  /** Whether the process incarnation killed for liveness still runs when its grace period ends. */
  stillRunning(incarnation: number): boolean;
  /** Starts the container's process (`sim.start`). */
  start(): void;
  /** An exited API container leaves the Service endpoints (an exited process serves nothing). */
  leaveEndpoints(): void;
  /** Arms the restart after `containerRestartUs` (`RESTART_DUE`). */
  armRestart(): void;
  /** `kubelet.sigkill` {pod}, then the kernel's restart after `containerRestartUs`. */
  sigkill(): void;
  /** `k8s.container-crash` {pod}, then the kernel's restart after `containerRestartUs`. */
  crash(): void;
  /** A deleted pod's SIGKILL after its grace period (`sim.crash`: nothing if it no longer runs; no restart). */
  kill(): void;
}

export const podContainerMachine = setup({
  types: {
    context: {} as PodContainerComponent,
    input: {} as PodContainerComponent,
    events: {} as PodContainerEvent,
  },
  guards: {
    /** A down node or a running process: nothing to start (the kubelet starts only its own pods' stopped containers). */
    startable: ({ context }) => context.startable(),
    /** restartPolicy Always (the Deployments' default): API and agent containers are restarted in place when they exit (§5.1). */
    restartsOnExit: ({ context }) => context.restartsOnExit,
    /** terminationGracePeriodSeconds ran out and the container still runs: SIGKILL (kuberuntime killContainer). */
    stillRunning: ({ context, event }) => event.type === 'GRACE_EXPIRED' && context.stillRunning(event.incarnation),
    /** `--grace-period=0 --force`: the object is removed at once and the container killed without the stop signal's grace. */
    forced: ({ event }) => event.type === 'DELETE' && event.force,
  },
  actions: {
    start: ({ context }) => context.start(),
    leaveEndpoints: ({ context }) => context.leaveEndpoints(),
    armRestart: ({ context }) => context.armRestart(),
    sigkill: ({ context }) => context.sigkill(),
    crash: ({ context }) => context.crash(),
    kill: ({ context }) => context.kill(),
  },
}).createMachine({
  id: 'pod-container',
  description: "one pod's container: scheduled, running, killed for liveness, exited and restarted in place after a fixed delay, deleted",
  context: ({ input }) => input,
  initial: 'scheduled',
  // Whatever the chart last saw: a started process runs; an in-place crash restarts it; a start or
  // restart falling due starts a container that is not running, as the kubelet's sync loop does for
  // any stopped container of a pod it has (a node's recovery may have started and lost it meanwhile).
  on: {
    STARTED: { target: '.running' },
    CRASHED: { target: '.exited', actions: 'crash' },
    START_DUE: { guard: 'startable', actions: 'start' },
    RESTART_DUE: { guard: 'startable', actions: 'start' },
    // Deletion, from any state but `deleting` and `deleted`: the stop signal, or the forced
    // SIGKILL, is sent by the component once the chart is in its new state (see above).
    DELETE: [
      { guard: 'forced', target: '.deleted' },
      { target: '.deleting' },
    ],
    EVICTED: { target: '.deleted' },
  },
  states: {
    scheduled: {
      description: 'bound to a node: the container starts after the placement delay, unless the pod was deleted or its node is down',
    },
    running: {
      description: 'the container started; an API or agent container that exits is restarted in place',
      on: {
        EXITED: [
          { guard: 'restartsOnExit', target: 'exited', actions: ['leaveEndpoints', 'armRestart'] },
          { target: 'stopped' },
        ],
        LIVENESS_KILL: { target: 'terminating' },
      },
    },
    terminating: {
      description: 'killed for failed liveness probes: stop signal sent, SIGKILL after the grace period if it still runs; restarted in place',
      on: {
        EXITED: { target: 'exited', actions: ['leaveEndpoints', 'armRestart'] },
        GRACE_EXPIRED: { guard: 'stillRunning', target: 'exited', actions: 'sigkill' },
      },
    },
    exited: {
      description: 'not running: the kubelet starts it again after containerRestartUs (a fixed delay, no CrashLoopBackOff)',
    },
    stopped: {
      description: 'a datastore container that exited by itself: not restarted by the kubelet until something starts it again',
    },
    deleting: {
      description: 'deleted: stop signal sent, SIGKILL after the grace period; no longer counted, never started again',
      // A deleted pod's process that starts anyway (the kernel's pending restart after a crash, a
      // fault) is still the deleted pod's: its SIGKILL comes at the end of the grace period.
      on: {
        STARTED: {},
        CRASHED: {},
        START_DUE: {},
        RESTART_DUE: {},
        DELETE: {},
        EVICTED: {},
        DELETION_GRACE_EXPIRED: { target: 'deleted', actions: 'kill' },
      },
    },
    deleted: {
      type: 'final',
      description: 'the pod object is gone (after the grace period, forced, or evicted); its replacement is another pod',
    },
  },
});
