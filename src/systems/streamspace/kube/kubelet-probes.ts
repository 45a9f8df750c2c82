import type { Micros, Simulation } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import type { ContainerProbes, ProbeSpec } from '../config.ts';
import { kubeletContainerMachine, type ContainerComponent, type ContainerEvent } from './kubelet-container-machine.ts';

/**
 * The kubelet's liveness and readiness probes (Kubernetes `prober` workers), as the Helm chart at
 * 15f3690 declares them (`KubernetesConfig.probes`):
 *
 * - API: `httpGet /health`, liveness 15 s delay / 20 s period, readiness 5 s / 10 s
 *   (chart/templates/api-deployment.yaml:138-149; `/health` always answers 200 while the process
 *   runs, api/internal/api/stubs.go:113-118, spec §0);
 * - Redis: exec `redis-cli ping`, liveness 10 s / 10 s, readiness 5 s / 5 s (chart/templates/redis.yaml);
 * - PostgreSQL: exec `pg_isready`, liveness 30 s / 10 s, readiness 10 s / 5 s (chart/templates/postgresql.yaml);
 * - k8s-agent: exec `pgrep -f k8s-agent` (chart/values.yaml:184-205, spec §0): a separate process
 *   that passes while the agent's process exists, so it never fails in the model and is not run.
 *
 * Kubernetes defaults fill the rest: timeoutSeconds 1, failureThreshold 3, successThreshold 1.
 *
 * Timing: a container's probe ticks at start + k·period (k ≥ 1) on true time; ticks before
 * initialDelay are skipped, as the worker does while `StartedAt + InitialDelaySeconds` is in the
 * future. The phase is a function of the container's start instant, so it is deterministic.
 *
 * A probe that needs the process to answer passes at once while the process runs. A paused process
 * (stop-the-world: its node and kubelet run on) cannot answer: the probe fails when its timeout
 * expires, unless the process resumed meanwhile. A running process is never touched: probes only act
 * on consecutive failures. Then
 * - readiness, after `failureThreshold` failures: the pod is NotReady and the endpoints controller
 *   takes it out of its Service (only the API Service routes in the model: Redis and PostgreSQL are
 *   reached by name, so their readiness is traced but changes no routing); it comes back after
 *   `successThreshold` successes. The status reaches the API server only while the node can reach
 *   the control-plane node; a cut-off kubelet's status is sent when the cut heals.
 * - liveness, after `failureThreshold` failures: the kubelet kills the container gracefully (its stop
 *   signal, SIGKILL after terminationGracePeriodSeconds; a paused process sees the signal only when
 *   it resumes) and restarts it in place, like any other container restart of the model (the host's
 *   `killContainer`). Liveness is the kubelet's own decision: it needs no API server.
 *
 * Probes run only in a live container on a node that is up: a failed node's kubelet is gone with it
 * (node lifecycle marks its pods NotReady after `nodeNotReadyUs`). There is no whole-node freeze among
 * the fault kinds (`sim.pauseNode` would leave this kubelet probing).
 *
 * What a result changes is the statechart of kubelet-container-machine.ts, one per container
 * incarnation, run by the kernel's compiled stepper: this module keeps the probe workers (their
 * ticks and timeouts) and the consecutive counts.
 *
 * Trace events (process `kubelet`): `kubelet.probe-failed` {pod, probe, failures},
 * `kubelet.not-ready` {pod, failures}, `kubelet.ready` {pod}, `kubelet.liveness-kill` {pod, failures}.
 */
export interface KubeletHost {
  readonly sim: Simulation;
  /** The node the Kubernetes API server runs on (status updates need to reach it). */
  readonly controlPlaneNode: string;
  /** The probes of a pod's container, or null if it is not a pod the kubelet probes (or is gone). */
  probesOf(pod: string): ContainerProbes | null;
  /** Readiness as the endpoints controller sees it (called only on changes that reach the API server). */
  setProbeReady(pod: string, ready: boolean): void;
  /** Kills the container for a failed liveness probe and restarts it in place. */
  killContainer(pod: string): void;
}

type ProbeKind = 'liveness' | 'readiness';

/** The container statechart (kubelet-container-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const CONTAINER = compileMachine(kubeletContainerMachine);
const READINESS_PASSED: ContainerEvent = { type: 'READINESS_PASSED' };
const READINESS_FAILED: ContainerEvent = { type: 'READINESS_FAILED' };
const LIVENESS_FAILED: ContainerEvent = { type: 'LIVENESS_FAILED' };

/** Probe state of one container incarnation: the statechart's context. */
class ProbedContainer implements ContainerComponent {
  readonly failures: Record<ProbeKind, number> = { liveness: 0, readiness: 0 };
  successes = 0;
  /** The readiness verdict last sent to the API server. */
  reported = true;
  readonly chart: Statechart<ProbedContainer, ContainerEvent, never>;

  constructor(
    readonly pod: string,
    readonly incarnation: number,
    readonly startedAt: Micros,
    readonly probes: ContainerProbes,
    private readonly host: KubeletHost,
    chartHost: StatechartHost<never>,
  ) {
    this.chart = new Statechart<ProbedContainer, ContainerEvent, never>(CONTAINER, this, chartHost);
    this.chart.start();
  }

