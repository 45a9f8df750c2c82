import type { Micros, Simulation } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { podContainerMachine, type PodContainerComponent, type PodContainerEvent } from './pod-container-machine.ts';

export type PodKind = 'api' | 'agent' | 'redis' | 'postgres' | 'sentinel';

/** What a pod's container needs from the cluster. */
export interface PodHost {
  readonly sim: Simulation;
  /** `kubernetes.containerRestartUs`: the kubelet's fixed delay before it starts an exited container again. */
  readonly containerRestartUs: Micros;
  /** `kubernetes.terminationGraceUs`: a deleted pod's SIGKILL comes this long after its SIGTERM. */
  readonly terminationGraceUs: Micros;
  /** Marks a pod not Ready: out of the Service endpoints (an exited container, a deleted pod, serves nothing). */
  leaveEndpoints(pod: string): void;
  /** The statecharts' host: they arm no timer of their own and record nothing of their own. */
  readonly chartHost: StatechartHost<never>;
}

/** The pod container statechart (pod-container-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const POD_CONTAINER = compileMachine(podContainerMachine);
const RESTART_DUE: PodContainerEvent = { type: 'RESTART_DUE' };
const DELETION_GRACE_EXPIRED: PodContainerEvent = { type: 'DELETION_GRACE_EXPIRED' };

/**
 * A pod of the cluster (cluster.ts): plain data the controllers keep (its node, a StatefulSet
 * recreation under way) and its container's statechart, whose context it is. The statechart's
 * timers are armed here and by the controllers, with `sim.after` (pod-container-machine.ts says why).
 */
export class Pod implements PodContainerComponent {
  /** A replicated datastore member deleted gracefully: recreated under its name once its process exits. */
  recreating?: boolean;
  readonly restartsOnExit: boolean;
  /** Its container's lifecycle (pod-container-machine.ts), started in `scheduled`. */
  readonly chart: Statechart<Pod, PodContainerEvent, never>;

  constructor(
    readonly name: string,
    readonly kind: PodKind,
    readonly node: string,
    /**
     * The replica it stands for: the creation index of the first pod, inherited by each replacement.
     * With the design fix `fixed-agent-id` an agent pod's id comes from it (one Deployment per agent).
     */
    readonly slot: number,
    private readonly host: PodHost,
  ) {
    this.restartsOnExit = kind === 'api' || kind === 'agent';
    this.chart = new Statechart<Pod, PodContainerEvent, never>(POD_CONTAINER, this, host.chartHost);
    this.chart.start();
  }

  /** Deleted or evicted (its chart `deleting` or `deleted`): no longer counted, its replacement is on the way. */
  get gone(): boolean {
    const id = this.chart.state.id;
    return id === 'pod-container.deleting' || id === 'pod-container.deleted';
  }

  startable(): boolean {
    const { sim } = this.host;
    return sim.hasProcess(this.name) && !sim.process(this.name).alive && sim.node(this.node).up;
  }

  stillRunning(incarnation: number): boolean {
    const proc = this.host.sim.process(this.name);
    return proc.incarnation === incarnation && proc.alive;
  }

  start(): void {
    this.host.sim.start(this.name);
  }

  leaveEndpoints(): void {
    if (this.kind === 'api') this.host.leaveEndpoints(this.name);
  }

  armRestart(): void {
    this.host.sim.after(this.host.containerRestartUs, () => this.chart.send(RESTART_DUE), `kubelet restart ${this.name}`);
  }

  sigkill(): void {
    this.restartInPlace('kubelet', 'kubelet.sigkill');
  }

  crash(): void {
    this.restartInPlace('k8s', 'k8s.container-crash');
  }

  /** Records `kind` {pod} as `by`, takes the pod out of the endpoints, and has the kernel restart its process after `containerRestartUs`. */
  private restartInPlace(by: string, kind: string): void {
    const { sim } = this.host;
    sim.trace.record(sim.now, by, kind, { pod: this.name });
    this.leaveEndpoints();
    sim.restart(this.name, this.host.containerRestartUs);
  }

  kill(): void {
    this.host.sim.crash(this.name);
  }

  /**
   * `kubectl delete pod` of an API or agent pod (real-world §5.1 facts 1-2), once its chart is
   * `deleting` or `deleted` (pod-container-machine.ts): it leaves the Service endpoints, then gets
   * SIGKILL at once when forced, else SIGTERM and SIGKILL after `terminationGraceUs`.
   */
  delete(force: boolean): void {
    const { sim } = this.host;
    this.chart.send({ type: 'DELETE', force });
    // Any kind, as the deletion always did (an agent pod is in no Service: nothing changes for it).
    this.host.leaveEndpoints(this.name);
    if (force) {
      sim.crash(this.name);
      return;
    }
    sim.signal(this.name, 'SIGTERM');
    sim.after(this.host.terminationGraceUs, () => this.chart.send(DELETION_GRACE_EXPIRED), `sigkill ${this.name}`);
  }
}
