import type { Micros, Simulation } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { podContainerMachine, type PodContainerComponent, type PodContainerEvent } from './pod-container-machine.ts';

export type PodKind = 'api' | 'agent' | 'redis' | 'postgres' | 'sentinel';

/** What a pod's container needs from the cluster. */
export interface PodHost {
  readonly sim: Simulation;
  /** `kubernetes.containerRestartUs`: the kubelet's fixed delay before it starts an exited container again. */
  readonly containerRestartUs: Micros;
  /** Takes an API pod out of the Service endpoints (an exited container serves nothing). */
  leaveEndpoints(pod: string): void;
  /** The statecharts' host: they arm no timer of their own and record nothing of their own. */
  readonly chartHost: StatechartHost<never>;
}

/** The pod container statechart (pod-container-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const POD_CONTAINER = compileMachine(podContainerMachine);
const RESTART_DUE: PodContainerEvent = { type: 'RESTART_DUE' };

/**
 * A pod of the cluster (cluster.ts): plain data the controllers keep (its node, whether it is gone,
 * a StatefulSet recreation under way) and its container's statechart, whose context it is. The
 * statechart's timers are armed here and by the controllers, with `sim.after`
 * (pod-container-machine.ts says why).
 */
export class Pod implements PodContainerComponent {
  /** Deleted or evicted: no longer counted, its replacement is on the way. */
  gone = false;
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

  startable(): boolean {
    const { sim } = this.host;
    return !this.gone && sim.hasProcess(this.name) && !sim.process(this.name).alive && sim.node(this.node).up;
  }

  stillRunning(incarnation: number): boolean {
    const proc = this.host.sim.process(this.name);
    return !this.gone && proc.incarnation === incarnation && proc.alive;
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
    const { sim } = this.host;
    sim.trace.record(sim.now, 'kubelet', 'kubelet.sigkill', { pod: this.name });
    this.leaveEndpoints();
    sim.restart(this.name, this.host.containerRestartUs);
  }

  crash(): void {
    const { sim } = this.host;
    sim.trace.record(sim.now, 'k8s', 'k8s.container-crash', { pod: this.name });
    this.leaveEndpoints();
    sim.restart(this.name, this.host.containerRestartUs);
  }
}