  /** Liveness failed `failureThreshold` times: the container is being killed, its workers stop. */
  get killed(): boolean {
    return this.chart.status !== 'active';
  }

  recordReady(): void {
    const { sim } = this.host;
    sim.trace.record(sim.now, 'kubelet', 'kubelet.ready', { pod: this.pod });
  }

  recordNotReady(): void {
    const { sim } = this.host;
    sim.trace.record(sim.now, 'kubelet', 'kubelet.not-ready', { pod: this.pod, failures: this.failures.readiness });
  }

  report(ready: boolean): void {
    if (this.reported === ready) return;
    const { sim } = this.host;
    const node = sim.process(this.pod).node;
    const cp = sim.node(this.host.controlPlaneNode);
    if (!sim.network.reachable(node, cp) || !sim.network.reachable(cp, node)) return;
    this.reported = ready;
    this.host.setProbeReady(this.pod, ready);
  }

  kill(): void {
    const { sim } = this.host;
    sim.trace.record(sim.now, 'kubelet', 'kubelet.liveness-kill', { pod: this.pod, failures: this.failures.liveness });
    this.host.killContainer(this.pod);
  }
}

export class KubeletProbes {
  private readonly containers = new Map<string, ProbedContainer>();
  /** The statecharts' host: the kubelet is no process; its statecharts arm no timer and record nothing of their own. */
  private readonly chartHost: StatechartHost<never>;

  constructor(private readonly host: KubeletHost) {
    const { sim } = host;
    this.chartHost = {
      setTimer: () => {
        throw new Error('the container statechart arms no timer');
      },
      cancelTimer: () => undefined,
      record: (kind, details) => sim.trace.record(sim.now, 'kubelet', kind, details),
      fail: (error) => sim.fail(error),
      statecharts: sim.statecharts,
    };
    host.sim.trace.subscribe((e) => {
      if (e.k === 'proc.start') this.containerStarted(e.p, e.d!['incarnation'] as number);
    });
  }

  /** The container's probe workers start with it; a restart starts fresh ones. */
  private containerStarted(pod: string, incarnation: number): void {
    const probes = this.host.probesOf(pod);
    if (probes === null) return;
    const previous = this.containers.get(pod);
    // A new container starts Ready as far as the probes are concerned (the pod's own start-up
    // decides when it joins the endpoints); clear a NotReady the old container left.
    if (previous !== undefined && !previous.reported) this.host.setProbeReady(pod, true);
    const state = new ProbedContainer(pod, incarnation, this.host.sim.now, probes, this.host, this.chartHost);
    this.containers.set(pod, state);
    if (probes.liveness !== null) this.schedule(pod, state, 'liveness', probes.liveness, 1);
    if (probes.readiness !== null) this.schedule(pod, state, 'readiness', probes.readiness, 1);
  }

  private schedule(pod: string, state: ProbedContainer, kind: ProbeKind, spec: ProbeSpec, k: number): void {
    // `pgrep` finds a paused process as well as a running one: it cannot fail, so it is not run.
    if (spec.check === 'process-exists') return;
    const first = Math.max(k, Math.ceil(spec.initialDelayUs / spec.periodUs));
    this.host.sim.at(state.startedAt + first * spec.periodUs, () => this.tick(pod, state, kind, spec, first), `kubelet ${kind} ${pod}`);
  }

  private current(pod: string, state: ProbedContainer): boolean {
    const { sim } = this.host;
    if (this.containers.get(pod) !== state || state.killed || !sim.hasProcess(pod)) return false;
    const proc = sim.process(pod);
    return proc.incarnation === state.incarnation && proc.alive && proc.node.up;
  }

  private tick(pod: string, state: ProbedContainer, kind: ProbeKind, spec: ProbeSpec, k: number): void {
    if (!this.current(pod, state)) return;
    this.schedule(pod, state, kind, spec, k + 1);
    const { sim } = this.host;
    if (sim.process(pod).status === 'up') return this.result(pod, state, kind, true);
    // Paused: the request waits in the socket (or redis-cli / pg_isready waits) until the timeout.
    sim.after(spec.timeoutUs, () => {
      if (this.current(pod, state)) this.result(pod, state, kind, sim.process(pod).status === 'up');
    }, `kubelet ${kind} timeout ${pod}`);
  }

  /** A worker's result: the consecutive counts, then the statechart decides what changes. */
  private result(pod: string, state: ProbedContainer, kind: ProbeKind, ok: boolean): void {
    if (ok) {
      state.failures[kind] = 0;
      if (kind === 'readiness') {
        state.successes++;
        state.chart.send(READINESS_PASSED);
      }
      return;
    }
    state.failures[kind]++;
    if (kind === 'readiness') state.successes = 0;
    const { sim } = this.host;
    sim.trace.record(sim.now, 'kubelet', 'kubelet.probe-failed', { pod, probe: kind, failures: state.failures[kind] });
    state.chart.send(kind === 'readiness' ? READINESS_FAILED : LIVENESS_FAILED);
  }
}
